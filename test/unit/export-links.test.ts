import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { linkKeyRing } from '#functions/adapters/link-key';
import { downloadUrl, linkKeyId, signLink, verifyLink } from '#functions/exports/links';

const key = Buffer.alloc(32, 1);
const keys = [key];
const now = new Date('2026-03-08T06:00:00Z');
const claims = { runId: 'sched-20260308T060000Z', tenant: 'acme', owner: 'ana', exp: now.getTime() / 1000 + 3600 };

describe('export download links', () => {
  it('verifies a token it signed and returns its claims; the token names its key', () => {
    const token = signLink(key, claims);
    expect(token.split('.')[0]).toBe(linkKeyId(key));
    expect(verifyLink(keys, token, claims.runId, now)).toEqual({ ok: true, claims });
  });

  it('accepts links of the current and the previous key after a rotation, and no older ones', () => {
    const [oldest, previous, current] = [Buffer.alloc(32, 3), Buffer.alloc(32, 4), Buffer.alloc(32, 5)];
    const ring = [current, previous];
    expect(verifyLink(ring, signLink(current, claims), claims.runId, now)).toMatchObject({ ok: true });
    expect(verifyLink(ring, signLink(previous, claims), claims.runId, now)).toMatchObject({ ok: true });
    expect(verifyLink(ring, signLink(oldest, claims), claims.runId, now)).toEqual({ ok: false, reason: 'unknown_key' });
  });

  it('still accepts a link made before key ids, with either key', () => {
    const payload = Buffer.from(JSON.stringify({ r: claims.runId, t: claims.tenant, o: claims.owner, e: claims.exp })).toString('base64url');
    const legacy = (signingKey: Buffer) => `${payload}.${createHmac('sha256', signingKey).update(`herald-export-link.v1.${payload}`).digest('base64url')}`;
    const [previous, current] = [Buffer.alloc(32, 4), Buffer.alloc(32, 5)];
    expect(verifyLink([current, previous], legacy(previous), claims.runId, now)).toEqual({ ok: true, claims });
    expect(verifyLink([current], legacy(previous), claims.runId, now)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a token at or after its expiry', () => {
    const token = signLink(key, claims);
    expect(verifyLink(keys, token, claims.runId, new Date(claims.exp * 1000 - 1))).toMatchObject({ ok: true });
    expect(verifyLink(keys, token, claims.runId, new Date(claims.exp * 1000))).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a token for another run', () => {
    expect(verifyLink(keys, signLink(key, claims), 'other-20260308T060000Z', now)).toEqual({ ok: false, reason: 'wrong_run' });
  });

  it('refuses a token whose key id was swapped for another key', () => {
    const other = Buffer.alloc(32, 2);
    const [, payload, signature] = signLink(key, claims).split('.');
    expect(verifyLink([key, other], `${linkKeyId(other)}.${payload}.${signature}`, claims.runId, now)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('refuses a payload changed after signing (a later expiry, another tenant)', () => {
    const [keyId, , signature] = signLink(key, claims).split('.');
    for (const forged of [
      { ...claims, exp: claims.exp + 86_400 },
      { ...claims, tenant: 'other' },
    ]) {
      const [, payload] = signLink(key, forged).split('.');
      expect(verifyLink(keys, `${keyId}.${payload}.${signature}`, claims.runId, now)).toEqual({ ok: false, reason: 'bad_signature' });
    }
  });

  it('refuses a flipped signature character and malformed tokens', () => {
    const token = signLink(key, claims);
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    expect(verifyLink(keys, flipped, claims.runId, now)).toEqual({ ok: false, reason: 'bad_signature' });
    for (const malformed of ['', 'abc', `${token}.x`, `${token}${'a'.repeat(1024)}`]) {
      expect(verifyLink(keys, malformed, claims.runId, now)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('puts the run id and token in the URL escaped', () => {
    expect(downloadUrl('https://api.example.com', 'a/b', 'x+y')).toBe('https://api.example.com/exports/runs/a%2Fb/download?token=x%2By');
  });
});

describe('the link key ring', () => {
  it('reads the keys again on refresh at most once a minute, and does not keep a failed read', async () => {
    let clock = 0;
    const reads: number[] = [];
    let fail = false;
    const ring = linkKeyRing(
      async () => {
        reads.push(clock);
        if (fail) throw new Error('Secrets Manager unavailable');
        return [Buffer.alloc(32, reads.length)];
      },
      { now: () => clock },
    );
    expect((await ring.keys())[0]![0]).toBe(1);
    clock = 30_000;
    expect((await ring.refresh())[0]![0]).toBe(1);
    clock = 60_000;
    expect((await ring.refresh())[0]![0]).toBe(2);
    clock = 130_000;
    fail = true;
    await expect(ring.refresh()).rejects.toThrow('Secrets Manager unavailable');
    fail = false;
    expect((await ring.keys())[0]![0]).toBe(4);
    expect(reads).toEqual([0, 60_000, 130_000, 130_000]);
  });
});
