import { EMAIL } from './email';
import { ForbiddenError, UnauthorizedError } from './errors';

/** Who is calling, as established by the JWT authorizer. Every read checks tenant against this. */
export interface Caller {
  readonly tenant: string;
  readonly userId: string;
  readonly roles: readonly string[];
  /**
   * The token's `email` claim, lowercased, unless the token says it is unverified
   * (`email_verified: false`). OIDC ID tokens (Cognito's too) carry it; access tokens usually do not.
   */
  readonly email?: string;
}

export interface ClaimNames {
  readonly tenantClaim: string;
  readonly rolesClaim: string;
}

type Claims = Record<string, string | number | boolean | string[]> | undefined;

const SAFE_ID = /^[A-Za-z0-9._:@+-]{1,128}$/;

export function callerFromClaims(claims: Claims, names: ClaimNames): Caller {
  if (!claims || typeof claims.sub !== 'string' || claims.sub === '') throw new UnauthorizedError('Token has no subject');
  const tenant = claims[names.tenantClaim];
  if (typeof tenant !== 'string' || tenant === '') {
    throw new ForbiddenError(`Token has no "${names.tenantClaim}" claim, so no tenant can be chosen`);
  }
  // Tenant and user become key prefixes ("tenant#user"); refuse values that could forge another key.
  if (!SAFE_ID.test(tenant) || !SAFE_ID.test(claims.sub)) throw new ForbiddenError('Tenant or subject has unsupported characters');
  const email = tokenEmail(claims);
  return { tenant, userId: claims.sub, roles: parseRoles(claims[names.rolesClaim]), ...(email !== undefined && { email }) };
}

/** API Gateway passes every claim as a string, so `email_verified` may be `false` or `"false"`. */
function tokenEmail(claims: NonNullable<Claims>): string | undefined {
  const email = claims.email;
  if (typeof email !== 'string' || !EMAIL.test(email)) return undefined;
  if (claims.email_verified === false || claims.email_verified === 'false') return undefined;
  return email.toLowerCase();
}

/**
 * API Gateway's HTTP JWT authorizer flattens array claims into a string such as "[admin publisher]";
 * other callers pass real arrays or comma-separated strings. All three mean the same roles.
 */
export function parseRoles(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((role): role is string => typeof role === 'string' && role !== '');
  if (typeof value !== 'string') return [];
  const inner = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  return inner.split(/[\s,]+/).filter(Boolean);
}

/** Roles come from the token's roles claim; a caller without `role` is refused with 403. */
export function requireRole(caller: Caller, role: string): void {
  if (!caller.roles.includes(role)) throw new ForbiddenError(`This needs the "${role}" role`);
}
