import type { InboxItem, Notification, Recipient } from './model';
import type { Preferences } from './preferences';

/**
 * A dedupe key's claim: the notification id its first writer will write (or wrote), and when it
 * claimed it. Records written before claims existed (by the transaction) carry the seq instead
 * of `claimedAtMs`; either way the id's item, once written, is the first result.
 */
export interface DedupeClaim {
  readonly id: string;
  readonly seq?: number;
  readonly claimedAtMs?: number;
  /**
   * When the lease ends (epoch ms): shortly after the claimer's invocation must have stopped.
   * Claims made before leases had their own end carry only `claimedAtMs` (lease CLAIM_LEASE_MS).
   */
  readonly leaseUntilMs?: number;
  /**
   * Which call holds the lease: a token of its own (a fresh id), so that the SDK's retry of its
   * take-over and its give-back recognise its claim even when another call claimed in the same millisecond.
   */
  readonly holder?: string;
}

/** A claim's time and the end of its lease, both epoch ms. */
export interface ClaimLease {
  readonly claimedAtMs: number;
  readonly leaseUntilMs: number;
}

export interface InboxPage {
  readonly items: InboxItem[];
  /** The user's highest seq, expired or not (0 when none): the larger of the hint and the newest item. */
  readonly lastSeq: number;
}

/**
 * The Notifications table (and the Dedupe table's claims), through the operations deliver() and
 * the inbox need. Seqs are allocated without a transaction (docs/protocol.md, "How seqs are
 * allocated"): an item is put at a seq only if none holds it, and the counter item's `lastSeq`
 * is a hint raised after the puts.
 */
export interface NotificationStore {
  /** Claims `dedupeKey` for the notification `id` the caller is about to write (`id` is its holder), unless a claim exists: then that claim. */
  claim(dedupeKey: string, id: string, lease: ClaimLease, expiresAt: number): Promise<{ claimed: true } | { claimed: false; claim: DedupeClaim }>;
  /** Takes over `stale` (a claim whose lease ran out) for the same id as `holder`, only if it is still exactly that claim. */
  takeOverClaim(dedupeKey: string, stale: DedupeClaim, holder: string, lease: ClaimLease, expiresAt: number): Promise<boolean>;
  /**
   * Gives back the claim `holder` made (or took over) for `id`, whose item it did not store: the
   * claim stays, naming the same id, with its lease over (`claimedAtMs` and `leaseUntilMs` 0) and no holder, so the
   * next request completes it at once. A claim another holder has by now is left alone.
   */
  releaseClaim(dedupeKey: string, id: string, holder: string, expiresAt: number): Promise<void>;
  /** Puts the notification at its seq if no item holds that seq: `taken` when one does. */
  putAt(recipient: Recipient, notification: Notification, expiresAt: number): Promise<'put' | 'taken'>;
  /** The highest seq any item of the user holds, expired or not (0 when none), read consistently. */
  newestSeq(recipient: Recipient): Promise<number>;
  /** Raises the hint (`lastSeq`) to `seq` unless it is already there or higher. */
  raiseHint(recipient: Recipient, seq: number): Promise<void>;
  /** Unexpired notifications with seq > after, ascending, at most `limit`. */
  page(recipient: Recipient, after: number, limit: number, nowEpochSeconds: number): Promise<InboxPage>;
  /** Unexpired unread notifications, all or (tied to a replay) those with seq ≤ upTo. */
  countUnread(recipient: Recipient, nowEpochSeconds: number, upTo?: number): Promise<number>;
  markReadUpTo(recipient: Recipient, upTo: number): Promise<void>;
  /** Seq of each id the user owns; ids of other users or tenants are simply absent. */
  seqsOfIds(recipient: Recipient, ids: readonly string[]): Promise<Map<string, number>>;
  markReadSeqs(recipient: Recipient, seqs: readonly number[]): Promise<void>;
  /** Raises the delivered watermark; `beyond` when upTo exceeds the last seq (the larger of the hint and the newest item). */
  recordAck(recipient: Recipient, upTo: number): Promise<'recorded' | 'stale' | 'beyond'>;
}

/** What deliver() reads before it commits, each part for the recipients or keys it names. */
export interface DeliveryQuery {
  readonly preferencesOf?: readonly Recipient[];
  readonly lastSeqsOf?: readonly Recipient[];
  readonly dedupeKeys?: readonly string[];
  readonly connectionsOf?: readonly Recipient[];
  /** Read the socket sets consistently: after the writes, a socket registered before this read must be seen. */
  readonly consistentConnections?: boolean;
}

/**
 * Maps by recipient key (or dedupe key); an absent entry means no item (default preferences, seq 0,
 * no socket). `lastSeqs` are hints: the seq to try first, never trusted to be free.
 */
export interface DeliverySnapshot {
  readonly preferences: Map<string, Preferences>;
  readonly lastSeqs: Map<string, number>;
  /** Dedupe claims found, by dedupe key. */
  readonly duplicates: Map<string, DedupeClaim>;
  readonly connectionIds: Map<string, string[]>;
}

/**
 * Everything deliver() must know before it writes, read together: one round of multi-table
 * BatchGetItem calls, not one per table; and the socket sets again after the writes.
 */
export interface DeliveryReads {
  read(query: DeliveryQuery): Promise<DeliverySnapshot>;
}
