/**
 * The HTTP shapes of scheduled exports and preferences as an app sees them (docs/protocol.md,
 * docs/exports.md). Types only: the handlers check their answers against them (`satisfies`) and
 * the demo app (web/demo) reads them, so the two cannot drift apart.
 */

export type ExportDataset = 'notifications' | 'alerts' | 'records';
export type ExportFormat = 'csv' | 'ndjson' | 'json' | 'xlsx';
export type ExportRunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'skipped';
export type ExportWeekday = 'MON' | 'TUE' | 'WED' | 'THU' | 'FRI' | 'SAT' | 'SUN';

/** When a schedule fires: exactly one of an EventBridge cron (six fields), a rate, or a preset. */
export type ExportScheduleInput =
  | { cron: string }
  | { rate: string }
  | { preset: 'daily'; at: string }
  | { preset: 'weekly'; at: string; weekday?: ExportWeekday }
  | { preset: 'monthly'; at: string; dayOfMonth?: number };

export interface ExportFilters {
  readonly status?: string;
  readonly topic?: string;
  readonly from?: string;
  readonly to?: string;
}

/** `POST /exports/schedules`. */
export interface CreateExportSchedule {
  readonly name: string;
  readonly dataset: ExportDataset;
  readonly filters?: ExportFilters;
  readonly format: ExportFormat;
  readonly schedule: ExportScheduleInput;
  readonly timezone: string;
  readonly recipients: readonly string[];
}

/** A schedule as `POST`, `GET` and `PATCH /exports/schedules…` answer it. */
export interface ExportScheduleView {
  readonly id: string;
  readonly name: string;
  readonly dataset: ExportDataset;
  readonly filters: ExportFilters;
  readonly format: ExportFormat;
  readonly schedule: ExportScheduleInput;
  /** The EventBridge Scheduler expression the schedule became. */
  readonly expression: string;
  readonly timezone: string;
  readonly recipients: readonly string[];
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly lastRun?: { readonly runId: string; readonly status: ExportRunStatus; readonly scheduledAt: string; readonly finishedAt?: string };
  /** The next firing, or null when there is none (an `at` in the past). */
  readonly nextRunAt: string | null;
}

/** A run as `GET /exports/runs/{id}` and `GET /exports/schedules/{id}/runs` answer it. */
export interface ExportRunView {
  readonly runId: string;
  readonly scheduleId: string;
  readonly owner: string;
  /** The firing this run is for: the scheduled time, or the request time of a run-now. */
  readonly scheduledAt: string;
  readonly trigger: 'schedule' | 'manual';
  readonly status: ExportRunStatus;
  readonly attempts: number;
  readonly rows?: number;
  readonly bytes?: number;
  readonly durationMs?: number;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly error?: string;
  /** When the file (and so its link) expires. */
  readonly fileExpiresAt?: string;
  readonly emailedAt?: string;
}

/** `POST /exports/schedules/{id}/run`: 202; the run's `progress` frames carry this id as `jobId`. */
export interface ExportRunStarted {
  readonly runId: string;
}

/** The `data` of the owner's `export.ready` notification. */
export interface ExportReadyData {
  readonly runId: string;
  readonly scheduleId: string;
  readonly rows: number;
  /** The owner's own download link, valid as long as the file. */
  readonly downloadUrl: string;
  /** Recipients the email did not reach (docs/exports.md, "Email refusals"). */
  readonly notEmailed?: number;
}

/** `GET` and `PUT /me/preferences`. */
export interface PreferencesBody {
  readonly kinds: Readonly<Record<string, { readonly inApp?: boolean; readonly email?: boolean }>>;
  readonly muted: boolean;
  readonly email?: string;
}
