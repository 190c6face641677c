/**
 * The merge: one client op against the record as the server has it, field by field by each
 * field's declared strategy (docs/sync.md, "Strategies"). Pure: no I/O and no clock of its own,
 * so the property test (test/unit/records-merge-property.test.ts) drives it directly.
 */
import { isDeepStrictEqual } from 'node:util';
import {
  MAX_RECORD_BYTES,
  syncIdSchema,
  type ClientOp,
  type Conflict,
  type FieldChange,
  type FieldMeta,
  type FieldOutcome,
  type OpResult,
  type RejectReason,
  type WireRecord,
} from '../protocol/records';
import type { CollectionRules } from './collections';
import { isTooFarAhead, maxClock } from '../protocol/hlc';

export interface OpContext {
  readonly rules: CollectionRules;
  readonly userId: string;
  readonly deviceId: string;
  readonly nowMs: number;
}

/** What one op did: the record after it (unchanged when nothing won), and its answer without the final version. */
export interface OpApplication {
  readonly record: WireRecord | undefined;
  readonly result: OpResult;
  /** Whether the record has a new version. */
  readonly changed: boolean;
}

type Element = Record<string, unknown> & { id: string };

class Rejection extends Error {
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
  }
}

export function applyOp(current: WireRecord | undefined, op: ClientOp, ctx: OpContext): OpApplication {
  try {
    return op.kind === 'delete' ? applyDelete(current, op, ctx) : applyPut(current, op, ctx);
  } catch (error) {
    if (!(error instanceof Rejection)) throw error;
    return {
      record: current,
      changed: false,
      result: { opId: op.opId, status: 'rejected', collection: op.collection, id: op.id, reason: error.reason, message: error.message },
    };
  }
}

function checkBase(current: WireRecord | undefined, op: ClientOp): void {
  if (current === undefined && op.base > 0) {
    throw new Rejection(
      'unknown_record',
      `Record ${op.collection}/${op.id} does not exist (or its tombstone is past retention), but the op is based on version ${op.base}`,
    );
  }
  if (current !== undefined && op.base > current.version) {
    throw new Rejection('base_ahead', `The op is based on version ${op.base}; the record is at version ${current.version}`);
  }
}

function checkClock(clock: string, ctx: OpContext): void {
  if (isTooFarAhead(clock, ctx.nowMs))
    throw new Rejection('clock_ahead', `Clock ${clock} is ahead of the server's time by more than the allowed drift; correct the device's time`);
}

function applyDelete(current: WireRecord | undefined, op: ClientOp, ctx: OpContext): OpApplication {
  if (op.clock === undefined || op.changes !== undefined) throw new Rejection('invalid_change', 'A delete takes `clock` and no `changes`');
  checkClock(op.clock, ctx);
  checkBase(current, op);
  const base = { opId: op.opId, collection: op.collection, id: op.id };
  // Deleting what is already deleted is done: nothing to record.
  if (current?.deleted) return { record: current, changed: false, result: { ...base, status: 'applied' } };
  const at = new Date(ctx.nowMs).toISOString();
  // A record the server never had gets a tombstone too, so an edit or a create of that id arriving later cannot bring it back.
  const record: WireRecord = {
    collection: op.collection,
    id: op.id,
    version: (current?.version ?? 0) + 1,
    seq: current?.seq ?? 0,
    fields: {},
    meta: {},
    deleted: { at, by: ctx.userId, clock: op.clock },
    updatedAt: at,
    updatedBy: ctx.userId,
  };
  return { record, changed: true, result: { ...base, status: 'applied' } };
}

function applyPut(current: WireRecord | undefined, op: ClientOp, ctx: OpContext): OpApplication {
  const changes = Object.entries(op.changes ?? {});
  if (changes.length === 0 || op.clock !== undefined) throw new Rejection('invalid_change', 'A put takes at least one field in `changes` and no `clock`');
  for (const [field, change] of changes) {
    checkChangeShape(field, change, ctx.rules.strategyOf(field));
    checkClock(change.clock, ctx);
  }
  checkBase(current, op);
  if (current?.deleted)
    throw new Rejection(
      'record_deleted',
      `Record ${op.collection}/${op.id} was deleted by ${current.deleted.by} at ${current.deleted.at}; a deletion wins over edits`,
    );

  const version = (current?.version ?? 0) + 1;
  const fields: Record<string, unknown> = { ...current?.fields };
  const meta: Record<string, FieldMeta> = { ...current?.meta };
  const conflicts: Conflict[] = [...(current?.conflicts ?? [])];
  const outcomes: Record<string, FieldOutcome> = {};
  const newConflicts: Conflict[] = [];
  const now = new Date(ctx.nowMs).toISOString();
  let changedFields = false;
  const won = (field: string, value: unknown, clock: string) => {
    changedFields = true;
    fields[field] = value;
    meta[field] = { clock, version, by: ctx.userId, device: ctx.deviceId };
  };

  for (const [field, change] of changes) {
    const strategy = ctx.rules.strategyOf(field);
    const previous = meta[field];
    // Changed since this device's base by someone else (its own later edits are not concurrent with it).
    const concurrent = previous !== undefined && previous.version > op.base && previous.device !== ctx.deviceId;
    switch (strategy) {
      case 'last-writer-wins':
        if (previous === undefined || change.clock > previous.clock) {
          won(field, change.value, change.clock);
          outcomes[field] = 'applied';
        } else outcomes[field] = 'superseded';
        break;
      case 'server-wins':
        if (concurrent) outcomes[field] = 'kept-server';
        else {
          won(field, change.value, maxClock(previous?.clock, change.clock) as string);
          outcomes[field] = 'applied';
        }
        break;
      case 'manual':
        if (concurrent && !isDeepStrictEqual(fields[field], change.value)) {
          const conflict: Conflict = {
            field,
            mine: change.value,
            theirs: fields[field] ?? null,
            by: ctx.userId,
            device: ctx.deviceId,
            clock: change.clock,
            opId: op.opId,
            at: now,
          };
          conflicts.push(conflict);
          newConflicts.push(conflict);
          outcomes[field] = 'conflict';
        } else {
          won(field, change.value, maxClock(previous?.clock, change.clock) as string);
          outcomes[field] = 'applied';
        }
        break;
      case 'merge-by-id': {
        const merged = mergeElements(fields[field], previous, change, version);
        if (merged.changedAny) {
          fields[field] = merged.value;
          meta[field] = { clock: maxClock(previous?.clock, change.clock) as string, version, by: ctx.userId, device: ctx.deviceId, items: merged.items };
          changedFields = true;
        }
        // Every element change won, or some were older than what their elements already had.
        outcomes[field] = merged.supersededAny ? 'superseded' : 'applied';
        break;
      }
    }
  }

  const statuses = Object.values(outcomes);
  const changed = changedFields || newConflicts.length > 0;
  const status: OpResult['status'] = newConflicts.length > 0 ? 'conflict' : statuses.every((outcome) => outcome === 'applied') ? 'applied' : 'merged';
  const result: OpResult = {
    opId: op.opId,
    status,
    collection: op.collection,
    id: op.id,
    fields: outcomes,
    ...(newConflicts.length > 0 && { conflicts: newConflicts }),
  };
  if (!changed) return { record: current, changed: false, result };
  if (Buffer.byteLength(JSON.stringify(fields)) > MAX_RECORD_BYTES) {
    throw new Rejection('record_too_large', `The record's fields would be larger than ${MAX_RECORD_BYTES} bytes`);
  }
  const record: WireRecord = {
    collection: op.collection,
    id: op.id,
    version,
    seq: current?.seq ?? 0,
    fields,
    meta,
    ...(conflicts.length > 0 && { conflicts }),
    updatedAt: now,
    updatedBy: ctx.userId,
  };
  return { record, changed: true, result };
}

function checkChangeShape(field: string, change: FieldChange, strategy: string): void {
  if (strategy === 'merge-by-id') {
    if (change.value !== undefined || (change.upsert === undefined && change.remove === undefined)) {
      throw new Rejection('invalid_change', `${field} is merge-by-id: change it with \`upsert\` (objects with an id) and \`remove\` (ids), not \`value\``);
    }
    const ids = new Set<string>();
    for (const element of change.upsert ?? []) {
      if (!syncIdSchema.safeParse(element.id).success)
        throw new Rejection('invalid_change', `${field}.upsert: every element needs an \`id\` of 1-128 letters, digits or ._:-`);
      ids.add(element.id as string);
    }
    for (const id of change.remove ?? []) {
      if (ids.has(id)) throw new Rejection('invalid_change', `${field}: element ${id} is both upserted and removed`);
      ids.add(id);
    }
    if ((change.upsert?.length ?? 0) !== new Set(change.upsert?.map((element) => element.id)).size) {
      throw new Rejection('invalid_change', `${field}.upsert: an element id appears twice`);
    }
    return;
  }
  if (change.upsert !== undefined || change.remove !== undefined || change.value === undefined) {
    throw new Rejection('invalid_change', `${field} is ${strategy}: change it with \`value\` (null clears it)`);
  }
}

/**
 * Arrays of objects with ids, merged per element and, inside an element, per field: each upsert or
 * removal carries its change's clock; an upserted field takes effect if its clock is later than
 * the field's, so two devices editing different fields of one element both survive. A removal is
 * kept as the element's `removal` clock: fields older than it are gone, and an upsert older than
 * it is superseded, so a late upsert cannot bring a removed element back; one later than it makes
 * the element live again with that upsert's fields. The element exists while its latest change is
 * an upsert. Order: by the first clock that added each element, then id. Every one of these is a
 * function of the set of changes, so every arrival order agrees (the property test checks it).
 */
function mergeElements(
  stored: unknown,
  meta: FieldMeta | undefined,
  change: FieldChange,
  version: number,
): { value: Element[]; items: NonNullable<FieldMeta['items']>; changedAny: boolean; supersededAny: boolean } {
  const elements = new Map<string, Element>();
  if (Array.isArray(stored)) {
    for (const element of stored) if (isElement(element)) elements.set(element.id, element);
  }
  const items: NonNullable<FieldMeta['items']> = { ...meta?.items };
  let changedAny = false;
  let supersededAny = false;
  const clock = change.clock;

  const stateOf = (id: string) => {
    const previous = items[id];
    const current = elements.get(id);
    // Metadata written before per-field merging has no field clocks: each field then carries the element's clock.
    const removal = previous?.removal ?? (previous?.removed ? previous.clock : undefined);
    const fieldClocks: Record<string, string> =
      previous?.fields !== undefined
        ? { ...previous.fields }
        : Object.fromEntries(Object.keys(current ?? {}).flatMap((name) => (name === 'id' || previous === undefined ? [] : [[name, previous.clock]])));
    const added = previous === undefined || clock < previous.added ? clock : previous.added;
    return { previous, current, removal, fieldClocks, added };
  };
  const record = (id: string, state: ReturnType<typeof stateOf>, latest: string, live: boolean) => {
    items[id] = {
      clock: latest,
      version,
      added: state.added,
      ...(!live && { removed: true }),
      ...(state.removal !== undefined && { removal: state.removal }),
      ...(Object.keys(state.fieldClocks).length > 0 && { fields: state.fieldClocks }),
    };
    changedAny = true;
  };
  const onlyMovesEarlier = (id: string, state: ReturnType<typeof stateOf>) => {
    // Older than what the element has: only its first-added clock (its place in the order) can move earlier.
    supersededAny = true;
    if (state.previous !== undefined && state.added !== state.previous.added) {
      items[id] = { ...state.previous, added: state.added };
      changedAny = true;
    }
  };

  for (const upsert of change.upsert ?? []) {
    const id = upsert.id as string;
    const state = stateOf(id);
    if (state.removal !== undefined && clock < state.removal) {
      onlyMovesEarlier(id, state);
      continue;
    }
    const next: Element = { ...(state.current ?? { id }) };
    let applied = false;
    for (const [name, value] of Object.entries(upsert)) {
      if (name === 'id') continue;
      const fieldClock = state.fieldClocks[name];
      if (fieldClock === undefined || clock > fieldClock) {
        next[name] = value;
        state.fieldClocks[name] = clock;
        applied = true;
      } else supersededAny = true;
    }
    const latest = state.previous === undefined || clock > state.previous.clock ? clock : state.previous.clock;
    if (!applied && state.current !== undefined && latest !== clock) {
      onlyMovesEarlier(id, state);
      continue;
    }
    elements.set(id, next);
    record(id, state, latest, true);
  }

  for (const id of change.remove ?? []) {
    const state = stateOf(id);
    if (state.removal !== undefined && clock < state.removal) {
      onlyMovesEarlier(id, state);
      continue;
    }
    state.removal = clock;
    const latest = state.previous === undefined || clock > state.previous.clock ? clock : state.previous.clock;
    const live = latest !== clock;
    if (live) {
      // An upsert later than this removal keeps the element; what it had from before the removal goes.
      supersededAny = true;
      const kept: Element = { id };
      for (const [name, value] of Object.entries(state.current ?? {})) {
        const fieldClock = state.fieldClocks[name];
        if (name !== 'id' && fieldClock !== undefined && fieldClock > clock) kept[name] = value;
      }
      for (const [name, fieldClock] of Object.entries(state.fieldClocks)) if (fieldClock < clock) delete state.fieldClocks[name];
      elements.set(id, kept);
    } else {
      elements.delete(id);
      state.fieldClocks = {};
    }
    record(id, state, latest, live);
  }

  const value = [...elements.values()].sort((a, b) => {
    const addedA = items[a.id]?.added ?? '';
    const addedB = items[b.id]?.added ?? '';
    return addedA < addedB ? -1 : addedA > addedB ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
  return { value, items, changedAny, supersededAny };
}

function isElement(value: unknown): value is Element {
  return typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string';
}
