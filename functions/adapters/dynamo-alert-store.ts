import { createHash } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AlertStore } from '../alerts/alerts';
import type { Alert } from '../alerts/model';
import { BadRequestError } from '../shared/errors';

/**
 * The open item's key: a hash, because rule and subject are free text (up to 384 characters,
 * `#` included) and a sort key is at most 1 KB; the pair itself is kept in the item for people.
 */
function openItemId(rule: string, subject: string): string {
  return `open#${createHash('sha256')
    .update(JSON.stringify([rule, subject]))
    .digest('base64url')}`;
}

/** The Alerts table: alert items (`kind: alert`, carrying `topicKey` for the byTopic index) and open items. */
export function dynamoAlertStore(client: DynamoDBDocumentClient, tableName: string): AlertStore {
  const openItem = (alert: Alert) => ({
    tenant: alert.tenant,
    id: openItemId(alert.rule, alert.subject),
    kind: 'open',
    alertId: alert.id,
    rule: alert.rule,
    subject: alert.subject,
  });
  const alertItem = (alert: Alert) => ({ ...alert, kind: 'alert', topicKey: `${alert.tenant}#${alert.topic}` });
  const openAlertIdOf = async (alert: Alert): Promise<string | undefined> => {
    const { Item } = await client.send(
      new GetCommand({ TableName: tableName, Key: { tenant: alert.tenant, id: openItemId(alert.rule, alert.subject) }, ConsistentRead: true }),
    );
    return Item?.alertId as string | undefined;
  };

  return {
    async create(alert) {
      try {
        await client.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: tableName, Item: alertItem(alert), ConditionExpression: 'attribute_not_exists(id)' } },
              { Put: { TableName: tableName, Item: openItem(alert), ConditionExpression: 'attribute_not_exists(id)' } },
            ],
          }),
        );
        return { created: true };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        // Taken (ConditionalCheckFailed) or being taken right now (TransactionConflict): either
        // way the open item says who holds it, or is gone and the caller tries again.
        return { created: false, openAlertId: await openAlertIdOf(alert) };
      }
    },

    async get(tenant, id) {
      const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { tenant, id }, ConsistentRead: true }));
      return Item?.kind === 'alert' ? toAlert(Item) : undefined;
    },

    async replace(next, expectedVersion, open) {
      const openChange =
        open === 'release'
          ? {
              Delete: {
                TableName: tableName,
                Key: { tenant: next.tenant, id: openItemId(next.rule, next.subject) },
                ConditionExpression: 'attribute_not_exists(id) OR alertId = :id',
                ExpressionAttributeValues: { ':id': next.id },
              },
            }
          : open === 'claim'
            ? { Put: { TableName: tableName, Item: openItem(next), ConditionExpression: 'attribute_not_exists(id)' } }
            : undefined;
      try {
        await client.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Put: {
                  TableName: tableName,
                  Item: alertItem(next),
                  ConditionExpression: '#version = :expected',
                  ExpressionAttributeNames: { '#version': 'version' },
                  ExpressionAttributeValues: { ':expected': expectedVersion },
                },
              },
              ...(openChange ? [openChange] : []),
            ],
          }),
        );
        return 'replaced';
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [alertReason, openReason] = error.CancellationReasons ?? [];
        if (open === 'claim' && alertReason?.Code !== 'ConditionalCheckFailed' && openReason?.Code === 'ConditionalCheckFailed') {
          const openAlertId = await openAlertIdOf(next);
          if (openAlertId !== undefined) return { openAlertId };
        }
        return 'stale';
      }
    },

    async listByTopic(tenant, topic, { status, limit, cursor }) {
      const topicKey = `${tenant}#${topic}`;
      const page = await client.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: 'byTopic',
          KeyConditionExpression: 'topicKey = :topicKey',
          ...(status && { FilterExpression: '#status = :status', ExpressionAttributeNames: { '#status': 'status' } }),
          ExpressionAttributeValues: { ':topicKey': topicKey, ...(status && { ':status': status }) },
          ScanIndexForward: false,
          Limit: limit,
          ExclusiveStartKey: cursor === undefined ? undefined : decodeCursor(cursor, tenant, topicKey),
        }),
      );
      return {
        alerts: (page.Items ?? []).map(toAlert),
        ...(page.LastEvaluatedKey && { cursor: Buffer.from(JSON.stringify(page.LastEvaluatedKey)).toString('base64url') }),
      };
    },
  };
}

/** A cursor is the last key of a page; it must name this tenant and topic, or it would read another's. */
function decodeCursor(cursor: string, tenant: string, topicKey: string): Record<string, string> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    key = undefined;
  }
  const fields = key as Record<string, unknown> | undefined;
  const valid =
    typeof fields === 'object' &&
    fields !== null &&
    fields.tenant === tenant &&
    fields.topicKey === topicKey &&
    typeof fields.id === 'string' &&
    typeof fields.raisedAt === 'string' &&
    Object.keys(fields).length === 4;
  if (!valid) throw new BadRequestError('cursor: not a cursor of this topic; use the one the previous page returned', 'invalid_query');
  return fields as Record<string, string>;
}

function toAlert(item: Record<string, unknown>): Alert {
  const { kind: _kind, topicKey: _topicKey, ...alert } = item;
  return alert as unknown as Alert;
}
