import { randomUUID } from 'node:crypto';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { dynamoDatasetChecks } from '#functions/adapters/dynamo-datasets';
import { dynamoExportStore } from '#functions/adapters/dynamo-export-store';
import { dynamoRecipientDirectory } from '#functions/adapters/dynamo-preference-store';
import { eventBridgeScheduleGateway } from '#functions/adapters/eventbridge-scheduler';
import { EXPORT_QUOTAS } from '#functions/exports/limits';
import { newScheduleId } from '#functions/exports/model';
import { createSchedule, updateSchedule, type ScheduleWriteDeps } from '#functions/exports/service';
import { NotFoundError } from '#functions/shared/errors';
import { limitExceededBodySchema } from '#functions/protocol/http';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { LOCAL_EXPORT_RECIPIENT_DOMAINS, LOCAL_EXPORT_SCHEDULE_GROUP } from '#lib/local/runtime';
import { api, devToken, documentClient, getItem, tableName, urls } from '../support/local';

/**
 * The per-user schedule quota of docs/exports.md ("Limits"), exact under concurrency: the owner's
 * schedule count item moves in the same transaction as each schedule's put and delete.
 */
const { schedulesPerUser } = EXPORT_QUOTAS;
const db = documentClient();
afterAll(() => db.destroy());

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const body = (name = 'Quota') => ({
  name,
  dataset: 'notifications',
  format: 'csv',
  schedule: { preset: 'daily', at: '06:00' },
  timezone: 'UTC',
  recipients: ['ops@example.com'],
});

const scheduleCount = async (tenant: string, user: string) => (await getItem('exports', { pk: `${tenant}#${user}`, sk: 'schedule-count' }))?.scheduleCount;
const listed = async (token: string) => ((await api('GET', '/exports/schedules', token)).body.items as Array<{ id: string }>).map((item) => item.id);

async function createMany(token: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let index = 0; index < count; index += 1) {
    const { status, body: created } = await api('POST', '/exports/schedules', token, body(`s${index}`));
    expect(status).toBe(201);
    ids.push(created.id);
  }
  return ids;
}

function expectQuotaRefusal(answer: { status: number; body: unknown }) {
  expect(answer.status).toBe(403);
  expect(limitExceededBodySchema.parse(answer.body)).toMatchObject({
    error: { code: 'limit_exceeded', message: `At most ${schedulesPerUser} export schedules per user; delete one first` },
    limit: { name: 'schedulesPerUser', max: schedulesPerUser },
  });
}

/** Schedule items as the table held them before the count existed: no `schedule-count` item beside them. */
async function seedSchedulesWithoutCount(tenant: string, user: string, count: number): Promise<string[]> {
  const now = new Date();
  const ids = Array.from({ length: count }, (_, index) => newScheduleId(new Date(now.getTime() + index)));
  const items = ids.map((id) => ({
    pk: `${tenant}#${user}`,
    sk: `schedule#${id}`,
    id,
    tenant,
    owner: user,
    name: `old ${id}`,
    dataset: 'notifications',
    filters: {},
    format: 'csv',
    schedule: { preset: 'daily', at: '06:00' },
    expression: 'cron(0 6 * * ? *)',
    timezone: 'UTC',
    recipients: ['ops@example.com'],
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  }));
  for (let start = 0; start < items.length; start += 25) {
    await db.send(
      new BatchWriteCommand({ RequestItems: { [tableName('exports')]: items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } })) } }),
    );
  }
  return ids;
}

/** The schedule write path's own adapters on the runtime's table, with the Scheduler client a test chooses (faults injected by middleware). */
function scheduleWriteDeps(scheduler: SchedulerClient): ScheduleWriteDeps {
  return {
    store: dynamoExportStore(db, tableName('exports')),
    scheduler: eventBridgeScheduleGateway(scheduler, {
      groupName: LOCAL_EXPORT_SCHEDULE_GROUP,
      roleArn: 'arn:aws:iam::000000000000:role/unused',
      queueArn: 'arn:aws:sqs:eu-west-1:000000000000:unused',
      deadLetterQueueArn: 'arn:aws:sqs:eu-west-1:000000000000:unused-dlq',
    }),
    datasets: dynamoDatasetChecks(db, tableName('memberships'), undefined),
    rules: {
      recipients: { directory: dynamoRecipientDirectory(db, tableName('preferences')), allowedDomains: [...LOCAL_EXPORT_RECIPIENT_DOMAINS] },
      records: undefined,
    },
  };
}

describe('export schedule quota', () => {
  it(`admits exactly the free places when more creates than places arrive at once, 403 naming the limit for the rest`, { timeout: 120_000 }, async () => {
    const tenant = unique('t');
    const token = await devToken(tenant, 'ana');
    const [free, racing] = [3, 10];
    await createMany(token, schedulesPerUser - free);

    const answers = await Promise.all(Array.from({ length: racing }, (_, index) => api('POST', '/exports/schedules', token, body(`race${index}`))));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(free);
    const refused = answers.filter((answer) => answer.status !== 201);
    expect(refused).toHaveLength(racing - free);
    for (const answer of refused) expectQuotaRefusal(answer);
    expect(await listed(token)).toHaveLength(schedulesPerUser);
    expect(await scheduleCount(tenant, 'ana')).toBe(schedulesPerUser);
    // Another user of the same tenant has a quota of their own.
    expect((await api('POST', '/exports/schedules', await devToken(tenant, 'bob'), body())).status).toBe(201);
  });

  it('gives a place back once per deleted schedule, however many deletes of it arrive at once', { timeout: 120_000 }, async () => {
    const tenant = unique('t');
    const token = await devToken(tenant, 'ana');
    const ids = await createMany(token, schedulesPerUser);
    expectQuotaRefusal(await api('POST', '/exports/schedules', token, body()));

    const deletes = await Promise.all(Array.from({ length: 4 }, () => api('DELETE', `/exports/schedules/${ids[0]}`, token)));
    expect(deletes.map((answer) => answer.status).sort()).toEqual([204, 404, 404, 404]);
    expect(await scheduleCount(tenant, 'ana')).toBe(schedulesPerUser - 1);
    // Exactly one place came back: one create takes it, the next is refused.
    const again = await Promise.all([api('POST', '/exports/schedules', token, body('a')), api('POST', '/exports/schedules', token, body('b'))]);
    expect(again.map((answer) => answer.status).sort()).toEqual([201, 403]);
    expect(await listed(token)).toHaveLength(schedulesPerUser);
  });

  it('leaks no place when Scheduler refuses the create: the item is gone and the count back where it was', { timeout: 120_000 }, async () => {
    const tenant = unique('t');
    const token = await devToken(tenant, 'ana');
    await createMany(token, schedulesPerUser - 1);
    // The create path's own adapters on the runtime's table, with a Scheduler client that fails every CreateSchedule.
    const scheduler = new SchedulerClient({ endpoint: urls().schedulerUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    let refusedCreates = 0;
    scheduler.middlewareStack.add(
      ((next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
        if (context.commandName !== 'CreateScheduleCommand') return next(args);
        refusedCreates += 1;
        throw Object.assign(new Error('Injected: Scheduler is unavailable'), { name: 'InternalServerException', $fault: 'server' });
      }) as never,
      { step: 'initialize', name: 'failCreateSchedule' },
    );
    const deps = scheduleWriteDeps(scheduler);
    try {
      const caller = { tenant, userId: 'ana', roles: [] };
      await expect(createSchedule(deps, caller, body('fails') as never)).rejects.toThrow('Injected: Scheduler is unavailable');
      await expect(createSchedule(deps, caller, body('fails again') as never)).rejects.toThrow('Injected: Scheduler is unavailable');
      expect(refusedCreates).toBe(2);
    } finally {
      scheduler.destroy();
    }
    expect(await scheduleCount(tenant, 'ana')).toBe(schedulesPerUser - 1);
    expect(await listed(token)).toHaveLength(schedulesPerUser - 1);
    // The last place is still free, and only it.
    expect((await api('POST', '/exports/schedules', token, body('last'))).status).toBe(201);
    expectQuotaRefusal(await api('POST', '/exports/schedules', token, body('over')));
  });

  it('counts an owner whose schedules predate the count from those schedules, at their first create', { timeout: 60_000 }, async () => {
    const tenant = unique('t');
    const token = await devToken(tenant, 'ana');
    const ids = await seedSchedulesWithoutCount(tenant, 'ana', schedulesPerUser);
    expect(await scheduleCount(tenant, 'ana')).toBeUndefined();

    expectQuotaRefusal(await api('POST', '/exports/schedules', token, body()));
    expect(await scheduleCount(tenant, 'ana')).toBe(schedulesPerUser);
    expect((await api('DELETE', `/exports/schedules/${ids[0]}`, token)).status).toBe(204);
    expect((await api('POST', '/exports/schedules', token, body())).status).toBe(201);
    expectQuotaRefusal(await api('POST', '/exports/schedules', token, body()));
  });

  it('counts an owner whose schedules predate the count at their first delete, several at once', { timeout: 60_000 }, async () => {
    const tenant = unique('t');
    const token = await devToken(tenant, 'ana');
    const ids = await seedSchedulesWithoutCount(tenant, 'ana', 5);
    const deletes = await Promise.all(ids.slice(0, 3).map((id) => api('DELETE', `/exports/schedules/${id}`, token)));
    expect(deletes.map((answer) => answer.status)).toEqual([204, 204, 204]);
    expect(await scheduleCount(tenant, 'ana')).toBe(2);
    expect((await listed(token)).sort()).toEqual(ids.slice(3).sort());
  });

  it.each([
    ['before its Scheduler update (which then finds no schedule)', 'before'],
    ['between its Scheduler update and its item write', 'after'],
  ] as const)(
    'answers 404 to an update whose schedule a delete removed %s, writing nothing back; the place comes back once',
    { timeout: 60_000 },
    async (_, when) => {
      const tenant = unique('t');
      const token = await devToken(tenant, 'ana');
      const [id] = await createMany(token, 2);
      const scheduler = new SchedulerClient({ endpoint: urls().schedulerUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
      const deleted: number[] = [];
      const deleteIt = async () => deleted.push((await api('DELETE', `/exports/schedules/${id}`, token)).status);
      scheduler.middlewareStack.add(
        ((next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
          if (context.commandName !== 'UpdateScheduleCommand') return next(args);
          if (when === 'before') await deleteIt();
          const result = await next(args);
          if (when === 'after') await deleteIt();
          return result;
        }) as never,
        { step: 'initialize', name: 'deleteDuringUpdate' },
      );
      try {
        const update = updateSchedule(scheduleWriteDeps(scheduler), { tenant, userId: 'ana', roles: [] }, id!, { name: 'renamed' });
        await expect(update).rejects.toBeInstanceOf(NotFoundError);
        await expect(update).rejects.toMatchObject({ status: 404, message: 'No such export schedule' });
      } finally {
        scheduler.destroy();
      }
      expect(deleted).toEqual([204]);
      expect(await getItem('exports', { pk: `${tenant}#ana`, sk: `schedule#${id}` })).toBeUndefined();
      expect(await scheduleCount(tenant, 'ana')).toBe(1);
      expect(await listed(token)).toHaveLength(1);
    },
  );
});
