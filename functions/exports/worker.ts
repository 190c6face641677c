/**
 * One export run, from a queue message to an emailed link. Every step is safe to repeat, because
 * a message may arrive twice and a failed attempt comes back:
 *
 * 1. The run record, keyed by (schedule, scheduled time), is created once; the first message to
 *    claim it owns it. A different message for the same firing (a duplicate) is a no-op, and a
 *    redelivery of the owning message (a retry after a failure or crash) resumes it.
 * 2. The schedule's lease admits one run at a time; a run that finds it held is `skipped`.
 * 3. Rows stream from DynamoDB pages through the formatter into an S3 multipart upload; the
 *    upload id is recorded, so an attempt that crashed mid-upload is aborted by the next one.
 * 4. The email goes out at most once (a conditional `emailedAt`), the owner's "export ready"
 *    notification once (deliver()'s dedupe key), and only then is the run `succeeded`. Recipients
 *    SES refuses (`EmailRejected`) do not fail the run: the others still get the email, and the
 *    succeeded run records the refused ones in `error` (docs/exports.md, "Email refusals").
 *
 * Opening the dataset checks again that the owner may read it (an alerts topic they have left, a
 * records table the deployment no longer names): a refusal fails the run at once with its reason
 * and tells the owner, since retrying cannot change the answer.
 */
import { HeraldError } from '../shared/errors';
import { countMetric, logger } from '../shared/instrumentation';
import type { DeliveryRequest } from '../notifications/model';
import { counted, type DatasetSource } from './datasets';
import { EmailRejected, type Mailer } from '../shared/email';
import { readyEmail } from './email';
import { contentTypeOf, fileExtensionOf, formatChunks, type ExportColumn, type ExportFormat, type ExportRow } from './formats';
import { downloadUrl, signLink } from './links';
import type { ExportReadyData } from '../protocol/exports';
import type { ExportRun, ExportSchedule, RunMessage } from './model';
import { recordRun, type ExportStore, type Owner } from './store';
import { refusedRecipients, type RecipientPolicy } from './recipients';

/** A file's content as the formatters make it: text (written as UTF-8) and bytes, in order. */
export type FileChunks = AsyncIterable<string | Uint8Array>;

export interface ExportFiles {
  /**
   * Streams `body` to `key`, pulling the next chunk only when there is room for it, and answers
   * the file's size; `onUploadId` hears the multipart upload's id as soon as it exists (awaited).
   * A failure aborts the upload before it is thrown.
   */
  upload(key: string, body: FileChunks, contentType: string, onUploadId: (uploadId: string) => unknown): Promise<{ bytes: number }>;
  /** Idempotent: an upload already completed or aborted is fine. */
  abortUpload(key: string, uploadId: string): Promise<void>;
  presign(key: string): Promise<string>;
}

export interface ProgressFrame {
  readonly jobId: string;
  readonly done: number;
  readonly total?: number;
  readonly version: number;
}

/** Sends `progress` frames to the owner's open sockets; best effort, never fails the run. */
export interface ProgressSink {
  send(owner: Owner, frame: ProgressFrame): Promise<void>;
}

export interface WorkerDeps {
  readonly store: ExportStore;
  readonly datasets: DatasetSource;
  readonly files: ExportFiles;
  readonly mailer: Mailer;
  /** deliver() with its dependencies bound: the only way to tell a user. */
  readonly notify: (requests: DeliveryRequest[]) => Promise<unknown>;
  readonly progress: ProgressSink;
  readonly linkKey: Buffer;
  /** Who may receive the email, checked again at each run (a schedule may predate the limits). */
  readonly recipients: RecipientPolicy;
  readonly httpApiUrl: string;
  readonly retentionDays: number;
  /** How long a run may hold its schedule's lease: the worker's timeout, after which it is dead. */
  readonly leaseSeconds: number;
  readonly now?: () => Date;
  /** @default 1000 */
  readonly progressIntervalMs?: number;
}

export type RunOutcome = 'succeeded' | 'skipped' | 'duplicate' | 'gone' | 'refused';

/** The dataset refused the owner: a final answer, not a failure to retry. */
class RunRefused extends Error {
  override name = 'RunRefused';
}

export function objectKeyOf(run: Pick<ExportRun, 'tenant' | 'owner' | 'runId'>, schedule: Pick<ExportSchedule, 'format'>): string {
  return `${run.tenant}/${run.owner}/${run.runId}${fileExtensionOf(schedule.format)}`;
}

export async function runExport(deps: WorkerDeps, message: RunMessage, messageId: string): Promise<RunOutcome> {
  const clock = () => deps.now?.() ?? new Date();
  const owner: Owner = { tenant: message.tenant, userId: message.owner };
  const schedule = await deps.store.getSchedule(owner, message.scheduleId);
  if (!schedule) {
    // Deleted after the firing was sent: nothing to export, and no one left to tell.
    logger.info('Export schedule no longer exists', { scheduleId: message.scheduleId });
    return 'gone';
  }
  const { runId, scheduledAt } = await recordRun(deps.store, message);
  const claim = await deps.store.claimRun(owner, schedule.id, scheduledAt, messageId, clock());
  if (claim.outcome === 'done') {
    logger.info('Export run already handled by another message', { runId, status: claim.run.status });
    return 'duplicate';
  }
  const started = clock();
  if (!(await deps.store.acquireLease(owner, schedule.id, runId, started, new Date(started.getTime() + deps.leaseSeconds * 1000)))) {
    await deps.store.finishRun(owner, schedule.id, scheduledAt, 'skipped', clock(), 'Another run of this schedule was still in progress');
    return 'skipped';
  }
  try {
    let run = claim.run;
    const key = objectKeyOf(run, schedule);
    if (run.objectKey === undefined) {
      if (run.uploadId) await deps.files.abortUpload(key, run.uploadId); // left by a crashed attempt
      run = { ...run, ...(await uploadFile(deps, schedule, run, key, started)) };
    }
    const unsent = await emailOnce(deps, schedule, run, owner);
    await deps.notify([
      {
        recipient: owner,
        kind: 'export.ready',
        title: `Export ready: ${schedule.name}`.slice(0, 200),
        body: `${run.rows ?? 0} rows, ${schedule.format.toUpperCase()}${unsent.length === 0 ? '' : `. Not emailed to: ${unsent.map(({ to }) => to).join(', ')}`}`.slice(
          0,
          2_000,
        ),
        // The owner's own link, so an app can offer the download without the email (the demo's exports page).
        data: {
          runId,
          scheduleId: schedule.id,
          rows: run.rows ?? 0,
          downloadUrl: linkOf(deps, run),
          ...(unsent.length > 0 && { notEmailed: unsent.length }),
        } satisfies ExportReadyData,
        priority: 'normal',
        dedupeKey: `export-ready.${runId}`,
      },
    ]);
    await deps.store.finishRun(
      owner,
      schedule.id,
      scheduledAt,
      'succeeded',
      clock(),
      unsent.length === 0 ? undefined : unsentText(unsent, schedule.recipients.length),
    );
    return 'succeeded';
  } catch (error) {
    // A refusal whose notice could not be given is retried like any failed attempt.
    const failure =
      error instanceof RunRefused
        ? await refuse(deps, schedule, runId, scheduledAt, owner, error.message).then(
            () => undefined,
            (cause: unknown) => cause,
          )
        : error;
    if (failure === undefined) return 'refused';
    await deps.store.failAttempt(owner, schedule.id, scheduledAt, errorText(failure));
    throw failure;
  } finally {
    await deps.store.releaseLease(owner, schedule.id, runId);
  }
}

async function uploadFile(
  deps: WorkerDeps,
  schedule: ExportSchedule,
  run: ExportRun,
  key: string,
  started: Date,
): Promise<Pick<ExportRun, 'rows' | 'bytes' | 'objectKey' | 'fileExpiresAt'>> {
  const owner: Owner = { tenant: run.tenant, userId: run.owner };
  const interval = deps.progressIntervalMs ?? 1_000;
  let rows = 0;
  let version = 0;
  let lastProgress = 0;
  let inFlight: Promise<void> | undefined;
  const report = (done: number, total?: number) => {
    // One frame at a time, at most one per interval: a slow socket never slows the export.
    if (inFlight) return;
    inFlight = deps.progress
      .send(owner, { jobId: run.runId, done, ...(total === undefined ? {} : { total }), version: ++version })
      .catch((error: unknown) => logger.warn('Progress push failed', { error: error as Error }))
      .finally(() => (inFlight = undefined));
  };
  const dataset = await deps.datasets.open(schedule.dataset, owner, schedule.filters, { readAhead: true }).catch((error: unknown) => {
    throw error instanceof HeraldError && error.status < 500 ? new RunRefused(error.message) : error;
  });
  const source = counted(dataset.rows, (count) => {
    rows = count;
    const now = Date.now();
    if (now - lastProgress >= interval) {
      lastProgress = now;
      report(count);
    }
  });
  const { bytes } = await streamToFile(deps.files, key, schedule.format, dataset.columns, source, (uploadId) =>
    deps.store
      .updateRun(owner, run.scheduleId, run.scheduledAt, { uploadId })
      .catch((error: unknown) => logger.warn('Could not record upload id', { error: error as Error })),
  );
  await inFlight;
  report(rows, rows);
  await inFlight;
  const finished = deps.now?.() ?? new Date();
  const fileExpiresAt = new Date(finished.getTime() + deps.retentionDays * 86_400_000).toISOString();
  const result = { rows, bytes, durationMs: finished.getTime() - started.getTime(), objectKey: key, fileExpiresAt };
  await deps.store.recordFile(owner, run.scheduleId, run.scheduledAt, result);
  return result;
}

/**
 * Rows through the formatter into one multipart upload, pulled only as fast as the upload reads.
 * Exported so bench/exports.ts measures exactly this path.
 */
export async function streamToFile(
  files: ExportFiles,
  key: string,
  format: ExportFormat,
  columns: readonly ExportColumn[],
  rows: AsyncIterable<ExportRow>,
  onUploadId: (uploadId: string) => unknown,
): Promise<{ bytes: number }> {
  // The text formats' strings go to the upload as they are, which encodes them straight into its part buffers.
  return files.upload(key, formatChunks(format, columns, rows), contentTypeOf(format), onUploadId);
}

/**
 * The owner hears first, then the run is final: a crash in between retries, and the retry's
 * notification is deduplicated (the same key exportFailed uses, so there is one either way).
 */
async function refuse(deps: WorkerDeps, schedule: ExportSchedule, runId: string, scheduledAt: string, owner: Owner, reason: string): Promise<void> {
  const error = `Refused: ${reason}`.slice(0, 500);
  logger.info('Export run refused', { runId, reason });
  await deps.notify([
    {
      recipient: owner,
      kind: 'export.failed',
      title: `Export failed: ${schedule.name}`.slice(0, 200),
      body: error,
      data: { runId, scheduleId: schedule.id, owner: owner.userId },
      priority: 'high',
      dedupeKey: `export-failed.${runId}`,
    },
  ]);
  await deps.store.finishRun(owner, schedule.id, scheduledAt, 'failed', deps.now?.() ?? new Date(), error);
}

/**
 * A recipient who did not get the email: SES refused them (`rejected`), a send failed after others
 * had gone out, or Herald did not send to them because they are no longer an allowed recipient
 * (`notAllowed`, docs/exports.md "Limits").
 */
export interface Unsent {
  readonly to: string;
  readonly rejected: boolean;
  readonly notAllowed?: boolean;
  readonly reason: string;
}

/** The run's download link, valid as long as its file (docs/exports.md, "Download links"). */
function linkOf(deps: WorkerDeps, run: ExportRun): string {
  const exp = Math.floor(Date.parse(run.fileExpiresAt!) / 1000);
  return downloadUrl(deps.httpApiUrl, run.runId, signLink(deps.linkKey, { runId: run.runId, tenant: run.tenant, owner: run.owner, exp }));
}

/**
 * Sends the email once per run, one message per recipient, and answers whom it did not reach. A
 * throttled send is retried by the SES client itself (the SDK's standard retries) before it counts
 * as failed.
 */
async function emailOnce(deps: WorkerDeps, schedule: ExportSchedule, run: ExportRun, owner: Owner): Promise<Unsent[]> {
  if (!(await deps.store.markEmailed(owner, schedule.id, run.scheduledAt, deps.now?.() ?? new Date()))) return [];
  const expiresAt = run.fileExpiresAt!;
  const email = readyEmail({
    scheduleName: schedule.name,
    rows: run.rows ?? 0,
    bytes: run.bytes ?? 0,
    format: schedule.format,
    scheduledAt: run.scheduledAt,
    link: linkOf(deps, run),
    expiresAt,
    recipients: schedule.recipients,
  });
  const unmark = () => deps.store.unmarkEmailed(owner, schedule.id, run.scheduledAt);
  // Recipients are checked again: the schedule may predate the limits, or a user may have left the
  // tenant or changed their address. A refused one is skipped and recorded, never silently.
  let refused: string[];
  try {
    refused = await refusedRecipients(deps.recipients, owner.tenant, email.to, schedule.ownerEmail);
  } catch (error) {
    await unmark();
    throw error;
  }
  const unsent: Unsent[] = refused.map((to) => ({ to, rejected: false, notAllowed: true, reason: 'not an allowed recipient' }));
  // One email per recipient: nobody sees another recipient's address, and a recipient SES refuses
  // (the sandbox's unverified addresses) costs only that recipient their copy.
  let sent = 0;
  for (const to of email.to.filter((address) => !refused.includes(address))) {
    try {
      await deps.mailer.send({ ...email, to: [to] });
      sent++;
    } catch (error) {
      if (error instanceof EmailRejected) {
        unsent.push({ to, rejected: true, reason: error.reason });
      } else if (sent === 0) {
        // Nothing went out yet: the retry starts over. (Sent but unanswered is the one case that can send twice.)
        await unmark();
        throw error;
      } else {
        // Some recipients have it, and a retry would send them a second copy: record the rest.
        unsent.push({ to, rejected: false, reason: errorText(error) });
      }
    }
  }
  if (unsent.length === 0) return unsent;
  const rejected = unsent.filter((entry) => entry.rejected).length;
  if (rejected > 0) countMetric('ExportEmailsRejected', rejected);
  if (refused.length > 0) countMetric('ExportRecipientsNotAllowed', refused.length);
  const failed = unsent.length - rejected - refused.length;
  if (failed > 0) countMetric('ExportEmailsFailed', failed);
  logger.warn('Export email not sent to every recipient', {
    runId: run.runId,
    recipients: email.to.length,
    rejected,
    notAllowed: refused.length,
    failed,
    reason: unsent[0]!.reason,
  });
  return unsent;
}

/**
 * What a succeeded run records in `error` about the recipients it did not reach, at most 500
 * characters: `EmailRejected: SES refused the email to 1 of 3 recipients: b@example.com (<SES's
 * reason>)`, with `; not sent to …` for sends that failed otherwise (`EmailFailed:` when only those).
 * Recipients no longer allowed come first, and make it `RecipientNotAllowed:`.
 */
export function unsentText(unsent: readonly Unsent[], recipients: number): string {
  const rejected = unsent.filter((entry) => entry.rejected);
  const notAllowed = unsent.filter((entry) => entry.notAllowed);
  const failed = unsent.filter((entry) => !entry.rejected && !entry.notAllowed);
  const parts = [
    ...(notAllowed.length > 0
      ? [
          `not sent to ${notAllowed.length} of ${recipients} recipients, no longer allowed (not a user of the tenant, nor at an allowed domain): ${notAllowed.map(({ to }) => to).join(', ')}`,
        ]
      : []),
    ...(rejected.length > 0
      ? [`SES refused the email to ${rejected.length} of ${recipients} recipients: ${rejected.map(({ to }) => to).join(', ')} (${rejected[0]!.reason})`]
      : []),
    ...(failed.length > 0 ? [`not sent to ${failed.map(({ to }) => to).join(', ')} (${failed[0]!.reason})`] : []),
  ];
  const code = notAllowed.length > 0 ? 'RecipientNotAllowed' : rejected.length > 0 ? 'EmailRejected' : 'EmailFailed';
  return `${code}: ${parts.join('; ')}`.slice(0, 500);
}

export function errorText(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, 500);
}
