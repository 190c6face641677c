/**
 * Download links that live as long as the file. A pre-signed S3 URL made by a Lambda role dies
 * with the role's session credentials (hours), so the email carries Herald's own link instead:
 * `GET /exports/runs/{id}/download?token=`, whose token is an HMAC over who owns which run and
 * until when. The route answers it with a fresh five-minute pre-signed URL.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface LinkClaims {
  readonly runId: string;
  readonly tenant: string;
  readonly owner: string;
  /** Epoch seconds: the file's expiry. */
  readonly exp: number;
}

/** The token: base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part)). */
export function signLink(key: Buffer, claims: LinkClaims): string {
  const payload = Buffer.from(JSON.stringify({ r: claims.runId, t: claims.tenant, o: claims.owner, e: claims.exp })).toString('base64url');
  return `${payload}.${mac(key, payload)}`;
}

export type LinkCheck = { ok: true; claims: LinkClaims } | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' | 'wrong_run' };

export function verifyLink(key: Buffer, token: string, runId: string, now: Date): LinkCheck {
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined || token.length > 1024) return { ok: false, reason: 'malformed' };
  const expected = Buffer.from(mac(key, payload));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad_signature' };
  let raw: { r?: unknown; t?: unknown; o?: unknown; e?: unknown };
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as typeof raw;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof raw.r !== 'string' || typeof raw.t !== 'string' || typeof raw.o !== 'string' || typeof raw.e !== 'number')
    return { ok: false, reason: 'malformed' };
  if (raw.r !== runId) return { ok: false, reason: 'wrong_run' };
  if (raw.e * 1000 <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { runId: raw.r, tenant: raw.t, owner: raw.o, exp: raw.e } };
}

function mac(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(`herald-export-link.v1.${payload}`).digest('base64url');
}

export function downloadUrl(httpApiUrl: string, runId: string, token: string): string {
  return `${httpApiUrl}/exports/runs/${encodeURIComponent(runId)}/download?token=${encodeURIComponent(token)}`;
}
