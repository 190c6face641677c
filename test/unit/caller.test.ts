import { describe, expect, it } from 'vitest';
import { callerFromClaims, parseRoles } from '#functions/shared/caller';
import { ForbiddenError, UnauthorizedError } from '#functions/shared/errors';

const names = { tenantClaim: 'tenant', rolesClaim: 'roles' };

describe('parseRoles', () => {
  it('reads the "[a b]" form API Gateway flattens arrays into, real arrays and comma lists alike', () => {
    expect(parseRoles('[admin publisher]')).toEqual(['admin', 'publisher']);
    expect(parseRoles(['admin', 'publisher'])).toEqual(['admin', 'publisher']);
    expect(parseRoles('admin,publisher')).toEqual(['admin', 'publisher']);
    expect(parseRoles('[]')).toEqual([]);
    expect(parseRoles(undefined)).toEqual([]);
  });
});

describe('callerFromClaims', () => {
  it('takes tenant and roles from the configured claims', () => {
    expect(
      callerFromClaims({ sub: 'ana', 'custom:tenant': 'acme', 'cognito:groups': '[admin]' }, { tenantClaim: 'custom:tenant', rolesClaim: 'cognito:groups' }),
    ).toEqual({
      tenant: 'acme',
      userId: 'ana',
      roles: ['admin'],
    });
  });

  it('takes the email claim, lowercased, unless the token says it is unverified or it is no plain address', () => {
    const base = { sub: 'ana', tenant: 'acme' };
    expect(callerFromClaims({ ...base, email: 'Ana@Example.com' }, names).email).toBe('ana@example.com');
    // API Gateway passes claims as strings.
    expect(callerFromClaims({ ...base, email: 'ana@example.com', email_verified: 'true' }, names).email).toBe('ana@example.com');
    for (const unverified of [false, 'false'])
      expect(callerFromClaims({ ...base, email: 'ana@example.com', email_verified: unverified }, names)).not.toHaveProperty('email');
    expect(callerFromClaims({ ...base, email: 'ana@example.com\r\nBcc: x@evil.example' }, names)).not.toHaveProperty('email');
    expect(callerFromClaims(base, names)).not.toHaveProperty('email');
  });

  it('refuses a token without subject (401) or tenant (403)', () => {
    expect(() => callerFromClaims({ tenant: 'acme' }, names)).toThrow(UnauthorizedError);
    expect(() => callerFromClaims({ sub: 'ana' }, names)).toThrow(ForbiddenError);
    expect(() => callerFromClaims(undefined, names)).toThrow(UnauthorizedError);
  });

  it('refuses a tenant or subject that could forge another key', () => {
    expect(() => callerFromClaims({ sub: 'ana', tenant: 'acme#other' }, names)).toThrow(ForbiddenError);
    expect(() => callerFromClaims({ sub: 'ana#x', tenant: 'acme' }, names)).toThrow(ForbiddenError);
  });
});
