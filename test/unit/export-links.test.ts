import { describe, expect, it } from 'vitest';
import { downloadUrl, signLink, verifyLink } from '#functions/exports/links';

const key = Buffer.alloc(32, 1);
const now = new Date('2026-03-08T06:00:00Z');
const claims = { runId: 'sched-20260308T060000Z', tenant: 'acme', owner: 'ana', exp: now.getTime() / 1000 + 3600 };

describe('export download links', () => {
  it('verifies a token it signed and returns its claims', () => {
    expect(verifyLink(key, signLink(key, claims), claims.runId, now)).toEqual({ ok: true, claims });
  });

  it('refuses a token at or after its expiry', () => {
    const token = signLink(key, claims);
    expect(verifyLink(key, token, claims.runId, new Date(claims.exp * 1000 - 1))).toMatchObject({ ok: true });
    expect(verifyLink(key, token, claims.runId, new Date(claims.exp * 1000))).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a token for another run', () => {
    expect(verifyLink(key, signLink(key, claims), 'other-20260308T060000Z', now)).toEqual({ ok: false, reason: 'wrong_run' });
  });

  it('refuses a token signed with another key', () => {
    expect(verifyLink(Buffer.alloc(32, 2), signLink(key, claims), claims.runId, now)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a payload changed after signing (a later expiry, another tenant)', () => {
    const [, signature] = signLink(key, claims).split('.');
    for (const forged of [
      { ...claims, exp: claims.exp + 86_400 },
      { ...claims, tenant: 'other' },
    ]) {
      const [payload] = signLink(key, forged).split('.');
      expect(verifyLink(key, `${payload}.${signature}`, claims.runId, now)).toEqual({ ok: false, reason: 'bad_signature' });
    }
  });

  it('refuses a flipped signature character and malformed tokens', () => {
    const token = signLink(key, claims);
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect(verifyLink(key, flipped, claims.runId, now)).toEqual({ ok: false, reason: 'bad_signature' });
    for (const malformed of ['', 'abc', `${token}.x`, `.${token.split('.')[1]}`, `${token}${'a'.repeat(1024)}`]) {
      expect(verifyLink(key, malformed, claims.runId, now)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('puts the run id and token in the URL escaped', () => {
    expect(downloadUrl('https://api.example.com', 'a/b', 'x+y')).toBe('https://api.example.com/exports/runs/a%2Fb/download?token=x%2By');
  });
});
