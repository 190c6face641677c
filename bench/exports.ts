/**
 * Scheduled exports: 10k, 100k and 1M rows in each format through the worker's own streaming path
 * (streamToFile: formatter -> lib-storage multipart upload to the local S3), beside
 * - the floor: a bare paginated read of the same rows, with no formatting and no upload;
 * - the naive approach: every row in an array, the whole file as one string or buffer, one upload.
 *   Against S3 that would be one PutObject; fauxqs refuses a single PUT of tens of MB, so the naive
 *   body goes through lib-storage's Upload from memory (parts sliced from the buffer, no copy).
 * Each case runs in its own child process, so its peak RSS (getrusage maxRSS) is its own.
 * 10k and 100k rows are seeded into DynamoDB Local and read back by Herald's notifications dataset;
 * 1M rows would take too long to seed, so that size feeds the same path from a generator of rows
 * identical to the seeded ones (its floor is iterating that generator). Loopback only, bounded:
 * each case has a time limit scaled by its row count (caseTimeoutMs), past which it is killed and
 * reported, so the run always ends by itself. A 1M-row case takes minutes, so every case prints a
 * line when it starts, one a minute while it runs (rows read so far) and one when it ends.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DeleteObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { stringify } from 'csv-stringify/sync';
import ExcelJS from 'exceljs';
import { NOTIFICATION_COLUMNS } from '../functions/exports/datasets';
import { cellText, contentTypeOf, EXPORT_FORMATS, type ExportFormat, type ExportRow } from '../functions/exports/formats';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local';
import { localBucketName, localTableName } from '../lib/local/resources';
import { startLocalRuntime, type LocalUrls } from '../lib/local/runtime';

const SEEDED_SIZES = [10_000, 100_000];
const GENERATED_SIZE = 1_000_000;
const TENANT = 'bench';
const BATCH = 25;
const SEED_CONCURRENCY = 8;
/**
 * A child past its limit is killed and reported, so the run always ends: 0.6 ms a row (six times
 * the ~0.1 ms a row that xlsx, the slowest format, takes alone), at least 2 min and at most 10 min,
 * so 10k and 100k rows get 2 min and 1M rows 10 min. Every case ends, so the run ends within
 * (2 floors + 8 exports) x 3 sizes x the limit, plus seeding.
 */
const caseTimeoutMs = (rows: number) => Math.min(600_000, Math.max(120_000, Math.ceil(rows * 0.6)));
/** While a case runs, a line this often (elapsed, rows read so far) shows the run is alive. */
const HEARTBEAT_MS = 60_000;
/** The child's stdout line reporting how many rows it has read so far. */
const PROGRESS_PREFIX = 'progress ';
/** The naive approach's heap may grow to this before the child dies of it (reported, not fatal). */
const NAIVE_HEAP_MB = 3_072;

type Mode = 'floor' | 'herald' | 'naive';
interface Case {
  readonly mode: Mode;
  readonly rows: number;
  readonly format: ExportFormat | 'none';
  /** Seeded rows are read from DynamoDB Local under this user; generated ones have none. */
  readonly user?: string;
  readonly urls: LocalUrls;
}
interface CaseResult {
  readonly rows: number;
  readonly ms: number;
  readonly bytes: number;
  readonly peakRssMb: number;
  readonly startRssMb: number;
}
type Outcome = CaseResult | { readonly failed: string };

/** The same row for a seeded item and a generated one: about 350 bytes of JSON. */
function rowOf(seq: number): ExportRow {
  return {
    seq,
    id: `01J${String(seq).padStart(23, '0')}`,
    createdAt: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(),
    kind: 'work-order.assigned',
    priority: seq % 10 === 0 ? 'high' : 'normal',
    title: `Work order ${seq} assigned to crew ${seq % 97}`,
    body: `Inspect pump station ${seq % 512}, valve ${seq % 13}; "bring the torque wrench", report before 17:00.`,
    read: seq % 3 === 0,
    data: { workOrder: `WO-${seq}`, site: `S-${seq % 512}`, lat: 52.37 + (seq % 100) / 1000, lon: 4.89 },
  };
}

async function* generated(count: number): AsyncGenerator<ExportRow> {
  for (let seq = 1; seq <= count; seq++) yield rowOf(seq);
}

export async function benchExports(): Promise<void> {
  const started = performance.now();
  const runtime = await startLocalRuntime({ portBase: 0 });
  try {
    const client = new DynamoDBClient({ endpoint: runtime.urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const db = DynamoDBDocumentClient.from(client);
    const users = new Map<number, string>();
    for (const size of SEEDED_SIZES) {
      const seedStart = performance.now();
      users.set(size, await seed(db, size));
      console.log(
        `seeded ${size} notifications into DynamoDB Local in ${((performance.now() - seedStart) / 1000).toFixed(1)} s (BatchWrite, ${SEED_CONCURRENCY} in flight)`,
      );
    }
    client.destroy();
    console.log(
      `1M rows: from a generator of rows identical to the seeded ones (seeding 1M into DynamoDB Local is too slow); its floor iterates the generator.`,
    );
    console.log('naive: one PutObject against S3; fauxqs refuses a single PUT of tens of MB, so its in-memory body goes through lib-storage Upload.');
    console.log('each case in its own process; peak RSS = the process maxRSS, idle = its RSS before the case; ratio = time / floor time\n');
    console.log(
      `case limits: ${[...SEEDED_SIZES, GENERATED_SIZE].map((rows) => `${rows} rows ${caseTimeoutMs(rows) / 1000} s`).join(', ')}; lines starting with "·" are progress\n`,
    );
    // Progress lines come between the table's lines; the table is printed again, whole, at the end.
    const table = [
      `${'rows'.padStart(9)} ${'format'.padEnd(7)} ${'herald rows/s'.padStart(13)} ${'ratio'.padStart(6)} ${'peak RSS'.padStart(9)} ${'naive rows/s'.padStart(13)} ${'naive peak RSS'.padStart(15)} ${'file'.padStart(9)}`,
    ];
    const row = (line: string) => {
      table.push(line);
      console.log(line);
    };
    console.log(table[0]);
    const heraldFailures: string[] = [];
    for (const rows of [...SEEDED_SIZES, GENERATED_SIZE]) {
      const user = users.get(rows);
      // The faster of two: the first read after seeding runs against a cold DynamoDB Local.
      const floors = [
        await runChild({ mode: 'floor', rows, format: 'none', user, urls: runtime.urls }),
        await runChild({ mode: 'floor', rows, format: 'none', user, urls: runtime.urls }),
      ];
      const floor = floors.filter((result): result is CaseResult => !('failed' in result)).sort((a, b) => a.ms - b.ms)[0];
      if (!floor) throw new Error(`floor read of ${rows} rows failed: ${floors.map((result) => ('failed' in result ? result.failed : '')).join('; ')}`);
      row(
        `${String(rows).padStart(9)} ${'floor'.padEnd(7)} ${rate(floor).padStart(13)} ${'1.0x'.padStart(6)} ${mb(floor.peakRssMb).padStart(9)}   (bare ${user ? 'paginated read' : 'generator'}, idle RSS ${mb(floor.startRssMb)})`,
      );
      for (const format of EXPORT_FORMATS) {
        const herald = await runChild({ mode: 'herald', rows, format, user, urls: runtime.urls });
        const naive = await runChild({ mode: 'naive', rows, format, user, urls: runtime.urls });
        // A failed Herald case is reported in its row and fails the run at the end, after the other cases.
        if ('failed' in herald) heraldFailures.push(`${rows} rows as ${format}: ${herald.failed}`);
        else if (herald.rows !== rows) throw new Error(`Herald exported ${herald.rows} rows of ${rows}`);
        row(
          [
            String(rows).padStart(9),
            format.padEnd(7),
            ('failed' in herald ? herald.failed : rate(herald)).padStart(13),
            ('failed' in herald ? '-' : `${(herald.ms / floor.ms).toFixed(1)}x`).padStart(6),
            ('failed' in herald ? '-' : mb(herald.peakRssMb)).padStart(9),
            ('failed' in naive ? naive.failed : rate(naive)).padStart(13),
            ('failed' in naive ? '-' : mb(naive.peakRssMb)).padStart(15),
            ('failed' in herald ? '-' : mb(herald.bytes / 1024 / 1024)).padStart(9),
          ].join(' '),
        );
      }
    }
    console.log(`\n${table.join('\n')}`);
    console.log(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
    if (heraldFailures.length > 0) throw new Error(`Herald export failed: ${heraldFailures.join('; ')}`);
  } finally {
    await runtime.stop();
  }
}

const rate = (result: CaseResult) => `${Math.round(result.rows / (result.ms / 1000))}`;
const mb = (value: number) => `${value.toFixed(0)} MB`;

/** `rows` notifications for a fresh user, in bounded concurrent BatchWrites (retrying unprocessed items). */
async function seed(db: DynamoDBDocumentClient, rows: number): Promise<string> {
  const user = `seeded-${rows}`;
  const userKey = `${TENANT}#${user}`;
  const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
  let next = 1;
  const writer = async () => {
    while (next <= rows) {
      const first = next;
      next = Math.min(rows + 1, next + BATCH);
      let requests = Array.from({ length: next - first }, (_, index) => {
        const { read, ...row } = rowOf(first + index);
        return { PutRequest: { Item: { userKey, ...row, expiresAt, ...(read ? {} : { unreadSeq: row.seq }) } } };
      });
      for (let round = 0; requests.length > 0; round++) {
        if (round >= 8) throw new Error('BatchWrite left items unprocessed after 8 rounds');
        const result = await db.send(new BatchWriteCommand({ RequestItems: { [localTableName('notifications')]: requests } }));
        requests = (result.UnprocessedItems?.[localTableName('notifications')] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, writer));
  return user;
}

/** Seconds since `since`, one decimal. */
const secondsSince = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/**
 * One case in a fresh process (this file, `--case`), its result the last line of its stdout, killed
 * past caseTimeoutMs. Prints a line when it starts, every HEARTBEAT_MS while it runs, and when it ends.
 */
function runChild(spec: Case): Promise<Outcome> {
  const heap = spec.mode === 'naive' ? [`--max-old-space-size=${NAIVE_HEAP_MB}`] : [];
  const timeoutMs = caseTimeoutMs(spec.rows);
  const label = `${spec.mode} ${spec.format === 'none' ? '' : `${spec.format} `}${spec.rows} rows`;
  const start = performance.now();
  let rowsRead = 0;
  console.log(`  · ${label}: started (limit ${timeoutMs / 1000} s)`);
  return new Promise<Outcome>((resolve) => {
    const child = spawn(process.execPath, [...heap, ...process.execArgv, fileURLToPath(import.meta.url), '--case', JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      // Keep only what is not a complete progress line: the result is the last line.
      const lines = stdout.split('\n');
      const rest = lines.pop() ?? '';
      const kept = lines.filter((line) => {
        if (!line.startsWith(PROGRESS_PREFIX)) return true;
        rowsRead = Number(line.slice(PROGRESS_PREFIX.length)) || rowsRead;
        return false;
      });
      stdout = [...kept, rest].join('\n');
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const heartbeat = setInterval(() => console.log(`  · ${label}: running, ${secondsSince(start)}, ${rowsRead} rows read`), HEARTBEAT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearInterval(heartbeat);
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) return resolve(JSON.parse(last) as CaseResult);
      if (signal === 'SIGKILL') return resolve({ failed: `> ${timeoutMs / 1000} s` });
      if (/heap out of memory/i.test(stderr)) return resolve({ failed: `OOM @${NAIVE_HEAP_MB / 1024}G heap` });
      resolve({
        failed: `exit ${code ?? signal}: ${
          stderr
            .split('\n')
            .find((line) => /Error/.test(line))
            ?.trim()
            .slice(0, 200) ?? ''
        }`,
      });
    });
  }).then((outcome) => {
    console.log(`  · ${label}: ${'failed' in outcome ? `failed (${outcome.failed})` : 'done'} in ${secondsSince(start)}`);
    return outcome;
  });
}

/** The child: one case, timed from the first row read to the stored file. */
async function runCase(spec: Case): Promise<CaseResult> {
  // Herald's modules read their environment at import; the child inherits the runtime's from its parent.
  const [{ streamToFile }, { s3ExportFiles }, { dynamoDatasets }] = await Promise.all([
    import('../functions/exports/worker'),
    import('../functions/adapters/s3-export-files'),
    import('../functions/adapters/dynamo-datasets'),
  ]);
  const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const s3 = new S3Client({ endpoint: spec.urls.s3Url, forcePathStyle: true, ...local });
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: spec.urls.dynamodbUrl, ...local }));
  const bucket = localBucketName('exports');
  const key = `bench/${spec.mode}-${spec.rows}.${spec.format}`;
  const source = (): AsyncIterable<ExportRow> =>
    spec.user
      ? dynamoDatasets(db, { notifications: localTableName('notifications') }).rows('notifications', { tenant: TENANT, userId: spec.user }, {})
      : generated(spec.rows);
  const startRssMb = process.memoryUsage().rss / 1024 / 1024;
  const start = performance.now();
  let rows = 0;
  let bytes = 0;
  const counted = async function* () {
    for await (const row of source()) {
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
    ({ bytes } = await streamToFile(s3ExportFiles(s3, bucket), key, spec.format as ExportFormat, NOTIFICATION_COLUMNS, counted(), () => undefined));
  } else {
    const all: ExportRow[] = [];
    for await (const row of counted()) all.push(row);
    const body = await naiveFile(spec.format as ExportFormat, all);
    bytes = body.length;
    await new Upload({ client: s3, params: { Bucket: bucket, Key: key, Body: body, ContentType: contentTypeOf(spec.format as ExportFormat) } }).done();
  }
  const ms = performance.now() - start;
  clearInterval(progress);
  // The local S3 keeps objects in the parent's memory: drop each file once measured.
  if (spec.mode !== 'floor') await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  return { rows, ms, bytes, startRssMb, peakRssMb: process.resourceUsage().maxRSS / 1024 };
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

if (process.argv[2] === '--case') {
  const result = await runCase(JSON.parse(process.argv[3]!) as Case);
  console.log(JSON.stringify(result));
  process.exit(0);
}
