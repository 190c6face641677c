import { expect } from 'vitest';
import { api, emailsTo, eventually, type StoredEmail } from './local';

/** Polls `GET /exports/runs/{id}` until the run reaches one of `statuses`, and answers it. */
export async function waitForRun(token: string, runId: string, statuses = ['succeeded', 'failed', 'skipped'], timeoutMs = 20_000) {
  return eventually(async () => {
    const { status, body } = await api('GET', `/exports/runs/${runId}`, token);
    return status === 200 && statuses.includes(body.status) ? body : undefined;
  }, timeoutMs);
}

/** Runs a schedule now and returns the run and the text of the file its email links to, fetched as a mail reader would. */
export async function runAndDownload(token: string, scheduleId: string, recipient: string): Promise<{ run: Record<string, unknown>; file: string }> {
  const { status, body } = await api('POST', `/exports/schedules/${scheduleId}/run`, token);
  expect(status).toBe(202);
  const run = await waitForRun(token, body.runId);
  expect(run).toMatchObject({ status: 'succeeded' });
  const email = (await eventually(async () => (await emailsTo(recipient))[0])) as StoredEmail;
  const link = /Download: (\S+)/.exec(email.body.text ?? '')![1]!;
  const location = (await fetch(link, { redirect: 'manual' })).headers.get('location')!;
  return { run, file: await (await fetch(location)).text() };
}
