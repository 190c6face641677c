import { BadRequestError, ForbiddenError, LimitExceededError } from '../shared/errors';
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
 * The source over the readers a function is given. A missing `records` reader is a deployment
 * without `exportRecords` context, which the caller hears as a 400 that says what to set; a
 * missing `alerts` reader is a function wired without the alerts table, a bug (500).
 */
export function datasetSource(readers: {
  readonly notifications: DatasetReader;
  readonly alerts?: DatasetReader;
  readonly records?: DatasetReader;
}): DatasetSource {
  const readerOf = (dataset: Dataset): DatasetReader => {
    const reader = readers[dataset];
    if (reader) return reader;
    if (dataset === 'records') throw recordsNotConfigured();
    throw new Error(`Dataset ${dataset} is not wired into this function`);
  };
  return {
    async check(dataset, requester, filters) {
      await readerOf(dataset).check?.(requester, filters);
    },
    async open(dataset, requester, filters, options) {
      const reader = readerOf(dataset);
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
 * Records are the deployer's own table, not something a user made, so exporting them takes a role:
 * `admin`, or the deployer's `exportRecords.role`. It is checked while a user calls (preview,
 * schedule create and update, run now), with the roles of their token; a scheduled run has none.
 */
export function assertMayExport(dataset: Dataset, roles: readonly string[], records: RecordsTable | undefined): void {
  if (dataset !== 'records') return;
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

/** Counts rows as they pass, for progress and the run record. */
export async function* counted(rows: AsyncIterable<ExportRow>, onRow: (count: number) => void): AsyncGenerator<ExportRow> {
  let count = 0;
  for await (const row of rows) {
    onRow(++count);
    yield row;
  }
}
