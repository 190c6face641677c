import { AbortMultipartUploadCommand, GetObjectCommand, NoSuchUpload, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import type { ExportFiles } from '../exports/worker';

/**
 * 5 MiB parts (S3's least), two in flight: lib-storage holds the parts being sent plus the one it
 * is filling, at most ~15 MB of the file whatever its size (8 MB x 4 held ~40 MB, a fifth of the
 * 512 MB worker's heap, bench/exports.ts). Two in flight keep up: sending a part takes less time
 * than reading and formatting the rows that fill it. 10,000 parts make files up to ~48 GB.
 */
export const PART_SIZE = 5 * 1024 * 1024;
export const QUEUE_SIZE = 2;
/** How long a pre-signed download URL works; the link in the email makes a fresh one each time. */
export const PRESIGNED_SECONDS = 300;

export function s3ExportFiles(client: S3Client, bucket: string): ExportFiles {
  return {
    async upload(key, body: Readable, contentType, onUploadId) {
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType, ContentDisposition: `attachment; filename="${key.split('/').pop()}"` },
        partSize: PART_SIZE,
        queueSize: QUEUE_SIZE,
        // On an error lib-storage aborts the upload itself; only a crash leaves one behind, which
        // the next attempt aborts by the id recorded through onUploadId.
        leavePartsOnError: false,
      });
      let reported = false;
      upload.on('httpUploadProgress', () => {
        if (!reported && upload.uploadId) {
          reported = true;
          void onUploadId(upload.uploadId);
        }
      });
      await upload.done();
    },
    async abortUpload(key, uploadId) {
      try {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
      } catch (error) {
        if (!(error instanceof NoSuchUpload) && (error as Error).name !== 'NoSuchUpload') throw error;
      }
    },
    presign: (key) => getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: PRESIGNED_SECONDS }),
  };
}
