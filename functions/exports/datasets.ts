import { BadRequestError, ForbiddenError, LimitExceededError, NotFoundError } from '../shared/errors';
import type { CollectionDeclarations } from '../records/collections';
import type { MembershipStore } from '../topics/topics';
import type { ExportColumn, ExportRow } from './formats';
import type { Dataset, ExportFilters } from './model';
import type { Owner } from './store';

/**
 * Who asks for a dataset. `roles` are known only while a user is calling (schedule writes and the
 * preview); a scheduled run has no token, so it decides on what Herald itself records.
 */
export interface Requester extends Owner {
  readonly roles?: readonly string[];
}

/** A dataset ready to stream: the columns first (a CSV header is written before any row), then the rows. */
export interface OpenDataset {
  readonly columns: readonly ExportColumn[];
  /** Pages of a DynamoDB Query, yielded row by row: the next page is read when pulled, or with `readAhead` while this one is. */
  readonly rows: AsyncIterable<ExportRow>;
}

/**
 * Where an export's rows come from. Nothing here holds more than two pages. `open` runs `check`
 * first, so no path reads a dataset without it.
 */
export interface DatasetSource {
  /**
   * What the filters alone (model.ts validateFilters) cannot decide: a 400 when this deployment
   * cannot serve them (no records table, a date range on records without a sort key), a 403 when
   * the requester may not read them (an alerts topic they are not a member of).
   */
  check(dataset: Dataset, requester: Requester, filters: ExportFilters): Promise<void>;
  open(dataset: Dataset, requester: Requester, filters: ExportFilters, options?: OpenOptions): Promise<OpenDataset>;
}

/** How a dataset is read: the worker reads ahead; a preview, which stops within the first page, does not. */
export interface OpenOptions {
  /**
   * Ask for each next Query page as soon as the one before arrives, so DynamoDB answers while the
   * formatter works; at most one page ahead. Without it a page is read only when pulled. @default false
   */
  readonly readAhead?: boolean;
}

/** One dataset behind the source: its own check (if any) and its reading. */
export interface DatasetReader {
  check?(requester: Requester, filters: ExportFilters): Promise<void>;
  open(owner: Owner, filters: ExportFilters, options?: OpenOptions): Promise<OpenDataset>;
}

/**
 * The source over the readers a function is given. `records` with a collection filter reads
 * Herald's own Records table (`collections`), without one the deployer's table (`records`). A
 * missing `records` reader is a deployment without `exportRecords` context, which the caller hears
 * as a 400 that says what to set; a missing `alerts` or `collections` reader is a function wired
 * without that table, a bug (500).
 */
export function datasetSource(readers: {
  readonly notifications: DatasetReader;
  readonly alerts?: DatasetReader;
  readonly records?: DatasetReader;
  readonly collections?: DatasetReader;
}): DatasetSource {
  const readerOf = (dataset: Dataset, filters: ExportFilters): DatasetReader => {
    const name = dataset === 'records' && isCollectionExport(filters) ? 'collections' : dataset;
    const reader = readers[name];
    if (reader) return reader;
    if (name === 'records') throw recordsNotConfigured();
    throw new Error(`Dataset ${name} is not wired into this function`);
  };
  return {
    async check(dataset, requester, filters) {
      await readerOf(dataset, filters).check?.(requester, filters);
    },
    async open(dataset, requester, filters, options) {
      const reader = readerOf(dataset, filters);
      await reader.check?.(requester, filters);
      return reader.open({ tenant: requester.tenant, userId: requester.userId }, filters, options);
    },
  };
}

export function recordsNotConfigured(): BadRequestError {
  return new BadRequestError(
    'Dataset records is not configured in this deployment: the deployer names the table in cdk.json context "exportRecords" ' +
      '(for example {"table": "WorkOrders", "tenantKey": "tenantId", "sortKey": "createdAt"}) and deploys again',
    'dataset_not_configured',
  );
}

// ---------------------------------------------------------------------------------------------
// notifications

export const NOTIFICATION_COLUMNS: readonly ExportColumn[] = [
  { key: 'seq', header: 'Seq' },
  { key: 'id', header: 'Id' },
  { key: 'createdAt', header: 'Created at' },
  { key: 'kind', header: 'Kind' },
  { key: 'priority', header: 'Priority' },
  { key: 'title', header: 'Title' },
  { key: 'body', header: 'Body' },
  { key: 'read', header: 'Read' },
  { key: 'data', header: 'Data' },
];

// ---------------------------------------------------------------------------------------------
// alerts

export const ALERT_COLUMNS: readonly ExportColumn[] = [
  { key: 'id', header: 'Id' },
  { key: 'raisedAt', header: 'Raised at' },
  { key: 'topic', header: 'Topic' },
  { key: 'rule', header: 'Rule' },
  { key: 'subject', header: 'Subject' },
  { key: 'severity', header: 'Severity' },
  { key: 'status', header: 'Status' },
  { key: 'title', header: 'Title' },
  { key: 'message', header: 'Message' },
  { key: 'assigneeId', header: 'Assignee' },
  { key: 'version', header: 'Version' },
  { key: 'updatedAt', header: 'Updated at' },
  { key: 'updatedBy', header: 'Updated by' },
];

/** The tenant's admins topic: its members are the tenant's admins (exportFailed tells them too). */
export const ADMINS_TOPIC = 'admins';

/**
 * May the requester export this topic's alerts? A member of the topic may, and so may a tenant
 * admin: by the `admin` role while calling, or at any time as a member of the tenant's `admins`
 * topic. A schedule is checked without roles (see Requester), at its creation as at every run, so
 * a schedule that is accepted is one its runs accept too, until the owner leaves the topic.
 */
export async function checkAlertAccess(memberships: Pick<MembershipStore, 'isMember'>, requester: Requester, filters: ExportFilters): Promise<void> {
  const topic = filters.topic;
  if (topic === undefined) throw new BadRequestError('filters.topic: required for dataset alerts, which exports the alerts of one topic', 'invalid_body');
  if (requester.roles?.includes('admin')) return;
  if (await memberships.isMember(requester.tenant, topic, requester.userId)) return;
  if (await memberships.isMember(requester.tenant, ADMINS_TOPIC, requester.userId)) return;
  throw new ForbiddenError(
    requester.roles === undefined
      ? `${requester.userId} is not a member of topic "${topic}" (nor of the tenant's "${ADMINS_TOPIC}" topic), so its alerts are not exported; ` +
          'a scheduled export runs without your token, so it needs one of those memberships'
      : `You are not a member of topic "${topic}", so you may not export its alerts`,
  );
}

// ---------------------------------------------------------------------------------------------
// records

/** The deployer's table behind `records` (cdk.json context `exportRecords`). */
export interface RecordsTable {
  readonly table: string;
  readonly tenantKey: string;
  readonly sortKey?: string;
  /** A role besides `admin` that may export records (cdk.json context `exportRecords.role`). */
  readonly role?: string;
}

/**
 * Records of the deployer's own table are not something a user made, so exporting them takes a role:
 * `admin`, or the deployer's `exportRecords.role`. It is checked while a user calls (preview,
 * schedule create and update, run now), with the roles of their token; a scheduled run has none.
 * A collection of Herald's own Records table takes no role: membership of its scope decides, as
 * it does for sync (checkCollectionAccess).
 */
export function assertMayExport(dataset: Dataset, filters: ExportFilters, roles: readonly string[], records: RecordsTable | undefined): void {
  if (dataset !== 'records' || isCollectionExport(filters)) return;
  if (!records) throw recordsNotConfigured();
  const allowed = ['admin', ...(records.role !== undefined && records.role !== 'admin' ? [records.role] : [])];
  if (roles.some((role) => allowed.includes(role))) return;
  throw new LimitExceededError(
    403,
    `Exporting the records dataset needs the ${allowed.map((role) => `"${role}"`).join(' or ')} role`,
    { name: 'recordsRole', allowed },
    'role_required',
  );
}

/** A date range is a key condition on the sort key; without one there is nothing to range over. */
export function checkRecordsFilters(table: RecordsTable, filters: ExportFilters): void {
  if (table.sortKey !== undefined) return;
  const field = filters.from !== undefined ? 'from' : filters.to !== undefined ? 'to' : undefined;
  if (field) {
    throw new BadRequestError(
      `filters.${field}: the records table has no sort key configured (cdk.json context "exportRecords.sortKey"), so it cannot be exported by date`,
      'invalid_body',
    );
  }
}

/** More named columns than this and the rest go to the `other` column: a sheet stays readable. */
export const MAX_RECORD_COLUMNS = 200;

export interface RecordsLayout {
  readonly columns: readonly ExportColumn[];
  /** The column holding, as JSON, attributes that have no column of their own. */
  readonly otherKey: string;
  toRow(item: Readonly<Record<string, unknown>>): ExportRow;
}

/**
 * Records have no fixed schema, yet a CSV or XLSX header is written before the first row, and
 * memory must not grow with the export. So the columns come from the first page alone: the sort
 * key first, then every other attribute name seen on that page, alphabetically (the first
 * MAX_RECORD_COLUMNS), then `other`, where each row keeps as JSON whatever has no column (an
 * attribute first seen on a later page). The tenant key is left out: it is always the caller's.
 */
export function recordsLayout(table: RecordsTable, firstPage: readonly Readonly<Record<string, unknown>>[]): RecordsLayout {
  const names = new Set<string>();
  for (const item of firstPage) for (const name of Object.keys(item)) names.add(name);
  names.delete(table.tenantKey);
  if (table.sortKey !== undefined) names.delete(table.sortKey);
  const rest = [...names].sort().slice(0, table.sortKey === undefined ? MAX_RECORD_COLUMNS : MAX_RECORD_COLUMNS - 1);
  const keys = [...(table.sortKey === undefined ? [] : [table.sortKey]), ...rest];
  // A record may have an attribute called `other`; the extras column then takes another name.
  let otherKey = 'other';
  while (keys.includes(otherKey) || otherKey === table.tenantKey) otherKey = `_${otherKey}`;
  const known = new Set(keys);
  return {
    columns: [...keys.map((key) => ({ key, header: key })), { key: otherKey, header: otherKey }],
    otherKey,
    toRow(item) {
      // No prototype: an attribute named __proto__ is data like any other.
      const row: ExportRow = Object.create(null) as ExportRow;
      let other: Record<string, unknown> | undefined;
      for (const [name, value] of Object.entries(item)) {
        if (name === table.tenantKey) continue;
        if (known.has(name)) row[name] = value;
        else (other ??= Object.create(null) as Record<string, unknown>)[name] = value;
      }
      if (other) row[otherKey] = other;
      return row;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// records: a collection of Herald's own Records table

/**
 * Does this `records` export read a collection of Herald's Records table rather than the
 * deployer's table? Either filter says so: one without the other is a 400 naming the missing one
 * (model.ts validateFilters), not a refusal for want of the deployer table's role.
 */
export function isCollectionExport(filters: ExportFilters): boolean {
  return filters.scope !== undefined || filters.collection !== undefined;
}

/**
 * May the requester export this collection of this scope? The collection must be one the
 * deployment declares (a typo would otherwise export an empty file on every firing), and the
 * requester must be a member of the scope, with or without roles: the rule sync itself applies,
 * and a scope they are not in answers 404 as sync does, so nothing about it leaks. Checked at
 * schedule create and update, at preview, and at every run (a member removed since is refused).
 */
export async function checkCollectionAccess(
  memberships: Pick<MembershipStore, 'isMember'>,
  declarations: CollectionDeclarations,
  requester: Requester,
  filters: ExportFilters,
): Promise<void> {
  const { scope, collection } = filters;
  if (scope === undefined || collection === undefined)
    throw new BadRequestError('filters.scope and filters.collection: a collection export names both', 'invalid_body');
  if (!Object.hasOwn(declarations, collection)) {
    const declared = Object.keys(declarations);
    throw new BadRequestError(
      `filters.collection: "${collection}" is not a record collection of this deployment` +
        (declared.length === 0 ? ' (it declares none, cdk.json context "recordCollections")' : ` (it declares ${declared.join(', ')})`),
      'invalid_body',
    );
  }
  if (await memberships.isMember(requester.tenant, scope, requester.userId)) return;
  throw new NotFoundError(
    requester.roles === undefined
      ? `No scope ${scope} that ${requester.userId} is a member of, so its records are not exported; a scheduled export runs without your token and needs that membership`
      : `No scope ${scope}`,
  );
}

/** The columns a collection's record has besides its fields. */
const RECORD_META_COLUMNS = ['version', 'updatedAt', 'updatedBy'] as const;

/** A record of a collection as the reader hands it over: a live record (no tombstone), its fields as stored. */
export interface CollectionRecord {
  readonly id: string;
  readonly version: number;
  readonly updatedAt: string;
  readonly updatedBy: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** A collection's columns, and each record as a row of them. */
export interface CollectionLayout {
  readonly columns: readonly ExportColumn[];
  toRow(record: CollectionRecord): ExportRow;
}

/**
 * A collection's records as rows, one column per field, with a header written before the first
 * row and memory that does not grow with the export: `id`, then the fields the collection
 * declares (in declaration order), then the other fields seen on the first page (alphabetically,
 * up to MAX_RECORD_COLUMNS columns in all), then `other` (JSON of any field without a column, such
 * as one first seen on a later page), then `version`, `updatedAt`, `updatedBy`. A field named like
 * one of those columns gets the column `fields.<name>` (a field name holds no dot, so it cannot clash).
 */
export function collectionLayout(declaredFields: readonly string[], firstPage: readonly CollectionRecord[]): CollectionLayout {
  const reserved = new Set<string>(['id', 'other', ...RECORD_META_COLUMNS]);
  const keyOf = (field: string) => (reserved.has(field) ? `fields.${field}` : field);
  const seen = new Set<string>();
  for (const record of firstPage) for (const field of Object.keys(record.fields)) if (!declaredFields.includes(field)) seen.add(field);
  const fields = [...declaredFields, ...[...seen].sort()].slice(0, MAX_RECORD_COLUMNS);
  const columnOf = new Map(fields.map((field) => [field, keyOf(field)]));
  const keys = ['id', ...columnOf.values(), 'other', ...RECORD_META_COLUMNS];
  return {
    columns: keys.map((key) => ({ key, header: key })),
    toRow(record) {
      // No prototype: a field named __proto__ is data like any other.
      const row: ExportRow = Object.create(null) as ExportRow;
      row.id = record.id;
      let other: Record<string, unknown> | undefined;
      for (const [field, value] of Object.entries(record.fields)) {
        const key = columnOf.get(field);
        if (key !== undefined) row[key] = value;
        else (other ??= Object.create(null) as Record<string, unknown>)[field] = value;
      }
      if (other) row.other = other;
      row.version = record.version;
      row.updatedAt = record.updatedAt;
      row.updatedBy = record.updatedBy;
      return row;
    },
  };
}

/** Counts rows as they pass, for progress and the run record. */
export async function* counted(rows: AsyncIterable<ExportRow>, onRow: (count: number) => void): AsyncGenerator<ExportRow> {
  let count = 0;
  for await (const row of rows) {
    onRow(++count);
    yield row;
  }
}
