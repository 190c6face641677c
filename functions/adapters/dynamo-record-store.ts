import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { OpResult, WireRecord } from '../protocol/records';
import { recordKey, type DeviceRow, type RecordStore, type Scope } from '../records/sync';
import { batchGet, queryAll } from './dynamo-batch';

/**
 * The Records table, one item collection per scope (`pk` = tenant#scope; docs/sync.md, "Data"):
 * `rec#<collection>#<id>` the records (tombstones expire), `counter` the scope's last change seq,
 * `op#<user>#<opId>` the answer each op id got, `device#<user>#<device>` a device's sync status.
 * Records carry `seq`, which feeds the `bySeq` index pulls read, and `conflictSince` while a
 * conflict is open, which feeds the sparse `conflicts` index.
 */
const COUNTER = 'counter';
const scopeKey = (scope: Scope) => `${scope.tenant}#${scope.scope}`;
const recordSk = (collection: string, id: string) => `rec#${collection}#${id}`;
const opSk = (userId: string, opId: string) => `op#${userId}#${opId}`;
const deviceSk = (userId: string, deviceId: string) => `device#${userId}#${deviceId}`;

const RETRYABLE_ERRORS = new Set(['TransactionConflictException', 'TransactionInProgressException']);

function toRecord(item: Record<string, any>): WireRecord {
  return {
    collection: item.collection,
    id: item.id,
    version: Number(item.version),
    seq: Number(item.seq),
    fields: item.fields ?? {},
    meta: item.meta ?? {},
    ...(item.conflicts !== undefined && { conflicts: item.conflicts }),
    ...(item.deleted !== undefined && { deleted: item.deleted }),
    updatedAt: item.updatedAt,
    updatedBy: item.updatedBy,
  };
}

export function dynamoRecordStore(client: DynamoDBDocumentClient, tableName: string): RecordStore {
  return {
    async load(scope, records, ops) {
      const pk = scopeKey(scope);
      const keys = [
        { pk, sk: COUNTER },
        ...records.map((record) => ({ pk, sk: recordSk(record.collection, record.id) })),
        ...ops.map((op) => ({ pk, sk: opSk(op.userId, op.opId) })),
      ];
      const items = await batchGet(client, tableName, keys, { consistent: true });
      const loaded = { records: new Map<string, WireRecord>(), answered: new Map<string, OpResult>(), lastSeq: 0 };
      for (const item of items) {
        const sk = item.sk as string;
        if (sk === COUNTER) loaded.lastSeq = Number(item.lastSeq ?? 0);
        else if (sk.startsWith('rec#')) loaded.records.set(recordKey(item.collection, item.id), toRecord(item));
        else if (sk.startsWith('op#')) loaded.answered.set(item.opId, item.result as OpResult);
      }
      return loaded;
    },

    async commit(scope, commit) {
      const pk = scopeKey(scope);
      const actions: Array<Record<string, unknown>> = [];
      if (commit.writes.length > 0) {
        actions.push({
          Update: {
            TableName: tableName,
            Key: { pk, sk: COUNTER },
            UpdateExpression: 'SET lastSeq = :lastSeq',
            // The counter decides: a seq exists once this condition commits with its record, so seqs are gap-free.
            ConditionExpression: commit.expectedLastSeq === 0 ? 'attribute_not_exists(lastSeq) OR lastSeq = :expected' : 'lastSeq = :expected',
            ExpressionAttributeValues: { ':lastSeq': commit.expectedLastSeq + commit.writes.length, ':expected': commit.expectedLastSeq },
          },
        });
      }
      for (const { record, expectedVersion, assignedTo } of commit.writes) {
        const conflictSince = record.conflicts?.reduce<string | undefined>(
          (oldest, conflict) => (oldest === undefined || conflict.at < oldest ? conflict.at : oldest),
          undefined,
        );
        actions.push({
          Put: {
            TableName: tableName,
            Item: {
              pk,
              sk: recordSk(record.collection, record.id),
              ...record,
              ...(conflictSince !== undefined && { conflictSince }),
              // Tombstones are kept for the retention, then DynamoDB TTL removes them.
              ...(record.deleted !== undefined && { expiresAt: commit.expiresAt }),
              // On this version only (a Put replaces the item): the stream's filter passes it to the assignment notifier.
              ...(assignedTo !== undefined && { assignedTo }),
            },
            ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(sk)' : 'version = :version',
            ...(expectedVersion !== 0 && { ExpressionAttributeValues: { ':version': expectedVersion } }),
          },
        });
      }
      for (const { userId, result } of commit.answers) {
        actions.push({
          Put: {
            TableName: tableName,
            Item: { pk, sk: opSk(userId, result.opId), opId: result.opId, result, expiresAt: commit.expiresAt },
            ConditionExpression: 'attribute_not_exists(sk)',
          },
        });
      }
      try {
        // A token per attempt: the SDK's own retry of a transaction whose answer was lost cannot commit it twice.
        await client.send(new TransactWriteCommand({ TransactItems: actions as never, ClientRequestToken: randomUUID() }));
        return 'committed';
      } catch (error) {
        if (error instanceof TransactionCanceledException) {
          if ((error.CancellationReasons ?? []).some((reason) => reason.Code === 'ConditionalCheckFailed' || reason.Code === 'TransactionConflict'))
            return 'stale';
        }
        if (error instanceof Error && RETRYABLE_ERRORS.has(error.name)) return 'stale';
        throw error;
      }
    },

    async changesAfter(scope, afterSeq, limit) {
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: 'bySeq',
          KeyConditionExpression: 'pk = :pk AND seq > :after',
          ExpressionAttributeValues: { ':pk': scopeKey(scope), ':after': afterSeq },
          ConsistentRead: true,
          Limit: limit,
        }),
      );
      return { records: (page.Items ?? []).map(toRecord), more: page.LastEvaluatedKey !== undefined };
    },

    async withConflicts(scope) {
      const items = await queryAll(client, {
        TableName: tableName,
        IndexName: 'conflicts',
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': scopeKey(scope) },
        ConsistentRead: true,
      });
      return items.map(toRecord);
    },

    async lastSeq(scope) {
      const { Item } = await client.send(
        new GetCommand({ TableName: tableName, Key: { pk: scopeKey(scope), sk: COUNTER }, ConsistentRead: true, ProjectionExpression: 'lastSeq' }),
      );
      return Number(Item?.lastSeq ?? 0);
    },

    async updateDevice(scope, userId, deviceId, update, expiresAt) {
      const values: Record<string, unknown> = { ':expiresAt': expiresAt };
      const sets = ['expiresAt = :expiresAt'];
      for (const [name, value] of Object.entries(update)) {
        if (value === undefined) continue;
        values[`:${name}`] = value;
        sets.push(`${name} = :${name}`);
      }
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: scopeKey(scope), sk: deviceSk(userId, deviceId) },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ExpressionAttributeValues: values,
        }),
      );
    },

    async device(scope, userId, deviceId) {
      const { Item } = await client.send(
        new GetCommand({ TableName: tableName, Key: { pk: scopeKey(scope), sk: deviceSk(userId, deviceId) }, ConsistentRead: true }),
      );
      if (Item === undefined) return undefined;
      const row: DeviceRow = {
        ...(Item.lastPulledSeq !== undefined && { lastPulledSeq: Number(Item.lastPulledSeq) }),
        ...(Item.lastPulledAt !== undefined && { lastPulledAt: Item.lastPulledAt }),
        ...(Item.lastPushAt !== undefined && { lastPushAt: Item.lastPushAt }),
        ...(Item.pendingOps !== undefined && { pendingOps: Number(Item.pendingOps) }),
      };
      return row;
    },
  };
}
