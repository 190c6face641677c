import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchGet } from './dynamo-batch';

/**
 * Which of `userIds` are members of the topic now: one BatchGetItem per 100 users on the
 * Memberships table, so a change reaches no socket whose user left the scope after subscribing.
 */
export function dynamoScopeMembers(client: DynamoDBDocumentClient, tableName: string) {
  return async (tenant: string, topic: string, userIds: readonly string[]): Promise<Set<string>> => {
    const topicKey = `${tenant}#${topic}`;
    const items = await batchGet(
      client,
      tableName,
      [...new Set(userIds)].map((userId) => ({ topicKey, userId })),
      { consistent: true, projection: 'userId' },
    );
    return new Set(items.map((item) => String(item.userId)));
  };
}
