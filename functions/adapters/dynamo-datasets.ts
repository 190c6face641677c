import { QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { NOTIFICATION_COLUMNS, type DatasetSource } from '../exports/datasets';
import type { ExportRow } from '../exports/formats';
import type { ExportFilters } from '../exports/model';

/** Rows per Query page: large pages mean fewer round trips; DynamoDB caps each at 1 MB anyway. */
const PAGE_LIMIT = 1_000;

/**
 * The caller's own notifications. `status: unread` is a key condition on the sparse `unread`
 * local index (only unread items are in it, so nothing else is read); `read` and the date range
 * are filters, because neither is part of a key (seq is, and createdAt is not indexed).
 */
export function dynamoDatasets(client: DynamoDBDocumentClient, tables: { notifications: string }): DatasetSource {
  return {
    columns: () => NOTIFICATION_COLUMNS,
    rows: (_dataset, owner, filters) => {
      const userKey = `${owner.tenant}#${owner.userId}`;
      const filter = filterOf(filters);
      const input: QueryCommandInput =
        filters.status === 'unread'
          ? {
              TableName: tables.notifications,
              IndexName: 'unread',
              KeyConditionExpression: 'userKey = :userKey AND unreadSeq > :zero',
              // The index projects keys only; an LSI fetches the rest from the table in the same read.
              Select: 'ALL_ATTRIBUTES',
            }
          : { TableName: tables.notifications, KeyConditionExpression: 'userKey = :userKey AND seq > :zero' };
      return pages(client, {
        ...input,
        ...(filter.expression && { FilterExpression: filter.expression }),
        ExpressionAttributeValues: { ':userKey': userKey, ':zero': 0, ...filter.values },
        Limit: PAGE_LIMIT,
      });
    },
  };
}

function filterOf(filters: ExportFilters): { expression?: string; values: Record<string, unknown> } {
  const parts: string[] = [];
  const values: Record<string, unknown> = { ':now': Math.floor(Date.now() / 1000) };
  // TTL deletes lazily: an expired notification is already gone from the user's point of view.
  parts.push('(attribute_not_exists(expiresAt) OR expiresAt > :now)');
  if (filters.status === 'read') parts.push('attribute_not_exists(unreadSeq)');
  if (filters.from) {
    parts.push('createdAt >= :from');
    values[':from'] = new Date(filters.from).toISOString();
  }
  if (filters.to) {
    parts.push('createdAt < :to');
    values[':to'] = new Date(filters.to).toISOString();
  }
  return { expression: parts.join(' AND '), values };
}

async function* pages(client: DynamoDBDocumentClient, input: QueryCommandInput): AsyncGenerator<ExportRow> {
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      yield {
        seq: Number(item.seq),
        id: item.id,
        createdAt: item.createdAt,
        kind: item.kind,
        priority: item.priority,
        title: item.title,
        body: item.body,
        read: item.unreadSeq === undefined,
        data: item.data,
      };
    }
    start = page.LastEvaluatedKey;
  } while (start);
}
