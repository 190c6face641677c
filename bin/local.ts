/**
 * `npm start`: the whole of Herald on this machine, with no AWS account. See docs/local.md.
 *   --in-memory      keep no state between runs (default: persist under .herald/)
 *   --port-base <n>  first of seven consecutive ports (default 4100)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LocalSetupError } from '../lib/local/emulators';
import { DEFAULT_PORT_BASE, REPO_ROOT, startLocalRuntime, type LocalUrls } from '../lib/local/runtime';

const { values } = parseArgs({
  options: {
    'in-memory': { type: 'boolean', default: false },
    'port-base': { type: 'string', default: String(DEFAULT_PORT_BASE) },
  },
});

const portBase = Number(values['port-base']);
if (!Number.isInteger(portBase) || portBase < 1024 || portBase > 65_000) {
  console.error(`--port-base must be a whole number from 1024 to 65000, got "${values['port-base']}".`);
  process.exit(1);
}

// Ctrl-C during start-up: exit at once; the emulators' exit hooks take their processes down too.
const abortStartup = () => process.exit(130);
process.once('SIGINT', abortStartup);
process.once('SIGTERM', abortStartup);

const stateRoot = join(REPO_ROOT, '.herald');
mkdirSync(stateRoot, { recursive: true });

try {
  const started = Date.now();
  const runtime = await startLocalRuntime({
    portBase,
    stateDir: values['in-memory'] ? undefined : stateRoot,
    log: (message) => console.error(`[herald] ${message}`),
  });
  writeFileSync(join(stateRoot, 'local.json'), `${JSON.stringify(runtime.urls, null, 2)}\n`);
  console.log(banner(runtime.urls, Date.now() - started, values['in-memory'] ? 'in memory' : '.herald/'));

  process.off('SIGINT', abortStartup);
  process.off('SIGTERM', abortStartup);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping Herald…`);
    await runtime.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
} catch (error) {
  if (error instanceof LocalSetupError) {
    console.error(`Herald could not start: ${error.message}`);
    process.exit(1);
  }
  throw error;
}

function banner(urls: LocalUrls, elapsedMs: number, state: string): string {
  const rows: Array<[string, string]> = [
    ['Demo app', urls.webUrl],
    ['HTTP API', urls.httpUrl],
    ['WebSocket', urls.wsUrl],
    ['Mail viewer', urls.mailUrl],
    ['DynamoDB', urls.dynamodbUrl],
    ['S3 / SQS', urls.s3Url],
    ['Scheduler', urls.schedulerUrl],
  ];
  return [
    '',
    `Herald is running locally (${(elapsedMs / 1000).toFixed(1)} s, state: ${state}).`,
    ...rows.map(([name, url]) => `  ${name.padEnd(12)} ${url}`),
    '',
    '  Get a token:  curl -s -XPOST ' + urls.httpUrl + '/dev/token -d \'{"tenant":"acme","user":"ana"}\'',
    '  URLs are also in .herald/local.json. Ctrl-C stops everything.',
    '',
  ].join('\n');
}
