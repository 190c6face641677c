/**
 * The records library's public shapes (web/client/README.md, "Records"; docs/sync.md, "The client").
 * Wire shapes are the server's own definitions, imported as types only.
 */
import type { ClientOp, Conflict, OpResult, RejectReason, ResolveBody, WireRecord } from '../../../functions/protocol/records';

export type { ClientOp, Conflict, OpResult, RejectReason, ResolveBody, WireRecord };

/** How soon an op should go out: critical ops are sent before normal ones, normal before low. */
export type OpPriority = 'critical' | 'normal' | 'low';

/**
 * One edit of a record, as `HeraldRecords.edit` takes it:
 * - `set`: field values (every strategy but merge-by-id);
 * - `upsert` / `remove`: elements (objects with an `id`) of merge-by-id fields, by field.
 */
export interface RecordEdit {
  readonly set?: Readonly<Record<string, unknown>>;
  readonly upsert?: Readonly<Record<string, ReadonlyArray<Readonly<Record<string, unknown>> & { readonly id: string }>>>;
  readonly remove?: Readonly<Record<string, readonly string[]>>;
}

/** An op waiting in the outbox. `opId` is made once, when the edit is made, and kept across retries: a resend is a no-op server-side. */
export interface OutboxOp {
  /** Order of creation across every tab of the device (IndexedDB's key generator). */
  readonly seq: number;
  readonly scope: string;
  readonly priority: OpPriority;
  readonly op: ClientOp;
  readonly createdAt: number;
  /** Failed pushes this op was part of. */
  readonly attempts: number;
  /** Epoch ms before which it is not retried (backoff after a failed push; 0 at first). */
  readonly notBefore: number;
}

/** A record as the app shows it: the server's last word with this device's unsent edits applied on top (optimistic). */
export interface LocalRecord {
  readonly scope: string;
  readonly collection: string;
  readonly id: string;
  /** The server version the view is based on (0: the server has not seen the record yet). */
  readonly version: number;
  readonly fields: Record<string, unknown>;
  /** Open manual conflicts (from the server); resolve them with `HeraldRecords.resolve`. */
  readonly conflicts: readonly Conflict[];
  /** Deleted on the server, or by an unsent op of this device. */
  readonly deleted: boolean;
  /** Unsent ops of this device on this record. */
  readonly pending: number;
}

export interface RecordKey {
  readonly scope: string;
  readonly collection: string;
  readonly id: string;
}

export interface RecordsEvents extends Record<string, unknown> {
  /** Ops waiting in the outbox (every scope, every tab of this device): drive a pending-changes badge with it. */
  pending: number;
  /** A record's local view changed (an edit here or in another tab, a push answer, a pull, a live change). */
  record: LocalRecord;
  /** A record has open manual conflicts: new ones from a push answer, a pull or a live change. */
  conflict: { record: LocalRecord; conflicts: readonly Conflict[] };
  /** The server refused an op; nothing of it was applied and the local view dropped it. */
  rejected: { scope: string; op: ClientOp; reason: RejectReason | 'refused'; message: string };
  /** A scope's cursor was too old: its copy was dropped and pulled again (unsent ops kept). */
  reset: { scope: string };
  /** Something failed and is being retried; for logging. */
  error: Error;
}

/** A write that would not fit in the origin's storage quota; nothing of it was stored, and what was stored before is intact. */
export class StorageQuotaError extends Error {
  constructor(
    /** Bytes the origin may use (`navigator.storage.estimate().quota`). */
    readonly quota: number,
    /** Bytes it uses now. */
    readonly usage: number,
    /** Bytes the write needs, estimated, plus the reserve kept free. */
    readonly needed: number,
  ) {
    super(`Storage is full: ${formatBytes(usage)} of ${formatBytes(quota)} used, this edit needs ${formatBytes(needed)} more. Free space or sync first.`);
    this.name = 'StorageQuotaError';
  }
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}
