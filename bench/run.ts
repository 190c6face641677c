/**
 * `npm run bench`: every benchmark, each printing its figures beside a baseline measured in the
 * same run. Absolute times drift on a shared machine; the ratios are what to compare.
 * `npm run bench -- <name>` runs one; `npm run bench -- sync --quick` runs the sync benchmark at a tenth of its sizes.
 */
import { spawnSync } from 'node:child_process';
import { benchAlerts } from './alerts';
import { benchAlertSpans } from './alert-spans';
import { benchColdStart } from './cold-start';
import { benchConnections } from './connections';
import { benchExports } from './exports';
import { benchFrameRate } from './frame-rate';
import { benchLocalIam } from './local-iam';
import { benchNotifications } from './notifications';
import { benchPublishSpans } from './publish-spans';
import { benchRecords } from './records';
import { benchScheduleQuota } from './schedule-quota';
import { benchSync } from './sync';
import { benchRecordsClient } from './records-client';

const benchmarks: Array<[string, () => Promise<void>]> = [
  ['cold-start', benchColdStart],
  ['connections', benchConnections],
  ['frame-rate', benchFrameRate],
  ['notifications', benchNotifications],
  ['publish-spans', benchPublishSpans],
  ['alerts', benchAlerts],
  ['alert-spans', benchAlertSpans],
  ['exports', benchExports],
  ['schedule-quota', benchScheduleQuota],
  ['local-iam', benchLocalIam],
  ['records', benchRecords],
  ['sync', benchSync],
  ['records-client', benchRecordsClient],
];
const only = process.argv[2];

if (only) {
  const benchmark = benchmarks.find(([name]) => name === only);
  if (!benchmark) throw new Error(`No benchmark "${only}"; there are ${benchmarks.map(([name]) => name).join(', ')}`);
  console.log(`\n## ${only}`);
  await benchmark[1]();
} else {
  // One process per benchmark: a local runtime loads Herald's handlers into its process once, bound
  // to that runtime's emulators, so a second runtime in the same process would reach stopped ones.
  for (const [name] of benchmarks) {
    const { status } = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string, name], { stdio: 'inherit' });
    if (status !== 0) throw new Error(`benchmark ${name} failed (exit ${status})`);
  }
}
process.exit(0);
