import type { InboxItem, Notification, Recipient } from './model';
import type { Preferences } from './preferences';

/** A user's notifications to commit in one go, allocated seqs after `expectedLastSeq`. */
export interface SeqCommit {
  readonly recipient: Recipient;
  readonly expectedLastSeq: number;
  readonly notifications: ReadonlyArray<{ readonly notification: Notification; readonly dedupeKey?: string }>;
  /** Epoch seconds at which the notifications (and their dedupe records) expire. */
  readonly expiresAt: number;
}

/**
 * - `committed`: written, with its seqs.
 * - `stale`: another publisher moved the counter first; re-read it and try again.
 * - `duplicate`: a dedupe key was taken meanwhile; look the first result up.
 * - `retry`: not written for a reason unrelated to this user (a transaction conflict, or another
 *   user in the same transaction failed); try again as is.
 */
export type CommitResult = 'committed' | 'stale' | 'duplicate' | 'retry';

export interface InboxPage {
  readonly items: InboxItem[];
  /** The user's highest committed seq, expired or not (0 when none). */
  readonly lastSeq: number;
}

/** The Notifications table, through the operations deliver() and the inbox need. */
export interface NotificationStore {
  /**
   * Commits each user's notifications atomically with its counter; results align with `commits`.
   * Commits are grouped into transactions (several in flight), and `onCommitted` hears each
   * transaction's committed positions as soon as it commits, before the others finish.
   */
  commit(commits: readonly SeqCommit[], onCommitted?: (positions: readonly number[]) => void): Promise<CommitResult[]>;
  /** Unexpired notifications with seq > after, ascending, at most `limit`. */
  page(recipient: Recipient, after: number, limit: number, nowEpochSeconds: number): Promise<InboxPage>;
  /** Unexpired unread notifications, all or (tied to a replay) those with seq ≤ upTo. */
  countUnread(recipient: Recipient, nowEpochSeconds: number, upTo?: number): Promise<number>;
  markReadUpTo(recipient: Recipient, upTo: number): Promise<void>;
  /** Seq of each id the user owns; ids of other users or tenants are simply absent. */
  seqsOfIds(recipient: Recipient, ids: readonly string[]): Promise<Map<string, number>>;
  markReadSeqs(recipient: Recipient, seqs: readonly number[]): Promise<void>;
  /** Raises the delivered watermark; `beyond` when upTo exceeds the last committed seq. */
  recordAck(recipient: Recipient, upTo: number): Promise<'recorded' | 'stale' | 'beyond'>;
}

/** What deliver() reads before it commits, each part for the recipients or keys it names. */
export interface DeliveryQuery {
  readonly preferencesOf?: readonly Recipient[];
  readonly lastSeqsOf?: readonly Recipient[];
  readonly dedupeKeys?: readonly string[];
  readonly connectionsOf?: readonly Recipient[];
}

/** Maps by recipient key (or dedupe key); an absent entry means no item (default preferences, seq 0, no socket). */
export interface DeliverySnapshot {
  readonly preferences: Map<string, Preferences>;
  readonly lastSeqs: Map<string, number>;
  readonly duplicates: Map<string, { id: string; seq: number }>;
  readonly connectionIds: Map<string, string[]>;
}

/**
 * Everything deliver() must know before its transaction, read together: one round of multi-table
 * BatchGetItem calls (preferences, counters and dedupe records consistently), not one per table.
 */
export interface DeliveryReads {
  read(query: DeliveryQuery): Promise<DeliverySnapshot>;
}
