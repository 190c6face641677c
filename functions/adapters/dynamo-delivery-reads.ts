import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recipientKey, type Recipient } from '../notifications/model';
import type { DeliveryReads } from '../notifications/store';
import { batchGetTables, type TableKeys } from './dynamo-batch';
import { claimFromItem, COUNTER_SEQ } from './dynamo-notification-store';
import { preferencesFromItem } from './dynamo-preference-store';

export interface DeliveryTables {
  readonly notifications: string;
  readonly dedupe: string;
  readonly preferences: string;
  readonly userConnections: string;
}

/**
 * deliver()'s reads across four tables in one round of multi-table BatchGetItem calls: each
 * user's preferences and socket set, the counter item (seq 0) of the Notifications table and
 * the dedupe claims. Why each is or is not read consistently (docs/protocol.md, "How seqs are
 * allocated"):
 * - counter hints consistently: a stale hint only costs a failed put, but a consistent one is
 *   never below a seq a client was shown, even moments after a reader repaired it (half a read
 *   unit a user);
 * - dedupe claims eventually: a claim this read misses makes the claim's own conditional put
 *   fail, which returns it;
 * - preferences eventually: a change made a moment ago applies from the next notification;
 * - socket sets eventually before the writes (they are read again after them), consistently
 *   after (`consistentConnections`): a socket registered before that read must be pushed to, since
 *   its resume may have run before the notification was stored.
 */
export function dynamoDeliveryReads(client: DynamoDBDocumentClient, tables: DeliveryTables): DeliveryReads {
  return {
    async read(query) {
      const userKeys = (recipients: readonly Recipient[] | undefined) => [...new Set((recipients ?? []).map(recipientKey))];
      const reads: TableKeys[] = [
        { table: tables.preferences, keys: userKeys(query.preferencesOf).map((userKey) => ({ userKey })) },
        {
          table: tables.notifications,
          keys: userKeys(query.lastSeqsOf).map((userKey) => ({ userKey, seq: COUNTER_SEQ })),
          consistent: true,
          projection: 'userKey, lastSeq',
        },
        { table: tables.dedupe, keys: [...new Set(query.dedupeKeys ?? [])].map((dedupeKey) => ({ dedupeKey })) },
        {
          table: tables.userConnections,
          keys: userKeys(query.connectionsOf).map((userKey) => ({ userKey })),
          projection: 'userKey, connectionIds',
          consistent: query.consistentConnections,
        },
      ].filter((read) => read.keys.length > 0);
      const items = await batchGetTables(client, reads);
      const of = (table: string) => items.get(table) ?? [];
      return {
        preferences: new Map(of(tables.preferences).map((item) => [item.userKey as string, preferencesFromItem(item)])),
        lastSeqs: new Map(of(tables.notifications).map((item) => [item.userKey as string, Number(item.lastSeq ?? 0)])),
        duplicates: new Map(of(tables.dedupe).map((item) => [item.dedupeKey as string, claimFromItem(item)])),
        connectionIds: new Map(
          of(tables.userConnections).map((item) => [item.userKey as string, [...((item.connectionIds as Set<string> | undefined) ?? [])]]),
        ),
      };
    },
  };
}
