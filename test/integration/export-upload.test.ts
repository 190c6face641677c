import { createHash, randomUUID } from 'node:crypto';
import { CreateMultipartUploadCommand, GetObjectCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SESClient } from '@aws-sdk/client-ses';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parse as parseCsv } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoExportStore } from '#functions/adapters/dynamo-export-store';
import { PART_SIZE, s3ExportFiles } from '#functions/adapters/s3-export-files';
import { uploadInParts } from '#functions/adapters/s3-part-upload';
import type { ExportFormat } from '#functions/exports/formats';
import { objectKeyOf, runExport } from '#functions/exports/worker';
import { recordRun } from '#functions/exports/store';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { localBucketName, localQueueName } from '#lib/local/resources';
import { api, devToken, tableName, urls } from '../support/local';
import { localWorkerDeps, waitForRun } from '../support/exports';

/**
 * Herald's own multipart upload (functions/adapters/s3-part-upload.ts) on the local S3, through
 * the real S3 client: what it sends is recorded by SDK middleware (and faults injected the same
 * way), each file is read back with a reader of its own (csv-parse, JSON.parse, exceljs), and every
 * CRC32 it sent is checked against the stored bytes with a CRC32 written here, not node's.
 */
const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const plainS3 = new S3Client({ endpoint: urls().s3Url, forcePathStyle: true, ...local });
const ses = new SESClient({ endpoint: urls().mailUrl, ...local });
const sqs = new SQSClient({ endpoint: urls().sqsUrl, ...local, useQueueUrlAsEndpoint: false });
const clients: Array<{ destroy(): void }> = [raw, plainS3, ses, sqs];
afterAll(() => {
  for (const client of clients) client.destroy();
});

const store = dynamoExportStore(db, tableName('exports'));
const bucket = localBucketName('exports');

/** One S3 request as it went on the wire (each SDK attempt), and how S3 answered it. */
interface SeenRequest {
  readonly command: string;
  readonly input: Record<string, unknown>;
  readonly headers: Record<string, string>;
  readonly bodyLength: number;
  status?: number;
  error?: string;
}

/** An S3 client whose requests are recorded after the SDK's checksums and signing; `fault` may fail one instead of sending it. */
function recordingS3(fault?: (request: SeenRequest) => Error | undefined): { client: S3Client; seen: SeenRequest[] } {
  const client = new S3Client({ endpoint: urls().s3Url, forcePathStyle: true, ...local });
  clients.push(client);
  const seen: SeenRequest[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers: Record<string, string>; body?: unknown };
      const body = request.body as Uint8Array | string | undefined;
      const entry: SeenRequest = {
        command: context.commandName as string,
        input: args.input as Record<string, unknown>,
        headers: { ...request.headers },
        bodyLength: body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
      };
      seen.push(entry);
      const injected = fault?.(entry);
      if (injected) {
        entry.error = injected.name;
        throw injected;
      }
      try {
        const result = await next(args);
        entry.status = (result.response as { statusCode?: number }).statusCode;
        return result;
      } catch (error) {
        entry.error = (error as Error).name;
        throw error;
      }
    },
    // After the retry middleware (finalizeRequest, high priority): every attempt is seen.
    { step: 'finalizeRequest', priority: 'low', name: 'recordS3Requests' },
  );
  return { client, seen };
}

/** CRC-32 (IEEE 802.3, reflected, as zlib and S3 compute it), bit by bit: independent of the code under test. */
const CRC_TABLE = Array.from({ length: 256 }, (_, index) => {
  let value = index;
  for (let bit = 0; bit < 8; bit++) value = value & 1 ? 0xedb88320 ^ (value >>> 1) : value >>> 1;
  return value >>> 0;
});
function crc32Of(data: Uint8Array): string {
  let crc = 0xffffffff;
  for (let index = 0; index < data.length; index++) crc = CRC_TABLE[(crc ^ data[index]!) & 0xff]! ^ (crc >>> 8);
  crc = (crc ^ 0xffffffff) >>> 0;
  return Buffer.from([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xff, crc & 0xff]).toString('base64');
}

async function objectBytes(key: string): Promise<Buffer> {
  const object = await plainS3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

/**
 * What was sent for `file` checks out: one PutObject with the file's CRC32 when it fits one part;
 * otherwise CreateMultipartUpload with CRC32, full parts but the last, each part's CRC32 that of
 * its bytes in the stored file, and CompleteMultipartUpload naming each part's ETag and CRC32.
 */
function expectChecksummedUpload(seen: readonly SeenRequest[], key: string, file: Buffer): void {
  const mine = seen.filter((request) => request.input.Key === key);
  if (file.length <= PART_SIZE) {
    expect(mine.map((request) => request.command)).toEqual(['PutObjectCommand']);
    expect(mine[0]!.bodyLength).toBe(file.length);
    expect(mine[0]!.headers['x-amz-checksum-crc32']).toBe(crc32Of(file));
    return;
  }
  const parts = Math.ceil(file.length / PART_SIZE);
  expect(mine.map((request) => request.command)).toEqual([
    'CreateMultipartUploadCommand',
    ...Array.from({ length: parts }, () => 'UploadPartCommand'),
    'CompleteMultipartUploadCommand',
  ]);
  expect(mine[0]!.headers['x-amz-checksum-algorithm']).toBe('CRC32');
  const uploads = mine.filter((request) => request.command === 'UploadPartCommand').sort((a, b) => Number(a.input.PartNumber) - Number(b.input.PartNumber));
  expect(uploads.map((request) => request.input.PartNumber)).toEqual(Array.from({ length: parts }, (_, index) => index + 1));
  for (const [index, request] of uploads.entries()) {
    const bytes = file.subarray(index * PART_SIZE, (index + 1) * PART_SIZE);
    expect(request.bodyLength, `part ${index + 1}`).toBe(bytes.length);
    expect(request.headers['x-amz-checksum-crc32'], `part ${index + 1}`).toBe(crc32Of(bytes));
    expect(request.status).toBe(200);
  }
  const complete = mine.at(-1)!.input as { MultipartUpload: { Parts: Array<{ PartNumber: number; ETag: string; ChecksumCRC32: string }> } };
  expect(complete.MultipartUpload.Parts.map(({ PartNumber, ChecksumCRC32 }) => ({ PartNumber, ChecksumCRC32 }))).toEqual(
    uploads.map((request) => ({ PartNumber: request.input.PartNumber, ChecksumCRC32: request.headers['x-amz-checksum-crc32'] })),
  );
  expect(complete.MultipartUpload.Parts.every((part) => typeof part.ETag === 'string' && part.ETag.length > 0)).toBe(true);
}

// ---------------------------------------------------------------------------------------------
// Exports of every format and size through the worker

/** Hex text (so a spreadsheet's zip does not shrink it below a part) with 2-, 3- and 4-byte UTF-8 characters. */
const bodyOf = (seq: number, length: number) => {
  let text = '';
  for (let index = 0; text.length < length; index++) text += createHash('sha256').update(`${seq}.${index}`).digest('hex');
  return `${text.slice(0, length)} é – 𝄞`;
};
const titleOf = (seq: number) => `Título ${seq}, "quoted"`;

async function seedInbox(tenant: string, rows: number, bodyLength: number): Promise<void> {
  const createdAt = '2026-03-01T00:00:00.000Z';
  let next = 1;
  const writer = async () => {
    while (next <= rows) {
      const first = next;
      next = Math.min(rows + 1, next + 25);
      let requests: Array<Record<string, unknown>> = Array.from({ length: next - first }, (_, index) => ({
        PutRequest: {
          Item: {
            userKey: `${tenant}#ana`,
            seq: first + index,
            id: `n-${first + index}`,
            createdAt,
            kind: 'note',
            priority: 'normal',
            title: titleOf(first + index),
            body: bodyOf(first + index, bodyLength),
          },
        },
      }));
      for (let round = 0; requests.length > 0; round++) {
        if (round >= 8) throw new Error('BatchWrite left items unprocessed after 8 rounds');
        const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName('notifications')]: requests as never } }));
        requests = result.UnprocessedItems?.[tableName('notifications')] ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
}

async function newSchedule(tenant: string, format: ExportFormat): Promise<string> {
  const { status, body } = await api('POST', '/exports/schedules', await devToken(tenant, 'ana'), {
    name: `Upload ${format}`,
    dataset: 'notifications',
    format,
    schedule: { preset: 'daily', at: '06:00' },
    timezone: 'UTC',
    recipients: ['upload@example.com'],
  });
  expect(status).toBe(201);
  return body.id as string;
}

/** The rows of an export file, read back by a reader that is not Herald's: [seq, title, body] each. */
async function rowsIn(format: ExportFormat, file: Buffer): Promise<Array<[number, string, string]>> {
  switch (format) {
    case 'csv': {
      const [header, ...records] = parseCsv(file.toString('utf8'), { bom: true }) as string[][];
      expect(header).toEqual(['Seq', 'Id', 'Created at', 'Kind', 'Priority', 'Title', 'Body', 'Read', 'Data']);
      return records.map((record) => [Number(record[0]), record[5]!, record[6]!]);
    }
    case 'ndjson':
      return file
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line))
        .map((row) => [row.seq, row.title, row.body]);
    case 'json':
      return (JSON.parse(file.toString('utf8')) as Array<Record<string, unknown>>).map((row) => [row.seq as number, row.title as string, row.body as string]);
    case 'xlsx': {
      const workbook = new ExcelJS.Workbook();
      await workbook.xlsx.load(file as never);
      const sheet = workbook.getWorksheet('Export')!;
      expect(sheet.getRow(1).getCell(1).text).toBe('Seq');
      const rows: Array<[number, string, string]> = [];
      sheet.eachRow((row, number) => {
        if (number > 1) rows.push([row.getCell(1).value as number, row.getCell(6).text, row.getCell(7).text]);
      });
      return rows;
    }
  }
}

/** A firing time of the last minute, as a deployed firing has. */
const recentFiring = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

const FORMATS: readonly ExportFormat[] = ['csv', 'ndjson', 'json', 'xlsx'];

describe('exports of every size, read back, with the checksums S3 was sent', () => {
  const sizes = { empty: { rows: 0, body: 10 }, small: { rows: 3, body: 100 }, parts: { rows: 6_500, body: 2_000 } } as const;
  const tenants = Object.fromEntries(Object.keys(sizes).map((size) => [size, `t-${randomUUID().slice(0, 8)}`])) as Record<keyof typeof sizes, string>;
  beforeAll(async () => {
    for (const [size, { rows, body }] of Object.entries(sizes)) await seedInbox(tenants[size as keyof typeof sizes], rows, body);
  }, 180_000);

  for (const size of Object.keys(sizes) as Array<keyof typeof sizes>) {
    for (const format of FORMATS) {
      it(`${size}: ${format}`, { timeout: 120_000 }, async () => {
        const tenant = tenants[size];
        const { rows, body } = sizes[size];
        const scheduleId = await newSchedule(tenant, format);
        const { client, seen } = recordingS3();
        const scheduledTime = recentFiring();
        expect(
          await runExport(
            localWorkerDeps(db, ses, s3ExportFiles(client, bucket)),
            { scheduleId, tenant, owner: 'ana', scheduledTime, trigger: 'manual' },
            'm-1',
          ),
        ).toBe('succeeded');
        const run = (await store.getRun({ tenant, userId: 'ana' }, scheduleId, scheduledTime))!;
        expect(run).toMatchObject({ status: 'succeeded', rows });
        const file = await objectBytes(run.objectKey!);
        expect(file.length).toBe(run.bytes);
        const read = await rowsIn(format, file);
        expect(read).toHaveLength(rows);
        for (const [index, row] of read.entries()) expect(row).toEqual([index + 1, titleOf(index + 1), bodyOf(index + 1, body)]);
        if (size === 'parts') expect(file.length).toBeGreaterThan(PART_SIZE);
        else expect(file.length).toBeLessThan(PART_SIZE);
        expectChecksummedUpload(seen, run.objectKey!, file);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Part boundaries, straight through the uploader

/** UTF-8 of a string whose 2-, 3- and 4-byte characters fall across part ends wherever they are cut. */
function mixedText(bytes: number): string {
  const pieces = ['abc', 'é', '–', '𝄞', 'xy', '\u{1F600}', 'z'];
  let text = '';
  let length = 0;
  for (let index = 0; length < bytes; index++) {
    const piece = pieces[index % pieces.length]!;
    text += piece;
    length += Buffer.byteLength(piece);
  }
  return text;
}

describe('the uploader at part boundaries', () => {
  const cases: Array<[string, () => Array<string | Uint8Array>]> = [
    ['nothing at all', () => []],
    ['one byte short of a part', () => [Buffer.alloc(PART_SIZE - 1, 7)]],
    ['exactly one part, in text', () => ['a'.repeat(PART_SIZE - 4), 'b', 'cde']],
    ['one byte over a part', () => [Buffer.alloc(PART_SIZE, 1), Buffer.from([2])]],
    ['exactly two parts', () => [Buffer.alloc(PART_SIZE * 2, 3)]],
    // 4-byte characters across the ends: the text is cut between a character's bytes.
    ['text of multi-byte characters over three parts, in chunks of 64 KiB', () => chunked(mixedText(PART_SIZE * 2 + 12_345), 65_536)],
    [
      'text then bytes then text, a character cut at the first part end',
      () => ['a'.repeat(PART_SIZE - 2), '𝄞tail', new Uint8Array(PART_SIZE).fill(9), 'é'.repeat(1000)],
    ],
  ];
  for (const [name, chunksOf] of cases) {
    it(name, { timeout: 60_000 }, async () => {
      const chunks = chunksOf();
      const expected = Buffer.concat(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk)));
      const { client, seen } = recordingS3();
      const key = `test/boundaries/${randomUUID()}.bin`;
      const ids: string[] = [];
      const { bytes } = await uploadInParts(client, { Bucket: bucket, Key: key }, chunks, {
        partSize: PART_SIZE,
        partsInFlight: 2,
        onUploadId: (id) => ids.push(id),
      });
      expect(bytes).toBe(expected.length);
      const file = await objectBytes(key);
      expect(file.length).toBe(expected.length);
      expect(file.equals(expected)).toBe(true);
      expect(ids).toHaveLength(expected.length > PART_SIZE ? 1 : 0);
      expectChecksummedUpload(seen, key, file);
    });
  }

  it('holds the body while every part buffer is being sent: two parts in flight, one filling, the reader waits', { timeout: 60_000 }, async () => {
    const chunkSize = PART_SIZE / 8;
    let inFlight = 0;
    let most = 0;
    let partsDone = 0;
    const { client } = recordingS3();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        inFlight++;
        most = Math.max(most, inFlight);
        // A slow S3: the body could be read far faster than parts are sent.
        await new Promise((resolve) => setTimeout(resolve, 150));
        try {
          return await next(args);
        } finally {
          inFlight--;
          if (context.commandName === 'UploadPartCommand') partsDone++;
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: 'slowS3' },
    );
    let pulled = 0;
    let mostAhead = 0;
    async function* body() {
      for (let index = 0; index < 64; index++) {
        pulled++;
        // Bytes handed to the upload that S3 has not yet acknowledged.
        mostAhead = Math.max(mostAhead, pulled * chunkSize - partsDone * PART_SIZE);
        yield Buffer.alloc(chunkSize, index);
      }
    }
    const key = `test/backpressure/${randomUUID()}.bin`;
    await uploadInParts(client, { Bucket: bucket, Key: key }, body(), { partSize: PART_SIZE, partsInFlight: 2 });
    expect(most).toBe(2);
    expect(pulled).toBe(64);
    // Three part buffers and the chunk that waits for one: never more, however slow S3 is.
    expect(mostAhead).toBe(3 * PART_SIZE + chunkSize);
    expect((await objectBytes(key)).length).toBe(PART_SIZE * 8);
  });
});

function chunked(text: string, size: number): string[] {
  const chunks: string[] = [];
  for (let start = 0; start < text.length; start += size) chunks.push(text.slice(start, start + size));
  return chunks;
}

// ---------------------------------------------------------------------------------------------
// Failures

/** A 503 on every attempt: the SDK retries it (3 attempts in all) before the upload sees it fail. */
const unavailable = () =>
  Object.assign(new Error('injected: S3 is unavailable'), { name: 'ServiceUnavailable', $fault: 'server', $metadata: { httpStatusCode: 503 } });

async function expectUploadGone(key: string, uploadId: string): Promise<void> {
  // fauxqs has no ListMultipartUploads: S3 answers NoSuchUpload to a part only for an upload that no longer exists.
  await expect(
    plainS3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 9, Body: Buffer.alloc(10) })),
  ).rejects.toMatchObject({
    name: 'NoSuchUpload',
  });
}

describe('a failed part', () => {
  it('aborts the multipart upload; the run is recorded for a retry, which uploads a correct file', { timeout: 120_000 }, async () => {
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    await seedInbox(tenant, 4_000, 2_000);
    const scheduleId = await newSchedule(tenant, 'ndjson');
    const scheduledTime = recentFiring();
    const firing = { scheduleId, tenant, owner: 'ana', scheduledTime, trigger: 'manual' } as const;
    const failing = recordingS3((request) => (request.command === 'UploadPartCommand' && request.input.PartNumber === 2 ? unavailable() : undefined));

    await expect(runExport(localWorkerDeps(db, ses, s3ExportFiles(failing.client, bucket)), firing, 'm-part')).rejects.toThrow('injected: S3 is unavailable');
    const failed = (await store.getRun({ tenant, userId: 'ana' }, scheduleId, scheduledTime))!;
    // As any failed attempt: back to queued with its error, for SQS to deliver again.
    expect(failed).toMatchObject({ status: 'queued', attempts: 1, error: 'ServiceUnavailable: injected: S3 is unavailable' });
    const create = failing.seen.find((request) => request.command === 'CreateMultipartUploadCommand')!;
    const key = create.input.Key as string;
    const partTwo = failing.seen.filter((request) => request.command === 'UploadPartCommand' && request.input.PartNumber === 2);
    expect(partTwo).toHaveLength(3);
    const aborts = failing.seen.filter((request) => request.command === 'AbortMultipartUploadCommand');
    expect(aborts).toHaveLength(1);
    expect(aborts[0]!.status).toBe(204);
    const uploadId = aborts[0]!.input.UploadId as string;
    // The id was recorded on the run while it uploaded, for a crash to be cleaned up by the next attempt.
    expect(failed.uploadId).toBe(uploadId);
    expect(failing.seen.some((request) => request.command === 'CompleteMultipartUploadCommand')).toBe(false);
    await expectUploadGone(key, uploadId);

    // SQS redelivers the message: the retry aborts the recorded id (already gone) and uploads the whole file.
    const { client, seen } = recordingS3();
    expect(await runExport(localWorkerDeps(db, ses, s3ExportFiles(client, bucket)), firing, 'm-part')).toBe('succeeded');
    const run = (await store.getRun({ tenant, userId: 'ana' }, scheduleId, scheduledTime))!;
    expect(run).toMatchObject({ status: 'succeeded', attempts: 2, rows: 4_000, objectKey: key });
    expect(run.uploadId).toBeUndefined();
    const file = await objectBytes(key);
    const read = await rowsIn('ndjson', file);
    expect(read.map(([seq]) => seq)).toEqual(Array.from({ length: 4_000 }, (_, index) => index + 1));
    expect(read[3_999]).toEqual([4_000, titleOf(4_000), bodyOf(4_000, 2_000)]);
    expectChecksummedUpload(
      seen.filter((request) => request.command !== 'AbortMultipartUploadCommand'),
      key,
      file,
    );
  });

  it('aborts the upload when the rows fail mid-file, and rethrows their error', { timeout: 60_000 }, async () => {
    const { client, seen } = recordingS3();
    const key = `test/broken-body/${randomUUID()}.txt`;
    async function* body() {
      for (let index = 0; index < 12; index++) yield 'x'.repeat(PART_SIZE / 4);
      throw new Error('DynamoDB page failed');
    }
    await expect(uploadInParts(client, { Bucket: bucket, Key: key }, body(), { partSize: PART_SIZE, partsInFlight: 2 })).rejects.toThrow(
      'DynamoDB page failed',
    );
    const abort = seen.find((request) => request.command === 'AbortMultipartUploadCommand')!;
    expect(abort.status).toBe(204);
    expect(seen.filter((request) => request.command === 'UploadPartCommand').length).toBeGreaterThanOrEqual(2);
    expect(seen.some((request) => request.command === 'CompleteMultipartUploadCommand')).toBe(false);
    await expectUploadGone(key, abort.input.UploadId as string);
  });

  it('refuses a part size S3 would refuse, before sending anything', async () => {
    const { client, seen } = recordingS3();
    await expect(uploadInParts(client, { Bucket: bucket, Key: 'test/never' }, ['x'], { partSize: 1024, partsInFlight: 2 })).rejects.toThrow(
      /partSize must be at least 5242880 bytes/,
    );
    expect(seen).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Through the local runtime, under its IAM check

describe('the worker in the local runtime', () => {
  it('aborts the upload a crashed attempt left behind, then exports the file', { timeout: 60_000 }, async () => {
    const tenant = `t-${randomUUID().slice(0, 8)}`;
    await seedInbox(tenant, 20, 50);
    const scheduleId = await newSchedule(tenant, 'csv');
    const token = await devToken(tenant, 'ana');
    const message = { scheduleId, tenant, owner: 'ana', scheduledTime: recentFiring(), trigger: 'schedule' } as const;
    // The state a crashed attempt leaves: the run queued again with the id of an upload it never finished.
    const { runId, scheduledAt } = await recordRun(store, message);
    const key = objectKeyOf({ tenant, owner: 'ana', runId }, { format: 'csv' });
    const { UploadId } = await plainS3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    await plainS3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024) }));
    await store.updateRun({ tenant, userId: 'ana' }, scheduleId, scheduledAt, { uploadId: UploadId! });

    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: localQueueName('exports') }));
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: JSON.stringify(message) }));
    const run = await waitForRun(token, runId, ['succeeded', 'failed'], 30_000);
    expect(run).toMatchObject({ status: 'succeeded', rows: 20, attempts: 1 });
    // The runtime's worker made the AbortMultipartUpload under its role (s3:AbortMultipartUpload).
    await expectUploadGone(key, UploadId!);
    const read = await rowsIn('csv', await objectBytes(key));
    expect(read.map(([seq]) => seq)).toEqual(Array.from({ length: 20 }, (_, index) => index + 1));
    expect((await store.getRun({ tenant, userId: 'ana' }, scheduleId, scheduledAt))!.uploadId).toBeUndefined();
  });
});
