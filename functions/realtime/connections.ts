import type { Recipient } from '../notifications/model';
import type { FrameCounter } from './frame-rate';

/** A live WebSocket connection, as recorded at $connect and removed at $disconnect or on 410. */
export interface ConnectionRecord {
  readonly connectionId: string;
  readonly tenant: string;
  readonly userId: string;
  readonly roles: readonly string[];
  readonly connectedAt: string;
  /** Epoch seconds; DynamoDB TTL removes rows whose $disconnect never arrived. */
  readonly expiresAt: number;
  /** Topics this connection subscribed to, so $disconnect can leave them. */
  readonly topics?: readonly string[];
}

/**
 * How long after its $connect recorded it a socket that API Gateway does not show open (GET or
 * POST @connections answer 410) may still be connecting. API Gateway waits at most 29 s for a
 * $connect integration; a socket recorded longer ago than this and not open is gone for good (a
 * lost $disconnect, or a refused connect whose removal failed). The margin covers the clocks of
 * two Lambda containers.
 */
export const CONNECTING_GRACE_MS = 60_000;

/** One id of a user's socket set, with when its $connect recorded it (absent for ids recorded before the set kept times). */
export interface RecordedSocket {
  readonly connectionId: string;
  /** Epoch milliseconds, from the recording connect's own clock. */
  readonly recordedAt?: number;
}

export interface ConnectionStore extends FrameCounter {
  /**
   * Records the connection and adds it to its user's set of connection ids, in one atomic write;
   * returns that set as this write left it (this connection included, and exactly the sockets
   * recorded before it and not yet removed), so $connect can hold the user's socket cap.
   */
  save(connection: ConnectionRecord): Promise<readonly RecordedSocket[]>;
  /**
   * Deletes the row and drops the id from its owner's set, returning the row as it was. `owner`
   * covers a row that is already gone while the id lingers in the set (a lost $disconnect).
   */
  remove(connectionId: string, owner?: Recipient): Promise<ConnectionRecord | undefined>;
  /**
   * Removes a socket that answered 410, like `remove`, unless its $connect recorded it at or after
   * `recordedBefore`: a socket still connecting answers 410 too, and removing it would hide it from
   * pushes and from the socket cap once it opens. False when it was left in place.
   */
  removeGone(connectionId: string, owner: Recipient, recordedBefore: Date): Promise<boolean>;
  /** Every user's connection ids, by recipient key, in batched reads (no query per user). */
  connectionIdsOf(recipients: readonly Recipient[]): Promise<Map<string, string[]>>;
  /** Notes a topic subscription on the row; false when the connection is gone. */
  addTopic(connectionId: string, topic: string): Promise<boolean>;
  removeTopic(connectionId: string, topic: string): Promise<void>;
}

/** Identity handed from the $connect authorizer to every later route, as API Gateway carries it. */
export interface ConnectionIdentity {
  readonly tenant: string;
  readonly userId: string;
  readonly roles: readonly string[];
}

/** API Gateway authorizer context values must be strings, numbers or booleans. */
export function identityToAuthorizerContext(identity: ConnectionIdentity): Record<string, string> {
  return { tenant: identity.tenant, userId: identity.userId, roles: identity.roles.join(',') };
}

export function identityFromAuthorizerContext(context: Record<string, unknown> | null | undefined): ConnectionIdentity | undefined {
  if (!context || typeof context.tenant !== 'string' || typeof context.userId !== 'string') return undefined;
  const roles = typeof context.roles === 'string' && context.roles !== '' ? context.roles.split(',') : [];
  return { tenant: context.tenant, userId: context.userId, roles };
}

export function newConnectionRecord(connectionId: string, identity: ConnectionIdentity, ttlSeconds: number, now = new Date()): ConnectionRecord {
  return {
    connectionId,
    tenant: identity.tenant,
    userId: identity.userId,
    roles: identity.roles,
    connectedAt: now.toISOString(),
    expiresAt: Math.floor(now.getTime() / 1000) + ttlSeconds,
  };
}
