/**
 * A cold start's module cost: each function bundled as lib/infra/herald-function.ts bundles it (ESM,
 * minified, AWS SDK included), then imported in a fresh Node process, against importing an empty
 * module the same way (the floor). Bundle size beside it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { connectionsEndpointEnvVar, functionSpecs, queues, settingEnvVars, tables } from '../lib/description';
import { bundling } from '../lib/infra/herald-function';
import { REPO_ROOT } from '../lib/local/runtime';
import { percentile, row } from './stats';

const RUNS = 7;

export async function benchColdStart(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-cold-'));
  try {
    const empty = join(dir, 'empty.mjs');
    writeFileSync(empty, 'export const handler = async () => undefined;\n');
    const floor = percentile(importTimes(empty), 50);
    console.log(`median of ${RUNS} fresh processes; baseline = importing an empty module`);
    for (const [name, spec] of functionSpecs()) {
      const outfile = join(dir, `${name}.mjs`);
      await build({
        entryPoints: [join(REPO_ROOT, spec.entry)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node22',
        minify: bundling.minify,
        mainFields: [...bundling.mainFields],
        banner: { js: bundling.banner },
        external: [...bundling.externalModules],
        outfile,
        logLevel: 'error',
      });
      const kb = statSync(outfile).size / 1024;
      console.log(`${row(`${name} import (${kb.toFixed(0)} KB)`, percentile(importTimes(outfile), 50), floor)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Time from process start to a loaded handler, as measured inside each fresh process. */
function importTimes(file: string): number[] {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log(performance.now() - t);`;
  const env = { ...process.env, AWS_REGION: 'us-east-1', POWERTOOLS_TRACE_ENABLED: 'false', ...placeholderEnv() };
  return Array.from({ length: RUNS }, () => {
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', cwd: REPO_ROOT });
    if (result.status !== 0) throw new Error(`import of ${file} failed: ${result.stderr}`);
    return Number(result.stdout.trim());
  });
}

/**
 * Handlers read their configuration at import; any well-formed value will do here. Tables and
 * queues come from the description, so a new one needs nothing here; a new setting needs a
 * placeholder in its format, and says so.
 */
function placeholderEnv(): Record<string, string> {
  const settings: Record<string, string> = {
    ALLOWED_ORIGINS: '[]',
    CONNECTION_TTL_SECONDS: '7800',
    TICKET_TTL_SECONDS: '30',
    TENANT_CLAIM: 'tenant',
    ROLES_CLAIM: 'roles',
    WEBSOCKET_URL: 'wss://bench.invalid/live',
    NOTIFICATION_RETENTION_DAYS: '30',
    // Settings of the exports feature, which is landing concurrently; unused until it does.
    EMAIL_SENDER: 'exports@bench.invalid',
    EXPORT_RETENTION_DAYS: '7',
    EXPORT_SCHEDULE_GROUP: 'bench',
    EXPORT_SCHEDULER_ROLE_ARN: 'arn:aws:iam::000000000000:role/bench',
    EXPORT_QUEUE_ARN: 'arn:aws:sqs:us-east-1:000000000000:bench',
    EXPORT_DEAD_LETTER_QUEUE_ARN: 'arn:aws:sqs:us-east-1:000000000000:bench-dlq',
    EXPORT_LINK_KEY: `key:${Buffer.alloc(32).toString('base64')}`,
    HTTP_API_URL: 'https://bench.invalid',
  };
  const missing = Object.values(settingEnvVars).filter((envVar) => !(envVar in settings));
  if (missing.length > 0) throw new Error(`bench/cold-start.ts has no placeholder for ${missing.join(', ')}; add one in its format`);
  return {
    ...settings,
    ...Object.fromEntries(Object.values(tables).map(({ envVar }) => [envVar, 'bench'])),
    ...Object.fromEntries((Object.values(queues) as Array<{ envVar: string }>).map(({ envVar }) => [envVar, 'https://bench.invalid/queue'])),
    [connectionsEndpointEnvVar]: 'https://bench.invalid/live',
    // The exports feature's bucket, likewise landing concurrently.
    EXPORTS_BUCKET: 'bench',
  };
}
