/**
 * What the exact schedule quota costs (docs/exports.md, "Limits"): creating and deleting a schedule
 * through the export store, whose put and delete move the owner's schedule count in one
 * TransactWriteItems, against the check it replaced (a Query of the owner's schedules, then an
 * UpdateItem, and a plain DeleteItem; legacyCreate below), both on the same DynamoDB Local table
 * through a request-counting client in the same run. Then the same burst of concurrent creates at
 * the last places both ways: how many each admits past the quota, and the requests it took.
 */
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local';
import { localTableName } from '../lib/local/resources';
import { startLocalRuntime } from '../lib/local/runtime';
import { percentile, row } from './stats';
import { countRequests } from './wire';

const PAIRS = 60;
/** Schedules the owner already has: the old check read them all on every create. */
const EXISTING = 20;
const BURST = 10;

export async function benchScheduleQuota(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0 });
  const client = new DynamoDBClient({ endpoint: runtime.urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  try {
    // Imported once the runtime has set the environment Herald's modules read at import.
    const { dynamoExportStore } = await import('../functions/adapters/dynamo-export-store');
    const { EXPORT_QUOTAS } = await import('../functions/exports/limits');
    const { newScheduleId } = await import('../functions/exports/model');
    const requests = countRequests(client);
    const db = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const table = localTableName('exports');
    const store = dynamoExportStore(db, table);
    const max = EXPORT_QUOTAS.schedulesPerUser;
    let sequence = 0;
    const scheduleOf = (owner: string) => {
      const now = new Date(Date.now() + sequence++);
      return {
        id: newScheduleId(now),
        tenant: 'bench',
        owner,
        name: 'bench',
        dataset: 'notifications' as const,
        filters: {},
        format: 'csv' as const,
        schedule: { preset: 'daily' as const, at: '06:00' },
        expression: 'cron(0 6 * * ? *)',
        timezone: 'UTC',
        recipients: ['ops@example.com'],
        createdAt: now.toISOString(),
        updatedAt: now.toISOString(),
      };
    };
    const removeCounted = (owner: string, id: string) => store.deleteSchedule({ tenant: 'bench', userId: owner }, id);
    const removeLegacy = (owner: string, id: string) => db.send(new DeleteCommand({ TableName: table, Key: { pk: `bench#${owner}`, sk: `schedule#${id}` } }));

    /** Median ms of a create and of a delete, and requests per pair, for an owner holding EXISTING schedules. */
    const pairs = async (owner: string, way: 'counted' | 'legacy') => {
      for (let index = 0; index < EXISTING; index += 1)
        await (way === 'counted' ? store.createSchedule(scheduleOf(owner), max) : legacyCreate(db, table, scheduleOf(owner), max));
      const creates: number[] = [];
      const deletes: number[] = [];
      requests.count = 0;
      for (let index = 0; index < PAIRS; index += 1) {
        const schedule = scheduleOf(owner);
        let started = performance.now();
        if (way === 'counted') await store.createSchedule(schedule, max);
        else await legacyCreate(db, table, schedule, max);
        creates.push(performance.now() - started);
        started = performance.now();
        await (way === 'counted' ? removeCounted(owner, schedule.id) : removeLegacy(owner, schedule.id));
        deletes.push(performance.now() - started);
      }
      return { create: percentile(creates, 50), remove: percentile(deletes, 50), requests: requests.count / PAIRS };
    };

    console.log(`baseline = the check it replaced (Query of the owner's schedules, then UpdateItem; plain DeleteItem), same table, same run`);
    // A warm-up of each, so neither pays the first connection.
    await pairs('warm-counted', 'counted');
    await pairs('warm-legacy', 'legacy');
    const now = await pairs('owner-counted', 'counted');
    const before = await pairs('owner-legacy', 'legacy');
    console.log(row(`create at ${EXISTING} schedules, median`, now.create, before.create));
    console.log(row(`delete at ${EXISTING} schedules, median`, now.remove, before.remove));
    console.log(row('requests per create + delete', now.requests, before.requests, 'req'));

    // The burst: BURST creates at once when 3 places are left.
    const burst = async (owner: string, create: (owner: string) => Promise<boolean>) => {
      for (let index = 0; index < max - 3; index += 1) await create(owner);
      requests.count = 0;
      const started = performance.now();
      const outcomes = await Promise.all(Array.from({ length: BURST }, () => create(owner)));
      const elapsed = performance.now() - started;
      const stored =
        (
          await db.send(
            new QueryCommand({
              TableName: table,
              KeyConditionExpression: 'pk = :pk AND begins_with(sk, :s)',
              ExpressionAttributeValues: { ':pk': `bench#${owner}`, ':s': 'schedule#' },
              Select: 'COUNT',
            }),
          )
        ).Count ?? 0;
      return { admitted: outcomes.filter(Boolean).length, stored, elapsed, requests: requests.count / BURST };
    };
    const exact = await burst('burst-counted', (owner) => store.createSchedule(scheduleOf(owner), max));
    const loose = await burst('burst-legacy', (owner) => legacyCreate(db, table, scheduleOf(owner), max));
    console.log(
      `${BURST} creates at once for the last 3 places: counted admitted ${exact.admitted} (${exact.stored} stored, quota ${max}); the old check admitted ${loose.admitted} (${loose.stored} stored)`,
    );
    console.log(row(`burst of ${BURST}, wall clock`, exact.elapsed, loose.elapsed));
    console.log(row(`burst of ${BURST}, requests per create`, exact.requests, loose.requests, 'req'));
  } finally {
    client.destroy();
    await runtime.stop();
  }
}

/** The quota check as it was in functions/exports/service.ts: list the owner's schedules, then write. */
async function legacyCreate(db: DynamoDBDocumentClient, table: string, schedule: { id: string; tenant: string; owner: string }, max: number): Promise<boolean> {
  const pk = `${schedule.tenant}#${schedule.owner}`;
  const listed = await db.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :s)',
      ExpressionAttributeValues: { ':pk': pk, ':s': 'schedule#' },
    }),
  );
  if ((listed.Items?.length ?? 0) >= max) return false;
  const { id, ...fields } = schedule;
  const entries = Object.entries({ id, ...fields });
  await db.send(
    new UpdateCommand({
      TableName: table,
      Key: { pk, sk: `schedule#${id}` },
      UpdateExpression: `SET ${entries.map((_, index) => `#f${index} = :v${index}`).join(', ')}`,
      ExpressionAttributeNames: Object.fromEntries(entries.map(([name], index) => [`#f${index}`, name])),
      ExpressionAttributeValues: Object.fromEntries(entries.map(([, value], index) => [`:v${index}`, value])),
    }),
  );
  return true;
}
