import { createHash, randomBytes } from 'node:crypto';
import type { Caller } from '../shared/caller';
import type { Recipient } from '../notifications/model';

/**
 * WebSocket tickets: a browser cannot set headers on a WebSocket, so it puts a ticket in the URL.
 * A ticket is random, lives 30 s and is consumed on first use, so one found in a log is worthless.
 * Only its SHA-256 is stored, so a read of the table does not yield usable tickets either.
 */
export interface TicketGrant {
  readonly tenant: string;
  readonly userId: string;
  readonly roles: readonly string[];
  /** Epoch seconds after which the ticket is refused (TTL removes the row some time later). */
  readonly expiresAt: number;
}

export interface TicketStore {
  put(ticketHash: string, grant: TicketGrant): Promise<void>;
  /** Deletes and returns the grant in one atomic step, only while it has not expired. */
  take(ticketHash: string, nowEpochSeconds: number): Promise<TicketGrant | undefined>;
  /** Takes one of the owner's `max` ticket issues of `now`'s minute; false when they are all taken. */
  takeIssueSlot(owner: Recipient, now: Date, max: number): Promise<boolean>;
}

export interface IssuedTicket {
  readonly ticket: string;
  readonly expiresAt: Date;
}

const TICKET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function hashTicket(ticket: string): string {
  return createHash('sha256').update(ticket).digest('hex');
}

export async function issueTicket(store: TicketStore, caller: Caller, ttlSeconds: number, now = new Date()): Promise<IssuedTicket> {
  const ticket = randomBytes(32).toString('base64url');
  const expiresAt = Math.floor(now.getTime() / 1000) + ttlSeconds;
  await store.put(hashTicket(ticket), { tenant: caller.tenant, userId: caller.userId, roles: caller.roles, expiresAt });
  return { ticket, expiresAt: new Date(expiresAt * 1000) };
}

/** Returns the grant for a live, unused ticket and consumes it; anything else yields undefined. */
export async function redeemTicket(store: TicketStore, ticket: string | undefined, now = new Date()): Promise<TicketGrant | undefined> {
  if (!ticket || !TICKET_SHAPE.test(ticket)) return undefined;
  return store.take(hashTicket(ticket), Math.floor(now.getTime() / 1000));
}
