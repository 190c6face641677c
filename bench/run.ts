/**
 * `npm run bench`: every benchmark, each printing its figures beside a baseline measured in the
 * same run. Absolute times drift on a shared machine; the ratios are what to compare.
 */
import { benchColdStart } from './cold-start';
import { benchConnections } from './connections';

const benchmarks: Array<[string, () => Promise<void>]> = [
  ['cold-start', benchColdStart],
  ['connections', benchConnections],
];
const only = process.argv[2];

for (const [name, run] of benchmarks) {
  if (only && only !== name) continue;
  console.log(`\n## ${name}`);
  await run();
}
process.exit(0);
