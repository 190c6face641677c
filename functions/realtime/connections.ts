/** A live WebSocket connection, as recorded at $connect and removed at $disconnect or on 410. */
export interface ConnectionRecord {
  readonly connectionId: string;
  readonly tenant: string;
  readonly userId: string;
  readonly roles: readonly string[];
  readonly connectedAt: string;
  /** Epoch seconds; DynamoDB TTL removes rows whose $disconnect never arrived. */
  readonly expiresAt: number;
}

export interface ConnectionStore {
  save(connection: ConnectionRecord): Promise<void>;
  remove(connectionId: string): Promise<void>;
  listForUser(tenant: string, userId: string): Promise<ConnectionRecord[]>;
}

export function userKey(tenant: string, userId: string): string {
  return `${tenant}#${userId}`;
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
