import type { Priority } from '../notifications/model';
import { topicSchema } from '../protocol/frames';
import * as z from '../shared/validation';

export const severities = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof severities)[number];

/** `active` and `acknowledged` are open: only one open alert per (tenant, rule, subject). */
export const statuses = ['active', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof statuses)[number];

/** What the last write did; the fan-out names its notifications after it. */
export const changes = ['raised', 'acknowledged', 'reopened', 'resolved', 'reassigned'] as const;
export type AlertChange = (typeof changes)[number];

export interface Alert {
  readonly tenant: string;
  /** A ULID: time-ordered, unguessable enough to be no hint of another tenant's ids. */
  readonly id: string;
  readonly topic: string;
  readonly rule: string;
  readonly subject: string;
  readonly severity: Severity;
  readonly title: string;
  readonly message?: string;
  readonly assigneeId?: string;
  readonly status: AlertStatus;
  /** Starts at 1 and grows by one with each change: the ETag, and part of each notification's dedupe key. */
  readonly version: number;
  readonly change: AlertChange;
  /** The assignee before a reassignment, so the fan-out can tell them too. */
  readonly previousAssigneeId?: string;
  readonly raisedAt: string;
  readonly raisedBy: string;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

export const alertLimits = { rule: 128, subject: 256, title: 200, message: 2_000 } as const;

const userIdSchema = z.string().check(z.regex(/^[A-Za-z0-9._:@+-]{1,128}$/, 'must be 1-128 letters, digits or ._:@+-'));
/** Printable text without line breaks: rule and subject are identifiers, and end up in keys. */
const identifier = (max: number) =>
  z.string().check(z.minLength(1), z.maxLength(max), z.regex(/^[^\u0000-\u001F\u007F]+$/, 'must not contain control characters'));

export const raiseAlertSchema = z.strictObject({
  topic: topicSchema,
  rule: identifier(alertLimits.rule),
  subject: identifier(alertLimits.subject),
  severity: z.enum(severities),
  title: z.string().check(z.minLength(1), z.maxLength(alertLimits.title)),
  message: z.optional(z.string().check(z.maxLength(alertLimits.message))),
  assigneeId: z.optional(userIdSchema),
});
export type RaiseAlertInput = z.infer<typeof raiseAlertSchema>;

/** PATCH: acknowledge, resolve, reopen (status) and reassign (assigneeId, null to unassign). */
export const updateAlertSchema = z.strictObject({
  status: z.optional(z.enum(statuses)),
  assigneeId: z.optional(z.nullable(userIdSchema)),
});
export type UpdateAlertInput = z.infer<typeof updateAlertSchema>;

const ALERT_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
export const alertIdSchema = z.string().check(z.regex(ALERT_ID, 'must be an alert id (a ULID)'));

/** `/alerts/{id}`. */
export const alertPathSchema = z.object({ id: alertIdSchema });

export const MAX_LIST_LIMIT = 100;

export const listAlertsQuerySchema = z.strictObject({
  topic: topicSchema,
  status: z.optional(z.enum(statuses)),
  limit: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(MAX_LIST_LIMIT)), 50),
  cursor: z.optional(z.string().check(z.maxLength(2048))),
});

/** Alert severity as notification priority: critical stays critical, so it gets through a mute. */
export function priorityOf(severity: Severity): Priority {
  return severity === 'critical' ? 'critical' : severity === 'high' ? 'high' : 'normal';
}

/** The alert as the API and the live topic event show it. */
export function alertView(alert: Alert) {
  const { tenant: _tenant, previousAssigneeId: _previous, ...view } = alert;
  return view;
}

/**
 * An alert item as the stream delivers it. Anything else with `kind: alert` (a hand-written item,
 * a bug) fails here and goes the poison route: retried, then recorded in the failure queue.
 */
export const storedAlertSchema = z.object({
  ...raiseAlertSchema.shape,
  tenant: z.string().check(z.minLength(1)),
  id: alertIdSchema,
  status: z.enum(statuses),
  version: z.number().check(z.int(), z.minimum(1)),
  change: z.enum(changes),
  previousAssigneeId: z.optional(z.string()),
  raisedAt: z.string(),
  raisedBy: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
