import { QueryCommand as RawQueryCommand, type AttributeValue, type DynamoDBClient, type QueryCommandInput as RawQueryInput } from '@aws-sdk/client-dynamodb';
import { QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { MissingConfigError } from '../shared/config';
import type { CollectionDeclarations } from '../records/collections';
import {
  ALERT_COLUMNS,
  checkAlertAccess,
  checkCollectionAccess,
  checkRecordsFilters,
  collectionLayout,
  datasetSource,
  NOTIFICATION_COLUMNS,
  recordsLayout,
  type DatasetReader,
  type DatasetSource,
  type RecordsTable,
  type CollectionRecord,
} from '../exports/datasets';
import type { ExportRow } from '../exports/formats';
import type { Dataset, ExportFilters } from '../exports/model';
import type { Owner } from '../exports/store';
import { dynamoMembershipStore } from './dynamo-topic-stores';

/** Rows per Query page: large pages mean fewer round trips; DynamoDB caps each at 1 MB anyway. */
const PAGE_LIMIT = 1_000;

export interface DatasetTables {
  readonly notifications: string;
  /** The alerts dataset needs both; without them (the bench, older tests) it is not wired. */
  readonly alerts?: string;
  readonly memberships?: string;
  /**
   * Herald's own Records table and the deployment's collection declarations: the `records`
   * dataset's collections (filters scope and collection). Wired with memberships; without them
   * (the bench, older tests) a collection export is not wired.
   */
  readonly records?: string;
  readonly recordCollections?: CollectionDeclarations;
}

/** The deployer's records table, read with the plain client so every attribute type survives (exportValue). */
export interface RecordsSource {
  readonly client: DynamoDBClient;
  readonly table: RecordsTable;
}

export type DynamoDatasets = DatasetSource & {
  /** Rows alone, unchecked, for callers that bring their own columns (bench/exports.ts). */
  rows(dataset: Dataset, owner: Owner, filters: ExportFilters): AsyncIterable<ExportRow>;
};

/** Every dataset over DynamoDB; `records` only when the deployment names a table for it. */
export function dynamoDatasets(client: DynamoDBDocumentClient, tables: DatasetTables, records?: RecordsSource): DynamoDatasets {
  const source = datasetSource({
    notifications: notificationsReader(client, tables.notifications),
    ...(tables.alerts !== undefined && tables.memberships !== undefined && { alerts: alertsReader(client, tables.alerts, tables.memberships) }),
    ...(records && { records: recordsReader(records) }),
    ...(tables.records !== undefined &&
      tables.memberships !== undefined && {
        collections: collectionsReader(client, tables.records, tables.memberships, tables.recordCollections ?? {}),
      }),
  });
  return {
    ...source,
    async *rows(dataset, owner, filters) {
      yield* (await source.open(dataset, owner, filters)).rows;
    },
  };
}

/**
 * The checks alone, for the functions that write schedules: they read no rows, so they need only
 * the memberships table and the records setting, not the datasets' tables.
 */
export function dynamoDatasetChecks(
  client: DynamoDBDocumentClient,
  membershipsTable: string,
  records: RecordsTable | undefined,
  recordCollections: CollectionDeclarations = {},
): Pick<DatasetSource, 'check'> {
  const memberships = dynamoMembershipStore(client, membershipsTable);
  const checkOnly = async (): Promise<never> => {
    throw new Error('A dataset check source reads no rows');
  };
  const { check } = datasetSource({
    notifications: { open: checkOnly },
    alerts: { check: (requester, filters) => checkAlertAccess(memberships, requester, filters), open: checkOnly },
    ...(records && { records: { check: async (_requester, filters) => checkRecordsFilters(records, filters), open: checkOnly } }),
    collections: { check: (requester, filters) => checkCollectionAccess(memberships, recordCollections, requester, filters), open: checkOnly },
  });
  return { check };
}

/**
 * `EXPORT_RECORDS`: the JSON lib/description/ encodes from context `exportRecords`, or empty
 * when the deployer named no table. Checked at cold start, so a bad value fails with its name.
 */
export function exportRecordsSetting(name: string, value: string | undefined): RecordsTable | undefined {
  if (value === undefined) throw new MissingConfigError(`Missing environment variable: ${name}`);
  if (value === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    parsed = undefined;
  }
  const config = parsed as Partial<Record<'table' | 'tenantKey' | 'sortKey' | 'role', unknown>> | undefined;
  if (
    typeof config !== 'object' ||
    config === null ||
    typeof config.table !== 'string' ||
    config.table === '' ||
    typeof config.tenantKey !== 'string' ||
    config.tenantKey === '' ||
    (config.sortKey !== undefined && (typeof config.sortKey !== 'string' || config.sortKey === '')) ||
    (config.role !== undefined && (typeof config.role !== 'string' || config.role === ''))
  ) {
    throw new MissingConfigError(
      `Environment variable ${name} must be empty or JSON {"table", "tenantKey", "sortKey"?, "role"?}, got ${JSON.stringify(value)}`,
    );
  }
  return {
    table: config.table,
    tenantKey: config.tenantKey,
    ...(config.sortKey !== undefined && { sortKey: config.sortKey as string }),
    ...(config.role !== undefined && { role: config.role as string }),
  };
}

// ---------------------------------------------------------------------------------------------
// Date ranges as key conditions

export interface SortKeyRange {
  /** ` AND <condition>`, to append to the partition key's condition; empty without a range. */
  readonly condition: string;
  readonly values: Record<string, string>;
  /**
   * With both bounds the condition is BETWEEN, which includes its upper end, and a filter
   * expression may not name a key attribute: the reader drops the rows equal to this itself.
   */
  readonly excludeEqualTo?: string;
}

/**
 * `from` (inclusive) and `to` (exclusive) on a string sort key holding ISO-8601 instants. The
 * bounds are compared as strings in the form toISOString writes (`2026-03-08T06:00:00.000Z`),
 * so the sort key must hold UTC instants for the comparison to be chronological.
 */
export function sortKeyRange(name: string, filters: Pick<ExportFilters, 'from' | 'to'>): SortKeyRange {
  const from = filters.from === undefined ? undefined : new Date(filters.from).toISOString();
  const to = filters.to === undefined ? undefined : new Date(filters.to).toISOString();
  if (from !== undefined && to !== undefined) {
    return { condition: ` AND ${name} BETWEEN :from AND :to`, values: { ':from': from, ':to': to }, excludeEqualTo: to };
  }
  if (from !== undefined) return { condition: ` AND ${name} >= :from`, values: { ':from': from } };
  if (to !== undefined) return { condition: ` AND ${name} < :to`, values: { ':to': to } };
  return { condition: '', values: {} };
}

// ---------------------------------------------------------------------------------------------
// notifications

/**
 * The caller's own notifications. `status: unread` is a key condition on the sparse `unread`
 * local index (only unread items are in it, so nothing else is read); `read` and the date range
 * are filters, because neither is part of a key (seq is, and createdAt is not indexed).
 */
function notificationsReader(client: DynamoDBDocumentClient, table: string): DatasetReader {
  return {
    async open(owner, filters, options) {
      const userKey = `${owner.tenant}#${owner.userId}`;
      const filter = notificationFilter(filters);
      const input: QueryCommandInput =
        filters.status === 'unread'
          ? {
              TableName: table,
              IndexName: 'unread',
              KeyConditionExpression: 'userKey = :userKey AND unreadSeq > :zero',
              // The index projects keys only; an LSI fetches the rest from the table in the same read.
              Select: 'ALL_ATTRIBUTES',
            }
          : { TableName: table, KeyConditionExpression: 'userKey = :userKey AND seq > :zero' };
      const rows = mapped(
        pages(client, options?.readAhead === true, {
          ...input,
          FilterExpression: filter.expression,
          ExpressionAttributeValues: { ':userKey': userKey, ':zero': 0, ...filter.values },
          Limit: PAGE_LIMIT,
        }),
        (item) => ({
          seq: Number(item.seq),
          id: item.id,
          createdAt: item.createdAt,
          kind: item.kind,
          priority: item.priority,
          title: item.title,
          body: item.body,
          read: item.unreadSeq === undefined,
          data: item.data,
        }),
      );
      return { columns: NOTIFICATION_COLUMNS, rows };
    },
  };
}

function notificationFilter(filters: ExportFilters): { expression: string; values: Record<string, unknown> } {
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

// ---------------------------------------------------------------------------------------------
// alerts

/**
 * One topic's alerts of the caller's tenant, oldest first, from the `byTopic` index (partition
 * `tenant#topic`, so another tenant's alerts are never read). The date range is a key condition
 * on its `raisedAt`; the status is a filter, as it is in no key. The index is a GSI, so an alert
 * written in the last moment may be missing: an export is a report, not a read-after-write.
 */
function alertsReader(client: DynamoDBDocumentClient, table: string, membershipsTable: string): DatasetReader {
  const memberships = dynamoMembershipStore(client, membershipsTable);
  return {
    check: (requester, filters) => checkAlertAccess(memberships, requester, filters),
    async open(owner, filters, options) {
      const range = sortKeyRange('raisedAt', filters);
      const rows = mapped(
        pages(client, options?.readAhead === true, {
          TableName: table,
          IndexName: 'byTopic',
          KeyConditionExpression: `topicKey = :topicKey${range.condition}`,
          // byTopic is sparse (only alerts carry topicKey); the kind test keeps it so if that changes.
          FilterExpression: `#kind = :alert${filters.status === undefined ? '' : ' AND #status = :status'}`,
          ExpressionAttributeNames: { '#kind': 'kind', ...(filters.status !== undefined && { '#status': 'status' }) },
          ExpressionAttributeValues: {
            ':topicKey': `${owner.tenant}#${filters.topic}`,
            ':alert': 'alert',
            ...range.values,
            ...(filters.status !== undefined && { ':status': filters.status }),
          },
          Limit: PAGE_LIMIT,
        }),
        (item) => (range.excludeEqualTo !== undefined && item.raisedAt === range.excludeEqualTo ? undefined : alertRow(item)),
      );
      return { columns: ALERT_COLUMNS, rows };
    },
  };
}

function alertRow(item: Record<string, unknown>): ExportRow {
  return Object.fromEntries(ALERT_COLUMNS.map(({ key }) => [key, item[key]]));
}

// ---------------------------------------------------------------------------------------------
// records

/**
 * The caller's tenant's items of the deployer's table: a Query on `tenantKey = tenant` (which must
 * be the table's partition key), with the date range as a key condition on the sort key. The
 * first page is read before the columns are known (recordsLayout); the later pages as pulled, or
 * with `readAhead` one ahead of the formatter from the second page on.
 */
function recordsReader({ client, table }: RecordsSource): DatasetReader {
  return {
    check: async (_requester, filters) => checkRecordsFilters(table, filters),
    async open(owner, filters, options) {
      const range = table.sortKey === undefined ? sortKeyRange('#sort', {}) : sortKeyRange('#sort', filters);
      const input: RawQueryInput = {
        TableName: table.table,
        KeyConditionExpression: `#tenant = :tenant${range.condition}`,
        // Placeholders: the deployer's attribute names may be reserved words or hold dots.
        ExpressionAttributeNames: { '#tenant': table.tenantKey, ...(range.condition && { '#sort': table.sortKey! }) },
        ExpressionAttributeValues: {
          ':tenant': { S: owner.tenant },
          ...Object.fromEntries(Object.entries(range.values).map(([name, value]) => [name, { S: value }])),
        },
        Limit: PAGE_LIMIT,
      };
      const keep = (item: Record<string, AttributeValue>) =>
        range.excludeEqualTo === undefined || table.sortKey === undefined || item[table.sortKey]?.S !== range.excludeEqualTo;
      const first = await client.send(new RawQueryCommand(input));
      const firstItems = (first.Items ?? []).filter(keep).map(exportItem);
      const layout = recordsLayout(table, firstItems);
      async function* rows(): AsyncGenerator<ExportRow> {
        const query = (start: Record<string, AttributeValue> | undefined) => client.send(new RawQueryCommand({ ...input, ExclusiveStartKey: start }));
        const later = first.LastEvaluatedKey ? paged(query, first.LastEvaluatedKey, options?.readAhead === true) : undefined;
        for (const item of firstItems) yield layout.toRow(item);
        if (later) for await (const item of later) if (keep(item)) yield layout.toRow(exportItem(item));
      }
      return { columns: layout.columns, rows: rows() };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// records: a collection of Herald's own Records table

/**
 * One collection of one scope of Herald's Records table (functions/adapters/dynamo-record-store.ts:
 * `pk` = tenant#scope, `sk` = rec#<collection>#<id>), in id order: a Query on the item collection
 * with `begins_with(sk, "rec#<collection>#")`, so another scope, another collection, the scope's
 * counter, op answers and device rows are never read. Tombstones are left out by a filter (the
 * deletion is an attribute, not a key) and only the exported attributes are read, not the merge
 * metadata. The first page decides the columns (collectionLayout), as for the deployer's table.
 */
function collectionsReader(client: DynamoDBDocumentClient, table: string, membershipsTable: string, declarations: CollectionDeclarations): DatasetReader {
  const memberships = dynamoMembershipStore(client, membershipsTable);
  return {
    check: (requester, filters) => checkCollectionAccess(memberships, declarations, requester, filters),
    async open(owner, filters, options) {
      const input: QueryCommandInput = {
        TableName: table,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        FilterExpression: 'attribute_not_exists(deleted)',
        ProjectionExpression: 'id, #fields, version, updatedAt, updatedBy',
        ExpressionAttributeNames: { '#fields': 'fields' },
        ExpressionAttributeValues: { ':pk': `${owner.tenant}#${filters.scope}`, ':prefix': `rec#${filters.collection}#` },
        Limit: PAGE_LIMIT,
      };
      const query = (start: Record<string, unknown> | undefined) => client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
      const first = await query(undefined);
      const firstRecords = (first.Items ?? []).map(collectionRecord);
      const declared = Object.keys(declarations[filters.collection!]?.fields ?? {});
      const layout = collectionLayout(declared, firstRecords);
      async function* rows(): AsyncGenerator<ExportRow> {
        const later = first.LastEvaluatedKey ? paged(query, first.LastEvaluatedKey, options?.readAhead === true) : undefined;
        for (const record of firstRecords) yield layout.toRow(record);
        if (later) for await (const item of later) yield layout.toRow(collectionRecord(item));
      }
      return { columns: layout.columns, rows: rows() };
    },
  };
}

function collectionRecord(item: Record<string, unknown>): CollectionRecord {
  return {
    id: item.id as string,
    version: Number(item.version),
    updatedAt: item.updatedAt as string,
    updatedBy: item.updatedBy as string,
    fields: (item.fields ?? {}) as Record<string, unknown>,
  };
}

function exportItem(item: Record<string, AttributeValue>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(item).map(([name, value]) => [name, exportValue(value)]));
}

/**
 * A DynamoDB value as plain JSON data that every formatter writes faithfully: a number as a
 * number when that is exact, else its digits as a string (no precision lost, no BigInt); sets
 * as arrays; binary as base64. (The document client would give Set and Uint8Array objects,
 * which serialize as `{}`, and throw on a number it cannot hold.)
 */
export function exportValue(value: AttributeValue): unknown {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return exactNumber(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  if (value.L !== undefined) return value.L.map(exportValue);
  if (value.M !== undefined) return Object.fromEntries(Object.entries(value.M).map(([name, inner]) => [name, exportValue(inner)]));
  if (value.SS !== undefined) return [...value.SS];
  if (value.NS !== undefined) return value.NS.map(exactNumber);
  if (value.B !== undefined) return Buffer.from(value.B).toString('base64');
  if (value.BS !== undefined) return value.BS.map((bytes) => Buffer.from(bytes).toString('base64'));
  return null;
}

function exactNumber(digits: string): number | string {
  const number = Number(digits);
  return Number.isFinite(number) && String(number) === digits ? number : digits;
}

// ---------------------------------------------------------------------------------------------

function pages(client: DynamoDBDocumentClient, ahead: boolean, input: QueryCommandInput): AsyncGenerator<Record<string, unknown>> {
  const query = (start: Record<string, unknown> | undefined) => client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
  return paged(query, undefined, ahead);
}

type Page<Item, Key> = { Items?: Item[]; LastEvaluatedKey?: Key };

/**
 * A Query's items, page after page. With `ahead` (OpenOptions.readAhead, the worker) each page is
 * requested as soon as the one before has arrived: while the formatter and the upload work through
 * one page, DynamoDB is already answering for the next, so its wait overlaps the formatting. At
 * most two pages (each at most PAGE_LIMIT items and 1 MB) are held, and a consumer that stops early
 * leaves at most one read unused. Without it (a preview, which stops within the first page) a page
 * is read only when the one before has been consumed.
 */
async function* paged<Item, Key>(query: (start: Key | undefined) => Promise<Page<Item, Key>>, start: Key | undefined, ahead: boolean): AsyncGenerator<Item> {
  let next: Promise<Page<Item, Key>> | undefined = query(start);
  while (next) {
    const page: Page<Item, Key> = await next;
    const key = page.LastEvaluatedKey;
    next = ahead && key !== undefined ? query(key) : undefined;
    // Its failure is thrown when it is awaited; until then (or if the consumer stops first) it is not unhandled.
    next?.catch(() => undefined);
    yield* page.Items ?? [];
    if (!ahead && key !== undefined) next = query(key);
  }
}

/** `toRow` returning undefined drops the item. */
async function* mapped(
  items: AsyncIterable<Record<string, unknown>>,
  toRow: (item: Record<string, unknown>) => ExportRow | undefined,
): AsyncGenerator<ExportRow> {
  for await (const item of items) {
    const row = toRow(item);
    if (row !== undefined) yield row;
  }
}
