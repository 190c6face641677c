import type { InboxItem, Notification, Recipient } from './model';

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
  /** Last committed seq of each user, by recipient key, read consistently in batches. */
  lastSeqs(recipients: readonly Recipient[]): Promise<Map<string, number>>;
  /** The first result recorded under each dedupe key that has one. */
  findDuplicates(dedupeKeys: readonly string[]): Promise<Map<string, { id: string; seq: number }>>;
  /** Commits each user's notifications atomically with its counter; results align with `commits`. */
  commit(commits: readonly SeqCommit[]): Promise<CommitResult[]>;
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
