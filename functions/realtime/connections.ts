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

export interface ConnectionStore extends FrameCounter {
  /**
   * Records the connection and adds it to its user's set of connection ids; returns that set as
   * it is after the add (this connection included), so $connect can hold the user's socket cap.
   */
  save(connection: ConnectionRecord): Promise<readonly string[]>;
  /**
   * Deletes the row and drops the id from its owner's set, returning the row as it was. `owner`
   * covers a row that is already gone while the id lingers in the set (a lost $disconnect).
   */
  remove(connectionId: string, owner?: Recipient): Promise<ConnectionRecord | undefined>;
  /**
   * After a push's 410: removes the connection as `remove` does, unless its row says it connected
   * at or after `connectedBefore` (then its $connect may still be running, and API Gateway answers
   * 410 until it returns: functions/realtime/push.ts). True when it was removed.
   */
  prune(connectionId: string, owner: Recipient, connectedBefore: Date): Promise<boolean>;
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
