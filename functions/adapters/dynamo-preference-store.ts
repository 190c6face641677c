import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { lookUpEach, type RecipientDirectory } from '../exports/recipients';
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
            // Lowercase: export recipients are looked up by address on the byEmail index, and are lowercased too.
            ...(preferences.email !== undefined && { email: preferences.email.toLowerCase() }),
            updatedAt: new Date().toISOString(),
          },
        }),
      );
    },
  };
}

/**
 * The tenant's users by preference address: one Query per address on the sparse `byEmail` index,
 * `email = :address AND begins_with(userKey, "tenant#")`, so another tenant's entries are not read.
 */
export function dynamoRecipientDirectory(client: DynamoDBDocumentClient, tableName: string): RecipientDirectory {
  return {
    knownAddresses(tenant, addresses) {
      return lookUpEach(addresses, async (address) => {
        const { Items } = await client.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: 'byEmail',
            KeyConditionExpression: 'email = :email AND begins_with(userKey, :tenant)',
            ExpressionAttributeValues: { ':email': address, ':tenant': `${tenant}#` },
            ProjectionExpression: 'userKey',
            Limit: 1,
          }),
        );
        return (Items?.length ?? 0) > 0;
      });
    },
  };
}

/** A Preferences item as the domain reads it (deliver() reads them in its own batch too). */
export function preferencesFromItem(item: Record<string, any>): Preferences {
  return { kinds: item.kinds ?? {}, muted: Boolean(item.muted), ...(typeof item.email === 'string' && { email: item.email }) };
}
