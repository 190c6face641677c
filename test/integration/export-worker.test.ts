import { randomUUID } from 'node:crypto';
import { CreateMultipartUploadCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { MessageRejected, SESClient } from '@aws-sdk/client-ses';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { dynamoExportStore } from '#functions/adapters/dynamo-export-store';
import { s3ExportFiles } from '#functions/adapters/s3-export-files';
import { sesMailer } from '#functions/adapters/ses-mailer';
import type { RunMessage } from '#functions/exports/model';
import { objectKeyOf, runExport, type ExportFiles, type WorkerDeps } from '#functions/exports/worker';
import { metrics } from '#functions/shared/instrumentation';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { localBucketName } from '#lib/local/resources';
import { api, devToken, emailsTo, sandboxedSes, tableName, urls } from '../support/local';
import { localWorkerDeps } from '../support/exports';

/**
 * The worker's guarantees with its real adapters on the local emulators, invoked directly so a
 * test can run two at once (the local SQS poller runs one at a time) or make one crash.
 */
const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const s3 = new S3Client({ endpoint: urls().s3Url, forcePathStyle: true, ...local });
const ses = new SESClient({ endpoint: urls().mailUrl, ...local });
afterAll(() => {
  for (const client of [raw, s3, ses]) client.destroy();
});

const store = dynamoExportStore(db, tableName('exports'));
const bucket = localBucketName('exports');

function deps(overrides: Partial<WorkerDeps> = {}): WorkerDeps & { notified: unknown[] } {
  const notified: unknown[] = [];
  return {
    ...localWorkerDeps(db, ses, s3ExportFiles(s3, bucket), { notify: async (requests) => void notified.push(...requests) }),
    notified,
    ...overrides,
  };
}

async function newSchedule(recipient: string | string[]): Promise<{ tenant: string; scheduleId: string }> {
  const tenant = `t-${randomUUID().slice(0, 8)}`;
  const token = await devToken(tenant, 'ana');
  const { status, body } = await api('POST', '/exports/schedules', token, {
    name: 'Worker test',
    dataset: 'notifications',
    format: 'csv',
    schedule: { preset: 'daily', at: '06:00' },
    timezone: 'UTC',
    recipients: Array.isArray(recipient) ? recipient : [recipient],
  });
  expect(status).toBe(201);
  return { tenant, scheduleId: body.id };
}

const message = (tenant: string, scheduleId: string, scheduledTime: string): RunMessage => ({
  scheduleId,
  tenant,
  owner: 'ana',
  scheduledTime,
  trigger: 'schedule',
});

const address = () => `${randomUUID().slice(0, 8)}@example.com`;

describe('the export worker', () => {
  it('turns a duplicate message for the same firing into a no-op: one run, one email', async () => {
    const recipient = `${randomUUID().slice(0, 8)}@example.com`;
    const { tenant, scheduleId } = await newSchedule(recipient);
    const firing = message(tenant, scheduleId, '2026-03-08T06:00:00Z');
    const worker = deps();
    const outcomes = await Promise.all([runExport(worker, firing, 'message-a'), runExport(worker, firing, 'message-b')]);
    expect(outcomes.sort()).toEqual(['duplicate', 'succeeded']);
    // A late third copy after the run finished changes nothing either.
    expect(await runExport(worker, firing, 'message-c')).toBe('duplicate');
    expect(await emailsTo(recipient)).toHaveLength(1);
    expect(worker.notified).toHaveLength(1);
    const runs = await store.listRuns({ tenant, userId: 'ana' }, scheduleId, 10);
    expect(runs.map((run) => run.status)).toEqual(['succeeded']);
  });

  it('keeps the run of a firing months old (a late redrive) for the whole run history, not already expired', async () => {
    const { tenant, scheduleId } = await newSchedule(address());
    const scheduledTime = '2026-03-08T06:00:00Z';
    expect(await runExport(deps(), message(tenant, scheduleId, scheduledTime), 'm-late')).toBe('succeeded');
    const { Item } = await db.send(
      new GetCommand({ TableName: tableName('exports'), Key: { pk: `${tenant}#ana`, sk: `run#${scheduleId}#${scheduledTime}` }, ConsistentRead: true }),
    );
    // Counted from the firing, its history would have ended in June; DynamoDB Local's TTL sweep would take it within seconds.
    expect(Item?.status).toBe('succeeded');
    expect(Item?.expiresAt).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 89 * 86_400);
  });

  it('lets one run of a schedule hold the lease; a concurrent trigger is recorded skipped', async () => {
    const recipient = `${randomUUID().slice(0, 8)}@example.com`;
    const { tenant, scheduleId } = await newSchedule(recipient);
    const worker = deps();
    const outcomes = await Promise.all([
      runExport(worker, message(tenant, scheduleId, '2026-03-08T06:00:00Z'), 'm1'),
      runExport(worker, message(tenant, scheduleId, '2026-03-08T06:00:01Z'), 'm2'),
    ]);
    expect(outcomes.sort()).toEqual(['skipped', 'succeeded']);
    const runs = await store.listRuns({ tenant, userId: 'ana' }, scheduleId, 10);
    expect(runs.map((run) => run.status).sort()).toEqual(['skipped', 'succeeded']);
    expect(runs.find((run) => run.status === 'skipped')?.error).toMatch(/in progress/);
    expect(await emailsTo(recipient)).toHaveLength(1);
  });

  it('retries a worker that crashed mid-upload: the run completes, one email, the crashed upload is gone', async () => {
    const recipient = `${randomUUID().slice(0, 8)}@example.com`;
    const { tenant, scheduleId } = await newSchedule(recipient);
    const firing = message(tenant, scheduleId, '2026-03-09T06:00:00Z');
    let crashedUpload: { key: string; uploadId: string } | undefined;
    // A crash, not an error: the upload is started and a part sent, then the attempt dies
    // without the upload's own clean-up (as when Lambda times out or the process is killed).
    const crashing: ExportFiles = {
      ...s3ExportFiles(s3, bucket),
      async upload(key, body, _type, onUploadId) {
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
        await onUploadId(UploadId!);
        await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024) }));
        await body[Symbol.asyncIterator]().return?.();
        crashedUpload = { key, uploadId: UploadId! };
        throw new Error('worker crashed');
      },
    };
    await expect(runExport(deps({ files: crashing }), firing, 'm-crash')).rejects.toThrow('worker crashed');
    const afterCrash = await store.getRun({ tenant, userId: 'ana' }, scheduleId, '2026-03-09T06:00:00Z');
    expect(afterCrash).toMatchObject({ status: 'queued', error: 'Error: worker crashed', uploadId: crashedUpload!.uploadId });
    expect(await emailsTo(recipient)).toHaveLength(0);

    // SQS redelivers the same message.
    expect(await runExport(deps(), firing, 'm-crash')).toBe('succeeded');
    const run = await store.getRun({ tenant, userId: 'ana' }, scheduleId, '2026-03-09T06:00:00Z');
    expect(run).toMatchObject({ status: 'succeeded', attempts: 2, objectKey: objectKeyOf(run!, { format: 'csv' }) });
    expect(run!.uploadId).toBeUndefined();
    expect(await emailsTo(recipient)).toHaveLength(1);
    // fauxqs has no ListMultipartUploads; a part sent to the crashed upload id is the closest
    // honest check: S3 answers NoSuchUpload only for an upload that no longer exists.
    await expect(
      s3.send(new UploadPartCommand({ Bucket: bucket, Key: crashedUpload!.key, UploadId: crashedUpload!.uploadId, PartNumber: 2, Body: Buffer.alloc(10) })),
    ).rejects.toMatchObject({ name: 'NoSuchUpload' });
  });

  it('still succeeds when SES refuses a recipient: the others get the link, the refused one is recorded and counted', async () => {
    const [ok1, refused, ok2] = [address(), address(), address()];
    const { tenant, scheduleId } = await newSchedule([ok1, refused, ok2]);
    const sandbox = sandboxedSes([refused]);
    const added = vi.spyOn(metrics, 'addMetric');
    try {
      const worker = deps({ mailer: sesMailer(sandbox.client, 'exports@herald.local', 'herald-email') });
      expect(await runExport(worker, message(tenant, scheduleId, '2026-03-10T06:00:00Z'), 'm-sandbox')).toBe('succeeded');

      // One email per recipient, none sharing a To: line; only the refused one missed it.
      expect(sandbox.attempts).toEqual([[ok1], [refused], [ok2]]);
      for (const recipient of [ok1, ok2]) {
        const emails = await emailsTo(recipient);
        expect(emails).toHaveLength(1);
        expect(emails[0]!.destination.to).toEqual([recipient]);
        expect(emails[0]!.body.text).toContain('/download?token=');
      }
      expect(await emailsTo(refused)).toHaveLength(0);

      const run = await store.getRun({ tenant, userId: 'ana' }, scheduleId, '2026-03-10T06:00:00Z');
      expect(run).toMatchObject({ status: 'succeeded' });
      expect(run!.emailedAt).toBeDefined();
      expect(run!.error).toMatch(new RegExp(`^EmailRejected: SES refused the email to 1 of 3 recipients: ${refused} \\(Email address is not verified`));
      expect(worker.notified).toEqual([
        expect.objectContaining({
          kind: 'export.ready',
          body: expect.stringContaining(`Not emailed to: ${refused}`),
          data: expect.objectContaining({ notEmailed: 1 }),
        }),
      ]);
      const counted = (name: string) => added.mock.calls.filter(([metric]) => metric === name).reduce((sum, [, , value]) => sum + Number(value), 0);
      expect(counted('ExportEmailsRejected')).toBe(1);
      expect(counted('ExportEmailsFailed')).toBe(0);

      // A redelivery of the message finds the run done: no second email, the record stays.
      expect(await runExport(worker, message(tenant, scheduleId, '2026-03-10T06:00:00Z'), 'm-sandbox-again')).toBe('duplicate');
      expect(await emailsTo(ok1)).toHaveLength(1);
    } finally {
      added.mockRestore();
      sandbox.client.destroy();
    }
  });

  it('succeeds and records the refusal when SES refuses the only recipient, without asking SES twice', async () => {
    const refused = address();
    const { tenant, scheduleId } = await newSchedule(refused);
    const sandbox = sandboxedSes([refused]);
    try {
      const worker = deps({ mailer: sesMailer(sandbox.client, 'exports@herald.local', 'herald-email') });
      expect(await runExport(worker, message(tenant, scheduleId, '2026-03-11T06:00:00Z'), 'm-only')).toBe('succeeded');
      expect(sandbox.attempts).toEqual([[refused]]);
      const run = await store.getRun({ tenant, userId: 'ana' }, scheduleId, '2026-03-11T06:00:00Z');
      expect(run).toMatchObject({ status: 'succeeded', error: expect.stringMatching(/^EmailRejected: SES refused the email to 1 of 1 recipients/) });
    } finally {
      sandbox.client.destroy();
    }
  });

  it('fails the attempt, to be retried, when SES refuses the sender itself, and sends on the retry', async () => {
    const recipient = address();
    const { tenant, scheduleId } = await newSchedule(recipient);
    const firing = message(tenant, scheduleId, '2026-03-12T06:00:00Z');
    const unverifiedSender = new SESClient({ endpoint: urls().mailUrl, ...local });
    unverifiedSender.middlewareStack.add(
      () => async () => {
        throw new MessageRejected({
          message: 'Email address is not verified. The following identities failed the check in region US-EAST-1: exports@herald.local',
          $metadata: { httpStatusCode: 400 },
        });
      },
      { step: 'initialize', name: 'unverifiedSender' },
    );
    try {
      await expect(runExport(deps({ mailer: sesMailer(unverifiedSender, 'exports@herald.local', 'herald-email') }), firing, 'm-sender')).rejects.toThrow(
        'SES has not verified the sender exports@herald.local',
      );
      expect(await store.getRun({ tenant, userId: 'ana' }, scheduleId, '2026-03-12T06:00:00Z')).toMatchObject({
        status: 'queued',
        error: expect.stringContaining('SES has not verified the sender'),
      });
      expect(await runExport(deps(), firing, 'm-sender')).toBe('succeeded');
      expect(await emailsTo(recipient)).toHaveLength(1);
      expect((await store.getRun({ tenant, userId: 'ana' }, scheduleId, '2026-03-12T06:00:00Z'))!.error).toBeUndefined();
    } finally {
      unverifiedSender.destroy();
    }
  });
});
