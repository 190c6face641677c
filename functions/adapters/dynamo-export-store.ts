import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ExportRun, ExportSchedule, RunSummary } from '../exports/model';
import type { ClaimOutcome, ExportStore, Owner, RunResult } from '../exports/store';
import { queryAll } from './dynamo-batch';

/** Runs stay in the history this long after they are made; their files expire much sooner. */
const RUN_HISTORY_DAYS = 90;

const pk = (owner: Owner) => `${owner.tenant}#${owner.userId}`;
const scheduleSk = (id: string) => `schedule#${id}`;
const runSk = (scheduleId: string, scheduledAt: string) => `run#${scheduleId}#${scheduledAt}`;

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

  return {
    setLastRun,
    async putSchedule(schedule: ExportSchedule) {
      // An update keeps the lease attributes: they belong to whichever run holds them.
      const { id, ...fields } = schedule;
      const names: Record<string, string> = {};
      const values: Record<string, unknown> = {};
      const sets = Object.entries({ id, ...fields }).map(([name, value], index) => {
        names[`#f${index}`] = name;
        values[`:v${index}`] = value;
        return `#f${index} = :v${index}`;
      });
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: pk({ tenant: schedule.tenant, userId: schedule.owner }), sk: scheduleSk(id) },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
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
      const { Attributes } = await client.send(
        new DeleteCommand({ TableName: tableName, Key: { pk: pk(owner), sk: scheduleSk(id) }, ReturnValues: 'ALL_OLD' }),
      );
      return Attributes !== undefined;
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
      const expiresAt = Math.floor(Date.parse(run.scheduledAt) / 1000) + RUN_HISTORY_DAYS * 86_400;
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
