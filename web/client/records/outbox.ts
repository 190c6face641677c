/**
 * The outbox's pure logic: which ops go out next, how long a failed batch waits, how an edit
 * becomes an op, and the optimistic view (the server's record with the unsent ops on top), which
 * is also the rebase: when the server answers, its record replaces the base and the ops still
 * unsent are applied again on top of it.
 */
import type { MAX_PUSH_OPS } from '../../../functions/protocol/records';
import { backoffDelay } from '../backoff';
import type { ClientOp, LocalRecord, OpPriority, OutboxOp, RecordEdit, RecordKey, WireRecord } from './types';

/** The server's MAX_PUSH_OPS, typed by it (a value import would bundle the server's validation into the client), so the two cannot differ. */
export const PUSH_LIMIT: typeof MAX_PUSH_OPS = 25;

const RANK: Record<OpPriority, number> = { critical: 0, normal: 1, low: 2 };

export const recordKeyOf = (scope: string, collection: string, id: string): string => JSON.stringify([scope, collection, id]);

/**
 * The next push: one scope's ops, at most `max`, critical before normal before low, oldest first
 * within a priority. A record's ops always go in the order they were made (a later op may build on
 * an earlier one, and a delete must follow the edits before it), so a record's ops travel as one
 * group ranked by its most urgent op; a group whose first op is waiting out its backoff waits whole.
 */
export function nextBatch(ops: readonly OutboxOp[], now: number, max: number = PUSH_LIMIT): OutboxOp[] {
  const groups = new Map<string, { ops: OutboxOp[]; rank: number; first: number }>();
  for (const op of [...ops].sort((a, b) => a.seq - b.seq)) {
    const key = recordKeyOf(op.scope, op.op.collection, op.op.id);
    const group = groups.get(key);
    if (group) {
      group.ops.push(op);
      group.rank = Math.min(group.rank, RANK[op.priority]);
    } else groups.set(key, { ops: [op], rank: RANK[op.priority], first: op.seq });
  }
  const ready = [...groups.values()].filter((group) => (group.ops[0] as OutboxOp).notBefore <= now).sort((a, b) => a.rank - b.rank || a.first - b.first);
  const scope = ready[0]?.ops[0]?.scope;
  const batch: OutboxOp[] = [];
  for (const group of ready) {
    if (group.ops[0]?.scope !== scope) continue;
    for (const op of group.ops) {
      if (batch.length === max) return batch;
      batch.push(op);
    }
  }
  return batch;
}

/** When the earliest op waiting out a backoff may go (undefined: none waits). */
export function nextAttemptAt(ops: readonly OutboxOp[], now: number): number | undefined {
  const waiting = ops.filter((op) => op.notBefore > now).map((op) => op.notBefore);
  return waiting.length === 0 ? undefined : Math.min(...waiting);
}

export interface RetryTiming {
  /** @default 1000 */
  readonly retryBaseMs: number;
  /** @default 60000 */
  readonly retryCapMs: number;
}

export const DEFAULT_RETRY: RetryTiming = { retryBaseMs: 1_000, retryCapMs: 60_000 };

/** The ops of a batch whose push failed (network, 5xx, 429): one more attempt each, not before a capped, jittered backoff. */
export function afterFailedPush(batch: readonly OutboxOp[], now: number, timing: RetryTiming, random: () => number = Math.random): OutboxOp[] {
  return batch.map((op) => ({ ...op, attempts: op.attempts + 1, notBefore: now + backoffDelay(op.attempts, timing.retryBaseMs, timing.retryCapMs, random) }));
}

/**
 * An edit as an op: one clock reading per changed field (from `nextClock`, in field order), or one
 * for a delete. Throws a TypeError for an edit that changes nothing or names a field twice.
 */
export function opFromEdit(
  target: { opId: string; collection: string; id: string; base: number },
  edit: RecordEdit | 'delete',
  nextClock: () => string,
): ClientOp {
  if (edit === 'delete') return { ...target, kind: 'delete', clock: nextClock() };
  const changes: NonNullable<ClientOp['changes']> = {};
  const named = (field: string) => {
    if (field in changes) throw new TypeError(`Field ${field} is changed twice in one edit (set, upsert or remove)`);
  };
  for (const [field, value] of Object.entries(edit.set ?? {})) {
    named(field);
    changes[field] = { clock: nextClock(), value: value === undefined ? null : value };
  }
  const elementFields = new Set([...Object.keys(edit.upsert ?? {}), ...Object.keys(edit.remove ?? {})]);
  for (const field of elementFields) {
    named(field);
    const upsert = edit.upsert?.[field];
    const remove = edit.remove?.[field];
    changes[field] = {
      clock: nextClock(),
      // A field left undefined is not sent (JSON drops it), so the local view must not apply it either.
      ...(upsert
        ? { upsert: upsert.map((element) => Object.fromEntries(Object.entries(element).filter(([, value]) => value !== undefined)) as typeof element) }
        : {}),
      ...(remove ? { remove: [...remove] } : {}),
    };
  }
  if (Object.keys(changes).length === 0) throw new TypeError('An edit must set, upsert or remove at least one field');
  return { ...target, changes };
}

/**
 * The record as this device shows it: the server's copy (or nothing yet) with the device's unsent
 * ops applied in order. Merge-by-id fields are arrays of elements with ids: an upsert carries only
 * the element fields it changes, so it is merged into the element with its id (the server merges
 * field by field too, docs/sync.md "Merge-by-id, field by field") or appended; a removal drops it.
 */
export function viewOf(key: RecordKey, server: WireRecord | undefined, ops: readonly ClientOp[]): LocalRecord {
  let fields: Record<string, unknown> = { ...(server?.fields ?? {}) };
  let deleted = server?.deleted !== undefined;
  for (const op of ops) {
    if (op.kind === 'delete') {
      fields = {};
      deleted = true;
      continue;
    }
    // An edit of a record the server deleted will be rejected (record_deleted): show it deleted meanwhile.
    if (server?.deleted) continue;
    deleted = false;
    for (const [field, change] of Object.entries(op.changes ?? {})) {
      if (change.upsert === undefined && change.remove === undefined) {
        fields[field] = change.value;
        continue;
      }
      const elements = (Array.isArray(fields[field]) ? (fields[field] as unknown[]) : []).filter(
        (element) => !change.remove?.includes((element as { id?: string })?.id as string),
      );
      for (const element of change.upsert ?? []) {
        const at = elements.findIndex((existing) => (existing as { id?: unknown })?.id === element.id);
        if (at === -1) elements.push(element);
        else elements[at] = { ...(elements[at] as object), ...element };
      }
      fields[field] = elements;
    }
  }
  return { ...key, version: server?.version ?? 0, fields, conflicts: server?.conflicts ?? [], deleted, pending: ops.length };
}

/** The newer of two copies of a record: a push answer, a pull page and a live frame may arrive in any order. */
export function newerRecord(current: WireRecord | undefined, incoming: WireRecord): boolean {
  return current === undefined || incoming.version > current.version || (incoming.version === current.version && incoming.seq > current.seq);
}
