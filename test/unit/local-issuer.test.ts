import { decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { createLocalIssuer } from '#lib/local/issuer';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'herald-test';

/** An issuer on a clock the test moves. */
async function issuerAt(start = new Date('2026-12-01T10:00:00Z')) {
  const clock = { now: start };
  const issuer = await createLocalIssuer(ISSUER, AUDIENCE, { now: () => clock.now });
  return { issuer, advance: (seconds: number) => (clock.now = new Date(clock.now.getTime() + seconds * 1000)) };
}

describe('the local issuer: verified tokens are remembered, and still refused when they should be', () => {
  it('accepts a token again from memory with the same claims', async () => {
    const { issuer } = await issuerAt();
    const token = await issuer.sign({ tenant: 'acme', user: 'ana', roles: ['publisher'] });
    const first = await issuer.verify(token);
    const second = await issuer.verify(token);
    expect(second).toEqual(first);
    expect(second).toMatchObject({ sub: 'ana', tenant: 'acme', roles: ['publisher'], iss: ISSUER, aud: AUDIENCE });
  });

  it('refuses a remembered token once it has expired', async () => {
    const { issuer, advance } = await issuerAt();
    const token = await issuer.sign({ tenant: 'acme', user: 'ana', roles: [], expiresInSeconds: 60 });
    await issuer.verify(token);
    advance(59);
    await expect(issuer.verify(token)).resolves.toMatchObject({ sub: 'ana' });
    advance(1);
    await expect(issuer.verify(token)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
    // Refused again, not remembered as good in between.
    await expect(issuer.verify(token)).rejects.toMatchObject({ code: 'ERR_JWT_EXPIRED' });
  });

  it('refuses a remembered token after the key that signed it was rotated out, and accepts the new key', async () => {
    const { issuer } = await issuerAt();
    const before = await issuer.sign({ tenant: 'acme', user: 'ana', roles: [] });
    await issuer.verify(before);
    const oldKid = decodeProtectedHeader(before).kid;
    await issuer.rotateKey();
    expect(issuer.jwks.keys.map((key) => key.kid)).not.toContain(oldKid);
    await expect(issuer.verify(before)).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    const after = await issuer.sign({ tenant: 'acme', user: 'ana', roles: [] });
    expect(decodeProtectedHeader(after).kid).not.toBe(oldKid);
    await expect(issuer.verify(after)).resolves.toMatchObject({ sub: 'ana' });
  });

  it("refuses a token of another issuer's key (unknown kid), even one with the same issuer and audience", async () => {
    const { issuer } = await issuerAt();
    const { issuer: stranger } = await issuerAt();
    await issuer.verify(await issuer.sign({ tenant: 'acme', user: 'ana', roles: [] }));
    await expect(issuer.verify(await stranger.sign({ tenant: 'acme', user: 'ana', roles: [] }))).rejects.toMatchObject({
      code: 'ERR_JWKS_NO_MATCHING_KEY',
    });
  });

  it('refuses a remembered token whose claims were swapped: another payload under its signature', async () => {
    const { issuer } = await issuerAt();
    const reader = await issuer.sign({ tenant: 'acme', user: 'ana', roles: [] });
    const admin = await issuer.sign({ tenant: 'acme', user: 'ana', roles: ['admin'] });
    await issuer.verify(reader);
    const [header, , signature] = reader.split('.');
    const forged = [header, admin.split('.')[1], signature].join('.');
    await expect(issuer.verify(forged)).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });
});
