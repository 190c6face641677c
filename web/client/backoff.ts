/**
 * Capped exponential backoff with full jitter: attempt n waits a uniform random time in
 * [0, min(cap, base * 2^n)). Full jitter spreads the reconnects of many clients dropped at once
 * (a deploy, a network blip) instead of having them return in waves.
 */
export function backoffDelay(attempt: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}
