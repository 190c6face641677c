import type { SESClient } from '@aws-sdk/client-ses';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { dynamoDatasets } from '#functions/adapters/dynamo-datasets';
import { dynamoExportStore } from '#functions/adapters/dynamo-export-store';
import { dynamoRecipientDirectory } from '#functions/adapters/dynamo-preference-store';
import { sesMailer } from '#functions/adapters/ses-mailer';
import type { WorkerDeps } from '#functions/exports/worker';
import { api, emailsTo, eventually, tableName, urls, type StoredEmail } from './local';

/**
 * The export worker's real adapters on the local emulators, for tests that invoke it directly
 * (to run two at once, crash one, or time a large file); `files` is the test's own.
 */
export function localWorkerDeps(db: DynamoDBDocumentClient, ses: SESClient, files: WorkerDeps['files'], overrides: Partial<WorkerDeps> = {}): WorkerDeps {
  return {
    store: dynamoExportStore(db, tableName('exports')),
    datasets: dynamoDatasets(db, { notifications: tableName('notifications') }),
    files,
    mailer: sesMailer(ses, 'exports@herald.local', 'herald-email'),
    notify: async () => undefined,
    progress: { send: async () => undefined },
    linkKey: Buffer.alloc(32, 7),
    recipients: { directory: dynamoRecipientDirectory(db, tableName('preferences')), allowedDomains: ['example.com'] },
    httpApiUrl: urls().httpUrl,
    retentionDays: 7,
    leaseSeconds: 300,
    ...overrides,
  };
}

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
