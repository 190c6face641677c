import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recipientKey, type Recipient } from '../notifications/model';
import { MissingConfigError } from '../shared/config';
import type { ConnectionRecord, ConnectionStore } from '../realtime/connections';
import { batchGet } from './dynamo-batch';

/**
 * The Connections table (one row per socket) and the UserConnections table (each user's set of
 * connection ids, which fan-out reads in batches). The row is written before the set on connect
 * and deleted before it on disconnect, so every id in a set has its row until the socket is gone:
 * a push's 410 for an id whose row is young is a socket whose $connect is still running, which
 * `prune` leaves alone. A crash in between leaves at worst a row of a refused connect (its TTL
 * removes it) or a stale id, which the next push's 410 removes; never a connected socket that
 * pushes cannot find.
 */
export function dynamoConnectionStore(client: DynamoDBDocumentClient, tables: { connections: string; userConnections: string | undefined }): ConnectionStore {
  // Functions that only frame a socket (ping, $default) are given no UserConnections access at all.
  const userConnections = () => {
    if (tables.userConnections === undefined) throw new MissingConfigError('This function has no UserConnections table: its description grants it no access');
    return tables.userConnections;
  };
  const leaveSet = (connectionId: string, user: Recipient) =>
    client
      .send(
        new UpdateCommand({
          TableName: userConnections(),
          Key: { userKey: recipientKey(user) },
          UpdateExpression: 'DELETE connectionIds :id',
          ConditionExpression: 'attribute_exists(userKey)',
          ExpressionAttributeValues: { ':id': new Set([connectionId]) },
        }),
      )
      .then(
        () => undefined,
        (error: unknown) => {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        },
      );
  return {
    async save(connection) {
      const userKey = recipientKey(connection);
      await client.send(new PutCommand({ TableName: tables.connections, Item: { ...connection, roles: [...connection.roles], userKey } }));
      const { Attributes: updated } = await client.send(
        new UpdateCommand({
          TableName: userConnections(),
          Key: { userKey },
          // The set outlives each socket by its TTL; every connect extends it.
          UpdateExpression: 'ADD connectionIds :id SET expiresAt = :expiresAt',
          ExpressionAttributeValues: { ':id': new Set([connection.connectionId]), ':expiresAt': connection.expiresAt },
          // The set as this add left it: the user's socket count at no extra request.
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      return [...((updated?.connectionIds as Set<string> | undefined) ?? [connection.connectionId])];
    },

    async remove(connectionId, owner) {
      const { Attributes: old } = await client.send(new DeleteCommand({ TableName: tables.connections, Key: { connectionId }, ReturnValues: 'ALL_OLD' }));
      const record = old ? toRecord(old) : undefined;
      const user = record ?? owner;
      if (user) await leaveSet(connectionId, user);
      return record;
    },

    async prune(connectionId, owner, connectedBefore) {
      try {
        await client.send(
          new DeleteCommand({
            TableName: tables.connections,
            Key: { connectionId },
            // No row: gone (a lost $disconnect left the id in the set). A young row: maybe still in its $connect.
            ConditionExpression: 'attribute_not_exists(connectionId) OR connectedAt < :connectedBefore',
            ExpressionAttributeValues: { ':connectedBefore': connectedBefore.toISOString() },
          }),
        );
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
      await leaveSet(connectionId, owner);
      return true;
    },

    connectionIdsOf: (recipients) => dynamoUserConnections(client, userConnections()).connectionIdsOf(recipients),

    async addTopic(connectionId, topic) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tables.connections,
            Key: { connectionId },
            UpdateExpression: 'ADD topics :topic',
            ConditionExpression: 'attribute_exists(connectionId)',
            ExpressionAttributeValues: { ':topic': new Set([topic]) },
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },

    async removeTopic(connectionId, topic) {
      await client
        .send(
          new UpdateCommand({
            TableName: tables.connections,
            Key: { connectionId },
            UpdateExpression: 'DELETE topics :topic',
            ConditionExpression: 'attribute_exists(connectionId)',
            ExpressionAttributeValues: { ':topic': new Set([topic]) },
          }),
        )
        .catch((error: unknown) => {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        });
    },

    async addFrames(connectionId, windowStart, frames, startsWindow) {
      // A fixed window per connection: the same window adds, a newer one starts over. Both are
      // conditional on the row existing, so a closed connection's frames count nothing. Two
      // containers racing into a new window: one starts it, the other's second try adds to it.
      const add = async () => {
        const result = await conditionallyWith(
          client,
          new UpdateCommand({
            TableName: tables.connections,
            Key: { connectionId },
            UpdateExpression: 'ADD frameCount :frames',
            ConditionExpression: 'attribute_exists(connectionId) AND frameWindow = :window',
            ExpressionAttributeValues: { ':frames': frames, ':window': windowStart },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        return result && Number(result.frameCount);
      };
      const start = async () => {
        const result = await conditionallyWith(
          client,
          new UpdateCommand({
            TableName: tables.connections,
            Key: { connectionId },
            UpdateExpression: 'SET frameWindow = :window, frameCount = :frames',
            ConditionExpression: 'attribute_exists(connectionId) AND (attribute_not_exists(frameWindow) OR frameWindow < :window)',
            ExpressionAttributeValues: { ':frames': frames, ':window': windowStart },
          }),
        );
        return result && frames;
      };
      const [first, second] = startsWindow ? [start, add] : [add, start];
      return (await first()) || (await second()) || (await add()) || undefined;
    },
  };
}

/** Users' connection sets alone, for a function that reads them and touches no connection row (the ticket route). */
export function dynamoUserConnections(client: DynamoDBDocumentClient, tableName: string): Pick<ConnectionStore, 'connectionIdsOf'> {
  return {
    async connectionIdsOf(recipients) {
      const keys = [...new Set(recipients.map(recipientKey))].map((userKey) => ({ userKey }));
      const items = await batchGet(client, tableName, keys, { projection: 'userKey, connectionIds' });
      return new Map(items.map((item) => [item.userKey as string, [...((item.connectionIds as Set<string> | undefined) ?? [])]]));
    },
  };
}

/** The written item's returned attributes (empty when none were asked for), or undefined when the condition failed. */
async function conditionallyWith(client: DynamoDBDocumentClient, command: UpdateCommand): Promise<Record<string, unknown> | undefined> {
  try {
    return (await client.send(command)).Attributes ?? {};
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return undefined;
    throw error;
  }
}

function toRecord(item: Record<string, any>): ConnectionRecord {
  return {
    connectionId: item.connectionId,
    tenant: item.tenant,
    userId: item.userId,
    roles: item.roles ?? [],
    connectedAt: item.connectedAt,
    expiresAt: item.expiresAt,
    topics: item.topics ? [...(item.topics as Set<string>)] : [],
  };
}
