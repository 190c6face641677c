/**
 * Scheduled exports: 10k, 100k and 1M rows in each format through the worker's own streaming path
 * (streamToFile: paginated DynamoDB read -> formatter -> Herald's multipart upload to the local S3), beside
 * - the floor: a bare paginated read of the same rows (the same dataset reader), with no formatting and no upload;
 * - the naive approach: every row in an array, the whole file as one string or buffer, one upload.
 *   Against S3 that would be one PutObject; fauxqs refuses a single PUT of tens of MB, so the naive
 *   body goes up in parts from memory through the same uploader (functions/adapters/s3-part-upload.ts).
 * Each case runs in its own process (bench/exports-case.ts, bundled as a deployed function is), so its
 * peak RSS (its VmHWM; getrusage's maxRSS would carry this parent's size over the exec) is its own. Herald's cases and the floor run under the heap Lambda's
 * Node runtime gives the 512 MB export worker (lambdaHeapFlags); the naive cases under a 3 GB heap.
 * All sizes are seeded into DynamoDB Local, in memory: with a data directory (SQLite on disk) it
 * writes a few dozen items a second, so a million rows could not be seeded once and kept.
 * Loopback only, bounded: each case has a time limit scaled by its row count (caseTimeoutMs), past
 * which it is killed and reported, so the run always ends by itself. A 1M-row case takes minutes, so
 * every case prints a line when it starts, one a minute while it runs (rows read so far) and one when it ends.
 * HERALD_BENCH_EXPORT_SIZES (e.g. `10000,100000`) and HERALD_BENCH_EXPORT_NAIVE_MAX (rows, default
 * 100000: the naive file of 1M rows dies of a 3 GB heap in CSV and XLSX) narrow a run;
 * HERALD_BENCH_EXPORT_BUNDLE runs a case bundle built before (`npx esbuild bench/exports-case.ts
 * --bundle --platform=node --format=esm ...` at another commit), to compare two versions.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EXPORT_FORMATS, type ExportFormat } from '../functions/exports/formats';
import { functions } from '../lib/description';
import { bundleLikeLambda } from './bundle';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local';
import { localBucketName, localTableName } from '../lib/local/resources';
import { REPO_ROOT, startLocalRuntime } from '../lib/local/runtime';
import type { CaseResult, CaseSpec, Mode } from './exports-case';
import { rowOf } from './export-rows';

const SIZES = (process.env.HERALD_BENCH_EXPORT_SIZES ?? '10000,100000,1000000').split(',').map(Number);
const NAIVE_MAX_ROWS = Number(process.env.HERALD_BENCH_EXPORT_NAIVE_MAX ?? 100_000);
const TENANT = 'bench';
const BATCH = 25;
const SEED_CONCURRENCY = 8;
/** The progress line prefix bench/exports-case.ts prints. */
const PROGRESS_PREFIX = 'progress ';

/**
 * The V8 heap Lambda's Node.js runtime gives a function of `memoryMb`: its bootstrap script
 * (/var/runtime/bootstrap in the public.ecr.aws/lambda/nodejs images) sets new space to a tenth of
 * the memory, `--max-semi-space-size` to half of that and `--max-old-space-size` to the rest:
 *   new_space=$(expr $AWS_LAMBDA_FUNCTION_MEMORY_SIZE / 10); semi_space=$(expr $new_space / 2)
 *   old_space=$(expr $AWS_LAMBDA_FUNCTION_MEMORY_SIZE - $new_space)
 * For the 512 MB export worker: --max-semi-space-size=25 --max-old-space-size=461.
 */
export function lambdaHeapFlags(memoryMb: number): string[] {
  const newSpace = Math.floor(memoryMb / 10);
  return [`--max-semi-space-size=${Math.floor(newSpace / 2)}`, `--max-old-space-size=${memoryMb - newSpace}`];
}
const WORKER_HEAP = lambdaHeapFlags(functions.exportWorker.memoryMb);
/**
 * A child past its limit is killed and reported, so the run always ends: 1.2 ms a row (a paginated
 * read of DynamoDB Local on a loaded shared machine has taken 0.45 ms a row), at least 2 min and at
 * most 20 min, so 10k rows get 2 min, 100k rows 2 min and 1M rows 20 min.
 */
const caseTimeoutMs = (rows: number) => Math.min(1_200_000, Math.max(120_000, Math.ceil(rows * 1.2)));
/** While a case runs, a line this often (elapsed, rows read so far) shows the run is alive. */
const HEARTBEAT_MS = 60_000;
/** The naive approach's heap may grow to this before the child dies of it (reported, not fatal). */
const NAIVE_HEAP_MB = 3_072;

type Outcome = CaseResult | { readonly failed: string };

export async function benchExports(): Promise<void> {
  const started = performance.now();
  const bundleDir = mkdtempSync(join(tmpdir(), 'herald-bench-exports-case-'));
  const runtime = await startLocalRuntime({ portBase: 0 });
  try {
    const caseBundle = process.env.HERALD_BENCH_EXPORT_BUNDLE ?? (await bundleCase(bundleDir));
    const client = new DynamoDBClient({ endpoint: runtime.urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const db = DynamoDBDocumentClient.from(client);
    for (const size of SIZES) {
      const seedStart = performance.now();
      await seed(db, size);
      console.log(`seeded ${size} notifications into DynamoDB Local in ${secondsSince(seedStart)} (BatchWrite, ${SEED_CONCURRENCY} in flight)`);
    }
    client.destroy();
    const base = {
      tenant: TENANT,
      dynamodbUrl: runtime.urls.dynamodbUrl,
      s3Url: runtime.urls.s3Url,
      table: localTableName('notifications'),
      bucket: localBucketName('exports'),
    };
    console.log(`case bundle: ${caseBundle}; herald and floor run under ${WORKER_HEAP.join(' ')} (Lambda's heap for ${functions.exportWorker.memoryMb} MB)`);
    console.log('naive: one PutObject against S3; fauxqs refuses a single PUT of tens of MB, so its in-memory body goes up in 5 MiB parts.');
    console.log(
      'each case in its own process; peak RSS = the process high-water mark (its own VmHWM), idle = its RSS before the case; ratio = time / floor time; CPU = user + system seconds over the case (start-up excluded), CPU ratio = CPU / floor CPU\n',
    );
    console.log(`case limits: ${SIZES.map((rows) => `${rows} rows ${caseTimeoutMs(rows) / 1000} s`).join(', ')}; lines starting with "·" are progress\n`);
    // Progress lines come between the table's lines; the table is printed again, whole, at the end.
    const table = [
      `${'rows'.padStart(9)} ${'format'.padEnd(7)} ${'herald rows/s'.padStart(13)} ${'ratio'.padStart(6)} ${'CPU s'.padStart(7)} ${'CPU ratio'.padStart(9)} ${'peak RSS'.padStart(9)} ${'naive rows/s'.padStart(13)} ${'naive peak RSS'.padStart(15)} ${'file'.padStart(9)}`,
    ];
    const row = (line: string) => {
      table.push(line);
      console.log(line);
    };
    console.log(table[0]);
    const heraldFailures: string[] = [];
    for (const rows of SIZES) {
      const spec = (mode: Mode, format: ExportFormat | 'none'): CaseSpec => ({ ...base, mode, rows, format, user: seededUser(rows) });
      // The faster of two: the first read after seeding runs against a cold DynamoDB Local. A million
      // rows warm it up within the read, and one read of them takes minutes: one.
      const floors = [await runChild(caseBundle, spec('floor', 'none'))];
      if (rows < 1_000_000) floors.push(await runChild(caseBundle, spec('floor', 'none')));
      const floor = floors.filter((result): result is CaseResult => !('failed' in result)).sort((a, b) => a.ms - b.ms)[0];
      if (!floor) throw new Error(`floor read of ${rows} rows failed: ${floors.map((result) => ('failed' in result ? result.failed : '')).join('; ')}`);
      if (floor.rows !== rows) throw new Error(`the floor read ${floor.rows} rows of ${rows}`);
      row(
        `${String(rows).padStart(9)} ${'floor'.padEnd(7)} ${rate(floor).padStart(13)} ${'1.0x'.padStart(6)} ${seconds(floor.cpuMs).padStart(7)} ${'1.0x'.padStart(9)} ${mb(floor.peakRssMb).padStart(9)}   (bare paginated read, idle RSS ${mb(floor.startRssMb)})`,
      );
      for (const format of EXPORT_FORMATS) {
        const herald = await runChild(caseBundle, spec('herald', format));
        const naive: Outcome = rows <= NAIVE_MAX_ROWS ? await runChild(caseBundle, spec('naive', format)) : { failed: 'not run' };
        // A failed Herald case is reported in its row and fails the run at the end, after the other cases.
        if ('failed' in herald) heraldFailures.push(`${rows} rows as ${format}: ${herald.failed}`);
        else if (herald.rows !== rows) throw new Error(`Herald exported ${herald.rows} rows of ${rows}`);
        row(
          [
            String(rows).padStart(9),
            format.padEnd(7),
            ('failed' in herald ? herald.failed : rate(herald)).padStart(13),
            ('failed' in herald ? '-' : `${(herald.ms / floor.ms).toFixed(2)}x`).padStart(6),
            ('failed' in herald ? '-' : seconds(herald.cpuMs)).padStart(7),
            ('failed' in herald ? '-' : `${(herald.cpuMs / floor.cpuMs).toFixed(2)}x`).padStart(9),
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
    rmSync(bundleDir, { recursive: true, force: true });
  }
}

const rate = (result: CaseResult) => `${Math.round(result.rows / (result.ms / 1000))}`;
const mb = (value: number) => `${value.toFixed(0)} MB`;
const seconds = (ms: number) => (ms / 1000).toFixed(2);
const seededUser = (rows: number) => `seeded-${rows}`;

/** bench/exports-case.ts bundled as a deployed function is. */
async function bundleCase(dir: string): Promise<string> {
  const outfile = join(dir, 'exports-case.mjs');
  await bundleLikeLambda(join(REPO_ROOT, 'bench/exports-case.ts'), outfile);
  return outfile;
}

/** `rows` notifications for the user `seeded-<rows>`, in bounded concurrent BatchWrites (retrying unprocessed items). */
async function seed(db: DynamoDBDocumentClient, rows: number): Promise<void> {
  const userKey = `${TENANT}#${seededUser(rows)}`;
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
}

/** Seconds since `since`, one decimal. */
const secondsSince = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/**
 * One case in a fresh process (the bundled exports-case), its result the last line of its stdout, killed
 * past caseTimeoutMs. Prints a line when it starts, every HEARTBEAT_MS while it runs, and when it ends.
 */
function runChild(bundle: string, spec: CaseSpec): Promise<Outcome> {
  const heap = spec.mode === 'naive' ? [`--max-old-space-size=${NAIVE_HEAP_MB}`] : WORKER_HEAP;
  const timeoutMs = caseTimeoutMs(spec.rows);
  const label = `${spec.mode} ${spec.format === 'none' ? '' : `${spec.format} `}${spec.rows} rows`;
  const start = performance.now();
  let rowsRead = 0;
  console.log(`  · ${label}: started (limit ${timeoutMs / 1000} s)`);
  return new Promise<Outcome>((resolve) => {
    const child = spawn(process.execPath, [...heap, bundle, JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Herald's cases and the floor run in the worker's described process environment, as deployed.
      env: { ...process.env, ...(spec.mode === 'naive' ? {} : functions.exportWorker.environment), POWERTOOLS_METRICS_DISABLED: 'true' },
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
      if (/heap out of memory/i.test(stderr)) return resolve({ failed: `OOM @${spec.mode === 'naive' ? `${NAIVE_HEAP_MB / 1024}G` : 'Lambda'} heap` });
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
