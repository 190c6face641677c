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
 * the dedupe claims. All eventually consistent, at half a consistent read's units, because a
 * stale answer is harmless to each (docs/protocol.md, "How seqs are allocated"): a stale counter
 * is a hint that is too low, so the put at hint + 1 fails its condition and the writer finds the
 * newest item; a claim not yet seen fails the claim's own conditional put, which returns it;
 * preferences changed a moment ago apply from the next notification; and sockets are read again,
 * after the writes, for any that joined.
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
          projection: 'userKey, lastSeq',
        },
        { table: tables.dedupe, keys: [...new Set(query.dedupeKeys ?? [])].map((dedupeKey) => ({ dedupeKey })) },
        { table: tables.userConnections, keys: userKeys(query.connectionsOf).map((userKey) => ({ userKey })), projection: 'userKey, connectionIds' },
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
