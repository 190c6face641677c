/**
 * Scheduled exports: what a schedule and a run are, the request bodies that make them, and the
 * ids that name them. Storage is behind ExportStore (store.ts); see docs/exports.md.
 */
import { ulid } from 'ulid';
import { statuses as ALERT_STATUSES } from '../alerts/model';
import { topicSchema } from '../protocol/frames';
import type { ExportRunView } from '../protocol/exports';
import { collectionNameSchema } from '../protocol/records';
import { emailAddressSchema } from '../shared/email';
import * as z from '../shared/validation';
import { EXPORT_FORMATS, type ExportFormat } from './formats';
import { scheduleInput, timeZoneName, type ScheduleInput } from './schedule';

export const DATASETS = ['notifications', 'alerts', 'records'] as const;
export type Dataset = (typeof DATASETS)[number];

export const NOTIFICATION_STATUSES = ['read', 'unread'] as const;
export { ALERT_STATUSES };

export const RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'skipped'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const MAX_RECIPIENTS = 50;

/** Which filters each dataset takes is checked by validateFilters, with the dataset in hand. */
export interface ExportFilters {
  /**
   * notifications: `read` or `unread` (`unread` reads the sparse unread index, a key condition);
   * alerts: `active`, `acknowledged` or `resolved`; records: none.
   */
  readonly status?: string;
  /** alerts only, and required there: an alert export is of one topic. */
  readonly topic?: string;
  /**
   * records only, both or neither: a collection of Herald's own Records table in a scope (a topic
   * the owner is a member of) instead of the deployer's table (docs/exports.md, "records").
   */
  readonly scope?: string;
  readonly collection?: string;
  /** ISO-8601 instants, inclusive from, exclusive to. */
  readonly from?: string;
  readonly to?: string;
}

export interface ExportSchedule {
  readonly id: string;
  readonly tenant: string;
  readonly owner: string;
  readonly name: string;
  readonly dataset: Dataset;
  readonly filters: ExportFilters;
  readonly format: ExportFormat;
  readonly schedule: ScheduleInput;
  /** The EventBridge Scheduler expression the schedule became. */
  readonly expression: string;
  readonly timezone: string;
  readonly recipients: readonly string[];
  /**
   * The owner's address from their token when they last wrote the schedule: a recipient the
   * worker allows without a preference address (recipients.ts).
   */
  readonly ownerEmail?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastRun?: RunSummary;
}

export interface RunSummary {
  readonly runId: string;
  readonly status: RunStatus;
  readonly scheduledAt: string;
  readonly finishedAt?: string;
}

/** A run as stored: what `GET /exports/runs/{id}` answers (docs/protocol.md), plus what only the worker needs. */
export interface ExportRun extends ExportRunView {
  readonly tenant: string;
  readonly status: RunStatus;
  /** S3 key of the file, once uploaded. */
  readonly objectKey?: string;
  /** The multipart upload under way, so a retry after a crash can abort it. */
  readonly uploadId?: string;
  /** The SQS message that claimed the run: its redeliveries may resume it, other messages may not. */
  readonly messageId?: string;
}

/** What the queue carries: one firing of one schedule. */
export interface RunMessage {
  readonly scheduleId: string;
  readonly tenant: string;
  readonly owner: string;
  readonly scheduledTime: string;
  readonly trigger: 'schedule' | 'manual';
}

const SAFE_ID = /^[A-Za-z0-9._:@+-]{1,128}$/;
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

export const runMessageSchema = z.strictObject({
  scheduleId: z.string().check(z.regex(ULID)),
  tenant: z.string().check(z.regex(SAFE_ID)),
  owner: z.string().check(z.regex(SAFE_ID)),
  scheduledTime: z.iso.datetime(),
  trigger: z.enum(['schedule', 'manual']),
});

/** An SQS body as a run message, or why it is not one: a message no retry can fix. */
export function parseRunMessage(body: string): { message: RunMessage } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { problem: 'not JSON' };
  }
  const parsed = runMessageSchema.safeParse(value);
  return parsed.success ? { message: parsed.data } : { problem: z.describeIssues(parsed.error) };
}

export function newScheduleId(now: Date): string {
  return ulid(now.getTime());
}

export function isScheduleId(id: string): boolean {
  return ULID.test(id);
}

/** `20260308T130000Z`: the scheduled time in a form that is safe in a URL and sorts as it should. */
function compactTime(iso: string): string {
  return new Date(iso)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}

function expandTime(compact: string): string | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(compact);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A run is named by its schedule and firing, so the same firing always names the same run. */
export function runIdOf(scheduleId: string, scheduledAt: string): string {
  return `${scheduleId}-${compactTime(scheduledAt)}`;
}

export function parseRunId(runId: string): { scheduleId: string; scheduledAt: string } | undefined {
  const [scheduleId = '', compact = '', extra] = runId.split('-');
  if (extra !== undefined || !isScheduleId(scheduleId)) return undefined;
  const scheduledAt = expandTime(compact);
  return scheduledAt ? { scheduleId, scheduledAt } : undefined;
}

/** Seconds precision, as <aws.scheduler.scheduled-time> is. */
export function normalizeTime(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// ---------------------------------------------------------------------------------------------
// Request bodies

const isoInstant = z.iso.datetime({ offset: true });

/** The shape only: which status values (and whether a topic) a dataset takes is validateFilters' job. */
export const filtersSchema = z.strictObject({
  status: z.optional(z.string().check(z.minLength(1), z.maxLength(32))),
  topic: z.optional(topicSchema),
  scope: z.optional(topicSchema),
  collection: z.optional(collectionNameSchema),
  from: z.optional(isoInstant),
  to: z.optional(isoInstant),
});

const nameSchema = z.string().check(
  z.minLength(1),
  z.maxLength(120),
  z.refine((value) => !/[\u0000-\u001F\u007F]/.test(value), { message: 'must not contain control characters' }),
);

export const createScheduleBody = z.strictObject({
  name: nameSchema,
  dataset: z.enum(DATASETS),
  filters: z.optional(filtersSchema),
  format: z.enum(EXPORT_FORMATS),
  schedule: scheduleInput,
  timezone: timeZoneName,
  recipients: z.array(emailAddressSchema).check(z.minLength(1), z.maxLength(MAX_RECIPIENTS)),
});
export type CreateScheduleBody = z.infer<typeof createScheduleBody>;

export const updateScheduleBody = z.strictObject({
  name: z.optional(nameSchema),
  filters: z.optional(filtersSchema),
  format: z.optional(z.enum(EXPORT_FORMATS)),
  schedule: z.optional(scheduleInput),
  timezone: z.optional(timeZoneName),
  recipients: z.optional(z.array(emailAddressSchema).check(z.minLength(1), z.maxLength(MAX_RECIPIENTS))),
});
export type UpdateScheduleBody = z.infer<typeof updateScheduleBody>;

export const previewBody = z.strictObject({
  dataset: z.enum(DATASETS),
  filters: z.optional(filtersSchema),
  limit: z.optional(z.int().check(z.minimum(1), z.maximum(50))),
});

const STATUSES_OF: Record<Dataset, readonly string[]> = {
  notifications: NOTIFICATION_STATUSES,
  alerts: ALERT_STATUSES,
  records: [],
};

function spoken(values: readonly string[]): string {
  return values.length < 2 ? values.join('') : `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
}

/**
 * What a dataset's filters must be, as a 400 message naming the field, or undefined when they are
 * fine. Only what the body alone decides: whether the deployment has a records table, or whether
 * the caller may read a topic, is the dataset source's check (datasets.ts).
 */
export function validateFilters(dataset: Dataset, filters: ExportFilters | undefined): string | undefined {
  if (filters?.from && filters.to && Date.parse(filters.from) >= Date.parse(filters.to)) return 'filters.to: must be after filters.from';
  const statuses = STATUSES_OF[dataset];
  if (filters?.status !== undefined && !statuses.includes(filters.status)) {
    return statuses.length === 0
      ? `filters.status: dataset ${dataset} takes no status filter`
      : `filters.status: dataset ${dataset} takes ${spoken(statuses)}, got "${filters.status}"`;
  }
  if (dataset === 'alerts' && filters?.topic === undefined) return 'filters.topic: required for dataset alerts, which exports the alerts of one topic';
  if (dataset !== 'alerts' && filters?.topic !== undefined) return `filters.topic: only dataset alerts takes a topic, not ${dataset}`;
  for (const field of ['scope', 'collection'] as const) {
    if (filters?.[field] !== undefined && dataset !== 'records') return `filters.${field}: only dataset records takes a ${field}, not ${dataset}`;
  }
  if ((filters?.scope === undefined) !== (filters?.collection === undefined)) {
    return filters?.scope === undefined
      ? 'filters.scope: required with filters.collection, which names a collection of one scope'
      : 'filters.collection: required with filters.scope, which exports one collection of the scope';
  }
  if (filters?.collection !== undefined) {
    const field = filters.from !== undefined ? 'from' : filters.to !== undefined ? 'to' : undefined;
    if (field) return `filters.${field}: a collection is exported whole, as it is now; it takes no date range`;
  }
  return undefined;
}

/**
 * `/exports/schedules/{id}` and `/exports/runs/{id}`. Any string is taken: an id that is not one
 * of the caller's answers 404 like a foreign one, so a malformed id tells nothing either.
 */
export const exportPathSchema = z.object({ id: z.string() });
