/**
 * Offline-first records, defined once (docs/sync.md): the push and pull bodies, the answers, the
 * conflicts and the live `change` frame. The handlers validate with these schemas and a client
 * library type-checks against the types inferred from them.
 */
import * as z from '../shared/validation';

/** Ops one push may carry: every op commits in one DynamoDB transaction (at most 100 actions: a record and an op id each, plus the scope's counter). */
export const MAX_PUSH_OPS = 25;
/** Fields one op may change. */
export const MAX_CHANGED_FIELDS = 50;
/** Elements one merge-by-id change may upsert or remove. */
export const MAX_ELEMENT_CHANGES = 100;
/** A record's fields, serialized, stay under this (a DynamoDB item holds 400 KB with the merge metadata). */
export const MAX_RECORD_BYTES = 48 * 1024;
/** Records one pull page returns at most. */
export const MAX_PULL_LIMIT = 200;
export const DEFAULT_PULL_LIMIT = 100;

const name = z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9_-]{0,63}$/, 'must be 1-64 letters, digits, _ or -, starting with a letter'));
/** Collection names (declared in the deployment's `recordCollections` context). */
export const collectionNameSchema = name;
/** Field names: also the keys of the stored field map, so restricted. */
export const fieldNameSchema = name;
/** Record, element, op and device ids: a client makes them (ULIDs or UUIDs, say). */
export const syncIdSchema = z.string().check(z.regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 letters, digits or ._:-'));

/**
 * A hybrid logical clock reading, `<ms, 13 digits>-<counter, 4 digits>-<node>`: compared as a
 * string, later physical time wins, then the counter, then the node (the device id), so two
 * readings are never equal across devices. Made by functions/protocol/hlc.ts, on the server and in clients.
 */
export const clockSchema = z.string().check(z.regex(/^\d{13}-\d{4}-[A-Za-z0-9._:-]{1,64}$/, 'must be a hybrid logical clock reading <ms>-<counter>-<node>'));

/** One field's change: `value` for every strategy but merge-by-id, which takes element upserts and removals. */
export const fieldChangeSchema = z.strictObject({
  clock: clockSchema,
  value: z.optional(z.unknown()),
  upsert: z.optional(z.array(z.record(z.string(), z.unknown())).check(z.maxLength(MAX_ELEMENT_CHANGES))),
  remove: z.optional(z.array(syncIdSchema).check(z.maxLength(MAX_ELEMENT_CHANGES))),
});
export type FieldChange = z.infer<typeof fieldChangeSchema>;

/** One client op: a put of changed fields or a delete, based on the version the device last saw (0: none). */
export const clientOpSchema = z.strictObject({
  opId: syncIdSchema,
  collection: collectionNameSchema,
  id: syncIdSchema,
  base: z.int().check(z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER)),
  kind: z.optional(z.enum(['put', 'delete'])),
  /** Required for a put: at least one field. */
  changes: z.optional(
    z
      .record(fieldNameSchema, fieldChangeSchema)
      .check(z.refine((changes) => Object.keys(changes).length <= MAX_CHANGED_FIELDS, `must change at most ${MAX_CHANGED_FIELDS} fields an op`)),
  ),
  /** Required for a delete: when the device deleted it. */
  clock: z.optional(clockSchema),
});
export type ClientOp = z.infer<typeof clientOpSchema>;

/** `POST /records/{scope}/push`. `pending`: ops still in the device's outbox after this batch, shown in its status. */
export const pushBodySchema = z.strictObject({
  deviceId: syncIdSchema,
  ops: z.array(clientOpSchema).check(z.minLength(1)),
  pending: z.optional(z.int().check(z.nonnegative(), z.lte(1_000_000))),
});
export type PushBody = z.infer<typeof pushBodySchema>;

/** What became of one field of an op. */
export const fieldOutcomes = ['applied', 'superseded', 'kept-server', 'conflict'] as const;
export type FieldOutcome = (typeof fieldOutcomes)[number];

/** Why an op was rejected; nothing of it was applied. */
export const rejectReasons = ['invalid_change', 'clock_ahead', 'base_ahead', 'unknown_record', 'record_deleted', 'record_too_large'] as const;
export type RejectReason = (typeof rejectReasons)[number];

/** Per-field merge metadata: the clock and version of the last change that won, and who made it. */
export const fieldMetaSchema = z.object({
  clock: z.string(),
  version: z.int(),
  by: z.string(),
  device: z.string(),
  /** merge-by-id: each element's clock, the version that last changed it, the first clock that added it, and `removed`. */
  items: z.optional(z.record(z.string(), z.object({ clock: z.string(), version: z.int(), added: z.string(), removed: z.optional(z.boolean()) }))),
});
export type FieldMeta = z.infer<typeof fieldMetaSchema>;

/**
 * An open manual conflict on one field: the value the record kept (`theirs`) and the edit that met
 * it (`mine`). A field may have several, one per competing edit, until a person resolves the field.
 */
export const conflictSchema = z.object({
  field: z.string(),
  mine: z.unknown(),
  theirs: z.unknown(),
  by: z.string(),
  device: z.string(),
  clock: z.string(),
  opId: z.string(),
  at: z.string(),
});
export type Conflict = z.infer<typeof conflictSchema>;

/** A record as it travels: fields, the merge metadata, open conflicts, and `deleted` once it is a tombstone. */
export const wireRecordSchema = z.object({
  collection: z.string(),
  id: z.string(),
  version: z.int(),
  /** The scope's change seq of this version: pulls are ordered by it. */
  seq: z.int(),
  fields: z.record(z.string(), z.unknown()),
  meta: z.record(z.string(), fieldMetaSchema),
  conflicts: z.optional(z.array(conflictSchema)),
  deleted: z.optional(z.object({ at: z.string(), by: z.string(), clock: z.string() })),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type WireRecord = z.infer<typeof wireRecordSchema>;

export const opResultSchema = z.object({
  opId: z.string(),
  status: z.enum(['applied', 'merged', 'conflict', 'rejected']),
  collection: z.string(),
  id: z.string(),
  /** The record's version once the batch committed (absent when rejected and the record does not exist). */
  version: z.optional(z.int()),
  fields: z.optional(z.record(z.string(), z.enum(fieldOutcomes))),
  conflicts: z.optional(z.array(conflictSchema)),
  reason: z.optional(z.enum(rejectReasons)),
  message: z.optional(z.string()),
  /** A retried op id: this is the answer it had the first time, nothing was applied again. */
  replayed: z.optional(z.boolean()),
});
export type OpResult = z.infer<typeof opResultSchema>;

/** The answer to a push: one result per op, in order, and the records they touched as committed. */
export const pushResultSchema = z.object({ results: z.array(opResultSchema), records: z.array(wireRecordSchema) });
export type PushResult = z.infer<typeof pushResultSchema>;

/** `GET /records/{scope}/changes?after=&limit=&deviceId=`; `after` is the cursor a previous pull returned, or none. */
export const pullQuerySchema = z.strictObject({
  after: z.optional(z.string().check(z.regex(/^\d{1,16}\.\d{1,16}$/, 'must be a cursor a previous pull returned'))),
  limit: z.optional(
    z
      .pipe(z.string().check(z.regex(/^\d{1,4}$/)), z.transform(Number))
      .check(z.refine((limit) => limit >= 1 && limit <= MAX_PULL_LIMIT, `must be 1-${MAX_PULL_LIMIT}`)),
  ),
  deviceId: z.optional(syncIdSchema),
});

/**
 * A page of changes: each record once, at its latest version, in seq order (tombstones included
 * while retained). `reset`: the cursor is older than the retention, so deletions may have been
 * forgotten; start again without `after` and replace the local copy.
 */
export const pullPageSchema = z.union([
  z.object({ reset: z.literal(false), records: z.array(wireRecordSchema), cursor: z.string(), more: z.boolean() }),
  z.object({ reset: z.literal(true), message: z.string() }),
]);
export type PullPage = z.infer<typeof pullPageSchema>;

/** `GET /records/{scope}/conflicts`: the open manual conflicts of a scope, oldest first. */
export const conflictListSchema = z.object({
  conflicts: z.array(z.object({ collection: z.string(), id: z.string(), version: z.int(), conflict: conflictSchema })),
});

/**
 * `POST /records/{scope}/{collection}/{id}/resolve`: a person decides a field's conflicts, based on
 * the version they looked at. `mine` takes the edit of the conflict `opId`, `theirs` keeps the
 * record's value, `edit` sets `value`; every open conflict of the field closes with a new version.
 */
export const resolveBodySchema = z.union([
  z.strictObject({ field: fieldNameSchema, base: z.int().check(z.positive()), choose: z.literal('mine'), opId: syncIdSchema }),
  z.strictObject({ field: fieldNameSchema, base: z.int().check(z.positive()), choose: z.literal('theirs') }),
  z.strictObject({ field: fieldNameSchema, base: z.int().check(z.positive()), choose: z.literal('edit'), value: z.unknown() }),
]);
export type ResolveBody = z.infer<typeof resolveBodySchema>;

/** `GET /records/{scope}/devices/{deviceId}`: what a device last did in a scope, and what waits for it. */
export const deviceStatusSchema = z.object({
  deviceId: z.string(),
  lastPulledSeq: z.optional(z.int()),
  lastPulledAt: z.optional(z.string()),
  lastPushAt: z.optional(z.string()),
  pendingOps: z.optional(z.int()),
  /** The scope's latest change seq: `lastPulledSeq` below it means there is something to pull. */
  latestSeq: z.int(),
  openConflicts: z.int(),
});
export type DeviceStatus = z.infer<typeof deviceStatusSchema>;

/** Server to client over the socket, to every subscriber of the scope (a topic): one committed record change. */
export const recordChangeFrameSchema = z.strictObject({ type: z.literal('change'), scope: z.string(), record: wireRecordSchema });
export type RecordChangeFrame = z.infer<typeof recordChangeFrameSchema>;
