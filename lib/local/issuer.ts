import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT, type JSONWebKeySet, type JWTPayload } from 'jose';

export interface LocalIssuer {
  readonly issuer: string;
  readonly audience: string;
  /** The current signing key's public half, as `GET /.well-known/jwks.json` serves it. */
  readonly jwks: JSONWebKeySet;
  sign(claims: { tenant?: string; user: string; roles: readonly string[]; email?: string; expiresInSeconds?: number }): Promise<string>;
  /** What API Gateway's JWT authorizer checks: signature, pinned algorithm, issuer, audience, expiry. */
  verify(token: string): Promise<JWTPayload>;
  /**
   * A new signing key, as an OIDC provider rolls its keys: the old key leaves the JWKS, so tokens
   * it signed are refused from now on, verified before or not.
   */
  rotateKey(): Promise<void>;
}

export interface LocalIssuerOptions {
  /** @default the system clock */
  readonly now?: () => Date;
}

const ALGORITHM = 'RS256';
/** Tokens whose signature is remembered as checked; the oldest is forgotten first. */
const VERIFIED_TOKENS_KEPT = 1_000;

/** A token whose signature has been checked against the key `kid`, with the time claims that still decide. */
interface VerifiedToken {
  readonly payload: JWTPayload;
  readonly kid: string;
}

/**
 * Stands in for Cognito or another OIDC provider. Keys live in memory: a restart signs users out.
 *
 * A token's signature is checked once: the same bytes under the same key verify the same way every
 * time, so a token seen before skips the RSA verification (about half a millisecond of this process's CPU,
 * which deployed is API Gateway's) but nothing else. Its key must still be in the JWKS, and its
 * expiry and not-before are checked against the clock on every request, as API Gateway does.
 */
export async function createLocalIssuer(issuer: string, audience: string, options: LocalIssuerOptions = {}): Promise<LocalIssuer> {
  const now = options.now ?? (() => new Date());
  let signing = await newKey();
  const verified = new Map<string, VerifiedToken>();

  /** Whether a remembered token would pass again: its key still in the JWKS, and within its exp and nbf (jwtVerify's checks, no clock tolerance). */
  const stillValid = ({ payload, kid }: VerifiedToken): boolean => {
    const seconds = Math.floor(now().getTime() / 1000);
    return kid === signing.kid && !(typeof payload.exp === 'number' && payload.exp <= seconds) && !(typeof payload.nbf === 'number' && payload.nbf > seconds);
  };

  return {
    issuer,
    audience,
    get jwks() {
      return signing.jwks;
    },
    async sign({ tenant, user, roles, email, expiresInSeconds = 3600 }) {
      const issuedAt = Math.floor(now().getTime() / 1000);
      return new SignJWT({ ...(tenant === undefined ? {} : { tenant }), roles: [...roles], ...(email === undefined ? {} : { email, email_verified: true }) })
        .setProtectedHeader({ alg: ALGORITHM, kid: signing.kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(user)
        .setIssuedAt(issuedAt)
        .setExpirationTime(issuedAt + expiresInSeconds)
        .sign(signing.privateKey);
    },
    async verify(token) {
      const known = verified.get(token);
      if (known && stillValid(known)) return known.payload;
      // Anything else is verified in full, so a refusal carries jose's own reason (expired, no matching key).
      verified.delete(token);
      const key = signing;
      const { payload } = await jwtVerify(token, key.keySet, { issuer, audience, algorithms: [ALGORITHM], currentDate: now() });
      if (verified.size >= VERIFIED_TOKENS_KEPT) verified.delete(verified.keys().next().value as string);
      verified.set(token, { payload, kid: key.kid });
      return payload;
    },
    async rotateKey() {
      // Tokens remembered under the old key fail stillValid by their kid, and then jwtVerify.
      signing = await newKey();
    },
  };
}

async function newKey() {
  const { publicKey, privateKey } = await generateKeyPair(ALGORITHM);
  const kid = `local-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const jwks: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: ALGORITHM, use: 'sig' }] };
  return { kid, privateKey, jwks, keySet: createLocalJWKSet(jwks) };
}
