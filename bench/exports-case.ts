/**
 * One case of bench/exports.ts, run as its own process: bundled as a deployed function is bundled
 * (lib/infra/herald-function.ts `bundling`) and started with the heap flags Lambda's Node runtime
 * gives the export worker (lambdaHeapFlags), so its peak RSS is what the function's would be.
 * Imports only what the worker itself loads, plus the naive baseline's libraries.
 * Usage: node <flags> exports-case.mjs '<CaseSpec JSON>'; prints progress lines, then the result as
 * the last line of stdout.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { stringify } from 'csv-stringify/sync';
import ExcelJS from 'exceljs';
import { dynamoDatasets } from '../functions/adapters/dynamo-datasets';
import { PART_SIZE, PARTS_IN_FLIGHT, s3ExportFiles } from '../functions/adapters/s3-export-files';
import { uploadInParts } from '../functions/adapters/s3-part-upload';
import { NOTIFICATION_COLUMNS } from '../functions/exports/datasets';
import { cellText, contentTypeOf, type ExportFormat, type ExportRow } from '../functions/exports/formats';
import { streamToFile } from '../functions/exports/worker';

export type Mode = 'floor' | 'herald' | 'naive';
export interface CaseSpec {
  readonly mode: Mode;
  readonly rows: number;
  readonly format: ExportFormat | 'none';
  readonly tenant: string;
  /** The seeded user whose notifications are read. */
  readonly user: string;
  readonly dynamodbUrl: string;
  readonly s3Url: string;
  readonly table: string;
  readonly bucket: string;
}
export interface CaseResult {
  readonly rows: number;
  readonly ms: number;
  /** CPU time (user + system) of the process over the case, start-up excluded. */
  readonly cpuMs: number;
  readonly bytes: number;
  readonly peakRssMb: number;
  readonly startRssMb: number;
}
/** The child's stdout line reporting how many rows it has read so far. */
export const PROGRESS_PREFIX = 'progress ';

/** The child: one case, timed from the first row read to the stored file. */
async function runCase(spec: CaseSpec): Promise<CaseResult> {
  const local = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
  const s3 = new S3Client({ endpoint: spec.s3Url, forcePathStyle: true, ...local });
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: spec.dynamodbUrl, ...local }));
  const key = `bench/${spec.mode}-${spec.rows}.${spec.format}`;
  // As the worker reads (one page ahead); the floor too, so it is the fastest read of the rows.
  const { rows: source } = await dynamoDatasets(db, { notifications: spec.table }).open(
    'notifications',
    { tenant: spec.tenant, userId: spec.user },
    {},
    { readAhead: true },
  );
  const startRssMb = process.memoryUsage().rss / 1024 / 1024;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let rows = 0;
  let bytes = 0;
  const counted = async function* () {
    for await (const row of source) {
      rows++;
      yield row;
    }
  };
  // Rows read so far, for the parent's heartbeat; silent while the event loop is busy (a naive file being built).
  const progress = setInterval(() => console.log(`${PROGRESS_PREFIX}${rows}`), 10_000);
  progress.unref();
  if (spec.mode === 'floor') {
    for await (const _row of counted());
  } else if (spec.mode === 'herald') {
    ({ bytes } = await streamToFile(s3ExportFiles(s3, spec.bucket), key, spec.format as ExportFormat, NOTIFICATION_COLUMNS, counted(), () => undefined));
  } else {
    const all: ExportRow[] = [];
    for await (const row of counted()) all.push(row);
    const body = await naiveFile(spec.format as ExportFormat, all);
    bytes = body.length;
    // fauxqs refuses a single PUT of tens of MB, so the in-memory file goes up in parts too.
    await uploadInParts(s3, { Bucket: spec.bucket, Key: key, ContentType: contentTypeOf(spec.format as ExportFormat) }, [body], {
      partSize: PART_SIZE,
      partsInFlight: PARTS_IN_FLIGHT,
    });
  }
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  clearInterval(progress);
  // The local S3 keeps objects in the parent's memory: drop each file once measured.
  if (spec.mode !== 'floor') await s3.send(new DeleteObjectCommand({ Bucket: spec.bucket, Key: key }));
  return { rows, ms, cpuMs: (cpu.user + cpu.system) / 1000, bytes, startRssMb, peakRssMb: peakRssMb() };
}

/** The whole file at once, in memory, with the same cell rules as the streaming formatter. */
async function naiveFile(format: ExportFormat, rows: readonly ExportRow[]): Promise<Buffer | string> {
  const columns = NOTIFICATION_COLUMNS;
  const projected = (row: ExportRow) => Object.fromEntries(columns.map((column) => [column.key, row[column.key] ?? null]));
  switch (format) {
    case 'csv':
      return stringify([columns.map((column) => column.header), ...rows.map((row) => columns.map((column) => cellText(row[column.key])))], {
        escape_formulas: true,
        bom: true,
        record_delimiter: 'windows',
      });
    case 'ndjson':
      return rows.map((row) => `${JSON.stringify(projected(row))}\n`).join('');
    case 'json':
      return JSON.stringify(rows.map(projected));
    case 'xlsx': {
      const workbook = new ExcelJS.Workbook();
      const sheet = workbook.addWorksheet('Export');
      sheet.addRow(columns.map((column) => column.header));
      for (const row of rows)
        sheet.addRow(
          columns.map((column) => (typeof row[column.key] === 'number' || typeof row[column.key] === 'boolean' ? row[column.key] : cellText(row[column.key]))),
        );
      return Buffer.from(await workbook.xlsx.writeBuffer());
    }
  }
}

if (process.argv[2]?.startsWith('{')) {
  const result = await runCase(JSON.parse(process.argv[2]) as CaseSpec);
  console.log(JSON.stringify(result));
  process.exit(0);
}

/**
 * This process's own peak RSS: the kernel's high-water mark of its address space (VmHWM), which
 * starts afresh at exec. Not getrusage's maxRSS: Linux keeps that across exec, so a child spawned
 * (fork, then exec) by a parent holding a gigabyte reports the parent's size at the fork as its own
 * peak (the bench's parent holds the local runtime, and the local S3 keeps every file in it).
 * maxRSS only where /proc is missing (not Linux).
 */
function peakRssMb(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) / 1024;
  } catch {
    // No /proc: fall through.
  }
  return process.resourceUsage().maxRSS / 1024;
}
