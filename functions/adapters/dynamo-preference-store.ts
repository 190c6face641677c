import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recipientKey } from '../notifications/model';
import type { PreferenceStore, Preferences } from '../notifications/preferences';
import { batchGet } from './dynamo-batch';

export function dynamoPreferenceStore(client: DynamoDBDocumentClient, tableName: string): PreferenceStore {
  return {
    async getMany(recipients) {
      const keys = [...new Set(recipients.map(recipientKey))].map((userKey) => ({ userKey }));
      const items = await batchGet(client, tableName, keys);
      return new Map(
        items.map((item) => [
          item.userKey as string,
          { kinds: item.kinds ?? {}, muted: Boolean(item.muted), ...(typeof item.email === 'string' && { email: item.email }) } satisfies Preferences,
        ]),
      );
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
