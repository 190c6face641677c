import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { recipientKey } from '../notifications/model';
import { MissingConfigError } from '../shared/config';
import type { ConnectionRecord, ConnectionStore } from '../realtime/connections';
import { batchGet } from './dynamo-batch';

/**
 * The Connections table (one row per socket) and the UserConnections table (each user's set of
 * connection ids, which fan-out reads in batches). The set is written before the row on connect
 * and after it on disconnect, so a crash in between leaves at worst a stale id, which the next
 * push's 410 removes, never a connected socket that pushes cannot find.
 */
export function dynamoConnectionStore(client: DynamoDBDocumentClient, tables: { connections: string; userConnections: string | undefined }): ConnectionStore {
  // Functions that only frame a socket (ping, $default) are given no UserConnections access at all.
  const userConnections = () => {
    if (tables.userConnections === undefined) throw new MissingConfigError('This function has no UserConnections table: its description grants it no access');
    return tables.userConnections;
  };
  return {
    async save(connection) {
      const userKey = recipientKey(connection);
      const { Attributes: item } = await client.send(
        new UpdateCommand({
          TableName: userConnections(),
          Key: { userKey },
          // The set outlives each socket by its TTL; every connect extends it. The socket's own
          // `recordedAt#<id>` tells a socket still connecting from one gone for good (functions/realtime/caps.ts).
          UpdateExpression: 'ADD connectionIds :id SET expiresAt = :expiresAt, #recordedAt = :recordedAt',
          ExpressionAttributeNames: { '#recordedAt': recordedAtAttribute(connection.connectionId) },
          ExpressionAttributeValues: {
            ':id': new Set([connection.connectionId]),
            ':expiresAt': connection.expiresAt,
            ':recordedAt': Date.parse(connection.connectedAt),
          },
          // The item as this write left it: the sockets recorded before this one, at no extra request.
          ReturnValues: 'ALL_NEW',
        }),
      );
      await client.send(new PutCommand({ TableName: tables.connections, Item: { ...connection, roles: [...connection.roles], userKey } }));
      const ids = (item?.connectionIds as Set<string> | undefined) ?? new Set([connection.connectionId]);
      return [...ids].map((connectionId) => {
        const recordedAt = item?.[recordedAtAttribute(connectionId)];
        return typeof recordedAt === 'number' ? { connectionId, recordedAt } : { connectionId };
      });
    },

    async remove(connectionId, owner) {
      const { Attributes: old } = await client.send(new DeleteCommand({ TableName: tables.connections, Key: { connectionId }, ReturnValues: 'ALL_OLD' }));
      const record = old ? toRecord(old) : undefined;
      const user = record ?? owner;
      if (user) {
        await client
          .send(
            new UpdateCommand({
              TableName: userConnections(),
              Key: { userKey: recipientKey(user) },
              UpdateExpression: 'DELETE connectionIds :id REMOVE #recordedAt',
              ConditionExpression: 'attribute_exists(userKey)',
              ExpressionAttributeNames: { '#recordedAt': recordedAtAttribute(connectionId) },
              ExpressionAttributeValues: { ':id': new Set([connectionId]) },
            }),
          )
          .catch((error: unknown) => {
            if (!(error instanceof ConditionalCheckFailedException)) throw error;
          });
      }
      return record;
    },

    async removeGone(connectionId, owner, recordedBefore) {
      try {
        // The row first, as in remove; a row not written yet (its connect is between the set and the row) is no row to keep.
        await client.send(
          new DeleteCommand({
            TableName: tables.connections,
            Key: { connectionId },
            ConditionExpression: 'attribute_not_exists(connectionId) OR connectedAt < :before',
            ExpressionAttributeValues: { ':before': recordedBefore.toISOString() },
          }),
        );
        await client.send(
          new UpdateCommand({
            TableName: userConnections(),
            Key: { userKey: recipientKey(owner) },
            UpdateExpression: 'DELETE connectionIds :id REMOVE #recordedAt',
            // Ids from before the set kept times are old enough.
            ConditionExpression: 'attribute_exists(userKey) AND (attribute_not_exists(#recordedAt) OR #recordedAt < :before)',
            ExpressionAttributeNames: { '#recordedAt': recordedAtAttribute(connectionId) },
            ExpressionAttributeValues: { ':id': new Set([connectionId]), ':before': recordedBefore.getTime() },
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
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

/**
 * The attribute beside the set that holds when a socket's $connect recorded it (epoch ms). One
 * top-level attribute per socket rather than a map: a map entry cannot be set in the same update
 * that would create the map, so the first connect would need a second request.
 */
const recordedAtAttribute = (connectionId: string) => `recordedAt#${connectionId}`;

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
