/**
 * A cold start's module cost: each function bundled as lib/infra/herald-function.ts bundles it (ESM,
 * minified, AWS SDK included), then imported in a fresh Node process, against importing an empty
 * module the same way (the floor). Bundle size beside it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  connectionsEndpointEnvVar,
  encodeSettings,
  functionSpecs,
  queues,
  REALTIME_LIMIT_DEFAULTS,
  settingEnvVars,
  tables,
  type SettingName,
} from '../lib/description';
import { bundleLikeLambda } from './bundle';
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
      await bundleLikeLambda(join(REPO_ROOT, spec.entry), outfile);
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
 * queues come from the description; settings are encoded as the stack encodes them, so a new
 * setting fails to type-check here until it has a placeholder.
 */
function placeholderEnv(): Record<string, string> {
  const encoded = encodeSettings({
    allowedOrigins: [],
    ticketTtlSeconds: 30,
    connectionTtlSeconds: 7800,
    tenantClaim: 'tenant',
    rolesClaim: 'roles',
    webSocketUrl: 'wss://bench.invalid/live',
    notificationRetentionDays: 30,
    emailSender: 'exports@bench.invalid',
    emailConfigurationSet: 'bench-email',
    exportRetentionDays: 7,
    exportRecords: undefined,
    exportRecipientDomains: [],
    exportScheduleGroup: 'bench',
    exportSchedulerRoleArn: 'arn:aws:iam::000000000000:role/bench',
    exportQueueArn: 'arn:aws:sqs:us-east-1:000000000000:bench',
    exportDeadLetterQueueArn: 'arn:aws:sqs:us-east-1:000000000000:bench-dlq',
    exportLinkKey: `key:${Buffer.alloc(32).toString('base64')}`,
    httpApiUrl: 'https://bench.invalid',
    ...REALTIME_LIMIT_DEFAULTS,
    recordCollections: {},
    recordRetentionDays: 30,
  });
  const settings = Object.fromEntries(Object.entries(encoded).map(([name, value]) => [settingEnvVars[name as SettingName], value]));
  return {
    ...settings,
    ...Object.fromEntries(Object.values(tables).map(({ envVar }) => [envVar, 'bench'])),
    ...Object.fromEntries((Object.values(queues) as Array<{ envVar: string }>).map(({ envVar }) => [envVar, 'https://bench.invalid/queue'])),
    [connectionsEndpointEnvVar]: 'https://bench.invalid/live',
    // The exports feature's bucket, likewise landing concurrently.
    EXPORTS_BUCKET: 'bench',
  };
}
