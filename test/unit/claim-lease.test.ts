import { describe, expect, it } from 'vitest';
import { CLAIM_LEASE_MS, LEASE_MARGIN_MS, LEASE_WAIT_SAFETY_MS } from '#functions/notifications/deliver';
import { functionDefaults, functions } from '#lib/description';

/** Lambda's longest timeout: no invocation runs longer, whatever its function's setting. */
const LAMBDA_MAX_TIMEOUT_MS = 15 * 60_000;

describe('dedupe claim lease (docs/protocol.md, "Dedupe claims")', () => {
  it('outlasts every function that may hold a claim, so a claimer whose put is still possible is never raced', () => {
    const timeouts = Object.entries(functions).map(
      ([name, spec]) => [name, ((spec as { timeoutSeconds?: number }).timeoutSeconds ?? functionDefaults.timeoutSeconds) * 1000] as const,
    );
    expect(timeouts.length).toBeGreaterThan(10);
    for (const [name, timeoutMs] of timeouts) expect(CLAIM_LEASE_MS, name).toBeGreaterThan(timeoutMs);
    expect(CLAIM_LEASE_MS).toBeGreaterThan(LAMBDA_MAX_TIMEOUT_MS);
  });

  it('ends, for a claimer that knows its deadline, soon enough that a retry of the alert fan-out or a chunk completes the claim within its own run', () => {
    // A retry starts once the stopped invocation's deadline has passed; it may wait out the margin if that leaves it the safety.
    for (const name of ['alertFanout', 'alertChunks'] as const) {
      const timeoutMs = (functions[name].timeoutSeconds ?? functionDefaults.timeoutSeconds) * 1000;
      expect(LEASE_MARGIN_MS + LEASE_WAIT_SAFETY_MS, name).toBeLessThan(timeoutMs);
    }
    expect(LEASE_MARGIN_MS).toBeGreaterThanOrEqual(5_000);
  });
});
