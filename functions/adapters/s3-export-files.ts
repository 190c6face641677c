import { AbortMultipartUploadCommand, GetObjectCommand, NoSuchUpload, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { logger } from '../shared/instrumentation';
import type { ExportFiles } from '../exports/worker';
import { uploadInParts } from './s3-part-upload';

/**
 * 5 MiB parts (S3's least), two in flight and one filling: an upload holds ~15 MB of the file
 * whatever its size (8 MB x 4 held ~40 MB, a fifth of the 512 MB worker's heap, bench/exports.ts).
 * Two in flight keep up: sending a part takes less time than reading and formatting the rows that
 * fill it. 10,000 parts make files up to ~48 GB.
 */
export const PART_SIZE = 5 * 1024 * 1024;
export const PARTS_IN_FLIGHT = 2;
/** How long a pre-signed download URL works; the link in the email makes a fresh one each time. */
export const PRESIGNED_SECONDS = 300;

export function s3ExportFiles(client: S3Client, bucket: string): ExportFiles {
  return {
    // Herald's own multipart upload, not lib-storage's: docs/exports.md, "Herald's own multipart upload".
    // A failure aborts the upload itself; only a crash leaves one behind, which the next attempt
    // aborts by the id recorded through onUploadId (and the bucket's lifecycle rule after a day).
    upload: (key, body, contentType, onUploadId) =>
      uploadInParts(
        client,
        { Bucket: bucket, Key: key, ContentType: contentType, ContentDisposition: `attachment; filename="${key.split('/').pop()}"` },
        body,
        {
          partSize: PART_SIZE,
          partsInFlight: PARTS_IN_FLIGHT,
          onUploadId,
          onAbortFailed: (error) =>
            logger.warn('Could not abort the failed export upload; the next attempt or the lifecycle rule will', { key, error: error as Error }),
        },
      ),
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
