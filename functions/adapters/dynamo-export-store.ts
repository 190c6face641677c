import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ExportRun, ExportSchedule, RunSummary } from '../exports/model';
import type { ClaimOutcome, ExportStore, Owner, RunResult } from '../exports/store';
import { queryAll } from './dynamo-batch';

/** Runs stay in the history this long after they are made; their files expire much sooner. */
const RUN_HISTORY_DAYS = 90;

const pk = (owner: Owner) => `${owner.tenant}#${owner.userId}`;
const scheduleSk = (id: string) => `schedule#${id}`;
const runSk = (scheduleId: string, scheduledAt: string) => `run#${scheduleId}#${scheduledAt}`;

/**
 * The owner's schedule count: the number of their schedule items, changed only in the transactions
 * that put or delete one, so `scheduleCount < max` there is the quota, exact under any concurrency.
 * Its sort key is outside `schedule#`, so listing schedules never reads it; it has no TTL.
 */
const SCHEDULE_COUNT_SK = 'schedule-count';
/** Attempts of a schedule transaction that other writers of the same count keep cancelling (TransactionConflict). */
const SCHEDULE_TRANSACTION_ATTEMPTS = 8;

const isConditionFailure = (error: unknown) => error instanceof ConditionalCheckFailedException || (error as Error).name === 'ConditionalCheckFailedException';

/** Item attributes that are keys or bookkeeping, not part of the domain object. */
function strip<T>(item: Record<string, unknown> | undefined): T | undefined {
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, expiresAt: _expires, leaseRun: _leaseRun, leaseUntil: _leaseUntil, ...rest } = item;
  return rest as T;
}

export function dynamoExportStore(client: DynamoDBDocumentClient, tableName: string): ExportStore {
  const runKey = (owner: Owner, scheduleId: string, scheduledAt: string) => ({ pk: pk(owner), sk: runSk(scheduleId, scheduledAt) });
  const getRun = async (owner: Owner, scheduleId: string, scheduledAt: string) =>
    strip<ExportRun>((await client.send(new GetCommand({ TableName: tableName, Key: runKey(owner, scheduleId, scheduledAt), ConsistentRead: true }))).Item);

  const setLastRun = async (owner: Owner, scheduleId: string, summary: RunSummary) => {
    // Only a newer firing replaces lastRun, and never on a deleted schedule.
    await client
      .send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: pk(owner), sk: scheduleSk(scheduleId) },
          UpdateExpression: 'SET lastRun = :summary',
          ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(lastRun) OR lastRun.scheduledAt <= :at)',
          ExpressionAttributeValues: { ':summary': summary, ':at': summary.scheduledAt },
        }),
      )
      .catch((caught: unknown) => {
        if (!isConditionFailure(caught)) throw caught;
      });
  };

  const scheduleCountKey = (owner: Owner) => ({ pk: pk(owner), sk: SCHEDULE_COUNT_SK });

  /**
   * Makes the owner's schedule count from a count of their schedules, unless it exists: owners
   * whose schedules predate the count. Atomic without a lock: every put or delete of a schedule
   * needs the count item, so none can happen between this Query and this conditional Put; of two
   * of the owner's requests racing here, one Put makes it and the other finds it made.
   */
  async function makeScheduleCount(owner: Owner): Promise<void> {
    let count = 0;
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': pk(owner), ':prefix': 'schedule#' },
          Select: 'COUNT',
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      count += page.Count ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    await client
      .send(
        new PutCommand({ TableName: tableName, Item: { ...scheduleCountKey(owner), scheduleCount: count }, ConditionExpression: 'attribute_not_exists(sk)' }),
      )
      .catch((caught: unknown) => {
        if (!isConditionFailure(caught)) throw caught;
      });
  }

  /**
   * Runs a transaction whose first action is on the owner's schedule count: `done`; `refused` when
   * the count's condition failed on an existing count (the quota is full); `cancelled` when another
   * action's condition failed. A missing count is made (makeScheduleCount) and the transaction run
   * again; contention with other writers of the same count is retried with full-jitter backoff.
   */
  async function countedTransaction(owner: Owner, actions: TransactWriteCommand['input']['TransactItems']): Promise<'done' | 'refused' | 'cancelled'> {
    let madeCount = false;
    for (let attempt = 1; ; attempt += 1) {
      try {
        // A token per attempt: the SDK's own retry of a call whose answer was lost cannot apply it twice.
        await client.send(new TransactWriteCommand({ TransactItems: actions, ClientRequestToken: randomUUID() }));
        return 'done';
      } catch (error) {
        const conflict =
          error instanceof TransactionCanceledException
            ? (error.CancellationReasons ?? []).some((reason) => reason.Code === 'TransactionConflict')
            : (error as Error).name === 'TransactionConflictException';
        if (error instanceof TransactionCanceledException && !conflict) {
          const [count, ...others] = error.CancellationReasons ?? [];
          if (others.some((reason) => reason.Code === 'ConditionalCheckFailed')) return 'cancelled';
          if (count?.Code === 'ConditionalCheckFailed') {
            if (count.Item !== undefined) return 'refused';
            if (madeCount) throw new Error(`The schedule count of ${pk(owner)} is still missing after it was made`);
            await makeScheduleCount(owner);
            madeCount = true;
            continue;
          }
        }
        if (!conflict || attempt >= SCHEDULE_TRANSACTION_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 25 * 2 ** attempt));
      }
    }
  }

  return {
    setLastRun,
    async createSchedule(schedule, max) {
      const owner = { tenant: schedule.tenant, userId: schedule.owner };
      const { id, ...fields } = schedule;
      const outcome = await countedTransaction(owner, [
        {
          Update: {
            TableName: tableName,
            Key: scheduleCountKey(owner),
            UpdateExpression: 'SET scheduleCount = scheduleCount + :one',
            ConditionExpression: 'scheduleCount < :max',
            ExpressionAttributeValues: { ':one': 1, ':max': max },
            // Tells a full count (the item comes back) from one not made yet (nothing does).
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        { Put: { TableName: tableName, Item: { pk: pk(owner), sk: scheduleSk(id), id, ...fields }, ConditionExpression: 'attribute_not_exists(sk)' } },
      ]);
      if (outcome === 'cancelled') throw new Error(`Schedule ${id} already exists`);
      return outcome === 'done';
    },

    async replaceSchedule(schedule: ExportSchedule) {
      // An update keeps the lease attributes: they belong to whichever run holds them. It never
      // writes a schedule back that a delete removed meanwhile: that item would be uncounted.
      const { id, ...fields } = schedule;
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = {};
      const sets = Object.entries({ id, ...fields }).map(([name, value], index) => {
        names[`#f${index}`] = name;
        values[`:v${index}`] = value;
        return `#f${index} = :v${index}`;
      });
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: pk({ tenant: schedule.tenant, userId: schedule.owner }), sk: scheduleSk(id) },
            UpdateExpression: `SET ${sets.join(', ')}`,
            ConditionExpression: 'attribute_exists(sk)',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          }),
        );
        return true;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return false;
      }
    },

    async getSchedule(owner, id) {
      const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { pk: pk(owner), sk: scheduleSk(id) }, ConsistentRead: true }));
      return strip<ExportSchedule>(Item);
    },

    async listSchedules(owner) {
      const items = await queryAll(client, {
        TableName: tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': pk(owner), ':prefix': 'schedule#' },
      });
      return items.map((item) => strip<ExportSchedule>(item)!);
    },

    async deleteSchedule(owner, id) {
      const outcome = await countedTransaction(owner, [
        {
          Update: {
            TableName: tableName,
            Key: scheduleCountKey(owner),
            UpdateExpression: 'SET scheduleCount = scheduleCount - :one',
            ConditionExpression: 'attribute_exists(scheduleCount)',
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
        { Delete: { TableName: tableName, Key: { pk: pk(owner), sk: scheduleSk(id) }, ConditionExpression: 'attribute_exists(sk)' } },
      ]);
      // Cancelled: the schedule is not there (never was, or a concurrent delete took it and its place).
      return outcome === 'done';
    },

    async takeRunNowSlot(owner, now, max) {
      const minute = Math.floor(now.getTime() / 60_000);
      try {
        // One counter item per owner and minute, gone (TTL) an hour later.
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: pk(owner), sk: `run-now#${minute}` },
            UpdateExpression: 'ADD used :one SET expiresAt = :expiresAt',
            ConditionExpression: 'attribute_not_exists(used) OR used < :max',
            ExpressionAttributeValues: { ':one': 1, ':max': max, ':expiresAt': (minute + 60) * 60 },
          }),
        );
        return true;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return false;
      }
    },

    async createRun(run) {
      const owner = { tenant: run.tenant, userId: run.owner };
      // Kept from its firing, or from now if later (a firing redriven from the DLQ days on, a
      // catch-up): a run is never recorded with its history already over.
      const expiresAt = Math.floor(Math.max(Date.parse(run.scheduledAt), Date.now()) / 1000) + RUN_HISTORY_DAYS * 86_400;
      try {
        await client.send(
          new PutCommand({
            TableName: tableName,
            Item: { ...runKey(owner, run.scheduleId, run.scheduledAt), ...run, expiresAt },
            ConditionExpression: 'attribute_not_exists(sk)',
          }),
        );
        return { created: true, run };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return { created: false, run: (await getRun(owner, run.scheduleId, run.scheduledAt))! };
      }
    },

    getRun,

    async listRuns(owner, scheduleId, limit) {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': pk(owner), ':prefix': `run#${scheduleId}#` },
          ScanIndexForward: false,
          Limit: limit,
        }),
      );
      return (page.Items ?? []).map((item) => strip<ExportRun>(item)!);
    },

    async claimRun(owner, scheduleId, scheduledAt, messageId, now): Promise<ClaimOutcome> {
      try {
        const { Attributes } = await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: runKey(owner, scheduleId, scheduledAt),
            UpdateExpression: 'SET #status = :running, messageId = :message, startedAt = :now, attempts = if_not_exists(attempts, :zero) + :one REMOVE #error',
            ConditionExpression:
              'attribute_exists(sk) AND ((#status = :queued AND (attribute_not_exists(messageId) OR messageId = :message)) OR (#status = :running AND messageId = :message))',
            ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
            ExpressionAttributeValues: { ':running': 'running', ':queued': 'queued', ':message': messageId, ':now': now.toISOString(), ':zero': 0, ':one': 1 },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return { outcome: 'claimed', run: strip<ExportRun>(Attributes)! };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return { outcome: 'done', run: (await getRun(owner, scheduleId, scheduledAt))! };
      }
    },

    async acquireLease(owner, scheduleId, runId, now, until) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: pk(owner), sk: scheduleSk(scheduleId) },
            UpdateExpression: 'SET leaseRun = :run, leaseUntil = :until',
            ConditionExpression: 'attribute_exists(sk) AND (attribute_not_exists(leaseRun) OR leaseUntil < :now OR leaseRun = :run)',
            ExpressionAttributeValues: { ':run': runId, ':until': until.getTime(), ':now': now.getTime() },
          }),
        );
        return true;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return false;
      }
    },

    async releaseLease(owner, scheduleId, runId) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: pk(owner), sk: scheduleSk(scheduleId) },
            UpdateExpression: 'REMOVE leaseRun, leaseUntil',
            ConditionExpression: 'leaseRun = :run',
            ExpressionAttributeValues: { ':run': runId },
          }),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error; // another run's lease, or none: not ours to drop
      }
    },

    async updateRun(owner, scheduleId, scheduledAt, fields) {
      const entries = Object.entries(fields).filter(([, value]) => value !== undefined);
      if (entries.length === 0) return;
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: runKey(owner, scheduleId, scheduledAt),
          UpdateExpression: `SET ${entries.map((_, index) => `#f${index} = :v${index}`).join(', ')}`,
          ExpressionAttributeNames: Object.fromEntries(entries.map(([name], index) => [`#f${index}`, name])),
          ExpressionAttributeValues: Object.fromEntries(entries.map(([, value], index) => [`:v${index}`, value])),
        }),
      );
    },

    async recordFile(owner, scheduleId, scheduledAt, result: RunResult) {
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: runKey(owner, scheduleId, scheduledAt),
          UpdateExpression: 'SET #rows = :rows, #bytes = :bytes, durationMs = :duration, objectKey = :key, fileExpiresAt = :expires REMOVE uploadId',
          ExpressionAttributeNames: { '#rows': 'rows', '#bytes': 'bytes' },
          ExpressionAttributeValues: {
            ':rows': result.rows,
            ':bytes': result.bytes,
            ':duration': result.durationMs,
            ':key': result.objectKey,
            ':expires': result.fileExpiresAt,
          },
        }),
      );
    },

    async markEmailed(owner, scheduleId, scheduledAt, now) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: runKey(owner, scheduleId, scheduledAt),
            UpdateExpression: 'SET emailedAt = :now',
            ConditionExpression: 'attribute_exists(sk) AND attribute_not_exists(emailedAt)',
            ExpressionAttributeValues: { ':now': now.toISOString() },
          }),
        );
        return true;
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return false;
      }
    },

    async unmarkEmailed(owner, scheduleId, scheduledAt) {
      await client.send(new UpdateCommand({ TableName: tableName, Key: runKey(owner, scheduleId, scheduledAt), UpdateExpression: 'REMOVE emailedAt' }));
    },

    async finishRun(owner, scheduleId, scheduledAt, status, now, error) {
      const { Attributes } = await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: runKey(owner, scheduleId, scheduledAt),
          UpdateExpression: `SET #status = :status, finishedAt = :now${error === undefined ? '' : ', #error = :error'}`,
          ExpressionAttributeNames: { '#status': 'status', ...(error === undefined ? {} : { '#error': 'error' }) },
          ExpressionAttributeValues: { ':status': status, ':now': now.toISOString(), ...(error === undefined ? {} : { ':error': error }) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const run = strip<ExportRun>(Attributes)!;
      await setLastRun(owner, scheduleId, { runId: run.runId, status, scheduledAt, finishedAt: now.toISOString() });
    },

    async failAttempt(owner, scheduleId, scheduledAt, error) {
      await client
        .send(
          new UpdateCommand({
            TableName: tableName,
            Key: runKey(owner, scheduleId, scheduledAt),
            UpdateExpression: 'SET #status = :queued, #error = :error',
            ConditionExpression: '#status = :running',
            ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
            ExpressionAttributeValues: { ':queued': 'queued', ':running': 'running', ':error': error },
          }),
        )
        .catch((caught: unknown) => {
          if (!isConditionFailure(caught)) throw caught;
        });
    },
  };
}

/** A tenant's admins: the members of its `admins` topic (PUT /topics/admins/members/{userId}). */
export function tenantAdmins(client: DynamoDBDocumentClient, membershipsTable: string): (tenant: string) => Promise<string[]> {
  return async (tenant) => {
    const page = await client.send(
      new QueryCommand({
        TableName: membershipsTable,
        KeyConditionExpression: 'topicKey = :topic',
        ExpressionAttributeValues: { ':topic': `${tenant}#admins` },
        ProjectionExpression: 'userId',
        // deliver() takes 49 notifications per call per user but any number of users; a tenant
        // with more admins than this has a process problem, not a notification problem.
        Limit: 100,
      }),
    );
    return (page.Items ?? []).map((item) => String(item.userId));
  };
}
