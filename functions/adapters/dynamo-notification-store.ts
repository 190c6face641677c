import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recipientKey, type InboxItem, type Notification, type Recipient } from '../notifications/model';
import type { CommitResult, NotificationStore, SeqCommit } from '../notifications/store';
import pMap from 'p-map';

/** TransactWriteItems' limit on actions per transaction. */
const TRANSACTION_LIMIT = 100;
/** Transactions of one commit() in flight at once. */
const TRANSACTION_CONCURRENCY = 8;
/** Items marked read at once by one call. */
const WRITE_CONCURRENCY = 16;
/** The item at seq 0 holds `lastSeq` and the `ackedUpTo` watermark. */
export const COUNTER_SEQ = 0;

const RETRYABLE_ERRORS = new Set([
  'TransactionConflictException',
  'TransactionInProgressException',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
]);

/**
 * The Notifications table (pk userKey = tenant#user, sk seq) and the Dedupe table. Items carry
 * `unreadSeq` while unread, which feeds the sparse `unread` local index; `byId` finds a seq by id.
 */
export function dynamoNotificationStore(client: DynamoDBDocumentClient, tables: { notifications: string; dedupe?: string }): NotificationStore {
  const dedupeTable = (): string => {
    if (tables.dedupe === undefined) throw new Error('This store was built without the dedupe table; deliver() needs it');
    return tables.dedupe;
  };
  const counterKey = (recipient: Recipient) => ({ userKey: recipientKey(recipient), seq: COUNTER_SEQ });

  async function commitTransaction(commits: readonly SeqCommit[]): Promise<CommitResult[]> {
    const actions: Array<Record<string, unknown>> = [];
    const owners: Array<{ commit: number; role: 'counter' | 'notification' | 'dedupe' }> = [];
    commits.forEach((commit, position) => {
      const userKey = recipientKey(commit.recipient);
      const lastSeq = commit.expectedLastSeq + commit.notifications.length;
      actions.push({
        Update: {
          TableName: tables.notifications,
          Key: { userKey, seq: COUNTER_SEQ },
          UpdateExpression: 'SET lastSeq = :lastSeq',
          // The counter is the only arbiter: a seq exists once this condition commits with its item.
          ConditionExpression: commit.expectedLastSeq === 0 ? 'attribute_not_exists(lastSeq) OR lastSeq = :expected' : 'lastSeq = :expected',
          ExpressionAttributeValues: { ':lastSeq': lastSeq, ':expected': commit.expectedLastSeq },
        },
      });
      owners.push({ commit: position, role: 'counter' });
      for (const { notification, dedupeKey } of commit.notifications) {
        actions.push({ Put: { TableName: tables.notifications, Item: toItem(userKey, notification, commit.expiresAt) } });
        owners.push({ commit: position, role: 'notification' });
        if (dedupeKey !== undefined) {
          actions.push({
            Put: {
              TableName: dedupeTable(),
              Item: { dedupeKey, id: notification.id, seq: notification.seq, expiresAt: commit.expiresAt },
              ConditionExpression: 'attribute_not_exists(dedupeKey)',
            },
          });
          owners.push({ commit: position, role: 'dedupe' });
        }
      }
    });
    try {
      // A token per attempt makes the SDK's own network retries of this call idempotent: a
      // transaction that committed but whose answer was lost is not committed twice.
      await client.send(new TransactWriteCommand({ TransactItems: actions as never, ClientRequestToken: randomUUID() }));
      return commits.map(() => 'committed');
    } catch (error) {
      if (error instanceof TransactionCanceledException) {
        const results: CommitResult[] = commits.map(() => 'retry');
        (error.CancellationReasons ?? []).forEach((reason, index) => {
          const owner = owners[index];
          if (!owner || reason.Code !== 'ConditionalCheckFailed') return;
          if (owner.role === 'counter' && results[owner.commit] !== 'duplicate') results[owner.commit] = 'stale';
          if (owner.role === 'dedupe') results[owner.commit] = 'duplicate';
        });
        return results;
      }
      if (error instanceof Error && RETRYABLE_ERRORS.has(error.name)) return commits.map(() => 'retry');
      throw error;
    }
  }

  async function queryAll(
    input: ConstructorParameters<typeof QueryCommand>[0],
    visit: (page: { Items?: Array<Record<string, any>>; Count?: number }) => boolean | void,
  ): Promise<void> {
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: exclusiveStartKey }));
      if (visit(page) === false) return;
      exclusiveStartKey = page.LastEvaluatedKey;
    } while (exclusiveStartKey);
  }

  async function markSeqs(recipient: Recipient, seqs: readonly number[]): Promise<void> {
    const readAt = new Date().toISOString();
    await pMap(
      seqs,
      async (seq) => {
        try {
          await client.send(
            new UpdateCommand({
              TableName: tables.notifications,
              Key: { userKey: recipientKey(recipient), seq },
              UpdateExpression: 'SET readAt = :readAt REMOVE unreadSeq',
              ConditionExpression: 'attribute_exists(unreadSeq)',
              ExpressionAttributeValues: { ':readAt': readAt },
            }),
          );
        } catch (error) {
          // Already read (a concurrent call, or a repeated request): the outcome is the same.
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      },
      { concurrency: WRITE_CONCURRENCY },
    );
  }

  return {
    async commit(commits, onCommitted) {
      // Transactions of at most 100 actions, each user's actions in one of them.
      const batches: Array<{ start: number; commits: SeqCommit[] }> = [];
      let batch: SeqCommit[] = [];
      let size = 0;
      commits.forEach((commit, position) => {
        const actions = 1 + commit.notifications.length + commit.notifications.filter((entry) => entry.dedupeKey !== undefined).length;
        if (size + actions > TRANSACTION_LIMIT && batch.length > 0) {
          batches.push({ start: position - batch.length, commits: batch });
          batch = [];
          size = 0;
        }
        batch.push(commit);
        size += actions;
      });
      if (batch.length > 0) batches.push({ start: commits.length - batch.length, commits: batch });
      const results: CommitResult[] = new Array(commits.length);
      // Transactions of different users do not contend, so several go at once; each one's
      // notifications are handed on the moment it commits (push per committed chunk).
      await pMap(
        batches,
        async ({ start, commits: chunk }) => {
          const chunkResults = await commitTransaction(chunk);
          results.splice(start, chunkResults.length, ...chunkResults);
          const committed = chunkResults.flatMap((result, offset) => (result === 'committed' ? [start + offset] : []));
          if (committed.length > 0) onCommitted?.(committed);
        },
        { concurrency: TRANSACTION_CONCURRENCY },
      );
      return results;
    },

    async page(recipient, after, limit, nowEpochSeconds) {
      // The counter first, then the items: a notification committed in between then shows up
      // as an item above lastSeq (harmless), never as a lastSeq above every item, which would
      // read as a gap and make the client skip it.
      const counter = await client.send(new GetCommand({ TableName: tables.notifications, Key: counterKey(recipient), ConsistentRead: true }));
      const items: InboxItem[] = [];
      await queryAll(
        {
          TableName: tables.notifications,
          KeyConditionExpression: 'userKey = :userKey AND seq > :after',
          // TTL deletes up to days late; an expired notification must already be invisible.
          FilterExpression: 'expiresAt > :now',
          ExpressionAttributeValues: { ':userKey': recipientKey(recipient), ':after': after, ':now': nowEpochSeconds },
          ConsistentRead: true,
          Limit: limit,
        },
        (page) => {
          for (const item of page.Items ?? []) if (items.length < limit) items.push(fromItem(item));
          return items.length < limit;
        },
      );
      const lastSeq = Math.max(Number(counter.Item?.lastSeq ?? 0), items.at(-1)?.seq ?? 0);
      return { items, lastSeq };
    },

    async countUnread(recipient, nowEpochSeconds, upTo) {
      let count = 0;
      await queryAll(
        {
          TableName: tables.notifications,
          IndexName: 'unread',
          KeyConditionExpression: upTo === undefined ? 'userKey = :userKey' : 'userKey = :userKey AND unreadSeq <= :upTo',
          FilterExpression: 'expiresAt > :now',
          ExpressionAttributeValues: { ':userKey': recipientKey(recipient), ':now': nowEpochSeconds, ...(upTo === undefined ? {} : { ':upTo': upTo }) },
          ConsistentRead: true,
          Select: 'COUNT',
        },
        (page) => void (count += page.Count ?? 0),
      );
      return count;
    },

    async markReadUpTo(recipient, upTo) {
      const seqs: number[] = [];
      await queryAll(
        {
          TableName: tables.notifications,
          IndexName: 'unread',
          KeyConditionExpression: 'userKey = :userKey AND unreadSeq <= :upTo',
          ExpressionAttributeValues: { ':userKey': recipientKey(recipient), ':upTo': upTo },
          ConsistentRead: true,
          ProjectionExpression: 'seq',
        },
        (page) => void seqs.push(...(page.Items ?? []).map((item) => Number(item.seq))),
      );
      await markSeqs(recipient, seqs);
    },

    async seqsOfIds(recipient, ids) {
      const seqs = new Map<string, number>();
      await pMap(
        ids,
        async (id) => {
          const { Items } = await client.send(
            new QueryCommand({
              TableName: tables.notifications,
              IndexName: 'byId',
              KeyConditionExpression: 'userKey = :userKey AND id = :id',
              ExpressionAttributeValues: { ':userKey': recipientKey(recipient), ':id': id },
              ConsistentRead: true,
            }),
          );
          const item = Items?.[0];
          if (item) seqs.set(id, Number(item.seq));
        },
        { concurrency: WRITE_CONCURRENCY },
      );
      return seqs;
    },

    markReadSeqs: markSeqs,

    async recordAck(recipient, upTo) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tables.notifications,
            Key: counterKey(recipient),
            UpdateExpression: 'SET ackedUpTo = :upTo, ackedAt = :at',
            ConditionExpression: 'lastSeq >= :upTo AND (attribute_not_exists(ackedUpTo) OR ackedUpTo < :upTo)',
            ExpressionAttributeValues: { ':upTo': upTo, ':at': new Date().toISOString() },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        );
        return 'recorded';
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const old = error.Item as { lastSeq?: { N?: string } } | undefined;
        return Number(old?.lastSeq?.N ?? 0) < upTo ? 'beyond' : 'stale';
      }
    },
  };
}

function toItem(userKey: string, notification: Notification, expiresAt: number): Record<string, unknown> {
  return { userKey, ...notification, expiresAt, unreadSeq: notification.seq };
}

function fromItem(item: Record<string, any>): InboxItem {
  return {
    seq: Number(item.seq),
    id: item.id,
    kind: item.kind,
    title: item.title,
    ...(item.body !== undefined ? { body: item.body } : {}),
    ...(item.data !== undefined ? { data: item.data } : {}),
    priority: item.priority,
    createdAt: item.createdAt,
    ...(item.groupKey !== undefined ? { groupKey: item.groupKey } : {}),
    read: item.unreadSeq === undefined,
  };
}
