import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { TicketGrant, TicketStore } from '../realtime/tickets';

export function dynamoTicketStore(client: DynamoDBDocumentClient, tableName: string): TicketStore {
  return {
    async put(ticketHash, grant) {
      await client.send(
        new PutCommand({
          TableName: tableName,
          Item: { ticketHash, ...grant, roles: [...grant.roles] },
          ConditionExpression: 'attribute_not_exists(ticketHash)',
        }),
      );
    },
    async take(ticketHash, nowEpochSeconds) {
      try {
        // One conditional delete both checks and consumes: two sockets racing with one ticket
        // cannot both win.
        const result = await client.send(
          new DeleteCommand({
            TableName: tableName,
            Key: { ticketHash },
            ConditionExpression: 'attribute_exists(ticketHash) AND expiresAt > :now',
            ExpressionAttributeValues: { ':now': nowEpochSeconds },
            ReturnValues: 'ALL_OLD',
          }),
        );
        const item = result.Attributes;
        if (!item) return undefined;
        return { tenant: item.tenant, userId: item.userId, roles: item.roles ?? [], expiresAt: item.expiresAt } as TicketGrant;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return undefined;
        throw error;
      }
    },
  };
}
