import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recipientKey } from '../notifications/model';
import type { TicketGrant, TicketStore } from '../realtime/tickets';

export function dynamoTicketStore(client: DynamoDBDocumentClient, tableName: string): TicketStore {
  return {
    async takeIssueSlot(owner, now, max) {
      const minute = Math.floor(now.getTime() / 60_000);
      try {
        // One counter item per owner and minute beside the tickets, gone (TTL) ten minutes later.
        // Its key is no SHA-256 in hex, so no ticket can ever redeem it.
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { ticketHash: `issued#${recipientKey(owner)}#${minute}` },
            UpdateExpression: 'ADD issued :one SET expiresAt = :expiresAt',
            ConditionExpression: 'attribute_not_exists(issued) OR issued < :max',
            ExpressionAttributeValues: { ':one': 1, ':max': max, ':expiresAt': (minute + 10) * 60 },
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },
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
