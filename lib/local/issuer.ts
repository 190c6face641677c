import { exportJWK, generateKeyPair, jwtVerify, createLocalJWKSet, SignJWT, type JSONWebKeySet, type JWTPayload } from 'jose';

export interface LocalIssuer {
  readonly issuer: string;
  readonly audience: string;
  readonly jwks: JSONWebKeySet;
  sign(claims: { tenant?: string; user: string; roles: readonly string[]; email?: string; expiresInSeconds?: number }): Promise<string>;
  /** What API Gateway's JWT authorizer checks: signature, pinned algorithm, issuer, audience, expiry. */
  verify(token: string): Promise<JWTPayload>;
}

const ALGORITHM = 'RS256';

/** Stands in for Cognito or another OIDC provider. Keys live in memory: a restart signs users out. */
export async function createLocalIssuer(issuer: string, audience: string): Promise<LocalIssuer> {
  const { publicKey, privateKey } = await generateKeyPair(ALGORITHM);
  const kid = `local-${Date.now().toString(36)}`;
  const jwks: JSONWebKeySet = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: ALGORITHM, use: 'sig' }] };
  const keySet = createLocalJWKSet(jwks);
  return {
    issuer,
    audience,
    jwks,
    async sign({ tenant, user, roles, email, expiresInSeconds = 3600 }) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ ...(tenant === undefined ? {} : { tenant }), roles: [...roles], ...(email === undefined ? {} : { email, email_verified: true }) })
        .setProtectedHeader({ alg: ALGORITHM, kid, typ: 'JWT' })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(user)
        .setIssuedAt(now)
        .setExpirationTime(now + expiresInSeconds)
        .sign(privateKey);
    },
    async verify(token) {
      const { payload } = await jwtVerify(token, keySet, { issuer, audience, algorithms: [ALGORITHM] });
      return payload;
    },
  };
}
