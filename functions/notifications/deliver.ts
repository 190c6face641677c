import { ulid } from 'ulid';
import { HeraldError } from '../shared/errors';
import { countMetric, logger } from '../shared/instrumentation';
import { randomFraction } from '../shared/random';
import pLimit from 'p-limit';
import type { ConnectionStore } from '../realtime/connections';
import { pushFrames, type ConnectionGateway } from '../realtime/push';
import { recipientKey, type DeliveryOutcome, type DeliveryRequest, type DeliveryStatus, type Notification, type Recipient } from './model';
import { channelsFor, type Preferences } from './preferences';
import type { ClaimLease, DedupeClaim, DeliveryReads, NotificationStore } from './store';

export interface DeliverDeps {
  readonly notifications: NotificationStore;
  /** Preferences, counter hints, dedupe claims and sockets, read together before the writes. */
  readonly reads: DeliveryReads;
  readonly connections: ConnectionStore;
  readonly gateway: ConnectionGateway;
  readonly retentionDays: number;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  /** When the invocation running the call will have been stopped (epoch ms); undefined: unknown. Ends the call's dedupe leases. */
  readonly deadline?: () => number | undefined;
}

/** What a caller of deliver() to many users may already know. */
export interface DeliverOptions {
  /**
   * The recipients' socket sets (recipient key -> connection ids), read by the caller moments
   * before (the alert fan-out reads them to put connected members' chunks first). deliver() then
   * reads none before its writes; its read after the writes still finds sockets that joined since.
   */
  readonly connectionIds?: ReadonlyMap<string, readonly string[]>;
}

/** Seqs found taken (and, for a dedupe claim, checks of a claim still being written) before deliver() gives up on a user. */
export const MAX_COMMIT_ATTEMPTS = 12;
/**
 * A single call may allocate this many seqs to one user: its puts go one after another, so this
 * bounds how long one user holds up a call (it was the size of one user's transaction, which
 * callers that batch by it still rely on).
 */
export const MAX_NOTIFICATIONS_PER_USER = 49;
/**
 * How long a dedupe claim belongs to its writer: a claim whose item is missing may be completed by
 * another writer only once it is older than this. Longer than any Lambda function may run (15
 * minutes), so a claimer whose put is still possible is never raced (docs/protocol.md, "Dedupe claims").
 */
export const CLAIM_LEASE_MS = 16 * 60_000;
/**
 * A claim made by a call that knows its invocation's deadline is its writer's until this long
 * after it: by then the invocation has been stopped and a put it sent before has landed (Lambda
 * hosts' clocks agree far closer). A retry of a crashed alert fan-out then completes its claims
 * within its own run instead of answering 503 until the stream's retries are spent.
 */
export const LEASE_MARGIN_MS = 10_000;
/** A held claim is waited for until its lease ends only if that leaves the waiter this long to complete it. */
export const LEASE_WAIT_SAFETY_MS = 5_000;
/** How often a claim waited for until its lease ends is checked for its item meanwhile. */
const LEASE_POLL_MS = 1_000;
/** Users written at once by one call; each user's own puts go one after another, in seq order. */
const USER_CONCURRENCY = 32;
/** Sockets pushed to at once by one call, across all its users; each socket's own frames go in seq order. */
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
 * 1. One read of everything the writes depend on: preferences, dedupe claims, counter hints and
 *    sockets, in one round of multi-table BatchGetItem calls. An in-app channel that is off means
 *    nothing is stored; a dedupe key already used returns its first result and writes nothing.
 * 2. Each user's notifications are stored without a transaction (docs/protocol.md, "How seqs are
 *    allocated"): a dedupe key is claimed first (a conditional put naming the id), then each item
 *    is put at the next seq after the hint only if no item holds it; a seq found taken means
 *    finding the newest item and going on from there. Then the hint is raised. Users go several
 *    at once; one user's puts in seq order.
 * 3. Each user's notifications are pushed as soon as its hint is raised (never before: persist,
 *    then push), to the sockets read in step 1; once all users are written, the socket sets are
 *    read again and sockets that connected meanwhile are pushed to as well. A push that fails
 *    loses nothing: the client's resume replays from the store.
 */
export async function deliver(deps: DeliverDeps, requests: readonly DeliveryRequest[], options: DeliverOptions = {}): Promise<DeliveryOutcome[]> {
  const now = deps.now?.() ?? new Date();
  const deadline = deps.deadline?.();
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

  const context: WriteContext = {
    deps,
    requests,
    outcomes,
    now,
    expiresAt: Math.floor(now.getTime() / 1000) + deps.retentionDays * 86_400,
    sleep: deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))),
    claims: snapshot.duplicates,
    lease: { claimedAtMs: now.getTime(), leaseUntilMs: Math.min(now.getTime() + CLAIM_LEASE_MS, (deadline ?? Number.POSITIVE_INFINITY) + LEASE_MARGIN_MS) },
    deadline,
    clock: () => (deps.now?.() ?? new Date()).getTime(),
  };
  const pushes = pushesAsCommitted(deps, options.connectionIds ?? snapshot.connectionIds);
  const limit = pLimit(USER_CONCURRENCY);
  const hintOf = (user: PendingUser) => snapshot.lastSeqs.get(recipientKey(user.recipient)) ?? 0;
  const stored = (recipient: Recipient) => (written: Notification[]) => pushes.push([{ recipient, notifications: written }]);
  const write = (user: PendingUser, round: (user: PendingUser, hint: number, onStored: (written: Notification[]) => void) => Promise<void>) =>
    limit(() => round(user, hintOf(user), stored(user.recipient)));
  const waiting: PendingUser[] = [];
  let settled: Array<PromiseSettledResult<void>>;
  try {
    // First every claim this call can make and every item it can write. Claims another writer
    // holds without its item yet wait for a second round: waiting in the first would hold a
    // concurrency slot that a user whose item the other writer awaits may need (two calls
    // delivering one chunk at once would each wait on the other).
    settled = await Promise.allSettled([...pending.values()].map((user) => write(user, (u, hint, onStored) => writeUser(context, u, hint, onStored, waiting))));
    settled.push(...(await Promise.allSettled(waiting.map((user) => write(user, (u, hint, onStored) => writeUser(context, u, hint, onStored))))));
  } finally {
    // Whatever was stored is pushed, even when a contended user made the call fail.
    await pushes.finish();
  }
  const failures = settled.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
  const other = failures.find((error) => !(error instanceof DeliveryContentionError));
  if (other !== undefined) throw other;
  if (failures.length > 0) {
    countMetric('DeliveryContention');
    throw new DeliveryContentionError(failures.length);
  }

  for (const [index, first] of duplicatesInCall) {
    const original = outcomes[first];
    outcomes[index] = original && original.status !== 'suppressed' ? { status: 'duplicate', id: original.id, seq: original.seq } : original;
  }
  countMetric('NotificationsDelivered');
  return (outcomes as DeliveryStatus[]).map((outcome, index) => ({ ...outcome, ...emailChoice(preferences, requests[index] as DeliveryRequest) }));
}

interface WriteContext {
  readonly deps: DeliverDeps;
  readonly requests: readonly DeliveryRequest[];
  readonly outcomes: Array<DeliveryStatus | undefined>;
  readonly now: Date;
  readonly expiresAt: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** Claims the snapshot found, by scoped dedupe key. */
  readonly claims: ReadonlyMap<string, DedupeClaim>;
  /** The lease of every claim this call makes or takes over. */
  readonly lease: ClaimLease;
  readonly deadline: number | undefined;
  /** The time now (not the call's start), for leases running out while the call waits. */
  readonly clock: () => number;
}

/** Full jitter: contending writers spread out instead of colliding again in lockstep. */
const backoff = (attempt: number) => Math.random() * Math.min(1_000, 10 * 2 ** attempt);

/**
 * One user's part of a call: its dedupe claims, then its items put in seq order from `hint + 1`,
 * then the hint raised to the last one, then `onStored` with what it stored, in seq order, for the
 * push. Outcomes are set as they settle. On running out of attempts it still raises the hint over
 * what it stored and hands that on before it throws. Given `waiting`, requests whose claim
 * another writer holds without its item yet are left there (as a user of their own) instead of
 * waited for; without it, they are waited for.
 */
async function writeUser(
  context: WriteContext,
  user: PendingUser,
  hint: number,
  onStored: (written: Notification[]) => void,
  waiting?: PendingUser[],
): Promise<void> {
  const { deps, requests, outcomes, now, expiresAt, sleep } = context;
  const { recipient } = user;
  let attempts = 0;
  const spend = async () => {
    if (++attempts >= MAX_COMMIT_ATTEMPTS) throw new DeliveryContentionError(1);
    await sleep(backoff(attempts));
  };

  const toWrite: Array<{ index: number; id: string; claim?: { dedupeKey: string; holder: string } }> = [];
  let highestDuplicate = 0;
  const written: Notification[] = [];
  /** Items from this position on were not stored (a put in flight when the call stopped may have been): their claims go back. */
  let unstoredFrom: number | undefined = 0;
  let putInFlight = false;
  try {
    // 1. Claims, before any item: each names the id its item will carry.
    for (const index of user.requests) {
      const request = requests[index] as DeliveryRequest;
      const id = ulid(now.getTime(), randomFraction);
      if (request.dedupeKey === undefined) {
        toWrite.push({ index, id });
        continue;
      }
      const key = scopedDedupeKey(recipient, request.dedupeKey);
      const claimed = await claimOrFirst(context, recipient, key, id, context.claims.get(key), waiting === undefined ? spend : undefined);
      if ('held' in claimed) {
        const later = waiting?.find((other) => other.recipient === recipient);
        if (later) later.requests.push(index);
        else waiting?.push({ recipient, requests: [index] });
      } else if ('write' in claimed) {
        toWrite.push({ index, id: claimed.write, claim: { dedupeKey: key, holder: id } });
      } else {
        outcomes[index] = { status: 'duplicate', id: claimed.id, seq: claimed.seq };
        highestDuplicate = Math.max(highestDuplicate, claimed.seq);
      }
    }

    // 2. Items in seq order, each at the next seq no item holds.
    let next = hint + 1;
    for (const [position, { index, id }] of toWrite.entries()) {
      unstoredFrom = position;
      for (;;) {
        const notification = toNotification(requests[index] as DeliveryRequest, id, next, now);
        putInFlight = true;
        const put = await deps.notifications.putAt(recipient, notification, expiresAt);
        putInFlight = false;
        if (put === 'put') {
          written.push(notification);
          outcomes[index] = { status: 'delivered', id, seq: next };
          next++;
          break;
        }
        // Taken: by another publisher, or by a writer that stopped before raising the hint.
        await spend();
        next = Math.max(next, await deps.notifications.newestSeq(recipient)) + 1;
      }
    }
    unstoredFrom = undefined;
  } finally {
    if (unstoredFrom !== undefined) await releaseClaims(context, toWrite.slice(putInFlight ? unstoredFrom + 1 : unstoredFrom));
    // 3. The hint, before any push: no seq reaches a client before the hint covers it. A first
    // result found above the hint (its writer stopped before raising it) is covered too.
    const highest = Math.max(written.at(-1)?.seq ?? 0, highestDuplicate);
    if (highest > hint) await deps.notifications.raiseHint(recipient, highest);
    if (written.length > 0) onStored(written);
  }
}

/**
 * Gives back the claims of items this call will not write, which it knows are not stored: the
 * retry a 503 asks for then completes them at once, with the claimed ids, instead of waiting out
 * the lease. A claim whose put may have reached DynamoDB (an error, not a taken seq) keeps its
 * lease. A failed give-back is logged; the lease still completes the claim later.
 */
async function releaseClaims(context: WriteContext, unwritten: ReadonlyArray<{ id: string; claim?: { dedupeKey: string; holder: string } }>): Promise<void> {
  const { deps, expiresAt } = context;
  await Promise.all(
    unwritten.map(({ id, claim }) =>
      claim === undefined
        ? undefined
        : deps.notifications
            .releaseClaim(claim.dedupeKey, id, claim.holder, expiresAt)
            .catch((error: unknown) => logger.warn('Giving a dedupe claim back failed; its lease will', { dedupeKey: claim.dedupeKey, error: error as Error })),
    ),
  );
}

/**
 * Claims a dedupe key for a new notification (`write`: the id to write), or finds its first
 * result. A claim whose item is missing is either being written (wait for it with `spend`, or
 * without it answer `held`) or was left by a writer that stopped (after the lease, take it over
 * and write its id: the item is written once). `id` is the id this call's item would carry, and
 * its token as a claim's holder (a take-over keeps the claim's id).
 */
async function claimOrFirst(
  context: WriteContext,
  recipient: Recipient,
  key: string,
  id: string,
  known: DedupeClaim | undefined,
  spend: (() => Promise<void>) | undefined,
): Promise<{ write: string } | { id: string; seq: number } | { held: true }> {
  const { deps, expiresAt, lease, deadline, sleep } = context;
  let claim = known;
  for (;;) {
    if (claim === undefined) {
      const result = await deps.notifications.claim(key, id, lease, expiresAt);
      if (result.claimed) return { write: id };
      claim = result.claim;
    }
    if (claim.seq !== undefined) return { id: claim.id, seq: claim.seq };
    const seq = (await deps.notifications.seqsOfIds(recipient, [claim.id])).get(claim.id);
    if (seq !== undefined) return { id: claim.id, seq };
    const leaseEnd = claim.leaseUntilMs ?? (claim.claimedAtMs === undefined ? undefined : claim.claimedAtMs + CLAIM_LEASE_MS);
    const clock = context.clock();
    if (leaseEnd !== undefined && clock > leaseEnd) {
      if (await deps.notifications.takeOverClaim(key, claim, id, lease, expiresAt)) return { write: claim.id };
    } else if (spend === undefined) {
      // Still its writer's: it is putting the item now (or stopped, and the lease will tell).
      return { held: true };
    } else if (leaseEnd !== undefined && deadline !== undefined && leaseEnd + LEASE_WAIT_SAFETY_MS < deadline) {
      // The lease ends while this call still has time to complete the claim: keep checking (its
      // writer may yet put the item) until it does, rather than answer a 503 whose retries may
      // all fall inside the lease, as the alert stream's quick ones would.
      await sleep(Math.min(leaseEnd - clock + 1, LEASE_POLL_MS));
    } else {
      await spend();
    }
    claim = undefined;
  }
}

function emailChoice(preferences: Map<string, Preferences>, request: DeliveryRequest): { email: boolean; emailTo?: string } {
  const prefs = preferences.get(recipientKey(request.recipient));
  const email = Boolean(request.email) && channelsFor(prefs, request.kind, request.priority).email;
  return email && prefs?.email !== undefined ? { email, emailTo: prefs.email } : { email };
}

type Committed = { readonly recipient: Recipient; readonly notifications: readonly Notification[] };

/**
 * Pushes each user's notifications as soon as they are stored, to the sockets known before the
 * writes; `finish` waits for them and then reads the stored users' socket sets again, pushing to
 * sockets that were not known. A socket registered after that read resumes from the store, which
 * already holds these notifications, so no connected socket misses one.
 */
function pushesAsCommitted(deps: DeliverDeps, known: ReadonlyMap<string, readonly string[]>) {
  const inFlight: Array<Promise<void>> = [];
  const committed: Committed[] = [];
  let failed = 0;
  // One bound for the whole call: 32 users stored at once must not mean 32 x their sockets' posts.
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
        const current = (await deps.reads.read({ connectionsOf: committed.map((entry) => entry.recipient), consistentConnections: true })).connectionIds;
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
