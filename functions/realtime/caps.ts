import pMap from 'p-map';
import type { Caller } from '../shared/caller';
import { LimitExceededError } from '../shared/errors';
import { recipientKey, type Recipient } from '../notifications/model';
import { logger } from '../shared/instrumentation';
import { CONNECTING_GRACE_MS, type ConnectionStore, type RecordedSocket } from './connections';
import type { RealtimeLimits } from './limits';
import type { ConnectionGateway } from './push';
import type { TicketStore } from './tickets';

/**
 * Per-user caps of the realtime API (docs/protocol.md, "Limits"): tickets per minute and open
 * sockets. The ticket route refuses before a socket is even attempted, with a body naming the
 * limit; $connect holds the socket cap exactly, since tickets issued before other sockets
 * connected can still be redeemed, and several at once.
 */
export interface SocketCapDeps {
  readonly connections: Pick<ConnectionStore, 'connectionIdsOf'>;
  readonly gateway: Pick<ConnectionGateway, 'isOpen'>;
  readonly limits: Pick<RealtimeLimits, 'socketsPerUser'>;
}

export interface TicketCapDeps extends SocketCapDeps {
  readonly tickets: Pick<TicketStore, 'takeIssueSlot'>;
  readonly limits: RealtimeLimits;
}

/** Throws `limit_exceeded` when the caller may not be issued a ticket now: 429 past the rate, 403 at the socket cap. */
export async function checkTicketCaps(deps: TicketCapDeps, caller: Caller, now: Date): Promise<void> {
  const { ticketsPerMinute, socketsPerUser } = deps.limits;
  if (!(await deps.tickets.takeIssueSlot(caller, now, ticketsPerMinute))) {
    const retryAfterSeconds = 60 - (Math.floor(now.getTime() / 1000) % 60);
    throw new LimitExceededError(429, `At most ${ticketsPerMinute} WebSocket tickets per user per minute; try again in ${retryAfterSeconds} s`, {
      name: 'ticketsPerMinute',
      max: ticketsPerMinute,
      retryAfterSeconds,
    });
  }
  const ids = (await deps.connections.connectionIdsOf([caller])).get(recipientKey(caller)) ?? [];
  // The set can hold ids of sockets that are gone (a lost $disconnect): only at the cap are they checked one by one.
  if (ids.length >= socketsPerUser && (await openSockets(deps, ids)) >= socketsPerUser) {
    throw new LimitExceededError(403, `At most ${socketsPerUser} open WebSocket connections per user; close one first`, {
      name: 'socketsPerUser',
      max: socketsPerUser,
    });
  }
}

export interface ConnectCapDeps {
  readonly connections: Pick<ConnectionStore, 'removeGone'>;
  readonly gateway: Pick<ConnectionGateway, 'isOpen'>;
  readonly limits: Pick<RealtimeLimits, 'socketsPerUser'>;
}

/**
 * Whether a socket just recorded by $connect keeps its user within the cap, exactly, however many
 * connect at once. `recorded` is the user's set as the connect's own atomic write left it: the
 * sockets recorded before this one (and not removed since), and no socket recorded after it. This
 * one is admitted when fewer than `socketsPerUser` of those are open or still connecting, so of
 * sockets racing for the last places the first ones recorded take them, and each later one counts
 * the earlier ones, open or not yet. Below the cap that costs nothing more; at it, only sockets
 * recorded before the grace are checked with GET @connections, and those gone for good are taken
 * out of the set, so they count no longer and are not checked again.
 */
export async function withinSocketCap(
  deps: ConnectCapDeps,
  owner: Recipient,
  connectionId: string,
  recorded: readonly RecordedSocket[],
  now: Date,
): Promise<boolean> {
  const { socketsPerUser } = deps.limits;
  const before = recorded.filter((socket) => socket.connectionId !== connectionId);
  if (before.length < socketsPerUser) return true;
  // Recorded within the grace: open or still connecting, it holds its place either way, and needs no request to say so.
  const isRecent = (socket: RecordedSocket) => socket.recordedAt !== undefined && now.getTime() - socket.recordedAt < CONNECTING_GRACE_MS;
  const recent = before.filter(isRecent).length;
  if (recent >= socketsPerUser) return false;
  // Older ones (and ids recorded before the set kept times) hold a place only while they are open.
  const older = before.filter((socket) => !isRecent(socket));
  const open = await pMap(older, (socket) => deps.gateway.isOpen(socket.connectionId), { concurrency: 10 });
  const gone = older.filter((_, index) => !open[index]);
  const recordedBefore = new Date(now.getTime() - CONNECTING_GRACE_MS);
  await pMap(gone, (socket) => prune(deps, socket.connectionId, owner, recordedBefore), { concurrency: 10 });
  return recent + older.length - gone.length < socketsPerUser;
}

/**
 * Takes a socket gone for good out of its user's set, as a push's 410 does (the same conditional
 * `removeGone`, one rule for both). Best effort: a failure leaves it to be found gone again, never admits more.
 */
async function prune(deps: Pick<ConnectCapDeps, 'connections'>, connectionId: string, owner: Recipient, recordedBefore: Date): Promise<void> {
  try {
    await deps.connections.removeGone(connectionId, owner, recordedBefore);
  } catch (error) {
    logger.warn('Could not prune a socket gone for good', { connectionId, error: error as Error });
  }
}

/**
 * How many of `ids` API Gateway still has open (the ticket route's count). Ids that are gone are
 * not counted, and not removed either: a socket whose $connect is still running is not open yet,
 * and the ticket route does not know when each was recorded. $connect counts exactly and prunes.
 */
async function openSockets(deps: Pick<SocketCapDeps, 'gateway'>, ids: readonly string[]): Promise<number> {
  const open = await pMap(ids, (id) => deps.gateway.isOpen(id), { concurrency: 10 });
  return open.filter(Boolean).length;
}
