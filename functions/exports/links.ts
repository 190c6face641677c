/**
 * Download links that live as long as the file. A pre-signed S3 URL made by a Lambda role dies
 * with the role's session credentials (hours), so the email carries Herald's own link instead:
 * `GET /exports/runs/{id}/download?token=`, whose token is an HMAC over who owns which run and
 * until when. The route answers it with a fresh five-minute pre-signed URL.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export interface LinkClaims {
  readonly runId: string;
  readonly tenant: string;
  readonly owner: string;
  /** Epoch seconds: the file's expiry. */
  readonly exp: number;
}

/**
 * A key's id: the first 72 bits of its SHA-256, base64url. Derived from the key, so the key id
 * needs no storage of its own and the same key has the same id wherever it is read.
 */
export function linkKeyId(key: Buffer): string {
  return createHash('sha256').update(key).digest().subarray(0, 9).toString('base64url');
}

/**
 * The token: `<key id>.<base64url(JSON claims)>.<base64url(HMAC-SHA256(key, key id and claims))>`.
 * The key id says which key signed it, so links outlive a rotation of the key (the previous key
 * is still accepted, docs/exports.md "Download links").
 */
export function signLink(key: Buffer, claims: LinkClaims): string {
  const payload = Buffer.from(JSON.stringify({ r: claims.runId, t: claims.tenant, o: claims.owner, e: claims.exp })).toString('base64url');
  const keyId = linkKeyId(key);
  return `${keyId}.${payload}.${macV2(key, keyId, payload)}`;
}

export type LinkCheck =
  | { ok: true; claims: LinkClaims }
  /** `unknown_key`: signed with a key this reader does not hold (newer than its copy, or retired). */
  | { ok: false; reason: 'malformed' | 'unknown_key' | 'bad_signature' | 'expired' | 'wrong_run' };

/**
 * Checks a token against `keys` (the current key and the previous one). A token without a key id
 * (made before key ids) is checked against each of them.
 */
export function verifyLink(keys: readonly Buffer[], token: string, runId: string, now: Date): LinkCheck {
  if (token.length > 1024) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  let payload: string;
  if (parts.length === 3) {
    const [keyId, body, signature] = parts as [string, string, string];
    const key = keys.find((candidate) => linkKeyId(candidate) === keyId);
    if (!key) return { ok: false, reason: 'unknown_key' };
    if (!body || !sameText(macV2(key, keyId, body), signature)) return { ok: false, reason: 'bad_signature' };
    payload = body;
  } else if (parts.length === 2) {
    const [body, signature] = parts as [string, string];
    if (!body || !keys.some((key) => sameText(mac(key, body), signature))) return { ok: false, reason: 'bad_signature' };
    payload = body;
  } else {
    return { ok: false, reason: 'malformed' };
  }
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

/** Constant time, whatever the texts' lengths. */
function sameText(expected: string, given: string): boolean {
  const [a, b] = [Buffer.from(expected), Buffer.from(given)];
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Links made before key ids: read, no longer made. */
function mac(key: Buffer, payload: string): string {
  return createHmac('sha256', key).update(`herald-export-link.v1.${payload}`).digest('base64url');
}

function macV2(key: Buffer, keyId: string, payload: string): string {
  return createHmac('sha256', key).update(`herald-export-link.v2.${keyId}.${payload}`).digest('base64url');
}

export function downloadUrl(httpApiUrl: string, runId: string, token: string): string {
  return `${httpApiUrl}/exports/runs/${encodeURIComponent(runId)}/download?token=${encodeURIComponent(token)}`;
}
