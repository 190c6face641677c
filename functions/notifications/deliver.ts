import { ulid } from 'ulid';
import { HeraldError } from '../shared/errors';
import { countMetric, logger } from '../shared/instrumentation';
import type { ConnectionStore } from '../realtime/connections';
import pMap from 'p-map';
import { pushFrames, type ConnectionGateway } from '../realtime/push';
import { recipientKey, type DeliveryOutcome, type DeliveryRequest, type DeliveryStatus, type Notification, type Recipient } from './model';
import { channelsFor, type PreferenceStore, type Preferences } from './preferences';
import type { NotificationStore, SeqCommit } from './store';

export interface DeliverDeps {
  readonly notifications: NotificationStore;
  readonly preferences: PreferenceStore;
  readonly connections: ConnectionStore;
  readonly gateway: ConnectionGateway;
  readonly retentionDays: number;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Commit attempts before deliver() gives up on a user whose counter stays contended. */
export const MAX_COMMIT_ATTEMPTS = 12;
/** A single call may allocate this many seqs to one user; they share one transaction. */
export const MAX_NOTIFICATIONS_PER_USER = 49;
/** Sockets pushed to at once; each socket's own frames go in seq order. */
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
 * 1. Preferences, read in one batch: an in-app channel that is off means nothing is stored.
 * 2. Dedupe keys already used return their first result and write nothing.
 * 3. Each user's notifications get that user's next seqs in one transaction with a conditional
 *    counter update, so seqs are gap-free and commit in order; several users share a
 *    transaction up to DynamoDB's limits, and contention is retried with jittered backoff.
 * 4. Only then are they pushed to every socket of every user (found in batched reads). A push
 *    that fails loses nothing: the client's resume replays from the store.
 */
export async function deliver(deps: DeliverDeps, requests: readonly DeliveryRequest[]): Promise<DeliveryOutcome[]> {
  const now = deps.now?.() ?? new Date();
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const outcomes: Array<DeliveryStatus | undefined> = new Array(requests.length);

  const recipients = uniqueRecipients(requests.map((request) => request.recipient));
  const preferences = await deps.preferences.getMany(recipients);
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

  await settleKnownDuplicates(deps, requests, pending, outcomes);

  const ids = new Map<number, string>(requests.map((_, index) => [index, ulid(now.getTime())]));
  const expiresAt = Math.floor(now.getTime() / 1000) + deps.retentionDays * 86_400;
  const delivered: Array<{ recipient: Recipient; notifications: Notification[] }> = [];
  let lastSeqs = await deps.notifications.lastSeqs([...pending.values()].map((user) => user.recipient));
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
    const results = await deps.notifications.commit(commits);
    let duplicateSeen = false;
    results.forEach((result, position) => {
      const commit = commits[position] as SeqCommit;
      const user = users[position] as PendingUser;
      if (result === 'duplicate') duplicateSeen = true;
      if (result !== 'committed') return;
      pending.delete(recipientKey(user.recipient));
      delivered.push({ recipient: user.recipient, notifications: commit.notifications.map((entry) => entry.notification) });
      user.requests.forEach((index, offset) => {
        const { id, seq } = (commit.notifications[offset] as { notification: Notification }).notification;
        outcomes[index] = { status: 'delivered', id, seq };
      });
    });
    if (pending.size === 0) break;
    if (duplicateSeen) await settleKnownDuplicates(deps, requests, pending, outcomes);
    if (pending.size === 0) break;
    // Full jitter: contending publishers spread out instead of colliding again in lockstep.
    await sleep(Math.random() * Math.min(1_000, 10 * 2 ** attempt));
    lastSeqs = await deps.notifications.lastSeqs([...pending.values()].map((user) => user.recipient));
  }

  for (const [index, first] of duplicatesInCall) {
    const original = outcomes[first];
    outcomes[index] = original && original.status !== 'suppressed' ? { status: 'duplicate', id: original.id, seq: original.seq } : original;
  }
  countMetric('NotificationsDelivered');
  await pushAll(deps, delivered);
  return (outcomes as DeliveryStatus[]).map((outcome, index) => ({ ...outcome, ...emailChoice(preferences, requests[index] as DeliveryRequest) }));
}

function emailChoice(preferences: Map<string, Preferences>, request: DeliveryRequest): { email: boolean; emailTo?: string } {
  const prefs = preferences.get(recipientKey(request.recipient));
  const email = Boolean(request.email) && channelsFor(prefs, request.kind, request.priority).email;
  return email && prefs?.email !== undefined ? { email, emailTo: prefs.email } : { email };
}

/** Requests whose dedupe key already has a result take that result and leave `pending`. */
async function settleKnownDuplicates(
  deps: DeliverDeps,
  requests: readonly DeliveryRequest[],
  pending: Map<string, PendingUser>,
  outcomes: Array<DeliveryStatus | undefined>,
): Promise<void> {
  const keyed = [...pending.values()].flatMap((user) =>
    user.requests.flatMap((index) => {
      const request = requests[index] as DeliveryRequest;
      return request.dedupeKey === undefined ? [] : [{ index, key: scopedDedupeKey(request.recipient, request.dedupeKey) }];
    }),
  );
  if (keyed.length === 0) return;
  const found = await deps.notifications.findDuplicates(keyed.map((entry) => entry.key));
  for (const { index, key } of keyed) {
    const first = found.get(key);
    if (!first) continue;
    outcomes[index] = { status: 'duplicate', id: first.id, seq: first.seq };
    const userKey = recipientKey((requests[index] as DeliveryRequest).recipient);
    const user = pending.get(userKey);
    if (!user) continue;
    user.requests.splice(user.requests.indexOf(index), 1);
    if (user.requests.length === 0) pending.delete(userKey);
  }
}

async function pushAll(deps: DeliverDeps, delivered: ReadonlyArray<{ recipient: Recipient; notifications: Notification[] }>): Promise<void> {
  if (delivered.length === 0) return;
  const connectionIds = await deps.connections.connectionIdsOf(delivered.map((entry) => entry.recipient));
  const sockets = delivered.flatMap(({ recipient, notifications }) =>
    (connectionIds.get(recipientKey(recipient)) ?? []).map((connectionId) => ({ connectionId, recipient, notifications })),
  );
  let failed = 0;
  await pMap(
    sockets,
    async ({ connectionId, recipient, notifications }) => {
      const frames = notifications.map((notification) => ({ type: 'notification' as const, ...notification }));
      const outcome = await pushFrames(deps, { connectionId, owner: recipient }, frames).catch((error: unknown) => {
        logger.warn('Push failed', { connectionId, error: error as Error });
        return 'failed' as const;
      });
      if (outcome === 'failed') failed++;
    },
    { concurrency: PUSH_CONCURRENCY },
  );
  if (failed > 0) countMetric('PushesFailed');
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
