import { DeleteCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { userKey, type ConnectionRecord, type ConnectionStore } from '../realtime/connections';

export function dynamoConnectionStore(client: DynamoDBDocumentClient, tableName: string): ConnectionStore {
  return {
    async save(connection) {
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: { ...connection, roles: [...connection.roles], userKey: userKey(connection.tenant, connection.userId) },
        }),
      );
    },
    async remove(connectionId) {
      await client.send(new DeleteCommand({ TableName: tableName, Key: { connectionId } }));
    },
    async listForUser(tenant, userId) {
      const connections: ConnectionRecord[] = [];
      let exclusiveStartKey: Record<string, unknown> | undefined;
      do {
        const page = await client.send(
          new QueryCommand({
            TableName: tableName,
            IndexName: 'byUser',
            KeyConditionExpression: 'userKey = :userKey',
            ExpressionAttributeValues: { ':userKey': userKey(tenant, userId) },
            ExclusiveStartKey: exclusiveStartKey,
          }),
        );
        for (const item of page.Items ?? []) {
          connections.push({
            connectionId: item.connectionId,
            tenant: item.tenant,
            userId: item.userId,
            roles: item.roles ?? [],
            connectedAt: item.connectedAt,
            expiresAt: item.expiresAt,
          });
        }
        exclusiveStartKey = page.LastEvaluatedKey;
      } while (exclusiveStartKey);
      return connections;
    },
  };
}
