/**
 * The end of the line for a run: its message ran out of retries (SQS moved it to the exports DLQ)
 * or EventBridge Scheduler could not deliver the firing at all (its dead-letter config sends the
 * same message there). The run is marked `failed` with its last error, and the owner and the
 * tenant's admins hear of it through deliver(), once (dedupe key per run).
 */
import type { DeliveryRequest } from '../notifications/model';
import type { RunMessage } from './model';
import { recordRun, type ExportStore, type Owner } from './store';

export interface FailedDeps {
  readonly store: ExportStore;
  readonly notify: (requests: DeliveryRequest[]) => Promise<unknown>;
  /** The tenant's admins: members of its `admins` topic. */
  readonly admins: (tenant: string) => Promise<string[]>;
  readonly now?: () => Date;
}

export async function markRunFailed(deps: FailedDeps, message: RunMessage, deliveryError?: string): Promise<'failed' | 'already-final' | 'gone'> {
  const owner: Owner = { tenant: message.tenant, userId: message.owner };
  const schedule = await deps.store.getSchedule(owner, message.scheduleId);
  const { runId, scheduledAt, run } = await recordRun(deps.store, message);
  // A duplicate message of a run that another message completed also ends up here; leave it be.
  if (run.status === 'succeeded' || run.status === 'skipped') return 'already-final';
  const error = run.error ?? (deliveryError ? `Scheduler could not deliver the firing: ${deliveryError}` : 'The run failed on every retry');
  if (run.status !== 'failed') await deps.store.finishRun(owner, message.scheduleId, scheduledAt, 'failed', deps.now?.() ?? new Date(), error);
  await deps.store.releaseLease(owner, message.scheduleId, runId);
  const name = schedule?.name ?? message.scheduleId;
  const admins = (await deps.admins(owner.tenant)).filter((admin) => admin !== owner.userId);
  const content = {
    kind: 'export.failed',
    title: `Export failed: ${name}`.slice(0, 200),
    body: error.slice(0, 2_000),
    data: { runId, scheduleId: message.scheduleId, owner: owner.userId },
    priority: 'high' as const,
    dedupeKey: `export-failed.${runId}`,
  };
  await deps.notify([owner.userId, ...admins].map((userId) => ({ ...content, recipient: { tenant: owner.tenant, userId } })));
  return schedule ? 'failed' : 'gone';
}
