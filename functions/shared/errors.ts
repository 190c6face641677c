/**
 * Domain errors carry the HTTP status and a stable code; the edge (shared/http.ts) maps them to
 * `{error:{code,message}}` bodies. Anything else is an internal error and its details stay in logs.
 */
export class HeraldError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra fields of the error body, beside `error` (a 409's current version, say). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends HeraldError {
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}

export class UnauthorizedError extends HeraldError {
  constructor(message = 'Authentication required') {
    super(401, 'unauthorized', message);
  }
}

export class ForbiddenError extends HeraldError {
  constructor(message = 'Not allowed') {
    super(403, 'forbidden', message);
  }
}

export class PayloadTooLargeError extends HeraldError {
  constructor(message: string) {
    super(413, 'payload_too_large', message);
  }
}

/** Also what a foreign tenant's id answers: no existence leaks across tenants. */
export class NotFoundError extends HeraldError {
  constructor(message = 'Not found') {
    super(404, 'not_found', message);
  }
}

/** A write that was based on something that has changed since (If-Match, a uniqueness rule). */
export class ConflictError extends HeraldError {
  constructor(message: string, code = 'conflict', details?: Record<string, unknown>) {
    super(409, code, message, details);
  }
}

/** A limit's description in an error body: its name, and what else says how to stay within it. */
export interface LimitDetails {
  readonly name: string;
  readonly max?: number;
  readonly retryAfterSeconds?: number;
  /** What the limit allows, where that is a list (the roles that may, the domains allowed). */
  readonly allowed?: readonly string[];
}

/**
 * A quota, rate or policy limit was reached: 400 for input the limit refuses (a recipient outside
 * the allowed ones), 403 for a standing quota (delete something first) or a role the caller lacks,
 * 429 for a rate (wait). The body names the limit: `limit: {name, max?, retryAfterSeconds?, allowed?}`.
 * `code` is `limit_exceeded` for quotas and rates, and says what was refused otherwise.
 */
export class LimitExceededError extends HeraldError {
  constructor(status: 400 | 403 | 429, message: string, limit: LimitDetails, code = 'limit_exceeded', details: Record<string, unknown> = {}) {
    super(status, code, message, { ...details, limit });
  }
}

/** What a link or id pointed to existed and was deleted on purpose (a deleted export schedule). */
export class GoneError extends HeraldError {
  constructor(message: string, code = 'gone') {
    super(410, code, message);
  }
}
