import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { instrument, invocationDeadline } from '#functions/shared/instrumentation';

const contextWith = (remainingMs: number) =>
  ({
    functionName: 'instrumentationTest',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:instrumentationTest',
    memoryLimitInMB: '256',
    awsRequestId: 'request-1',
    getRemainingTimeInMillis: () => remainingMs,
  }) as unknown as Context;

describe('instrument()', () => {
  it('lets a handler run until Lambda stops it: no early TimeoutError, which would freeze its unsent writes for a later thaw', async () => {
    // With middy's default (a TimeoutError 5 ms before the deadline) this handler would be cut off at 15 ms.
    const handler = instrument(async () => {
      await new Promise((resolve) => setTimeout(resolve, 60));
      return 'finished';
    });
    await expect(handler({}, contextWith(20))).resolves.toBe('finished');
  });

  it('tells the code it runs its invocation’s deadline, and nothing outside a handler', async () => {
    const before = Date.now();
    const handler = instrument(async () => invocationDeadline());
    const deadline = await handler({}, contextWith(30_000));
    expect(deadline).toBeGreaterThanOrEqual(before + 30_000);
    expect(deadline).toBeLessThan(before + 31_000);
    expect(invocationDeadline()).toBeUndefined();
  });
});
