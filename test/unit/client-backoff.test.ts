import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '#web/client/backoff';
import { DEFAULT_TIMING } from '#web/client/transport';

const { backoffBaseMs: base, backoffCapMs: cap } = DEFAULT_TIMING;
const almostOne = 1 - Number.EPSILON;

describe('client backoff', () => {
  it('retries first within 500 ms by default', () => {
    expect(backoffDelay(0, base, cap, () => almostOne)).toBeLessThan(500);
    expect(backoffDelay(0, base, cap, () => 0)).toBe(0);
  });

  it('doubles the ceiling per attempt up to the cap', () => {
    expect(backoffDelay(1, base, cap, () => almostOne)).toBe(999);
    expect(backoffDelay(3, base, cap, () => almostOne)).toBe(3999);
    expect(backoffDelay(6, base, cap, () => almostOne)).toBe(cap - 1);
    expect(backoffDelay(60, base, cap, () => almostOne)).toBe(cap - 1);
  });

  it('uses full jitter: anywhere in [0, ceiling) for any attempt', () => {
    fc.assert(
      fc.property(fc.nat(100), fc.double({ min: 0, max: almostOne, noNaN: true }), (attempt, random) => {
        const delay = backoffDelay(attempt, base, cap, () => random);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(Math.min(cap, base * 2 ** attempt));
      }),
    );
  });
});
