import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recipientKey } from '../notifications/model';
import type { PreferenceStore, Preferences } from '../notifications/preferences';
import { batchGet } from './dynamo-batch';

export function dynamoPreferenceStore(client: DynamoDBDocumentClient, tableName: string): PreferenceStore {
  return {
    async getMany(recipients) {
      const keys = [...new Set(recipients.map(recipientKey))].map((userKey) => ({ userKey }));
      const items = await batchGet(client, tableName, keys);
      return new Map(items.map((item) => [item.userKey as string, preferencesFromItem(item)]));
    },
    async put(recipient, preferences) {
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            userKey: recipientKey(recipient),
            kinds: preferences.kinds,
            muted: preferences.muted,
            ...(preferences.email !== undefined && { email: preferences.email }),
            updatedAt: new Date().toISOString(),
          },
        }),
      );
    },
  };
}

/** A Preferences item as the domain reads it (deliver() reads them in its own batch too). */
export function preferencesFromItem(item: Record<string, any>): Preferences {
  return { kinds: item.kinds ?? {}, muted: Boolean(item.muted), ...(typeof item.email === 'string' && { email: item.email }) };
}
