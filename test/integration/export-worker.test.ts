import { randomUUID } from 'node:crypto';
import { CreateMultipartUploadCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { SESClient } from '@aws-sdk/client-ses';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { dynamoDatasets } from '../../functions/adapters/dynamo-datasets';
import { dynamoExportStore } from '../../functions/adapters/dynamo-export-store';
import { s3ExportFiles } from '../../functions/adapters/s3-export-files';
import { sesMailer } from '../../functions/adapters/ses-mailer';
import type { RunMessage } from '../../functions/exports/model';
import { objectKeyOf, runExport, type ExportFiles, type WorkerDeps } from '../../functions/exports/worker';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lib/local/aws-local';
import { localBucketName } from '../../lib/local/resources';
import { api, devToken, emailsTo, tableName, urls } from '../support/local';

/**
 * The worker's guarantees with its real adapters on the local emulators, invoked directly so a
 * test can run two at once (the local SQS poller runs one at a time) or make one crash.
 */
const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const s3 = new S3Client({ endpoint: urls().s3Url, forcePathStyle: true, ...local });
const ses = new SESClient({ endpoint: urls().mailUrl, ...local });
afterAll(() => [raw, s3, ses].forEach((client) => client.destroy()));

const store = dynamoExportStore(db, tableName('exports'));
const bucket = localBucketName('exports');

function deps(overrides: Partial<WorkerDeps> = {}): WorkerDeps & { notified: unknown[] } {
  const notified: unknown[] = [];
  return {
    store,
    datasets: dynamoDatasets(db, { notifications: tableName('notifications') }),
    files: s3ExportFiles(s3, bucket),
    mailer: sesMailer(ses, 'exports@herald.local'),
    notify: async (requests) => void notified.push(...requests),
    progress: { send: async () => undefined },
    linkKey: Buffer.alloc(32, 7),
    httpApiUrl: urls().httpUrl,
    retentionDays: 7,
    leaseSeconds: 300,
    notified,
    ...overrides,
  };
}

async function newSchedule(recipient: string): Promise<{ tenant: string; scheduleId: string }> {
  const tenant = `t-${randomUUID().slice(0, 8)}`;
  const token = await devToken(tenant, 'ana');
  const { status, body } = await api('POST', '/exports/schedules', token, {
    name: 'Worker test',
    dataset: 'notifications',
    format: 'csv',
    schedule: { preset: 'daily', at: '06:00' },
    timezone: 'UTC',
    recipients: [recipient],
  });
  expect(status).toBe(201);
  return { tenant, scheduleId: body.id };
}

const message = (tenant: string, scheduleId: string, scheduledTime: string): RunMessage => ({ scheduleId, tenant, owner: 'ana', scheduledTime, trigger: 'schedule' });

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
    // without lib-storage's clean-up (as when Lambda times out or the process is killed).
    const crashing: ExportFiles = {
      ...s3ExportFiles(s3, bucket),
      async upload(key, body, _type, onUploadId) {
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
        await onUploadId(UploadId!);
        await s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024) }));
        body.destroy();
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
});
