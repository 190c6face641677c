import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import type { IamUsage } from '../../lib/local/iam/enforcement';
import { evaluate } from '../../lib/local/iam/simulator';

/**
 * Grants that no call of the integration suite uses, each kept for a reason. A key is
 * `<function> <action>`, or `* <action>` for every function. An entry nothing needs any more
 * fails the test too, so this list cannot outlive its reasons.
 */
const keptUnused: Record<string, string> = {
  '* logs:CreateLogStream': "Lambda's runtime writes the function's logs to its own log group; handler code never calls CloudWatch Logs.",
  '* logs:PutLogEvents': "Lambda's runtime writes the function's logs to its own log group; handler code never calls CloudWatch Logs.",
  '* xray:PutTraceSegments': 'Active tracing: Lambda and the Powertools tracer send segments deployed; locally tracing is off.',
  '* xray:PutTelemetryRecords': 'Active tracing: Lambda and the Powertools tracer send segments deployed; locally tracing is off.',
};

/**
 * Runs after every other integration file (vitest.config.ts) and compares each function's role
 * with the calls it made during the suite, as the local IAM enforcement recorded them: a grant
 * that no call used is a permission nothing needs (docs/local-iam.md).
 */
describe('least privilege', () => {
  const usageFile = inject('iamUsageFile');

  it.skipIf(usageFile === undefined)('every grant of every role was used by some call in the integration suite, or is kept with a reason', async () => {
    const usage = JSON.parse(readFileSync(usageFile!, 'utf8')) as IamUsage;
    expect(usage.calls.length).toBeGreaterThan(100);
    const unused: string[] = [];
    const keptAndUnused = new Set<string>();
    for (const [label, role] of Object.entries(usage.roles)) {
      const account = role.roleArn.split(':')[4]!;
      const calls = usage.calls.filter((call) => call.label === label && call.allowed);
      for (const { policy } of role.policies) {
        for (const statement of [policy.Statement].flat() as Array<Record<string, unknown>>) {
          if (statement.Effect !== 'Allow') continue;
          for (const action of [statement.Action].flat() as string[]) {
            for (const resource of [statement.Resource].flat() as string[]) {
              const grant = { Version: '2012-10-17', Statement: [{ ...statement, Action: action, Resource: resource }] };
              let used = false;
              for (const call of calls) {
                if (call.request.action !== action) continue;
                if ((await evaluate(role.roleArn, account, [{ name: 'grant', policy: grant }], call.request)).allowed) {
                  used = true;
                  break;
                }
              }
              if (used) continue;
              const reason = keptUnused[`${label} ${action}`] ?? keptUnused[`* ${action}`];
              if (reason) keptAndUnused.add(keptUnused[`${label} ${action}`] ? `${label} ${action}` : `* ${action}`);
              else unused.push(`${label}: ${action} on ${resource}`);
            }
          }
        }
      }
    }
    expect(unused, 'grants no call used: remove them from the description, or keep them in keptUnused with a reason').toEqual([]);
    expect(Object.keys(keptUnused).filter((key) => !keptAndUnused.has(key)), 'keptUnused entries that some call now uses').toEqual([]);
  }, 120_000);
});
