import { normalizeTime, runIdOf, type ExportRun, type ExportSchedule, type RunMessage, type RunStatus, type RunSummary } from './model';

/** Who owns a schedule and its runs: every key is under `tenant#owner`, so a foreign id finds nothing. */
export interface Owner {
  readonly tenant: string;
  readonly userId: string;
}

export type ClaimOutcome =
  | { readonly outcome: 'claimed'; readonly run: ExportRun }
  /** Finished, or claimed by another message (a duplicate): nothing to do. */
  | { readonly outcome: 'done'; readonly run: ExportRun };

export interface RunResult {
  readonly rows: number;
  readonly bytes: number;
  readonly durationMs: number;
  readonly objectKey: string;
  readonly fileExpiresAt: string;
}

/** Schedules, runs and the per-schedule lease, in the exports table (docs/exports.md). */
export interface ExportStore {
  /**
   * Writes a new schedule and takes one of its owner's `max` places, in one transaction; false,
   * having written nothing, when all the places are taken. Exact under any number of concurrent
   * creates (docs/exports.md, "Limits").
   */
  createSchedule(schedule: ExportSchedule, max: number): Promise<boolean>;
  /** Writes a changed schedule's fields; false, writing nothing, when the schedule is gone. */
  replaceSchedule(schedule: ExportSchedule): Promise<boolean>;
  getSchedule(owner: Owner, id: string): Promise<ExportSchedule | undefined>;
  listSchedules(owner: Owner): Promise<ExportSchedule[]>;
  /** Deletes the schedule and gives its place back, in one transaction; false when the schedule does not exist. */
  deleteSchedule(owner: Owner, id: string): Promise<boolean>;
  /**
   * Takes one of the owner's `max` run-now slots of the minute `now` falls in; false when they are
   * all taken.
   */
  takeRunNowSlot(owner: Owner, now: Date, max: number): Promise<boolean>;

  /** Writes a `queued` run unless one exists for that firing; returns the stored run. */
  createRun(run: ExportRun): Promise<{ created: boolean; run: ExportRun }>;
  getRun(owner: Owner, scheduleId: string, scheduledAt: string): Promise<ExportRun | undefined>;
  listRuns(owner: Owner, scheduleId: string, limit: number): Promise<ExportRun[]>;
  /**
   * Makes the run `running` for `messageId`: allowed when it is queued and unclaimed, or already
   * claimed by this same message (a redelivery after a failed or crashed attempt).
   */
  claimRun(owner: Owner, scheduleId: string, scheduledAt: string, messageId: string, now: Date): Promise<ClaimOutcome>;
  /**
   * The schedule's lease: at most one run holds it until `until`. False when another run holds an
   * unexpired lease (or the schedule is gone).
   */
  acquireLease(owner: Owner, scheduleId: string, runId: string, now: Date, until: Date): Promise<boolean>;
  releaseLease(owner: Owner, scheduleId: string, runId: string): Promise<void>;
  updateRun(owner: Owner, scheduleId: string, scheduledAt: string, fields: Partial<Pick<ExportRun, 'uploadId' | 'error'>>): Promise<void>;
  /** Records the uploaded file (the run stays `running` until emailed and notified). */
  recordFile(owner: Owner, scheduleId: string, scheduledAt: string, result: RunResult): Promise<void>;
  /** Sets `emailedAt` unless set: true for the one caller that may send the email. */
  markEmailed(owner: Owner, scheduleId: string, scheduledAt: string, now: Date): Promise<boolean>;
  /** Undoes markEmailed after a send that failed, so a retry may send. */
  unmarkEmailed(owner: Owner, scheduleId: string, scheduledAt: string): Promise<void>;
  /** Final states: succeeded, failed or skipped, with the schedule's lastRun updated too. */
  finishRun(
    owner: Owner,
    scheduleId: string,
    scheduledAt: string,
    status: Extract<RunStatus, 'succeeded' | 'failed' | 'skipped'>,
    now: Date,
    error?: string,
  ): Promise<void>;
  /** A failed attempt: back to `queued` with its error, for the queue's next retry. */
  failAttempt(owner: Owner, scheduleId: string, scheduledAt: string, error: string): Promise<void>;
  setLastRun(owner: Owner, scheduleId: string, summary: RunSummary): Promise<void>;
}

/**
 * The run record of one firing, created `queued` unless it exists: a firing always names the same
 * run (schedule id + scheduled time), which is what makes duplicate messages no-ops.
 */
export async function recordRun(store: ExportStore, message: RunMessage): Promise<{ runId: string; scheduledAt: string; run: ExportRun }> {
  const scheduledAt = normalizeTime(message.scheduledTime);
  const runId = runIdOf(message.scheduleId, scheduledAt);
  const { run } = await store.createRun({
    runId,
    scheduleId: message.scheduleId,
    tenant: message.tenant,
    owner: message.owner,
    scheduledAt,
    trigger: message.trigger,
    status: 'queued',
    attempts: 0,
  });
  return { runId, scheduledAt, run };
}
