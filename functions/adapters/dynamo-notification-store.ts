import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient, type PutCommandInput } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { recipientKey, type InboxItem, type Notification, type Recipient } from '../notifications/model';
import type { DedupeClaim, NotificationStore } from '../notifications/store';
import pMap from 'p-map';

/** Items marked read at once by one call. */
const WRITE_CONCURRENCY = 16;
/** The item at seq 0 holds `lastSeq` and the `ackedUpTo` watermark. */
export const COUNTER_SEQ = 0;
/** A given-back dedupe claim's `claimedAtMs`: its lease ran out long ago, so the next request completes it. */
const RELEASED_AT_MS = 0;

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

  async function conditionally(write: () => Promise<unknown>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * A conditional put: undefined when it was written, else the item whose presence (or absence)
   * failed the condition, so a caller can tell its own earlier write, which the SDK retried after
   * the answer was lost, from another writer's.
   */
  async function putUnlessBlocked(input: Omit<PutCommandInput, 'ReturnValuesOnConditionCheckFailure'>): Promise<Record<string, unknown> | undefined> {
    try {
      await client.send(new PutCommand({ ...input, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }));
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return unmarshall((error.Item ?? {}) as never) as Record<string, unknown>;
    }
  }

  async function newestSeq(recipient: Recipient): Promise<number> {
    // Consistent, and without the expiry filter: an expired item not yet deleted still holds its seq.
    const { Items } = await client.send(
      new QueryCommand({
        TableName: tables.notifications,
        KeyConditionExpression: 'userKey = :userKey AND seq > :counter',
        ExpressionAttributeValues: { ':userKey': recipientKey(recipient), ':counter': COUNTER_SEQ },
        ProjectionExpression: 'seq',
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    return Number(Items?.[0]?.seq ?? 0);
  }

  async function raiseHint(recipient: Recipient, seq: number): Promise<void> {
    // Only ever up: a lower value (a slower writer, a reader's repair) fails its condition, harmlessly.
    await conditionally(() =>
      client.send(
        new UpdateCommand({
          TableName: tables.notifications,
          Key: counterKey(recipient),
          UpdateExpression: 'SET lastSeq = :seq',
          ConditionExpression: 'attribute_not_exists(lastSeq) OR lastSeq < :seq',
          ExpressionAttributeValues: { ':seq': seq },
        }),
      ),
    );
  }

  async function recordAck(recipient: Recipient, upTo: number): Promise<'recorded' | 'stale' | 'beyond'> {
    const record = async () => {
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
        return 'recorded' as const;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const old = error.Item as { lastSeq?: { N?: string } } | undefined;
        return Number(old?.lastSeq?.N ?? 0) < upTo ? ('beyond' as const) : ('stale' as const);
      }
    };
    const outcome = await record();
    if (outcome !== 'beyond') return outcome;
    // Beyond the hint, but the hint may lag: the newest item decides, and the hint is repaired first.
    const newest = await newestSeq(recipient);
    if (newest < upTo) return 'beyond';
    await raiseHint(recipient, newest);
    return record();
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
    async claim(dedupeKey, id, lease, expiresAt) {
      const existing = await putUnlessBlocked({
        TableName: dedupeTable(),
        Item: { dedupeKey, id, holder: id, ...lease, expiresAt },
        ConditionExpression: 'attribute_not_exists(dedupeKey)',
      });
      if (existing === undefined) return { claimed: true };
      const claim = claimFromItem(existing);
      // The SDK's own retry of this claim, whose first answer was lost, finds it already made.
      return claim.holder === id ? { claimed: true } : { claimed: false, claim };
    },

    async takeOverClaim(dedupeKey, stale, holder, lease, expiresAt) {
      // Compare-and-set on the claim's time: of two writers taking over at once, one wins.
      const existing = await putUnlessBlocked({
        TableName: dedupeTable(),
        Item: { dedupeKey, id: stale.id, holder, ...lease, expiresAt },
        ConditionExpression: 'id = :id AND claimedAtMs = :claimedAtMs',
        ExpressionAttributeValues: { ':id': stale.id, ':claimedAtMs': stale.claimedAtMs ?? -1 },
      });
      // The SDK's own retry of this take-over, whose first answer was lost, finds it already made.
      return existing === undefined || claimFromItem(existing).holder === holder;
    },

    async releaseClaim(dedupeKey, id, holder, expiresAt) {
      // A put, not a delete: the id stays claimed (written once, by whoever completes it), and the
      // writer's put grant suffices. Without a holder: the next writer to take it over is one.
      await conditionally(() =>
        client.send(
          new PutCommand({
            TableName: dedupeTable(),
            Item: { dedupeKey, id, claimedAtMs: RELEASED_AT_MS, leaseUntilMs: RELEASED_AT_MS, expiresAt },
            ConditionExpression: 'id = :id AND holder = :holder',
            ExpressionAttributeValues: { ':id': id, ':holder': holder },
          }),
        ),
      );
    },

    async putAt(recipient, notification, expiresAt) {
      const existing = await putUnlessBlocked({
        TableName: tables.notifications,
        Item: toItem(recipientKey(recipient), notification, expiresAt),
        // The only arbiter of a seq: it exists once its item does, and no put takes a taken one.
        ConditionExpression: 'attribute_not_exists(seq)',
      });
      // The SDK's own retry of this put, whose first answer was lost, finds this very item.
      return existing === undefined || existing.id === notification.id ? 'put' : 'taken';
    },

    newestSeq,
    raiseHint,

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
      const hint = Number(counter.Item?.lastSeq ?? 0);
      let lastSeq = Math.max(hint, items.at(-1)?.seq ?? 0);
      // A full page that ends at the hint cannot tell whether items lie past it: a stranded one
      // would otherwise read as nothing more, and wait for the client's next resume.
      if (lastSeq > hint || (items.length === limit && lastSeq === hint)) {
        // The hint lags (a writer stopped between its put and the hint update): the newest item is
        // the last seq, and the hint is repaired before anything above it is shown, so no seq a
        // client has seen can be handed out again once these items expire.
        lastSeq = Math.max(lastSeq, await newestSeq(recipient));
        if (lastSeq > hint) await raiseHint(recipient, lastSeq);
      }
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

    recordAck,
  };
}

function toItem(userKey: string, notification: Notification, expiresAt: number): Record<string, unknown> {
  return { userKey, ...notification, expiresAt, unreadSeq: notification.seq };
}

export function claimFromItem(item: Record<string, unknown>): DedupeClaim {
  return {
    id: item.id as string,
    ...(item.seq !== undefined ? { seq: Number(item.seq) } : {}),
    ...(item.claimedAtMs !== undefined ? { claimedAtMs: Number(item.claimedAtMs) } : {}),
    ...(item.leaseUntilMs !== undefined ? { leaseUntilMs: Number(item.leaseUntilMs) } : {}),
    ...(item.holder !== undefined ? { holder: item.holder as string } : {}),
  };
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
