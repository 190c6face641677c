import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { connectionsApiGateway } from '#functions/adapters/connections-api';
import { dynamoConnectionStore } from '#functions/adapters/dynamo-connection-store';
import { dynamoDeliveryReads } from '#functions/adapters/dynamo-delivery-reads';
import { dynamoNotificationStore } from '#functions/adapters/dynamo-notification-store';
import type { DeliverDeps } from '#functions/notifications/deliver';
import { tableName } from './local';

/**
 * deliver()'s deps with its real adapters on the local runtime's tables, through the clients a
 * test passes (which may carry fault-injecting or counting middleware): `db` for DynamoDB,
 * `gateway` for the @connections API.
 */
export function localDeliverDeps(db: DynamoDBDocumentClient, gateway: ApiGatewayManagementApiClient): DeliverDeps {
  return {
    notifications: dynamoNotificationStore(db, { notifications: tableName('notifications'), dedupe: tableName('dedupe') }),
    reads: dynamoDeliveryReads(db, {
      notifications: tableName('notifications'),
      dedupe: tableName('dedupe'),
      preferences: tableName('preferences'),
      userConnections: tableName('userConnections'),
    }),
    connections: dynamoConnectionStore(db, { connections: tableName('connections'), userConnections: tableName('userConnections') }),
    gateway: connectionsApiGateway(gateway),
    retentionDays: 30,
  };
}
