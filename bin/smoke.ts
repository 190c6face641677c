/**
 * `npm run smoke`: walks Herald through its public contract (HTTP API, WebSocket, email, download
 * link), against a local runtime started here by default, a running `npm start` with --local, or
 * a deployed stack with --outputs <cdk-outputs.json>. `npm run smoke -- --help` says more; the
 * steps are in smoke/steps.ts.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSmokeArgs, readDeployedTokens, readLocalJson, readStackOutputs, UsageError, USAGE } from '../smoke/args';
import { duration } from '../smoke/report';
import { runSmoke, type SmokeTarget } from '../smoke/steps';
import { deployedTarget, localTarget, newRunId } from '../smoke/targets';
import { OutOfTime } from '../smoke/wire';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const started = performance.now();

function usageError(message: string): never {
  console.error(`npm run smoke: ${message}`);
  console.error('See `npm run smoke -- --help`.');
  process.exit(2);
}

let args: ReturnType<typeof parseSmokeArgs>;
let target: SmokeTarget | undefined;
try {
  args = parseSmokeArgs(process.argv.slice(2), join(REPO_ROOT, '.herald', 'local.json'));
  if (args.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (args.where.kind === 'deployed') {
    const outputs = readStackOutputs(args.where.outputsFile, args.where.stack);
    target = deployedTarget(outputs, readDeployedTokens(process.env, new Date(), args.timeoutSeconds));
  } else if (args.where.kind === 'running') {
    target = localTarget(
      readLocalJson(args.where.localJson),
      'the running npm start (.herald/local.json)',
      'is npm start still running? .herald/local.json stays behind when it stops',
    );
  }
} catch (error) {
  if (error instanceof UsageError) usageError(error.message);
  throw error;
}

// The overall limit: waits stop at it (a check fails saying so); clean-ups get a short grace;
// and whatever still runs 30 s later is cut off, so the run always ends by itself.
const limit = new AbortController();
const limitTimer = setTimeout(() => limit.abort(new OutOfTime(args.timeoutSeconds)), args.timeoutSeconds * 1000);
setTimeout(
  () => {
    console.error(`npm run smoke: still running 30 s past the overall limit of ${args.timeoutSeconds} s; exiting.`);
    process.exit(1);
  },
  (args.timeoutSeconds + 30) * 1000,
).unref();

let stopRuntime: (() => Promise<void>) | undefined;
if (!target) {
  console.log('· starting the local runtime in this process (in memory, free ports)…');
  const [{ startLocalRuntime }, { LocalSetupError }] = await Promise.all([import('../lib/local/runtime'), import('../lib/local/emulators')]);
  try {
    const runtime = await startLocalRuntime({ portBase: 0, log: (message) => process.env.HERALD_DEBUG && console.error(`[herald] ${message}`) });
    stopRuntime = () => runtime.stop();
    target = localTarget(runtime.urls, 'local runtime started in this process');
    console.log(`· started in ${duration(performance.now() - started)}`);
  } catch (error) {
    if (error instanceof LocalSetupError) {
      console.error(`✗ the local runtime could not start: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}

let ok = false;
try {
  const report = await runSmoke(target, { signal: limit.signal, limitSeconds: args.timeoutSeconds, runId: newRunId(), out: (line) => console.log(line) });
  ok = report.ok;
} catch (error) {
  console.error(`✗ the smoke test itself failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  clearTimeout(limitTimer);
  if (stopRuntime) {
    const stopping = performance.now();
    const stopped = await Promise.race([stopRuntime().then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 20_000).unref())]);
    console.log(
      stopped ? `· stopped the local runtime in ${duration(performance.now() - stopping)}` : '· the local runtime did not stop within 20 s; exiting anyway',
    );
  }
}
process.exit(ok ? 0 : 1);
