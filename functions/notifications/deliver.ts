import { ulid } from 'ulid';
import { HeraldError } from '../shared/errors';
import { countMetric, logger } from '../shared/instrumentation';
import { randomFraction } from '../shared/random';
import pLimit from 'p-limit';
import type { ConnectionStore } from '../realtime/connections';
import { pushFrames, type ConnectionGateway } from '../realtime/push';
import { recipientKey, type DeliveryOutcome, type DeliveryRequest, type DeliveryStatus, type Notification, type Recipient } from './model';
import { channelsFor, type Preferences } from './preferences';
import type { DeliveryReads, NotificationStore, SeqCommit } from './store';

export interface DeliverDeps {
  readonly notifications: NotificationStore;
  /** Preferences, counters, dedupe records and sockets, read together before the transaction. */
  readonly reads: DeliveryReads;
  readonly connections: ConnectionStore;
  readonly gateway: ConnectionGateway;
  readonly retentionDays: number;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What a caller of deliver() to many users may already know. */
export interface DeliverOptions {
  /**
   * The recipients' socket sets (recipient key -> connection ids), read by the caller moments
   * before (the alert fan-out reads them to put connected members' chunks first). deliver() then
   * reads none before its commit; its read after the commit still finds sockets that joined since.
   */
  readonly connectionIds?: ReadonlyMap<string, readonly string[]>;
}

/** Commit attempts before deliver() gives up on a user whose counter stays contended. */
export const MAX_COMMIT_ATTEMPTS = 12;
/** A single call may allocate this many seqs to one user; they share one transaction. */
export const MAX_NOTIFICATIONS_PER_USER = 49;
/** Sockets pushed to at once by one call, across all its committed transactions; each socket's own frames go in seq order. */
const PUSH_CONCURRENCY = 32;

export class DeliveryContentionError extends HeraldError {
  constructor(users: number) {
    super(503, 'contention', `Could not allocate seqs for ${users} user(s) after ${MAX_COMMIT_ATTEMPTS} attempts; retry`);
  }
}

interface PendingUser {
  readonly recipient: Recipient;
  /** Indexes into the request list, in request order. */
  readonly requests: number[];
}

/**
 * The only path by which a notification reaches a user (docs/architecture.md).
 *
 * 1. One read of everything the transaction depends on: preferences, dedupe records, counters and
 *    sockets, in one round of multi-table BatchGetItem calls. An in-app channel that is off means
 *    nothing is stored; a dedupe key already used returns its first result and writes nothing.
 * 2. Each user's notifications get that user's next seqs in one transaction with a conditional
 *    counter update, so seqs are gap-free and commit in order; several users share a
 *    transaction up to DynamoDB's limits, several transactions run at once, and contention is
 *    retried with jittered backoff after re-reading the contended counters and dedupe records.
 * 3. Each transaction's notifications are pushed as soon as it commits (never before: persist,
 *    then push), to the sockets read in step 1; once all have committed, the socket sets are
 *    read again and sockets that connected meanwhile are pushed to as well. A push that fails
 *    loses nothing: the client's resume replays from the store.
 */
export async function deliver(deps: DeliverDeps, requests: readonly DeliveryRequest[], options: DeliverOptions = {}): Promise<DeliveryOutcome[]> {
  const now = deps.now?.() ?? new Date();
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const outcomes: Array<DeliveryStatus | undefined> = new Array(requests.length);

  const recipients = uniqueRecipients(requests.map((request) => request.recipient));
  const dedupeKeys = requests.flatMap((request) => (request.dedupeKey === undefined ? [] : [scopedDedupeKey(request.recipient, request.dedupeKey)]));
  const snapshot = await deps.reads.read({
    preferencesOf: recipients,
    lastSeqsOf: recipients,
    dedupeKeys,
    connectionsOf: options.connectionIds === undefined ? recipients : [],
  });
  const { preferences } = snapshot;
  const pending = new Map<string, PendingUser>();
  const firstByDedupeKey = new Map<string, number>();
  const duplicatesInCall: Array<[number, number]> = [];
  requests.forEach((request, index) => {
    const key = recipientKey(request.recipient);
    if (!channelsFor(preferences.get(key), request.kind, request.priority).inApp) {
      outcomes[index] = { status: 'suppressed' };
      return;
    }
    if (request.dedupeKey !== undefined) {
      const scoped = scopedDedupeKey(request.recipient, request.dedupeKey);
      const first = firstByDedupeKey.get(scoped);
      if (first !== undefined) {
        duplicatesInCall.push([index, first]);
        return;
      }
      firstByDedupeKey.set(scoped, index);
    }
    const user = pending.get(key) ?? { recipient: request.recipient, requests: [] };
    user.requests.push(index);
    pending.set(key, user);
  });
  for (const user of pending.values()) {
    if (user.requests.length > MAX_NOTIFICATIONS_PER_USER) {
      throw new HeraldError(400, 'too_many', `At most ${MAX_NOTIFICATIONS_PER_USER} notifications per user in one call`);
    }
  }

  settleKnownDuplicates(requests, pending, outcomes, snapshot.duplicates);

  const ids = new Map<number, string>(requests.map((_, index) => [index, ulid(now.getTime(), randomFraction)]));
  const expiresAt = Math.floor(now.getTime() / 1000) + deps.retentionDays * 86_400;
  const pushes = pushesAsCommitted(deps, options.connectionIds ?? snapshot.connectionIds);
  let lastSeqs = snapshot.lastSeqs;
  try {
    for (let attempt = 1; pending.size > 0; attempt++) {
      if (attempt > MAX_COMMIT_ATTEMPTS) {
        countMetric('DeliveryContention');
        throw new DeliveryContentionError(pending.size);
      }
      const users = [...pending.values()];
      const commits: SeqCommit[] = users.map((user) => {
        const expectedLastSeq = lastSeqs.get(recipientKey(user.recipient)) ?? 0;
        return {
          recipient: user.recipient,
          expectedLastSeq,
          expiresAt,
          notifications: user.requests.map((index, offset) => {
            const request = requests[index] as DeliveryRequest;
            return {
              notification: toNotification(request, ids.get(index) as string, expectedLastSeq + offset + 1, now),
              dedupeKey: request.dedupeKey === undefined ? undefined : scopedDedupeKey(request.recipient, request.dedupeKey),
            };
          }),
        };
      });
      const notificationsOf = (commit: SeqCommit) => commit.notifications.map((entry) => entry.notification);
      const results = await deps.notifications.commit(commits, (positions) =>
        pushes.push(
          positions.map((position) => ({
            recipient: (commits[position] as SeqCommit).recipient,
            notifications: notificationsOf(commits[position] as SeqCommit),
          })),
        ),
      );
      results.forEach((result, position) => {
        const commit = commits[position] as SeqCommit;
        const user = users[position] as PendingUser;
        if (result !== 'committed') return;
        pending.delete(recipientKey(user.recipient));
        user.requests.forEach((index, offset) => {
          const { id, seq } = (commit.notifications[offset] as { notification: Notification }).notification;
          outcomes[index] = { status: 'delivered', id, seq };
        });
      });
      if (pending.size === 0) break;
      // Full jitter: contending publishers spread out instead of colliding again in lockstep.
      await sleep(Math.random() * Math.min(1_000, 10 * 2 ** attempt));
      // The contended counters and, in the same read, any dedupe key another publisher took meanwhile.
      const again = await deps.reads.read({
        lastSeqsOf: [...pending.values()].map((user) => user.recipient),
        dedupeKeys: pendingDedupeKeys(requests, pending),
      });
      settleKnownDuplicates(requests, pending, outcomes, again.duplicates);
      lastSeqs = again.lastSeqs;
    }
  } finally {
    // Whatever was committed is pushed, even when a contended user made the call fail.
    await pushes.finish();
  }

  for (const [index, first] of duplicatesInCall) {
    const original = outcomes[first];
    outcomes[index] = original && original.status !== 'suppressed' ? { status: 'duplicate', id: original.id, seq: original.seq } : original;
  }
  countMetric('NotificationsDelivered');
  return (outcomes as DeliveryStatus[]).map((outcome, index) => ({ ...outcome, ...emailChoice(preferences, requests[index] as DeliveryRequest) }));
}

function emailChoice(preferences: Map<string, Preferences>, request: DeliveryRequest): { email: boolean; emailTo?: string } {
  const prefs = preferences.get(recipientKey(request.recipient));
  const email = Boolean(request.email) && channelsFor(prefs, request.kind, request.priority).email;
  return email && prefs?.email !== undefined ? { email, emailTo: prefs.email } : { email };
}

function pendingDedupeKeys(requests: readonly DeliveryRequest[], pending: Map<string, PendingUser>): string[] {
  return [...pending.values()].flatMap((user) =>
    user.requests.flatMap((index) => {
      const request = requests[index] as DeliveryRequest;
      return request.dedupeKey === undefined ? [] : [scopedDedupeKey(request.recipient, request.dedupeKey)];
    }),
  );
}

/** Requests whose dedupe key already has a result (in `found`) take that result and leave `pending`. */
function settleKnownDuplicates(
  requests: readonly DeliveryRequest[],
  pending: Map<string, PendingUser>,
  outcomes: Array<DeliveryStatus | undefined>,
  found: ReadonlyMap<string, { id: string; seq: number }>,
): void {
  for (const user of [...pending.values()]) {
    for (const index of [...user.requests]) {
      const request = requests[index] as DeliveryRequest;
      const first = request.dedupeKey === undefined ? undefined : found.get(scopedDedupeKey(request.recipient, request.dedupeKey));
      if (!first) continue;
      outcomes[index] = { status: 'duplicate', id: first.id, seq: first.seq };
      user.requests.splice(user.requests.indexOf(index), 1);
      if (user.requests.length === 0) pending.delete(recipientKey(user.recipient));
    }
  }
}

type Committed = { readonly recipient: Recipient; readonly notifications: readonly Notification[] };

/**
 * Pushes each committed chunk at once to the sockets known before the commit; `finish` waits for
 * them and then reads the committed users' socket sets again, pushing to sockets that were not
 * known. A socket registered after that read resumes from the store, which already holds these
 * notifications, so no connected socket misses one (the guarantee of reading sockets after the commit).
 */
function pushesAsCommitted(deps: DeliverDeps, known: ReadonlyMap<string, readonly string[]>) {
  const inFlight: Array<Promise<void>> = [];
  const committed: Committed[] = [];
  let failed = 0;
  // One bound for the whole call: 8 transactions committing at once must not mean 8 x 32 posts.
  const limit = pLimit(PUSH_CONCURRENCY);
  const pushTo = async (sockets: ReadonlyArray<Committed & { connectionId: string }>) => {
    await Promise.all(
      sockets.map(({ connectionId, recipient, notifications }) =>
        limit(async () => {
          const frames = notifications.map((notification) => ({ type: 'notification' as const, ...notification }));
          const outcome = await pushFrames(deps, { connectionId, owner: recipient }, frames).catch((error: unknown) => {
            logger.warn('Push failed', { connectionId, error: error as Error });
            return 'failed' as const;
          });
          if (outcome === 'failed') failed++;
        }),
      ),
    );
  };
  return {
    push(chunk: readonly Committed[]): void {
      committed.push(...chunk);
      const sockets = chunk.flatMap((entry) => (known.get(recipientKey(entry.recipient)) ?? []).map((connectionId) => ({ ...entry, connectionId })));
      if (sockets.length > 0) inFlight.push(pushTo(sockets));
    },
    async finish(): Promise<void> {
      const lateJoiners = async () => {
        if (committed.length === 0) return;
        const current = await deps.connections.connectionIdsOf(committed.map((entry) => entry.recipient));
        await pushTo(
          committed.flatMap((entry) => {
            const before = new Set(known.get(recipientKey(entry.recipient)) ?? []);
            return (current.get(recipientKey(entry.recipient)) ?? []).filter((id) => !before.has(id)).map((connectionId) => ({ ...entry, connectionId }));
          }),
        );
      };
      await Promise.all([
        ...inFlight,
        lateJoiners().catch((error: unknown) => logger.warn('Reading sockets after the commit failed', { error: error as Error })),
      ]);
      if (failed > 0) countMetric('PushesFailed');
    },
  };
}

function toNotification(request: DeliveryRequest, id: string, seq: number, now: Date): Notification {
  const { recipient: _recipient, dedupeKey: _dedupeKey, email: _email, ...content } = request;
  return { ...content, seq, id, createdAt: now.toISOString() };
}

/** Dedupe keys are scoped to the recipient: one source key fans out to many users. */
function scopedDedupeKey(recipient: Recipient, dedupeKey: string): string {
  return `notification#${recipientKey(recipient)}#${dedupeKey}`;
}

function uniqueRecipients(recipients: readonly Recipient[]): Recipient[] {
  return [...new Map(recipients.map((recipient) => [recipientKey(recipient), recipient])).values()];
}
