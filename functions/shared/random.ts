import { randomFillSync } from 'node:crypto';

/** Bytes drawn from the system's CSPRNG at a time. */
const POOL_BYTES = 4096;
const pool = new Uint8Array(POOL_BYTES);
let next = POOL_BYTES;

/**
 * A uniform fraction in [0, 1) from crypto-strong random bytes, as ulid's own generator makes
 * one (a byte over 256), but drawn from a pooled buffer: ulid() without a generator looks its
 * generator up again and asks the CSPRNG for one byte at a time, 16 calls per id, which was
 * about 5% of a 1,000-member alert fan-out's CPU (bench/alerts.ts, "ids").
 */
export function randomFraction(): number {
  if (next === POOL_BYTES) {
    randomFillSync(pool);
    next = 0;
  }
  return (pool[next++] as number) / 256;
}
