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

/**
 * A quota or rate limit was reached: 403 for a standing quota (delete something first), 429 for a
 * rate (wait). The body names the limit: `limit: {name, max, retryAfterSeconds?}`.
 */
export class LimitExceededError extends HeraldError {
  constructor(status: 403 | 429, message: string, limit: { readonly name: string; readonly max: number; readonly retryAfterSeconds?: number }) {
    super(status, 'limit_exceeded', message, { limit });
  }
}
