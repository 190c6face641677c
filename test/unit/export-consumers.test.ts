import type { Context, SQSEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionEnvironment, functions, tables, type FunctionSpec, type SettingName, type TableName } from '#lib/description';

/**
 * The exports queue's and DLQ's consumers through their makeHandler, with ports that fail: what
 * each reports back to SQS (Powertools' BatchProcessor), with no emulator involved.
 */
const context = { functionName: 'test', awsRequestId: 'r', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
const record = (messageId: string, body: string) => ({
  messageId,
  body,
  attributes: {},
  messageAttributes: {},
  receiptHandle: messageId,
  eventSource: 'aws:sqs',
});
const event = (...records: Array<ReturnType<typeof record>>) => ({ Records: records }) as unknown as SQSEvent;
const run = (scheduleId = '01HZZZZZZZZZZZZZZZZZZZZZZZ') =>
  JSON.stringify({ scheduleId, tenant: 'acme', owner: 'ana', scheduledTime: '2026-12-01T08:00:00Z', trigger: 'manual' });
const failing = new Proxy({}, { get: () => async () => Promise.reject(new Error('store down')) });

/** Imports a handler module with the environment its description gives it, as Lambda cold-starts it. */
async function importWithEnvironment<T>(spec: FunctionSpec, load: () => Promise<T>): Promise<T> {
  const tableNames = Object.fromEntries(Object.keys(tables).map((table) => [table, `t-${table}`])) as Record<TableName, string>;
  const settings = new Proxy({} as Record<SettingName, string>, {
    get: (_, key) =>
      key === 'exportLinkKey'
        ? `key:${Buffer.alloc(32).toString('base64')}`
        : key === 'exportRecords'
          ? ''
          : key === 'exportRecipientDomains'
            ? '[]'
            : key === 'recordCollections'
              ? '{}'
              : '7',
  });
  // The failures below are meant; their error logs would only bury the test output.
  process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  Object.assign(
    process.env,
    functionEnvironment(spec, {
      tableNames,
      queueUrls: { exports: 'http://q', alertChunks: 'http://q.fifo' },
      bucketNames: { exports: 'b' },
      connectionsEndpoint: 'http://ws/live',
      settings,
    }),
  );
  return load();
}

describe('the export consumers', () => {
  let worker: typeof import('#functions/exports/handlers/worker');
  let failed: typeof import('#functions/exports/handlers/failed');
  beforeAll(async () => {
    worker = await importWithEnvironment(functions.exportWorker, () => import('#functions/exports/handlers/worker'));
    failed = await importWithEnvironment(functions.exportFailed, () => import('#functions/exports/handlers/failed'));
  });

  it('drop a malformed message (no retry can fix it) and report a run that failed, so SQS retries only that one', async () => {
    const workerHandler = worker.makeHandler({ store: failing } as never);
    await expect(workerHandler(event(record('bad', 'not json'), record('schema', '{"scheduleId":1}'), record('down', run())), context)).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: 'down' }],
    });
    const failedHandler = failed.makeHandler({ store: failing } as never);
    await expect(failedHandler(event(record('bad', '{}'), record('down', run())), context)).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: 'down' }],
    });
  });

  it('report a batch whose every record failed as failures rather than throwing, like any other batch', async () => {
    const workerHandler = worker.makeHandler({ store: failing } as never);
    await expect(workerHandler(event(record('a', run()), record('b', run())), context)).resolves.toEqual({
      batchItemFailures: [{ itemIdentifier: 'a' }, { itemIdentifier: 'b' }],
    });
  });
});
