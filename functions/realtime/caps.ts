import pMap from 'p-map';
import type { Caller } from '../shared/caller';
import { LimitExceededError } from '../shared/errors';
import { recipientKey } from '../notifications/model';
import type { ConnectionStore } from './connections';
import type { RealtimeLimits } from './limits';
import type { ConnectionGateway } from './push';
import type { TicketStore } from './tickets';

/**
 * Per-user caps of the realtime API (docs/protocol.md, "Limits"): tickets per minute and open
 * sockets. The ticket route refuses before a socket is even attempted, with a body naming the
 * limit; $connect holds the socket cap anyway, since tickets issued before other sockets
 * connected can still be redeemed.
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

/**
 * Whether a socket just recorded by $connect keeps its user within the cap. `ids` is the user's
 * set as the connect's own write left it, so in the common case this costs nothing more. Two
 * sockets connecting at the same moment may both take the last place: each sees the other as not
 * open yet.
 */
export async function withinSocketCap(deps: SocketCapDeps, connectionId: string, ids: readonly string[]): Promise<boolean> {
  if (ids.length <= deps.limits.socketsPerUser) return true;
  const others = ids.filter((id) => id !== connectionId);
  return (await openSockets(deps, others)) < deps.limits.socketsPerUser;
}

/**
 * How many of `ids` API Gateway still has open. Ids that are gone are not counted, and not
 * removed either: a socket whose $connect is still running is not open yet, and removing it would
 * hide it from pushes. A push's 410 prunes what is really gone (functions/realtime/push.ts).
 */
async function openSockets(deps: Pick<SocketCapDeps, 'gateway'>, ids: readonly string[]): Promise<number> {
  const open = await pMap(ids, (id) => deps.gateway.isOpen(id), { concurrency: 10 });
  return open.filter(Boolean).length;
}
