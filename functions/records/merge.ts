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
 * Arrays of objects with ids, merged per element: each upsert or removal carries the change's
 * clock and the later clock wins per element; removals stay as element tombstones so an older
 * upsert arriving late cannot bring an element back. Order: by the first clock that added each
 * element, then id, which every arrival order agrees on.
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
  const consider = (id: string, apply: () => void, removed: boolean) => {
    const previous = items[id];
    const added = previous === undefined || change.clock < previous.added ? change.clock : previous.added;
    if (previous === undefined || change.clock > previous.clock) {
      apply();
      items[id] = { clock: change.clock, version, added, ...(removed && { removed: true }) };
      changedAny = true;
    } else {
      // Older than what the element has: only its first-added clock (its place in the order) can move earlier.
      if (added !== previous.added) {
        items[id] = { ...previous, added };
        changedAny = true;
      }
      supersededAny = true;
    }
  };
  for (const element of change.upsert ?? []) {
    const id = element.id as string;
    consider(id, () => elements.set(id, element as Element), false);
  }
  for (const id of change.remove ?? []) consider(id, () => elements.delete(id), true);
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
