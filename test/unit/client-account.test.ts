import { describe, expect, it } from 'vitest';
import { accountFromToken } from '#web/client';

const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

describe('client account from the token', () => {
  it('reads the tenant claim and the subject, including base64url characters and UTF-8', () => {
    expect(accountFromToken(jwt({ sub: 'ana', tenant: 'acme' }), 'tenant')).toEqual({ tenant: 'acme', user: 'ana' });
    // "ü?>" encodes to bytes whose base64url form uses "-" and "_", which atob alone rejects.
    expect(accountFromToken(jwt({ sub: 'jürgen?>>', 'custom:tenant': 'ß' }), 'custom:tenant')).toEqual({ tenant: 'ß', user: 'jürgen?>>' });
  });

  it('refuses a token without the claims, saying what to pass instead', () => {
    expect(() => accountFromToken(jwt({ sub: 'ana' }), 'tenant')).toThrow(/options\.account/);
    expect(() => accountFromToken('opaque-token', 'tenant')).toThrow(/"tenant".*"sub"/);
  });
});
