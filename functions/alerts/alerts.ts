import { setTimeout as delay } from 'node:timers/promises';
import { ulid } from 'ulid';
import type { Caller } from '../shared/caller';
import { BadRequestError, ConflictError, ForbiddenError, HeraldError, NotFoundError } from '../shared/errors';
import type { MembershipStore } from '../topics/topics';
import { alertView, type Alert, type AlertChange, type AlertStatus, type RaiseAlertInput, type UpdateAlertInput } from './model';

/**
 * The Alerts table behind the routes (adapters/dynamo-alert-store.ts). An open alert (active or
 * acknowledged) owns an "open" item for its (rule, subject); writes that open or close an alert
 * change that item in the same transaction, so two open alerts for one pair cannot exist.
 */
export interface AlertStore {
  /**
   * Writes a new open alert, unless one is already open for its rule and subject: then its id,
   * or no id when that one was closed or is still being written (a race: try again).
   */
  create(alert: Alert): Promise<{ readonly created: true } | { readonly created: false; readonly openAlertId?: string }>;
  /** A strongly consistent read. */
  get(tenant: string, id: string): Promise<Alert | undefined>;
  /**
   * Replaces the alert if its stored version is still `expectedVersion`. `open` says what happens
   * to the open item: `release` on resolve, `claim` on reopen (fails while another alert is open).
   */
  replace(next: Alert, expectedVersion: number, open: 'keep' | 'release' | 'claim'): Promise<'replaced' | 'stale' | { readonly openAlertId: string }>;
  /** Newest first; `cursor` is the opaque continuation this returned before. */
  listByTopic(tenant: string, topic: string, options: { status?: AlertStatus; limit: number; cursor?: string }): Promise<{ alerts: Alert[]; cursor?: string }>;
}

export interface AlertDeps {
  readonly alerts: AlertStore;
  readonly memberships: Pick<MembershipStore, 'isMember'>;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Concurrent raises and resolves can pass each other; a raise retries this often before giving up. */
const RAISE_ATTEMPTS = 6;

/**
 * Raises an alert of the caller's tenant, or returns the one already open for the same rule and
 * subject (`created: false`): a monitor that fires every minute makes one alert, not sixty.
 */
export async function raiseAlert(deps: Omit<AlertDeps, 'memberships'>, caller: Caller, input: RaiseAlertInput): Promise<{ created: boolean; alert: Alert }> {
  for (let attempt = 1; attempt <= RAISE_ATTEMPTS; attempt++) {
    const now = (deps.now?.() ?? new Date()).toISOString();
    const alert: Alert = {
      tenant: caller.tenant,
      id: ulid(),
      ...input,
      status: 'active',
      version: 1,
      change: 'raised',
      raisedAt: now,
      raisedBy: caller.userId,
      updatedAt: now,
      updatedBy: caller.userId,
    };
    const result = await deps.alerts.create(alert);
    if (result.created) return { created: true, alert };
    const open = result.openAlertId === undefined ? undefined : await deps.alerts.get(caller.tenant, result.openAlertId);
    if (open && open.status !== 'resolved') return { created: false, alert: open };
    // Lost a race with another raise or a resolve: full jitter, so racing raises spread out.
    await (deps.sleep ?? delay)(Math.random() * 20 * 2 ** attempt);
  }
  throw new HeraldError(503, 'contention', 'The alert changed too often while it was being raised; try again');
}

/** Admins and publishers see every topic of their tenant; anyone else sees their topics and what is assigned to them. */
async function mayAccess(deps: AlertDeps, caller: Caller, alert: Pick<Alert, 'topic' | 'assigneeId'>): Promise<boolean> {
  if (caller.roles.includes('admin') || caller.roles.includes('publisher')) return true;
  if (alert.assigneeId === caller.userId) return true;
  return deps.memberships.isMember(caller.tenant, alert.topic, caller.userId);
}

/** An alert of the caller's tenant that they may see; another tenant's id is simply not found. */
export async function readAlert(deps: AlertDeps, caller: Caller, id: string): Promise<Alert> {
  const alert = await deps.alerts.get(caller.tenant, id);
  if (!alert) throw new NotFoundError(`No alert ${id}`);
  if (!(await mayAccess(deps, caller, alert))) throw new ForbiddenError(`Alert ${id} belongs to topic "${alert.topic}", which you are not a member of`);
  return alert;
}

export async function listAlerts(
  deps: AlertDeps,
  caller: Caller,
  query: { topic: string; status?: AlertStatus; limit: number; cursor?: string },
): Promise<{ alerts: Alert[]; cursor?: string }> {
  if (!(await mayAccess(deps, caller, { topic: query.topic }))) {
    throw new ForbiddenError(`You are not a member of topic "${query.topic}"`);
  }
  const { topic, ...options } = query;
  return deps.alerts.listByTopic(caller.tenant, topic, options);
}

/**
 * Acknowledges, resolves, reopens or reassigns, if `expectedVersion` is still the alert's version.
 * A stale version answers 409 with the current alert, so the caller can show what changed.
 */
export async function updateAlert(
  deps: AlertDeps,
  caller: Caller,
  id: string,
  expectedVersion: number,
  input: UpdateAlertInput,
): Promise<{ changed: boolean; alert: Alert }> {
  if (input.status === undefined && input.assigneeId === undefined) {
    throw new BadRequestError('(body): give status, assigneeId or both', 'invalid_body');
  }
  const current = await readAlert(deps, caller, id);
  if (current.version !== expectedVersion) throw staleVersion(current);

  const status = input.status ?? current.status;
  const assigneeId = input.assigneeId === undefined ? current.assigneeId : (input.assigneeId ?? undefined);
  const reassigned = assigneeId !== current.assigneeId;
  if (status === current.status && !reassigned) return { changed: false, alert: current };
  if (current.status === 'resolved' && status === 'resolved') {
    throw new ConflictError(`Alert ${id} is resolved; reopen it (status active) to change it`, 'alert_resolved', alertDetails(current));
  }

  const change = changeOf(current.status, status);
  const { assigneeId: _dropped, previousAssigneeId: _previous, ...rest } = current;
  const next: Alert = {
    ...rest,
    status,
    ...(assigneeId !== undefined && { assigneeId }),
    ...(reassigned && current.assigneeId !== undefined && { previousAssigneeId: current.assigneeId }),
    version: current.version + 1,
    change,
    updatedAt: (deps.now?.() ?? new Date()).toISOString(),
    updatedBy: caller.userId,
  };
  const open = status === 'resolved' ? 'release' : current.status === 'resolved' ? 'claim' : 'keep';
  const result = await deps.alerts.replace(next, current.version, open);
  if (result === 'stale') {
    const latest = await deps.alerts.get(caller.tenant, id);
    throw staleVersion(latest ?? current);
  }
  if (typeof result === 'object') {
    throw new ConflictError(
      `Alert ${result.openAlertId} is open for the same rule and subject; it cannot be reopened while that one is`,
      'alert_already_open',
      { openAlertId: result.openAlertId, ...alertDetails(current) },
    );
  }
  return { changed: true, alert: next };
}

/** A status change names the change; with the status unchanged, only the assignee changed. */
function changeOf(from: AlertStatus, to: AlertStatus): AlertChange {
  if (to === from) return 'reassigned';
  if (to === 'resolved') return 'resolved';
  if (to === 'acknowledged') return 'acknowledged';
  return 'reopened';
}

function staleVersion(current: Alert): ConflictError {
  return new ConflictError(
    `Alert ${current.id} is at version ${current.version}; read it again and retry with If-Match: ${current.version}`,
    'version_conflict',
    alertDetails(current),
  );
}

function alertDetails(alert: Alert): Record<string, unknown> {
  return { version: alert.version, alert: alertView(alert) };
}
