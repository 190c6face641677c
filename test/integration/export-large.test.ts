import { randomUUID } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SESClient } from '@aws-sdk/client-ses';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoExportStore } from '#functions/adapters/dynamo-export-store';
import { s3ExportFiles } from '#functions/adapters/s3-export-files';
import { runExport } from '#functions/exports/worker';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { localBucketName } from '#lib/local/resources';
import { api, devToken, tableName, urls } from '../support/local';
import { localWorkerDeps } from '../support/exports';
import { parse as parseCsvText } from 'csv-parse/sync';

/**
 * A 100k-row export through the worker and its real adapters, each file read back with a parser
 * (not by counting lines): the row count, the header, and a sample of values must all survive.
 */
const ROWS = 100_000;
const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const s3 = new S3Client({ endpoint: urls().s3Url, forcePathStyle: true, ...local });
const ses = new SESClient({ endpoint: urls().mailUrl, ...local });
afterAll(() => {
  for (const client of [raw, s3, ses]) client.destroy();
});

const store = dynamoExportStore(db, tableName('exports'));
const bucket = localBucketName('exports');
const tenant = `t-${randomUUID().slice(0, 8)}`;
const owner = { tenant, userId: 'ana' };

const deps = localWorkerDeps(db, ses, s3ExportFiles(s3, bucket));

/** Quotes, a separator and a line break in every body: what a CSV writer or reader gets wrong. */
const bodyOf = (seq: number) => `Pump ${seq}, valve "B"\nsecond line`;
const createdAtOf = (seq: number) => new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString();

async function seed(): Promise<void> {
  const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
  let next = 1;
  // BatchWrite, eight in flight: 100k items in seconds, not minutes.
  const writer = async () => {
    while (next <= ROWS) {
      const first = next;
      next = Math.min(ROWS + 1, next + 25);
      let requests: Array<Record<string, unknown>> = Array.from({ length: next - first }, (_, index) => {
        const seq = first + index;
        return {
          PutRequest: {
            Item: {
              userKey: `${tenant}#ana`,
              seq,
              id: `n-${seq}`,
              createdAt: createdAtOf(seq),
              kind: 'bench',
              priority: 'normal',
              title: `Title ${seq}`,
              body: bodyOf(seq),
              data: { n: seq },
              expiresAt,
              ...(seq % 2 ? { unreadSeq: seq } : {}),
            },
          },
        };
      });
      for (let round = 0; requests.length > 0; round++) {
        if (round >= 8) throw new Error('BatchWrite left items unprocessed after 8 rounds');
        const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName('notifications')]: requests as never } }));
        requests = result.UnprocessedItems?.[tableName('notifications')] ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
}

async function exportAs(format: 'csv' | 'xlsx'): Promise<Buffer> {
  const { status, body } = await api('POST', '/exports/schedules', await devToken(tenant, 'ana'), {
    name: `Large ${format}`,
    dataset: 'notifications',
    format,
    schedule: { preset: 'daily', at: '06:00' },
    timezone: 'UTC',
    recipients: ['large@example.com'],
  });
  expect(status).toBe(201);
  const scheduledTime = '2026-03-08T06:00:00Z';
  expect(await runExport(deps, { scheduleId: body.id, tenant, owner: 'ana', scheduledTime, trigger: 'manual' }, `m-${format}`)).toBe('succeeded');
  const run = await store.getRun(owner, body.id, scheduledTime);
  expect(run).toMatchObject({ status: 'succeeded', rows: ROWS });
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: run!.objectKey! }));
  const file = Buffer.from(await object.Body!.transformToByteArray());
  expect(file.length).toBe(run!.bytes);
  return file;
}

/** CSV read back by csv-parse, an independent reader (RFC 4180; a leading BOM dropped). */
function parseCsv(text: string): string[][] {
  return parseCsvText(text, { bom: true, relax_column_count: true });
}

const HEADER = ['Seq', 'Id', 'Created at', 'Kind', 'Priority', 'Title', 'Body', 'Read', 'Data'];
const SAMPLE = [1, 2, 777, 50_000, ROWS];

describe(`a ${ROWS / 1000}k-row export`, () => {
  // Bounds, not speed checks: on the loaded shared machine seeding 100k items has taken over 2 minutes.
  beforeAll(seed, 300_000);

  it('writes valid CSV with every row, parsed back', { timeout: 300_000 }, async () => {
    const text = (await exportAs('csv')).toString('utf8');
    expect(text.startsWith('\uFEFF')).toBe(true);
    const records = parseCsv(text.slice(1));
    expect(records).toHaveLength(ROWS + 1);
    expect(records[0]).toEqual(HEADER);
    expect(records.every((record) => record.length === HEADER.length)).toBe(true);
    for (const seq of SAMPLE) {
      expect(records[seq]).toEqual([
        String(seq),
        `n-${seq}`,
        createdAtOf(seq),
        'bench',
        'normal',
        `Title ${seq}`,
        bodyOf(seq),
        String(seq % 2 === 0),
        `{"n":${seq}}`,
      ]);
    }
  });

  it('writes a valid XLSX workbook with every row, read back with exceljs', { timeout: 300_000 }, async () => {
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load((await exportAs('xlsx')) as never);
    const sheet = workbook.getWorksheet('Export')!;
    expect(sheet.rowCount).toBe(ROWS + 1);
    expect(HEADER.map((_, index) => sheet.getRow(1).getCell(index + 1).text)).toEqual(HEADER);
    for (const seq of SAMPLE) {
      const row = sheet.getRow(seq + 1);
      expect(row.getCell(1).value).toBe(seq);
      expect([2, 3, 6, 7, 9].map((column) => row.getCell(column).text)).toEqual([`n-${seq}`, createdAtOf(seq), `Title ${seq}`, bodyOf(seq), `{"n":${seq}}`]);
      expect(row.getCell(8).value).toBe(seq % 2 === 0);
    }
  });
});
