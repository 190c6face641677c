import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recipientKey, type Recipient } from '../notifications/model';
import type { DeliveryReads } from '../notifications/store';
import { batchGetTables, type TableKeys } from './dynamo-batch';
import { COUNTER_SEQ } from './dynamo-notification-store';
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
 * the dedupe records. Counters and dedupe records are read consistently (the transaction's
 * conditions check them again); preferences and sockets need not be.
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
        { table: tables.dedupe, keys: [...new Set(query.dedupeKeys ?? [])].map((dedupeKey) => ({ dedupeKey })), consistent: true },
        { table: tables.userConnections, keys: userKeys(query.connectionsOf).map((userKey) => ({ userKey })), projection: 'userKey, connectionIds' },
      ].filter((read) => read.keys.length > 0);
      const items = await batchGetTables(client, reads);
      const of = (table: string) => items.get(table) ?? [];
      return {
        preferences: new Map(of(tables.preferences).map((item) => [item.userKey as string, preferencesFromItem(item)])),
        lastSeqs: new Map(of(tables.notifications).map((item) => [item.userKey as string, Number(item.lastSeq ?? 0)])),
        duplicates: new Map(of(tables.dedupe).map((item) => [item.dedupeKey as string, { id: item.id as string, seq: Number(item.seq) }])),
        connectionIds: new Map(
          of(tables.userConnections).map((item) => [item.userKey as string, [...((item.connectionIds as Set<string> | undefined) ?? [])]]),
        ),
      };
    },
  };
}
