/**
 * A streamed S3 upload written by Herald instead of @aws-sdk/lib-storage's `Upload`, for the
 * export worker (docs/exports.md, "Herald's own multipart upload"). lib-storage's chunker makes a
 * Buffer of every chunk it reads and `Buffer.concat`s each part, and the text formats would first
 * have to become Buffers to reach it: about 72 MB of short-lived external memory per 100k-row
 * export, whose mark-compacts were most of the upload's CPU. Here the formatter's strings are
 * encoded straight into a few part buffers that are allocated once per upload and reused, so an
 * upload allocates at most (partsInFlight + 1) x partSize whatever the file's size.
 *
 * What it sends matches lib-storage with the SDK's default checksums (WHEN_SUPPORTED): a file of
 * at most one part is one PutObject; a larger one is CreateMultipartUpload with ChecksumAlgorithm
 * CRC32, parts of exactly `partSize` bytes but the last, each with its ChecksumCRC32 (computed here
 * with node's zlib.crc32, which the SDK then sends as is instead of computing its own), and
 * CompleteMultipartUpload naming each part's ETag and ChecksumCRC32. A failed part (after the SDK's
 * own retries) or a failed body aborts the multipart upload before the error is rethrown.
 */
import { crc32 } from 'node:zlib';
import {
  AbortMultipartUploadCommand,
  ChecksumAlgorithm,
  CompleteMultipartUploadCommand,
  type CompletedPart,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';

export interface PartUploadParams {
  readonly Bucket: string;
  readonly Key: string;
  readonly ContentType?: string;
  readonly ContentDisposition?: string;
}

export interface PartUploadOptions {
  /** Bytes in every part but the last; S3 needs at least 5 MiB. */
  readonly partSize: number;
  /** Parts being sent at once; one more buffer is filled meanwhile. */
  readonly partsInFlight: number;
  /** Hears the multipart upload's id once it exists, before any part is sent; awaited. */
  readonly onUploadId?: (uploadId: string) => unknown;
  /** Told when the abort after a failure itself fails (the recorded id and the lifecycle rule remain). */
  readonly onAbortFailed?: (error: unknown) => void;
}

/** S3's limit on the parts of one upload. */
export const MAX_PARTS = 10_000;
/** S3's least part size, but for the last part. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;

/** The base64 of a CRC32's four big-endian bytes: the form of S3's `x-amz-checksum-crc32`. */
export function crc32Base64(data: Uint8Array): string {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32BE(crc32(data));
  return bytes.toString('base64');
}

/**
 * Uploads the bytes of `body` (strings are written as UTF-8) to `params.Key`, pulling the next
 * chunk only when there is room for it: while every part buffer is being sent, `body` waits.
 * Answers how many bytes the object has.
 */
export async function uploadInParts(
  client: S3Client,
  params: PartUploadParams,
  body: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  options: PartUploadOptions,
): Promise<{ bytes: number }> {
  const { partSize, partsInFlight } = options;
  if (partSize < MIN_PART_SIZE) throw new RangeError(`partSize must be at least ${MIN_PART_SIZE} bytes (S3's least part), got ${partSize}`);
  if (partsInFlight < 1) throw new RangeError(`partsInFlight must be at least 1, got ${partsInFlight}`);
  const encoder = new TextEncoder();
  const spare: Buffer[] = [];
  let allocated = 1;
  let part: Buffer = Buffer.allocUnsafeSlow(partSize);
  let filled = 0;
  let partNumber = 0;
  let uploadId: string | undefined;
  let failure: { error: unknown } | undefined;
  const completed: CompletedPart[] = [];
  // A part that failed is seen by the code filling the next one; a function, so the check is not narrowed away across awaits.
  const throwIfFailed = () => {
    if (failure) throw failure.error;
  };
  const sending = new Set<Promise<void>>();

  const sendPart = (data: Buffer, number: number, reuse: boolean) => {
    const checksum = crc32Base64(data);
    const sent: Promise<void> = client
      .send(new UploadPartCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId, PartNumber: number, Body: data, ChecksumCRC32: checksum }))
      .then(({ ETag }) => {
        if (!ETag) throw new Error(`S3 answered part ${number} of ${params.Key} without an ETag`);
        completed.push({ PartNumber: number, ETag, ChecksumCRC32: checksum });
        if (reuse) spare.push(data);
      })
      .catch((error: unknown) => {
        failure ??= { error };
      })
      .finally(() => sending.delete(sent));
    sending.add(sent);
  };

  /** Waits while `partsInFlight` parts are being sent: the body is not read meanwhile. */
  const roomToSend = async () => {
    while (sending.size >= partsInFlight) {
      await Promise.race(sending);
      throwIfFailed();
    }
  };

  /** The part is full and more bytes follow: send it, and wait for a buffer to fill next. */
  const nextPart = async () => {
    throwIfFailed();
    if (partNumber + 1 >= MAX_PARTS) throw new RangeError(`${params.Key} needs more than ${MAX_PARTS} parts of ${partSize} bytes, S3's limit`);
    if (uploadId === undefined) {
      const created = await client.send(new CreateMultipartUploadCommand({ ...params, ChecksumAlgorithm: ChecksumAlgorithm.CRC32 }));
      if (!created.UploadId) throw new Error(`S3 answered CreateMultipartUpload of ${params.Key} without an UploadId`);
      uploadId = created.UploadId;
      await options.onUploadId?.(uploadId);
    }
    await roomToSend();
    throwIfFailed();
    sendPart(part, ++partNumber, true);
    // Buffers are made as the file grows, up to one per part in flight and the one being filled; a
    // part's buffer comes back when S3 has it, so there is always one here once there is room to send.
    if (spare.length === 0 && allocated < partsInFlight + 1) {
      allocated++;
      spare.push(Buffer.allocUnsafeSlow(partSize));
    }
    part = spare.pop()!;
    filled = 0;
  };

  const writeText = async (text: string) => {
    let from = 0;
    while (from < text.length) {
      if (filled === partSize) await nextPart();
      const rest = from === 0 ? text : text.slice(from);
      const room = partSize - filled;
      // A UTF-16 code unit is at most 3 bytes of UTF-8: then it all fits, and Buffer.write is the cheapest copy.
      if (rest.length * 3 <= room) {
        filled += part.write(rest, filled);
        return;
      }
      const { read, written } = encoder.encodeInto(rest, part.subarray(filled));
      filled += written;
      from += read;
      if (from < text.length && filled < partSize) {
        // The next character straddles the part's end (encodeInto writes whole characters only):
        // its first bytes end this part and the rest begin the next, so every part is full.
        const width = text.codePointAt(from)! > 0xffff ? 2 : 1;
        const character = Buffer.from(text.slice(from, from + width), 'utf8');
        const head = partSize - filled;
        character.copy(part, filled, 0, head);
        filled = partSize;
        await nextPart();
        filled = character.copy(part, 0, head);
        from += width;
      }
    }
  };

  const writeBytes = async (data: Uint8Array) => {
    let from = 0;
    while (from < data.length) {
      if (filled === partSize) await nextPart();
      const count = Math.min(partSize - filled, data.length - from);
      part.set(from === 0 && count === data.length ? data : data.subarray(from, from + count), filled);
      filled += count;
      from += count;
    }
  };

  try {
    for await (const chunk of body) {
      throwIfFailed();
      if (typeof chunk === 'string') await writeText(chunk);
      else await writeBytes(chunk);
    }
    // Every part sent so far is full.
    const bytes = partNumber * partSize + filled;
    if (uploadId === undefined) {
      // At most one part's bytes (an empty file too): one PutObject, as lib-storage sends it.
      const data = part.subarray(0, filled);
      await client.send(new PutObjectCommand({ ...params, Body: data, ChecksumAlgorithm: ChecksumAlgorithm.CRC32, ChecksumCRC32: crc32Base64(data) }));
      return { bytes };
    }
    await roomToSend();
    sendPart(part.subarray(0, filled), ++partNumber, false);
    while (sending.size > 0) await Promise.race(sending);
    throwIfFailed();
    completed.sort((a, b) => a.PartNumber! - b.PartNumber!);
    await client.send(
      new CompleteMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId, MultipartUpload: { Parts: completed } }),
    );
    return { bytes };
  } catch (error) {
    await Promise.allSettled(sending);
    if (uploadId !== undefined) {
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId }))
        .catch((abortError: unknown) => options.onAbortFailed?.(abortError));
    }
    throw error;
  }
}
