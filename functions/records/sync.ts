/**
 * Offline-first sync (docs/sync.md): push a batch of client ops, pull changes after a cursor,
 * list and resolve manual conflicts, a device's status. Every call checks that the caller is a
 * member of the scope (a topic of their tenant); a scope they are not in is not found.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  DEFAULT_PULL_LIMIT,
  MAX_PUSH_OPS,
  type ClientOp,
  type Conflict,
  type DeviceStatus,
  type OpResult,
  type PullPage,
  type PushBody,
  type PushResult,
  type ResolveBody,
  type WireRecord,
} from '../protocol/records';
import type { Caller } from '../shared/caller';
import { BadRequestError, ConflictError, HeraldError, NotFoundError } from '../shared/errors';
import type { MembershipStore } from '../topics/topics';
import { collectionRules, type CollectionDeclarations } from './collections';
import { maxClock, tick } from '../protocol/hlc';
import { applyOp } from './merge';

export interface Scope {
  readonly tenant: string;
  readonly scope: string;
}

export const recordKey = (collection: string, id: string) => `${collection}/${id}`;

/** A record to write in a commit: `expectedVersion` 0 for one that must not exist yet. */
export interface RecordWrite {
  readonly record: WireRecord;
  readonly expectedVersion: number;
}

export interface DeviceRow {
  readonly lastPulledSeq?: number;
  readonly lastPulledAt?: string;
  readonly lastPushAt?: string;
  readonly pendingOps?: number;
}

/** The records table (adapters/dynamo-record-store.ts). */
export interface RecordStore {
  /** Consistent reads of the records, the answers already given to these op ids, and the scope's last seq. */
  load(
    scope: Scope,
    records: ReadonlyArray<{ collection: string; id: string }>,
    ops: ReadonlyArray<{ userId: string; opId: string }>,
  ): Promise<{ records: Map<string, WireRecord>; answered: Map<string, OpResult>; lastSeq: number }>;
  /**
   * One transaction: each record at the next seqs after `expectedLastSeq` (in order, their `seq`
   * already set), the op answers, the counter. `stale` when any of them changed since it was read.
   */
  commit(
    scope: Scope,
    commit: { expectedLastSeq: number; writes: readonly RecordWrite[]; answers: ReadonlyArray<{ userId: string; result: OpResult }>; expiresAt: number },
  ): Promise<'committed' | 'stale'>;
  /** Records whose seq is after `afterSeq`, in seq order (consistent). */
  changesAfter(scope: Scope, afterSeq: number, limit: number): Promise<{ records: WireRecord[]; more: boolean }>;
  /** Records with open conflicts, oldest conflict first. */
  withConflicts(scope: Scope): Promise<WireRecord[]>;
  lastSeq(scope: Scope): Promise<number>;
  updateDevice(scope: Scope, userId: string, deviceId: string, update: DeviceRow, expiresAt: number): Promise<void>;
  device(scope: Scope, userId: string, deviceId: string): Promise<DeviceRow | undefined>;
}

/** Where committed changes go besides the table: live frames to the scope's subscribers, an assignee's notification. */
export interface ChangeListeners {
  changed(scope: Scope, records: readonly WireRecord[], previous: ReadonlyMap<string, WireRecord>, caller: Caller): Promise<void>;
}

export interface SyncDeps {
  readonly records: RecordStore;
  readonly memberships: Pick<MembershipStore, 'isMember'>;
  readonly collections: CollectionDeclarations;
  /** Days tombstones, op answers and device rows are kept; a cursor older than this answers `reset`. */
  readonly retentionDays: number;
  readonly listeners?: ChangeListeners;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Concurrent pushes to one scope contend on its counter; each retry re-reads and re-merges. */
const COMMIT_ATTEMPTS = 8;
const DAY_MS = 24 * 60 * 60 * 1000;

async function requireMember(deps: SyncDeps, caller: Caller, scope: string): Promise<Scope> {
  // Not a member and no such scope look the same: nothing about a scope leaks to outsiders.
  if (!(await deps.memberships.isMember(caller.tenant, scope, caller.userId))) throw new NotFoundError(`No scope ${scope}`);
  return { tenant: caller.tenant, scope };
}

/**
 * The ops of one batch against the records as loaded: pure, in order, each op seeing the ones
 * before it. An op id already answered gets that answer again and changes nothing.
 */
export function applyBatch(
  loaded: ReadonlyMap<string, WireRecord>,
  answered: ReadonlyMap<string, OpResult>,
  ops: readonly ClientOp[],
  context: { collections: CollectionDeclarations; userId: string; deviceId: string; nowMs: number },
): { results: OpResult[]; touched: Map<string, WireRecord>; answers: OpResult[] } {
  const working = new Map(loaded);
  const touched = new Map<string, WireRecord>();
  const results: OpResult[] = [];
  const answers: OpResult[] = [];
  const seen = new Map<string, OpResult>();
  for (const op of ops) {
    const earlier = answered.get(op.opId) ?? seen.get(op.opId);
    if (earlier) {
      results.push({ ...earlier, replayed: true });
      continue;
    }
    const key = recordKey(op.collection, op.id);
    const rules = collectionRules(context.collections, op.collection);
    const application = applyOp(working.get(key), op, { rules, userId: context.userId, deviceId: context.deviceId, nowMs: context.nowMs });
    if (application.changed && application.record) {
      working.set(key, application.record);
      touched.set(key, application.record);
    }
    results.push(application.result);
    answers.push(application.result);
    seen.set(op.opId, application.result);
  }
  // Every answer names the version the record has once the whole batch committed.
  const withVersion = (result: OpResult): OpResult => {
    const record = working.get(recordKey(result.collection, result.id));
    return record === undefined || result.replayed ? result : { ...result, version: record.version };
  };
  return { results: results.map(withVersion), touched, answers: answers.map(withVersion) };
}

export async function push(deps: SyncDeps, caller: Caller, scopeName: string, body: PushBody): Promise<PushResult> {
  if (body.ops.length > MAX_PUSH_OPS) {
    throw new HeraldError(413, 'batch_too_large', `A push carries at most ${MAX_PUSH_OPS} ops, this one ${body.ops.length}; send the rest in another`, {
      limit: { name: 'opsPerPush', max: MAX_PUSH_OPS },
    });
  }
  const scope = await requireMember(deps, caller, scopeName);
  const keys = uniqueBy(
    body.ops.map((op) => ({ collection: op.collection, id: op.id })),
    (key) => recordKey(key.collection, key.id),
  );
  const opKeys = uniqueBy(
    body.ops.map((op) => ({ userId: caller.userId, opId: op.opId })),
    (key) => key.opId,
  );
  for (let attempt = 1; attempt <= COMMIT_ATTEMPTS; attempt++) {
    const nowMs = deps.now?.() ?? Date.now();
    const loaded = await deps.records.load(scope, keys, opKeys);
    const batch = applyBatch(loaded.records, loaded.answered, body.ops, {
      collections: deps.collections,
      userId: caller.userId,
      deviceId: body.deviceId,
      nowMs,
    });
    const writes = [...batch.touched.values()].map(
      (record, index): RecordWrite => ({
        record: { ...record, seq: loaded.lastSeq + index + 1 },
        expectedVersion: loaded.records.get(recordKey(record.collection, record.id))?.version ?? 0,
      }),
    );
    const expiresAt = Math.floor((nowMs + deps.retentionDays * DAY_MS) / 1000);
    const outcome =
      writes.length === 0 && batch.answers.length === 0
        ? 'committed'
        : await deps.records.commit(scope, {
            expectedLastSeq: loaded.lastSeq,
            writes,
            answers: batch.answers.map((result) => ({ userId: caller.userId, result })),
            expiresAt,
          });
    if (outcome === 'stale') {
      await (deps.sleep ?? delay)(Math.random() * 20 * 2 ** attempt);
      continue;
    }
    const committed = writes.map((write) => write.record);
    await deps.records.updateDevice(
      scope,
      caller.userId,
      body.deviceId,
      { lastPushAt: new Date(nowMs).toISOString(), ...(body.pending !== undefined && { pendingOps: body.pending }) },
      expiresAt,
    );
    if (committed.length > 0) await deps.listeners?.changed(scope, committed, loaded.records, caller);
    const current = new Map(loaded.records);
    for (const record of committed) current.set(recordKey(record.collection, record.id), record);
    const records = keys.flatMap((key) => current.get(recordKey(key.collection, key.id)) ?? []);
    return { results: batch.results, records };
  }
  throw new HeraldError(
    503,
    'contention',
    'The scope changed too often while this push was being applied; push the same ops again (their op ids make that safe)',
  );
}

/** Cursors are `<seq>.<ms>`: the last seq the device has, and when the pull that gave it began. */
function parseCursor(cursor: string): { seq: number; atMs: number } {
  const [seq, atMs] = cursor.split('.').map(Number) as [number, number];
  return { seq, atMs };
}

export async function pull(deps: SyncDeps, caller: Caller, scopeName: string, query: { after?: string; limit?: number; deviceId?: string }): Promise<PullPage> {
  const scope = await requireMember(deps, caller, scopeName);
  const nowMs = deps.now?.() ?? Date.now();
  const after = query.after === undefined ? { seq: 0, atMs: nowMs } : parseCursor(query.after);
  if (after.atMs > nowMs + DAY_MS) throw new BadRequestError('after: this cursor was not made by this server', 'invalid_query');
  // A tombstone deleted after the cursor's pull is kept at least until then + retention: older cursors may have missed a deletion.
  if (after.atMs < nowMs - deps.retentionDays * DAY_MS) {
    return {
      reset: true,
      message: `The cursor is older than the ${deps.retentionDays}-day retention; pull again without \`after\` and replace the local copy`,
    };
  }
  const page = await deps.records.changesAfter(scope, after.seq, query.limit ?? DEFAULT_PULL_LIMIT);
  const lastSeq = page.records.at(-1)?.seq ?? after.seq;
  // A page that leaves more keeps the time its catch-up began; only the last page moves it to now.
  const cursor = `${lastSeq}.${page.more ? after.atMs : nowMs}`;
  if (query.deviceId !== undefined) {
    await deps.records.updateDevice(
      scope,
      caller.userId,
      query.deviceId,
      { lastPulledSeq: lastSeq, lastPulledAt: new Date(nowMs).toISOString() },
      Math.floor((nowMs + deps.retentionDays * DAY_MS) / 1000),
    );
  }
  return { reset: false, records: page.records, cursor, more: page.more };
}

export async function listConflicts(deps: SyncDeps, caller: Caller, scopeName: string) {
  const scope = await requireMember(deps, caller, scopeName);
  const records = await deps.records.withConflicts(scope);
  return {
    conflicts: records.flatMap((record) =>
      (record.conflicts ?? []).map((conflict) => ({ collection: record.collection, id: record.id, version: record.version, conflict })),
    ),
  };
}

/** A person settles a field's conflicts: a new version every device pulls (and subscribers see live). */
export async function resolveConflict(
  deps: SyncDeps,
  caller: Caller,
  scopeName: string,
  collection: string,
  id: string,
  body: ResolveBody,
): Promise<WireRecord> {
  const scope = await requireMember(deps, caller, scopeName);
  for (let attempt = 1; attempt <= COMMIT_ATTEMPTS; attempt++) {
    const nowMs = deps.now?.() ?? Date.now();
    const loaded = await deps.records.load(scope, [{ collection, id }], []);
    const current = loaded.records.get(recordKey(collection, id));
    if (current === undefined || current.deleted) throw new NotFoundError(`No record ${collection}/${id} in scope ${scopeName}`);
    if (current.version !== body.base) {
      throw new ConflictError(`The record is at version ${current.version}, not ${body.base}: look at it again before resolving`, 'stale_version', {
        version: current.version,
      });
    }
    const open = (current.conflicts ?? []).filter((conflict) => conflict.field === body.field);
    if (open.length === 0) throw new NotFoundError(`No open conflict on ${body.field} of ${collection}/${id}`);
    let value: unknown;
    if (body.choose === 'mine') {
      const chosen = open.find((conflict) => conflict.opId === body.opId);
      if (!chosen) throw new BadRequestError(`opId: no open conflict on ${body.field} came from op ${body.opId}`, 'invalid_body');
      value = chosen.mine;
    } else value = body.choose === 'theirs' ? (current.fields[body.field] ?? null) : body.value;
    const previousClock = open.reduce<string | undefined>((latest, conflict: Conflict) => maxClock(latest, conflict.clock), current.meta[body.field]?.clock);
    const at = new Date(nowMs).toISOString();
    const remaining = (current.conflicts ?? []).filter((conflict) => conflict.field !== body.field);
    const { conflicts: _closed, ...rest } = current;
    const record: WireRecord = {
      ...rest,
      version: current.version + 1,
      seq: loaded.lastSeq + 1,
      fields: { ...current.fields, [body.field]: value },
      meta: {
        ...current.meta,
        [body.field]: { clock: tick(previousClock, nowMs, 'server'), version: current.version + 1, by: caller.userId, device: 'server' },
      },
      ...(remaining.length > 0 && { conflicts: remaining }),
      updatedAt: at,
      updatedBy: caller.userId,
    };
    const outcome = await deps.records.commit(scope, {
      expectedLastSeq: loaded.lastSeq,
      writes: [{ record, expectedVersion: current.version }],
      answers: [],
      expiresAt: Math.floor((nowMs + deps.retentionDays * DAY_MS) / 1000),
    });
    if (outcome === 'stale') {
      await (deps.sleep ?? delay)(Math.random() * 20 * 2 ** attempt);
      continue;
    }
    await deps.listeners?.changed(scope, [record], loaded.records, caller);
    return record;
  }
  throw new HeraldError(503, 'contention', 'The scope changed too often while resolving; try again');
}

export async function deviceStatus(deps: SyncDeps, caller: Caller, scopeName: string, deviceId: string): Promise<DeviceStatus> {
  const scope = await requireMember(deps, caller, scopeName);
  const [row, latestSeq, conflicted] = await Promise.all([
    deps.records.device(scope, caller.userId, deviceId),
    deps.records.lastSeq(scope),
    deps.records.withConflicts(scope),
  ]);
  return {
    deviceId,
    ...row,
    latestSeq,
    openConflicts: conflicted.reduce((count, record) => count + (record.conflicts?.length ?? 0), 0),
  };
}

function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}
