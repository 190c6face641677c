/**
 * The schedule API: each export schedule is an item in the exports table and an EventBridge
 * Scheduler schedule that sends its firings to the exports queue. Every read is under the
 * caller's own `tenant#user` key, so another tenant's (or user's) id answers 404.
 */
import { BadRequestError, LimitExceededError, NotFoundError } from '../shared/errors';
import {
  isScheduleId,
  newScheduleId,
  parseRunId,
  validateFilters,
  type CreateScheduleBody,
  type Dataset,
  type ExportFilters,
  type ExportRun,
  type ExportSchedule,
  type RunMessage,
  type UpdateScheduleBody,
} from './model';
import { assertMayExport, type DatasetSource, type RecordsTable } from './datasets';
import { recipientsRefused, refusedRecipients, type RecipientPolicy } from './recipients';
import { nextRunAt, toScheduleExpression } from './schedule';
import type { ExportRunStarted, ExportRunView, ExportScheduleView } from '../protocol/exports';
import { recordRun, type ExportStore, type Owner } from './store';
import type { Caller } from '../shared/caller';
import { EXPORT_QUOTAS } from './limits';

/** The Scheduler schedule of an export schedule (functions/adapters/eventbridge-scheduler.ts). */
export interface ScheduleGateway {
  /** Creates or replaces the schedule that fires `schedule` into the exports queue. */
  put(schedule: ExportSchedule, mode: 'create' | 'update'): Promise<void>;
  /** Idempotent: a schedule already gone is fine. */
  delete(scheduleId: string): Promise<void>;
}

/** Sends a run message to the exports queue (run now). */
export interface RunQueue {
  send(message: RunMessage): Promise<void>;
}

export interface ScheduleServiceDeps {
  readonly store: ExportStore;
  readonly now?: () => Date;
}

/**
 * The deployer's export limits that need more than the store (docs/exports.md, "Limits"): who may
 * receive an export, and the records table, whose export takes a role.
 */
export interface ExportRules {
  readonly recipients: RecipientPolicy;
  readonly records: RecordsTable | undefined;
}

/**
 * What creating or changing a schedule needs besides the store: its Scheduler schedule, the
 * dataset's check and the export rules.
 */
export interface ScheduleWriteDeps extends ScheduleServiceDeps {
  readonly scheduler: ScheduleGateway;
  readonly datasets: Pick<DatasetSource, 'check'>;
  readonly rules: ExportRules;
}

export interface ScheduleView extends ExportSchedule {
  readonly nextRunAt: string | null;
}

export function scheduleView(schedule: ExportSchedule, now: Date): ScheduleView {
  // Scheduler anchors a rate at the schedule's creation; cron and presets at the wall clock.
  const next = nextRunAt(schedule.expression, schedule.timezone, now, new Date(schedule.createdAt));
  return { ...schedule, nextRunAt: next ? next.toISOString() : null } satisfies ExportScheduleView;
}

export function runView(run: ExportRun): ExportRunView {
  const { messageId: _message, uploadId: _upload, objectKey: _key, tenant: _tenant, ...view } = run;
  return view;
}

/**
 * The filters' rules (400), then the dataset's own check: configured here, and readable by the
 * owner. Without the caller's roles: a run has none, and a schedule should be refused now rather
 * than accepted and then fail at every run.
 */
async function assertFilters(deps: ScheduleWriteDeps, owner: Owner, dataset: Dataset, filters: ExportFilters): Promise<void> {
  const problem = validateFilters(dataset, filters);
  if (problem) throw new BadRequestError(problem, 'invalid_body');
  await deps.datasets.check(dataset, { tenant: owner.tenant, userId: owner.userId }, filters);
}

/** Recipients outside the tenant's users and the allowed domains answer 400, naming each. */
async function assertRecipients(deps: ScheduleWriteDeps, caller: Caller, recipients: readonly string[]): Promise<void> {
  const refused = await refusedRecipients(deps.rules.recipients, caller.tenant, recipients, caller.email);
  if (refused.length > 0) throw recipientsRefused(refused, deps.rules.recipients.allowedDomains);
}

const lowercased = (recipients: readonly string[]) => [...new Set(recipients.map((address) => address.toLowerCase()))];

export async function createSchedule(deps: ScheduleWriteDeps, caller: Caller, body: CreateScheduleBody): Promise<ScheduleView> {
  const owner: Owner = { tenant: caller.tenant, userId: caller.userId };
  // The role first: a records export by someone without it is refused whatever its filters.
  assertMayExport(body.dataset, body.filters ?? {}, caller.roles, deps.rules.records);
  await assertFilters(deps, owner, body.dataset, body.filters ?? {});
  await assertRecipients(deps, caller, body.recipients);
  const now = deps.now?.() ?? new Date();
  const schedule: ExportSchedule = {
    id: newScheduleId(now),
    tenant: owner.tenant,
    owner: owner.userId,
    name: body.name,
    dataset: body.dataset,
    filters: body.filters ?? {},
    format: body.format,
    schedule: body.schedule,
    expression: toScheduleExpression(body.schedule),
    timezone: body.timezone,
    recipients: lowercased(body.recipients),
    ...(caller.email !== undefined && { ownerEmail: caller.email }),
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
  };
  // The item first, with its place in the quota: a firing that finds no item is dropped, whereas a
  // schedule without a Scheduler schedule would silently never run. A failed Scheduler create
  // deletes the item again and gives its place back, in one transaction.
  if (!(await deps.store.createSchedule(schedule, EXPORT_QUOTAS.schedulesPerUser))) {
    throw new LimitExceededError(403, `At most ${EXPORT_QUOTAS.schedulesPerUser} export schedules per user; delete one first`, {
      name: 'schedulesPerUser',
      max: EXPORT_QUOTAS.schedulesPerUser,
    });
  }
  try {
    await deps.scheduler.put(schedule, 'create');
  } catch (error) {
    await deps.store.deleteSchedule(owner, schedule.id);
    throw error;
  }
  return scheduleView(schedule, now);
}

export async function getSchedule(deps: ScheduleServiceDeps, owner: Owner, id: string): Promise<ExportSchedule> {
  const schedule = isScheduleId(id) ? await deps.store.getSchedule(owner, id) : undefined;
  if (!schedule) throw new NotFoundError('No such export schedule');
  return schedule;
}

export async function updateSchedule(deps: ScheduleWriteDeps, caller: Caller, id: string, body: UpdateScheduleBody): Promise<ScheduleView> {
  const owner: Owner = { tenant: caller.tenant, userId: caller.userId };
  const existing = await getSchedule(deps, owner, id);
  const now = deps.now?.() ?? new Date();
  const filters = body.filters ?? existing.filters;
  assertMayExport(existing.dataset, filters, caller.roles, deps.rules.records);
  await assertFilters(deps, owner, existing.dataset, filters);
  // All recipients, the kept ones too: a schedule written before these limits is brought within them.
  const ownerEmail = caller.email ?? existing.ownerEmail;
  const recipients = body.recipients !== undefined ? lowercased(body.recipients) : existing.recipients;
  await assertRecipients(deps, { ...caller, ...(ownerEmail !== undefined && { email: ownerEmail }) }, recipients);
  const scheduleInput = body.schedule ?? existing.schedule;
  const updated: ExportSchedule = {
    ...existing,
    ...(body.name !== undefined && { name: body.name }),
    ...(body.format !== undefined && { format: body.format }),
    ...(body.timezone !== undefined && { timezone: body.timezone }),
    recipients,
    ...(ownerEmail !== undefined && { ownerEmail }),
    filters,
    schedule: scheduleInput,
    expression: toScheduleExpression(scheduleInput),
    updatedAt: now.toISOString(),
  };
  try {
    await deps.scheduler.put(updated, 'update');
  } catch (error) {
    // A delete that ran since the read above removed the Scheduler schedule first: gone, not broken.
    if ((await deps.store.getSchedule(owner, id)) === undefined) throw new NotFoundError('No such export schedule');
    throw error;
  }
  // Deleted meanwhile: its Scheduler schedule is gone too (the delete removes that first), and the item is not written back.
  if (!(await deps.store.replaceSchedule(updated))) throw new NotFoundError('No such export schedule');
  return scheduleView(updated, now);
}

export async function deleteSchedule(deps: ScheduleServiceDeps & { scheduler: ScheduleGateway }, owner: Owner, id: string): Promise<void> {
  await getSchedule(deps, owner, id);
  // Scheduler first: once it is gone nothing fires; the runs stay as history until their TTL.
  await deps.scheduler.delete(id);
  // A concurrent delete of the same schedule took it (and gave its place back) first.
  if (!(await deps.store.deleteSchedule(owner, id))) throw new NotFoundError('No such export schedule');
}

/**
 * Queues the same message a firing sends, for now; the run is recorded `queued` at once. A records
 * export needs its role here too: run now is a user calling, with a token.
 */
export async function runNow(
  deps: ScheduleServiceDeps & { queue: RunQueue; records: RecordsTable | undefined },
  caller: Caller,
  id: string,
): Promise<{ runId: string }> {
  const owner: Owner = { tenant: caller.tenant, userId: caller.userId };
  const schedule = await getSchedule(deps, owner, id);
  assertMayExport(schedule.dataset, schedule.filters, caller.roles, deps.records);
  const now = deps.now?.() ?? new Date();
  if (!(await deps.store.takeRunNowSlot(owner, now, EXPORT_QUOTAS.runsNowPerMinute))) {
    const retryAfterSeconds = 60 - now.getUTCSeconds();
    throw new LimitExceededError(429, `At most ${EXPORT_QUOTAS.runsNowPerMinute} runs started by hand per minute; try again in ${retryAfterSeconds} s`, {
      name: 'runsNowPerMinute',
      max: EXPORT_QUOTAS.runsNowPerMinute,
      retryAfterSeconds,
    });
  }
  const message = { scheduleId: schedule.id, tenant: owner.tenant, owner: owner.userId, scheduledTime: now.toISOString(), trigger: 'manual' as const };
  const { runId, scheduledAt } = await recordRun(deps.store, message);
  await deps.queue.send({ ...message, scheduledTime: scheduledAt });
  return { runId } satisfies ExportRunStarted;
}

export async function getRun(deps: ScheduleServiceDeps, owner: Owner, runId: string): Promise<ExportRun> {
  const parsed = parseRunId(runId);
  const run = parsed && (await deps.store.getRun(owner, parsed.scheduleId, parsed.scheduledAt));
  if (!run) throw new NotFoundError('No such export run');
  return run;
}
