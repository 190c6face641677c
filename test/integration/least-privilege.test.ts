import { readFileSync } from 'node:fs';
import { describe, expect, inject, it } from 'vitest';
import type { IamUsage } from '#lib/local/iam/enforcement';
import { evaluate } from '#lib/local/iam/simulator';

/**
 * Grants that no call of the integration suite uses, each kept for a reason: the function (`*` for
 * all), the action, and a piece of the resource ARN when the reason is one resource's. An entry
 * nothing matches any more fails the test too, so this list cannot outlive its reasons.
 */
const DELIVER_RARE_QUERIES =
  'deliver() queries the user\'s newest item only when a put finds its seq taken (a concurrent publisher, a writer that stopped), and a dedupe claim\'s first result by id (byId) only for a repeat (docs/protocol.md, "How seqs are allocated"); the suite makes both through publishNotification in the runtime, and for these callers through deliver() and makeHandler outside it (seq-allocation.test.ts, alerts.test.ts).';

const keptUnused: ReadonlyArray<{ fn: string; action: string; resource?: string; reason: string }> = [
  {
    fn: '*',
    action: 'logs:CreateLogStream',
    reason: "Lambda's runtime writes the function's logs to its own log group; handler code never calls CloudWatch Logs.",
  },
  {
    fn: '*',
    action: 'logs:PutLogEvents',
    reason: "Lambda's runtime writes the function's logs to its own log group; handler code never calls CloudWatch Logs.",
  },
  { fn: '*', action: 'xray:PutTraceSegments', reason: 'Active tracing: Lambda and the Powertools tracer send segments deployed; locally tracing is off.' },
  { fn: '*', action: 'xray:PutTelemetryRecords', reason: 'Active tracing: Lambda and the Powertools tracer send segments deployed; locally tracing is off.' },
  {
    fn: '*',
    action: 'sqs:GetQueueAttributes',
    reason: "Lambda's SQS event-source mapping reads the queue's attributes as the function's role; the local poller reads them as the emulator.",
  },
  {
    fn: 'alertFanout',
    action: 'dynamodb:ListStreams',
    reason: "Lambda's stream event-source mapping needs it (DynamoEventSource grants it); the local poller is given the stream ARN.",
  },
  {
    fn: 'notifyRecordAssignees',
    action: 'dynamodb:ListStreams',
    reason: "Lambda's stream event-source mapping needs it (DynamoEventSource grants it); the local poller is given the stream ARN.",
  },
  {
    fn: 'downloadExport',
    action: 'secretsmanager:GetSecretValue',
    reason: 'Deployed, the link key is read from Secrets Manager at cold start; locally it is a key:<base64> value made per run.',
  },
  {
    fn: 'exportWorker',
    action: 'secretsmanager:GetSecretValue',
    reason: 'Deployed, the link key is read from Secrets Manager at cold start; locally it is a key:<base64> value made per run.',
  },
  {
    fn: 'rotateExportLinkKey',
    action: 'secretsmanager:DescribeSecret',
    reason:
      'Secrets Manager invokes the link key rotation deployed; locally there is no Secrets Manager, and its steps run against an in-memory one (test/unit/link-key-rotation.test.ts).',
  },
  {
    fn: 'rotateExportLinkKey',
    action: 'secretsmanager:GetSecretValue',
    reason:
      'Secrets Manager invokes the link key rotation deployed; locally there is no Secrets Manager, and its steps run against an in-memory one (test/unit/link-key-rotation.test.ts).',
  },
  {
    fn: 'rotateExportLinkKey',
    action: 'secretsmanager:PutSecretValue',
    reason:
      'Secrets Manager invokes the link key rotation deployed; locally there is no Secrets Manager, and its steps run against an in-memory one (test/unit/link-key-rotation.test.ts).',
  },
  {
    fn: 'rotateExportLinkKey',
    action: 'secretsmanager:UpdateSecretVersionStage',
    reason:
      'Secrets Manager invokes the link key rotation deployed; locally there is no Secrets Manager, and its steps run against an in-memory one (test/unit/link-key-rotation.test.ts).',
  },
  // Paths the suite reaches only by chance (a socket that closes while a push is on its way):
  {
    fn: '*',
    action: 'dynamodb:DeleteItem',
    resource: 'table/herald-connections',
    reason: 'A push answered 410 Gone prunes the socket (functions/realtime/push.ts).',
  },
  {
    fn: '*',
    action: 'dynamodb:UpdateItem',
    resource: 'table/herald-userConnections',
    reason: "A push answered 410 Gone takes the socket out of its user's set (functions/realtime/push.ts).",
  },
  {
    fn: '*',
    action: 'dynamodb:DeleteItem',
    resource: 'table/herald-subscriptions',
    reason: 'A topic event answered 410 Gone removes that subscriber (functions/topics/topics.ts).',
  },
  {
    fn: '*',
    action: 'execute-api:ManageConnections',
    reason:
      'Posts reach only sockets that are open (an export owner watching progress, an admin told of a failed run), and a socket is closed only past its frame rate.',
  },
  // deliver()'s reads on a seq found taken or a repeated dedupe key (publishNotification makes both in the runtime):
  {
    fn: 'alertFanout',
    action: 'dynamodb:Query',
    resource: 'table/herald-notifications',
    reason: DELIVER_RARE_QUERIES,
  },
  {
    fn: 'alertChunks',
    action: 'dynamodb:Query',
    resource: 'table/herald-notifications',
    reason: DELIVER_RARE_QUERIES,
  },
  {
    fn: 'exportFailed',
    action: 'dynamodb:Query',
    resource: 'table/herald-notifications',
    reason: DELIVER_RARE_QUERIES,
  },
  {
    fn: 'notifyRecordAssignees',
    action: 'dynamodb:Query',
    resource: 'table/herald-notifications',
    reason: DELIVER_RARE_QUERIES,
  },
  // Failure paths the suite drives through makeHandler with injected faults, outside the runtime:
  {
    fn: 'alertFanout',
    action: 'dynamodb:DeleteItem',
    resource: 'table/herald-dedupe',
    reason: 'A failed alert email gives its claim back (functions/adapters/dynamo-email-ledger.ts).',
  },
  {
    fn: 'alertChunks',
    action: 'dynamodb:DeleteItem',
    resource: 'table/herald-dedupe',
    reason: 'A failed alert email of a chunk gives its claim back (functions/adapters/dynamo-email-ledger.ts).',
  },
  {
    fn: 'createExportSchedule',
    action: 'dynamodb:DeleteItem',
    reason:
      'When Scheduler refuses a new schedule, its item is deleted again and its place in the quota given back (functions/exports/service.ts; test/integration/export-quota.test.ts drives it through the service with its own clients, outside the runtime and its IAM check).',
  },
  {
    fn: 'createExportSchedule',
    action: 'scheduler:UpdateSchedule',
    reason: 'A retried create whose first answer was lost updates the schedule it made (functions/adapters/eventbridge-scheduler.ts).',
  },
  {
    fn: 'updateExportSchedule',
    action: 'dynamodb:GetItem',
    resource: 'table/herald-memberships',
    reason: "Updating an alerts export checks the owner's topic membership again; the suite updates inbox exports.",
  },
  {
    fn: 'scheduler',
    action: 'sqs:SendMessage',
    resource: 'herald-exports-dlq',
    reason: "Scheduler's dead-letter target: it sends there only when it cannot deliver to the exports queue.",
  },
];
const keptFor = (fn: string, action: string, resource: string) =>
  keptUnused.find((kept) => (kept.fn === '*' || kept.fn === fn) && kept.action === action && (kept.resource === undefined || resource.includes(kept.resource)));

/**
 * Runs after every other integration file (vitest.config.ts) and compares each function's role
 * with the calls it made during the suite, as the local IAM enforcement recorded them: a grant
 * that no call used is a permission nothing needs (docs/local-iam.md).
 */
describe('least privilege', () => {
  const usageFile = inject('iamUsageFile');

  it.skipIf(usageFile === undefined)(
    'every grant of every role was used by some call in the integration suite, or is kept with a reason',
    async () => {
      const usage = JSON.parse(readFileSync(usageFile!, 'utf8')) as IamUsage;
      expect(usage.calls.length).toBeGreaterThan(100);
      const unused: string[] = [];
      const keptAndUnused = new Set<(typeof keptUnused)[number]>();
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
                const kept = keptFor(label, action, resource);
                if (kept) keptAndUnused.add(kept);
                else unused.push(`${label}: ${action} on ${resource}`);
              }
            }
          }
        }
      }
      expect(unused, 'grants no call used: remove them from the description, or keep them in keptUnused with a reason').toEqual([]);
      expect(
        keptUnused.filter((kept) => !keptAndUnused.has(kept)).map((kept) => `${kept.fn} ${kept.action} ${kept.resource ?? ''}`),
        'keptUnused entries that match no unused grant any more',
      ).toEqual([]);
    },
    120_000,
  );
});
