import { expect, inject, it } from 'vitest';
import { runSmoke } from '#smoke/steps';
import { localTarget, newRunId } from '#smoke/targets';

/**
 * `npm run smoke`'s walk (smoke/steps.ts) against the suite's shared local runtime: a breakage of
 * any step of the public contract (socket notification, critical alert and its email, export run,
 * email, link and file) fails the suite, with the smoke test's own lines as the message.
 */
it('walks every smoke step against the local runtime', async () => {
  const limitSeconds = 100;
  const lines: string[] = [];
  const report = await runSmoke(localTarget(inject('localUrls'), "the suite's local runtime"), {
    signal: AbortSignal.timeout(limitSeconds * 1000),
    limitSeconds,
    runId: newRunId(),
    out: (line) => lines.push(line),
    waits: { runMs: 30_000 },
  });
  const transcript = `\n${lines.join('\n')}`;
  expect(report.failed, transcript).toBe(0);
  expect(report.skipped, transcript).toBe(0);
  expect(report.ok, transcript).toBe(true);
  // Every step ran to its end: the last check of each is the file, the email, the ack.
  const names = report.results.map((result) => `${result.id} ${result.name}`);
  expect(
    names.some((name) => name.startsWith('1.') && name.includes('ack upTo')),
    transcript,
  ).toBe(true);
  expect(
    names.some((name) => name.startsWith('2.') && name.includes('the alert email')),
    transcript,
  ).toBe(true);
  expect(
    names.some((name) => name.startsWith('3.') && name.includes('download the file')),
    transcript,
  ).toBe(true);
}, 120_000);
