import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CollectionDeclarations } from '#functions/records/collections';
import { tick } from '#functions/protocol/hlc';
import { applyBatch, recordKey } from '#functions/records/sync';
import type { ClientOp, OpResult, WireRecord } from '#functions/protocol/records';

/**
 * The sync guarantees (docs/sync.md) as a property of the merge: devices edit offline with
 * their own (skewed) clocks, then push, retry and pull in any order fast-check picks. Whatever
 * the order, every device ends with the server's records, each field holds what its strategy
 * says (the latest clock for last-writer-wins, per element for merge-by-id), a retried op id
 * changes nothing and answers as before, and no edit vanishes without an answer that says why.
 */

const collections: CollectionDeclarations = {
  jobs: { fields: { title: 'last-writer-wins', status: 'server-wins', verdict: 'manual', items: 'merge-by-id' } },
};
const RECORDS = ['r1', 'r2'] as const;
const FIELDS = ['title', 'status', 'verdict', 'items'] as const;
const ELEMENTS = ['e1', 'e2', 'e3'] as const;
const START_MS = Date.UTC(2026, 0, 1);

type Action =
  | { kind: 'edit'; device: number; record: number; field: number; value: number; element: number; remove: boolean }
  | { kind: 'delete'; device: number; record: number }
  | { kind: 'push'; device: number; loseAnswer: boolean }
  | { kind: 'pull'; device: number }
  | { kind: 'wait'; ms: number };

const DEVICES = 3;
const device = fc.integer({ min: 0, max: DEVICES - 1 });
const action: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('edit' as const),
      device,
      record: fc.integer({ min: 0, max: RECORDS.length - 1 }),
      field: fc.integer({ min: 0, max: FIELDS.length - 1 }),
      value: fc.integer({ min: 0, max: 5 }),
      element: fc.integer({ min: 0, max: ELEMENTS.length - 1 }),
      remove: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), device, record: fc.integer({ min: 0, max: RECORDS.length - 1 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('push' as const), device, loseAnswer: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('pull' as const), device }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 3000 }) }) },
);

interface Device {
  readonly id: string;
  readonly skewMs: number;
  clock?: string;
  readonly replica: Map<string, WireRecord>;
  outbox: ClientOp[];
}

/** What a device did, with the first answer the server gave it. */
interface Edit {
  readonly op: ClientOp;
  readonly field?: string;
  answer?: OpResult;
}

function simulate(actions: readonly Action[], skews: readonly number[]) {
  let nowMs = START_MS;
  let nextOp = 0;
  const server = { records: new Map<string, WireRecord>(), answered: new Map<string, OpResult>(), appliedOrder: [] as Edit[] };
  const devices: Device[] = skews.map((skewMs, index) => ({ id: `d${index}`, skewMs, replica: new Map(), outbox: [] }));
  const edits = new Map<string, Edit>();
  const replays: Array<{ first: OpResult; again: OpResult }> = [];

  const clockOf = (d: Device) => {
    d.clock = tick(d.clock, nowMs + d.skewMs, d.id);
    return d.clock;
  };
  const pushOutbox = (d: Device, loseAnswer: boolean) => {
    if (d.outbox.length === 0) return;
    const before = JSON.stringify([...server.records]);
    const batch = applyBatch(server.records, server.answered, d.outbox, { collections, userId: `user-${d.id}`, deviceId: d.id, nowMs });
    for (const record of batch.touched.values()) server.records.set(recordKey(record.collection, record.id), record);
    for (const answer of batch.answers) server.answered.set(answer.opId, answer);
    for (const result of batch.results) {
      const edit = edits.get(result.opId) as Edit;
      if (result.replayed) {
        replays.push({ first: edit.answer as OpResult, again: result });
        continue;
      }
      edit.answer = result;
      if (edit.field && result.fields?.[edit.field] === 'applied') server.appliedOrder.push(edit);
    }
    if (batch.results.every((result) => result.replayed)) expect(JSON.stringify([...server.records]), 'a batch of retried op ids changes nothing').toBe(before);
    // A lost answer leaves the outbox as it was: the device pushes the same ops again later.
    if (!loseAnswer) d.outbox = [];
  };
  const pull = (d: Device) => {
    for (const [key, record] of server.records) {
      d.replica.set(key, structuredClone(record));
      for (const meta of Object.values(record.meta)) if (d.clock === undefined || meta.clock > d.clock) d.clock = meta.clock;
      if (record.deleted && (d.clock === undefined || record.deleted.clock > d.clock)) d.clock = record.deleted.clock;
    }
  };

  for (const step of actions) {
    if (step.kind === 'wait') {
      nowMs += step.ms;
      continue;
    }
    const d = devices[step.device] as Device;
    if (step.kind === 'push') pushOutbox(d, step.loseAnswer);
    else if (step.kind === 'pull') pull(d);
    else {
      const id = RECORDS[step.record] as string;
      const base = d.replica.get(recordKey('jobs', id))?.version ?? 0;
      const opId = `op${nextOp++}`;
      let op: ClientOp;
      let field: string | undefined;
      if (step.kind === 'delete') op = { opId, collection: 'jobs', id, base, kind: 'delete', clock: clockOf(d) };
      else {
        field = FIELDS[step.field] as string;
        const clock = clockOf(d);
        const element = ELEMENTS[step.element] as string;
        const change =
          field === 'items'
            ? step.remove
              ? { clock, remove: [element] }
              : { clock, upsert: [{ id: element, done: step.value, by: d.id }] }
            : { clock, value: `${d.id}:${step.value}` };
        op = { opId, collection: 'jobs', id, base, changes: { [field]: change } };
      }
      d.outbox.push(op);
      edits.set(opId, { op, field });
    }
  }
  // Everyone comes back online: pushes what is left, then pulls.
  for (const d of devices) pushOutbox(d, false);
  for (const d of devices) pull(d);
  return { server, devices, edits: [...edits.values()], replays };
}

describe('records merge (property)', () => {
  it('converges whatever the order of pushes, pulls and retries, and loses no edit its strategy does not account for', () => {
    fc.assert(
      fc.property(
        fc.array(action, { maxLength: 60 }),
        fc.array(fc.integer({ min: -120_000, max: 120_000 }), { minLength: DEVICES, maxLength: DEVICES }),
        (actions, skews) => {
          const { server, devices, edits, replays } = simulate(actions, skews);

          // Convergence: every device holds exactly the server's records.
          for (const d of devices) expect(Object.fromEntries(d.replica)).toEqual(Object.fromEntries(server.records));

          // Every edit has an answer; a retry answers as the first time.
          for (const edit of edits) expect(edit.answer, `op ${edit.op.opId} got an answer`).toBeDefined();
          for (const { first, again } of replays) expect({ ...again, replayed: undefined }).toEqual({ ...first, replayed: undefined });

          for (const id of RECORDS) {
            const record = server.records.get(recordKey('jobs', id));
            const ofRecord = edits.filter((edit) => edit.op.id === id);
            const deletes = ofRecord.filter((edit) => edit.op.kind === 'delete');
            if (deletes.length > 0) {
              // Deletion wins: the record is a tombstone, and a later edit is answered as such, never dropped silently.
              expect(record?.deleted).toBeDefined();
              for (const edit of ofRecord) {
                if (edit.answer?.status === 'rejected') expect(edit.answer.reason).toBe('record_deleted');
              }
              continue;
            }
            if (ofRecord.length === 0) {
              expect(record).toBeUndefined();
              continue;
            }
            const fieldEdits = (field: string) => ofRecord.filter((edit) => edit.field === field);
            for (const edit of ofRecord) expect(edit.answer?.status).not.toBe('rejected');

            // last-writer-wins: the edit with the latest clock, whichever order they arrived in.
            const titles = fieldEdits('title');
            if (titles.length > 0) {
              const latest = titles.reduce((a, b) => ((a.op.changes?.title?.clock ?? '') > (b.op.changes?.title?.clock ?? '') ? a : b));
              expect(record?.fields.title).toEqual(latest.op.changes?.title?.value);
            }

            // merge-by-id: per element, the latest clock decides between upsert and removal; order by first clock, then id.
            const items = fieldEdits('items');
            if (items.length > 0) {
              const latest = new Map<string, { clock: string; element?: unknown }>();
              const first = new Map<string, string>();
              for (const edit of items) {
                const change = edit.op.changes?.items;
                if (!change) continue;
                for (const element of change.upsert ?? []) {
                  const elementId = element.id as string;
                  if (!latest.has(elementId) || change.clock > (latest.get(elementId)?.clock ?? '')) latest.set(elementId, { clock: change.clock, element });
                  if (!first.has(elementId) || change.clock < (first.get(elementId) ?? '')) first.set(elementId, change.clock);
                }
                for (const elementId of change.remove ?? []) {
                  if (!latest.has(elementId) || change.clock > (latest.get(elementId)?.clock ?? '')) latest.set(elementId, { clock: change.clock });
                  if (!first.has(elementId) || change.clock < (first.get(elementId) ?? '')) first.set(elementId, change.clock);
                }
              }
              const expected = [...latest.entries()]
                .filter(([, state]) => state.element !== undefined)
                .sort(([a], [b]) => {
                  const firstA = first.get(a) as string;
                  const firstB = first.get(b) as string;
                  return firstA < firstB ? -1 : firstA > firstB ? 1 : a < b ? -1 : 1;
                })
                .map(([, state]) => state.element);
              expect(record?.fields.items ?? []).toEqual(expected);
            }

            // server-wins and manual: every edit applied, kept as the server had it, or recorded as a conflict
            // for a person; the field holds the last applied one.
            for (const field of ['status', 'verdict'] as const) {
              const ofField = fieldEdits(field);
              if (ofField.length === 0) continue;
              for (const edit of ofField) {
                const outcome = edit.answer?.fields?.[field];
                expect(field === 'status' ? ['applied', 'kept-server'] : ['applied', 'conflict']).toContain(outcome);
                if (outcome === 'conflict') {
                  expect(record?.conflicts).toContainEqual(expect.objectContaining({ field, opId: edit.op.opId, mine: edit.op.changes?.[field]?.value }));
                }
              }
              const lastApplied = server.appliedOrder.filter((edit) => edit.op.id === id && edit.field === field).at(-1);
              expect(record?.fields[field]).toEqual(lastApplied?.op.changes?.[field]?.value);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
