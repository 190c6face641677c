import { describe, expect, it } from 'vitest';
import { tick } from '#functions/protocol/hlc';
import { afterFailedPush, nextAttemptAt, nextBatch, newerRecord, opFromEdit, PUSH_LIMIT, viewOf } from '../../web/client/records/outbox';
import type { ClientOp, OpPriority, OutboxOp, WireRecord } from '../../web/client/records/types';

/** The records client's outbox logic (web/client/records/outbox.ts): what goes next, backoff, edits as ops, the optimistic view. */
let seq = 0;
function queued(id: string, priority: OpPriority = 'normal', extra: Partial<OutboxOp> = {}): OutboxOp {
  seq += 1;
  return {
    seq,
    scope: 'site-1',
    priority,
    op: { opId: `op-${seq}`, collection: 'inspections', id, base: 0, changes: { notes: { clock: tick(undefined, 1_000 + seq, 'd1'), value: `n${seq}` } } },
    createdAt: 0,
    attempts: 0,
    notBefore: 0,
    ...extra,
  };
}
const ids = (batch: OutboxOp[]) => batch.map((op) => `${op.op.id}:${op.op.opId}`);

function wire(fields: Record<string, unknown>, extra: Partial<WireRecord> = {}): WireRecord {
  return { collection: 'inspections', id: 'a', version: 3, seq: 10, fields, meta: {}, updatedAt: '', updatedBy: 'ana', ...extra };
}

describe('nextBatch', () => {
  it('sends critical before normal before low, oldest first within a priority', () => {
    const low = queued('low');
    const normal = queued('normal-1');
    const critical = queued('crit', 'critical');
    const normal2 = queued('normal-2');
    const batch = nextBatch([{ ...low, priority: 'low' }, normal, critical, normal2], 0);
    expect(batch.map((op) => op.op.id)).toEqual(['crit', 'normal-1', 'normal-2', 'low']);
  });

  it('keeps a record’s ops in the order they were made, the group ranked by its most urgent op', () => {
    const first = queued('a', 'low');
    const other = queued('b', 'normal');
    const urgent = queued('a', 'critical');
    const batch = nextBatch([urgent, other, first], 0);
    expect(ids(batch)).toEqual([`a:${first.op.opId}`, `a:${urgent.op.opId}`, `b:${other.op.opId}`]);
  });

  it('takes one scope per push and at most the server’s limit of ops', () => {
    const ops = Array.from({ length: 30 }, (_, index) => queued(`r${index}`));
    const elsewhere = { ...queued('x', 'critical'), scope: 'site-2' };
    const batch = nextBatch([...ops, elsewhere], 0);
    expect(batch).toEqual([elsewhere]);
    const rest = nextBatch(ops, 0);
    expect(rest).toHaveLength(PUSH_LIMIT);
    expect(PUSH_LIMIT).toBe(25);
    expect(nextBatch(ops, 0, 3).map((op) => op.op.id)).toEqual(['r0', 'r1', 'r2']);
  });

  it('leaves out a record whose first op waits out its backoff, with its later ops', () => {
    const waiting = queued('a', 'normal', { notBefore: 5_000 });
    const later = queued('a');
    const ready = queued('b');
    expect(nextBatch([waiting, later, ready], 1_000).map((op) => op.op.id)).toEqual(['b']);
    expect(nextBatch([waiting, later, ready], 5_000).map((op) => op.op.id)).toEqual(['a', 'a', 'b']);
    expect(nextAttemptAt([waiting, later, ready], 1_000)).toBe(5_000);
    expect(nextAttemptAt([later, ready], 1_000)).toBeUndefined();
  });
});

describe('afterFailedPush', () => {
  it('counts the attempt and waits a jittered backoff that doubles up to the cap', () => {
    const op = queued('a');
    const timing = { retryBaseMs: 1_000, retryCapMs: 8_000 };
    const almostOne = () => 0.999_999;
    const delays: number[] = [];
    let current = op;
    for (let attempt = 0; attempt < 6; attempt += 1) {
      [current] = afterFailedPush([current], 100, timing, almostOne) as [OutboxOp];
      delays.push(current.notBefore - 100);
    }
    expect(current.attempts).toBe(6);
    expect(delays).toEqual([999, 1_999, 3_999, 7_999, 7_999, 7_999]);
    expect(afterFailedPush([op], 100, timing, () => 0)[0]?.notBefore).toBe(100);
    // The op itself, its id above all, is kept: a retry is the same op.
    expect(current.op).toBe(op.op);
  });
});

describe('opFromEdit', () => {
  const target = { opId: 'o1', collection: 'inspections', id: 'a', base: 2 };
  it('gives each changed field its own clock reading, set fields before element fields', () => {
    let clock: string | undefined;
    const op = opFromEdit(
      target,
      { set: { notes: 'x', verdict: undefined }, upsert: { items: [{ id: 'p1', ok: true }] }, remove: { items: ['p0'] } },
      () => (clock = tick(clock, 5_000, 'd1')),
    );
    expect(op).toEqual({
      ...target,
      changes: {
        notes: { clock: '0000000005000-0000-d1', value: 'x' },
        verdict: { clock: '0000000005000-0001-d1', value: null },
        items: { clock: '0000000005000-0002-d1', upsert: [{ id: 'p1', ok: true }], remove: ['p0'] },
      },
    });
  });

  it('leaves out an upserted element field that is undefined, as JSON would, so the view does not clear it', () => {
    const op = opFromEdit(target, { upsert: { items: [{ id: 'p1', ok: true, note: undefined }] } }, () => 'c');
    expect(Object.keys(op.changes?.items?.upsert?.[0] ?? {})).toEqual(['id', 'ok']);
    const server = wire({ items: [{ id: 'p1', ok: false, note: 'kept' }] });
    expect(viewOf({ scope: 'site-1', collection: 'inspections', id: 'a' }, server, [op]).fields.items).toEqual([{ id: 'p1', ok: true, note: 'kept' }]);
  });

  it('makes a delete with one clock, and refuses an empty edit or a field named twice', () => {
    expect(opFromEdit(target, 'delete', () => 'c')).toEqual({ ...target, kind: 'delete', clock: 'c' });
    expect(() => opFromEdit(target, { set: {} }, () => 'c')).toThrow(/at least one field/);
    expect(() => opFromEdit(target, { set: { items: [] }, upsert: { items: [{ id: 'p' }] } }, () => 'c')).toThrow(/items is changed twice/);
  });
});

describe('viewOf (optimistic apply and rebase)', () => {
  const key = { scope: 'site-1', collection: 'inspections', id: 'a' };
  const put = (changes: ClientOp['changes']): ClientOp => ({ opId: 'o', collection: 'inspections', id: 'a', base: 3, changes });

  it('applies unsent ops over the server copy in order, merge-by-id elements by id', () => {
    const server = wire({ notes: 'server', items: [{ id: 'p1', ok: false }, { id: 'p2' }] }, { conflicts: [] });
    const view = viewOf(key, server, [
      put({ notes: { clock: 'c1', value: 'mine' }, items: { clock: 'c2', upsert: [{ id: 'p1', ok: true }, { id: 'p3' }], remove: ['p2'] } }),
      put({ notes: { clock: 'c3', value: 'mine again' } }),
    ]);
    expect(view).toEqual({
      ...key,
      version: 3,
      fields: { notes: 'mine again', items: [{ id: 'p1', ok: true }, { id: 'p3' }] },
      conflicts: [],
      deleted: false,
      pending: 2,
    });
    expect(server.fields.notes).toBe('server');
  });

  it('merges a partial upsert into the element, keeping the fields it does not name, as the server does', () => {
    const server = wire({ items: [{ id: 'valve', ok: false, note: 'leaks', photo: 'p.jpg' }] });
    const view = viewOf(key, server, [
      put({ items: { clock: 'c1', upsert: [{ id: 'valve', ok: true }] } }),
      put({ items: { clock: 'c2', upsert: [{ id: 'valve', photo: null }] } }),
    ]);
    expect(view.fields.items).toEqual([{ id: 'valve', ok: true, note: 'leaks', photo: null }]);
    // Removed, then upserted again: the element comes back with that upsert's fields only.
    const readded = viewOf(key, server, [
      put({ items: { clock: 'c1', remove: ['valve'] } }),
      put({ items: { clock: 'c2', upsert: [{ id: 'valve', ok: true }] } }),
    ]);
    expect(readded.fields.items).toEqual([{ id: 'valve', ok: true }]);
  });

  it('rebases: the server’s answer replaces the base and the ops still unsent apply on top again', () => {
    const later = put({ verdict: { clock: 'c9', value: 'pass' } });
    const answered = wire({ notes: 'merged by the server', verdict: 'fail' }, { version: 4, seq: 11 });
    expect(viewOf(key, answered, [later]).fields).toEqual({ notes: 'merged by the server', verdict: 'pass' });
    expect(viewOf(key, answered, []).fields).toEqual({ notes: 'merged by the server', verdict: 'fail' });
  });

  it('shows a local delete, and keeps a server tombstone deleted though an edit waits', () => {
    expect(viewOf(key, wire({ notes: 'x' }), [{ opId: 'd', collection: 'inspections', id: 'a', base: 3, kind: 'delete', clock: 'c' }])).toMatchObject({
      deleted: true,
      fields: {},
    });
    const tombstone = wire({}, { deleted: { at: '', by: 'ben', clock: 'c' } });
    expect(viewOf(key, tombstone, [put({ notes: { clock: 'c2', value: 'late' } })])).toMatchObject({ deleted: true, fields: {}, pending: 1 });
    expect(viewOf(key, undefined, [put({ notes: { clock: 'c2', value: 'new' } })])).toMatchObject({ version: 0, deleted: false, fields: { notes: 'new' } });
  });

  it('keeps the newer of two copies whatever order answers, pulls and live frames arrive in', () => {
    const v3 = wire({}, { version: 3, seq: 10 });
    const v4 = wire({}, { version: 4, seq: 12 });
    expect(newerRecord(undefined, v3)).toBe(true);
    expect(newerRecord(v3, v4)).toBe(true);
    expect(newerRecord(v4, v3)).toBe(false);
    expect(newerRecord(v4, v4)).toBe(false);
  });
});
