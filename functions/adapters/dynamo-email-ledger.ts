import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { EmailLedger } from '../alerts/fanout';

/** Long past any stream retry: a record is given up on after an hour (maxRecordAgeSeconds). */
const CLAIM_DAYS = 7;

/** Email claims as items of the Dedupe table, beside the notifications' dedupe records. */
export function dynamoEmailLedger(client: DynamoDBDocumentClient, dedupeTable: string): EmailLedger {
  return {
    async claim(key) {
      try {
        await client.send(
          new PutCommand({
            TableName: dedupeTable,
            Item: { dedupeKey: key, claimedAt: new Date().toISOString(), expiresAt: Math.floor(Date.now() / 1000) + CLAIM_DAYS * 86_400 },
            ConditionExpression: 'attribute_not_exists(dedupeKey)',
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },
    async release(key) {
      await client.send(new DeleteCommand({ TableName: dedupeTable, Key: { dedupeKey: key } }));
    },
  };
}
