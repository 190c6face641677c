import { isValid, ulid } from 'ulid';
import { describe, expect, it } from 'vitest';
import { randomFraction } from '#functions/shared/random';

describe('randomFraction', () => {
  it('gives fractions in [0, 1) in steps of 1/256, every step about equally often, across many refills of its pool', () => {
    const counts = new Array<number>(256).fill(0);
    const draws = 256 * 400;
    for (let index = 0; index < draws; index++) {
      const value = randomFraction();
      expect(value >= 0 && value < 1 && Number.isInteger(value * 256)).toBe(true);
      counts[value * 256] = (counts[value * 256] as number) + 1;
    }
    // 400 expected per step; a fair source stays far inside these bounds (about 8 standard deviations).
    expect(Math.min(...counts)).toBeGreaterThan(240);
    expect(Math.max(...counts)).toBeLessThan(560);
  });

  it('makes valid, distinct ULIDs of one millisecond', () => {
    const ids = Array.from({ length: 5_000 }, () => ulid(1_796_000_000_000, randomFraction));
    expect(ids.every((id) => isValid(id) && id.startsWith(ulid(1_796_000_000_000).slice(0, 10)))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
