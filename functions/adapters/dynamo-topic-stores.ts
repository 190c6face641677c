import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryAll } from './dynamo-batch';
import type { MembershipStore, Subscription, SubscriptionStore } from '../topics/topics';

const topicKey = (tenant: string, topic: string) => `${tenant}#${topic}`;

export function dynamoMembershipStore(client: DynamoDBDocumentClient, tableName: string): MembershipStore {
  return {
    async isMember(tenant, topic, userId) {
      const { Item } = await client.send(
        new GetCommand({ TableName: tableName, Key: { topicKey: topicKey(tenant, topic), userId }, ProjectionExpression: 'userId' }),
      );
      return Item !== undefined;
    },
    async put(tenant, topic, userId, addedBy) {
      try {
        await client.send(
          new PutCommand({
            TableName: tableName,
            Item: { topicKey: topicKey(tenant, topic), userId, tenant, topic, addedBy, addedAt: new Date().toISOString() },
            ConditionExpression: 'attribute_not_exists(userId)',
          }),
        );
        return 'created';
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return 'existing';
        throw error;
      }
    },
    async remove(tenant, topic, userId) {
      const { Attributes } = await client.send(
        new DeleteCommand({ TableName: tableName, Key: { topicKey: topicKey(tenant, topic), userId }, ReturnValues: 'ALL_OLD' }),
      );
      return Attributes !== undefined;
    },
    async members(tenant, topic) {
      const items = await queryAll(client, {
        TableName: tableName,
        KeyConditionExpression: 'topicKey = :topicKey',
        ExpressionAttributeValues: { ':topicKey': topicKey(tenant, topic) },
        ProjectionExpression: 'userId',
      });
      return items.map((item) => String(item.userId));
    },
  };
}

export function dynamoSubscriptionStore(client: DynamoDBDocumentClient, tableName: string): SubscriptionStore {
  return {
    async add(tenant, topic, subscription, expiresAt) {
      await client.send(new PutCommand({ TableName: tableName, Item: { topicKey: topicKey(tenant, topic), ...subscription, expiresAt } }));
    },
    async remove(tenant, topic, connectionId) {
      const { Attributes } = await client.send(
        new DeleteCommand({ TableName: tableName, Key: { topicKey: topicKey(tenant, topic), connectionId }, ReturnValues: 'ALL_OLD' }),
      );
      return Attributes !== undefined;
    },
    async list(tenant, topic) {
      const items = await queryAll(client, {
        TableName: tableName,
        KeyConditionExpression: 'topicKey = :topicKey',
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: { ':topicKey': topicKey(tenant, topic), ':now': Math.floor(Date.now() / 1000) },
        ProjectionExpression: 'connectionId, userId',
      });
      return items.map((item): Subscription => ({ connectionId: item.connectionId, userId: item.userId }));
    },
  };
}
