import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { ulid } from 'ulid';
import { afterAll, describe, expect, it } from 'vitest';
import { dynamoDatasetChecks, dynamoDatasets, type DatasetTables } from '#functions/adapters/dynamo-datasets';
import { dynamoExportStore } from '#functions/adapters/dynamo-export-store';
import { dynamoRecipientDirectory } from '#functions/adapters/dynamo-preference-store';
import { eventBridgeScheduleGateway } from '#functions/adapters/eventbridge-scheduler';
import { ALERT_COLUMNS } from '#functions/exports/datasets';
import type { ExportRow } from '#functions/exports/formats';
import { createSchedule } from '#functions/exports/service';
import type { HttpEvent } from '#functions/shared/http';
import { functionEnvironment, functions, tables, type SettingName, type TableName } from '#lib/description';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { LOCAL_EXPORT_RECORDS, LOCAL_EXPORT_SCHEDULE_GROUP } from '#lib/local/runtime';
import { api, devToken, emailsTo, eventually, tableName, urls } from '../support/local';
import { waitForRun, runAndDownload } from '../support/exports';
import { parse as parseCsvText } from 'csv-parse/sync';

/**
 * The alerts and records export datasets against the local runtime: over HTTP (preview, schedules,
 * run now through the queue and the worker, the emailed file), and through the real adapters where
 * a test needs to see the Query itself or a deployment configured differently from the runtime's.
 */
const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const scheduler = new SchedulerClient({ endpoint: urls().schedulerUrl, ...local });
afterAll(() => {
  for (const client of [raw, scheduler]) client.destroy();
});

/** Every Query this file's own client sends, with what DynamoDB read (ScannedCount) and returned (Count). */
const queries: Array<{ input: Record<string, unknown>; scanned: number; returned: number }> = [];
raw.middlewareStack.add(
  ((next: (args: unknown) => Promise<{ output: { ScannedCount?: number; Count?: number } }>, context: { commandName?: string }) =>
    async (args: { input: Record<string, unknown> }) => {
      const result = await next(args);
      if (context.commandName === 'QueryCommand')
        queries.push({ input: args.input, scanned: result.output.ScannedCount ?? -1, returned: result.output.Count ?? -1 });
      return result;
    }) as never,
  { step: 'initialize', name: 'recordQueries' },
);

const datasetTables: DatasetTables = { notifications: tableName('notifications'), alerts: tableName('alerts'), memberships: tableName('memberships') };
const recordsTable = LOCAL_EXPORT_RECORDS.table;
const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

async function writeAll(table: string, items: Array<Record<string, unknown>>): Promise<void> {
  for (let start = 0; start < items.length; start += 25) {
    let pending: Array<Record<string, unknown>> = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
    while (pending.length > 0) {
      const result = await db.send(new BatchWriteCommand({ RequestItems: { [table]: pending as never } }));
      pending = (result.UnprocessedItems?.[table] ?? []) as Array<Record<string, unknown>>;
    }
  }
}

/** An ISO instant `minutes` after a fixed base: sort keys whose order is their time order. */
const at = (minutes: number) => new Date(Date.UTC(2026, 2, 1, 8, 0) + minutes * 60_000).toISOString();

/** An alert item as the alerts store writes it (kind, topicKey for byTopic), straight into the table. */
function alertItem(tenant: string, topic: string, minutes: number, fields: Record<string, unknown> = {}): Record<string, unknown> {
  const raisedAt = at(minutes);
  return {
    tenant,
    id: ulid(),
    kind: 'alert',
    topic,
    topicKey: `${tenant}#${topic}`,
    rule: 'door-open',
    subject: `door-${minutes}`,
    severity: 'low',
    title: `Door ${minutes} open`,
    status: 'active',
    version: 1,
    change: 'raised',
    raisedAt,
    raisedBy: 'monitor',
    updatedAt: raisedAt,
    updatedBy: 'monitor',
    ...fields,
  };
}

async function addMember(tenant: string, topic: string, userId: string): Promise<void> {
  const { status } = await api('PUT', `/topics/${topic}/members/${userId}`, await devToken(tenant, 'root', ['admin']));
  expect([200, 201]).toContain(status);
}

async function removeMember(tenant: string, topic: string, userId: string): Promise<void> {
  expect((await api('DELETE', `/topics/${topic}/members/${userId}`, await devToken(tenant, 'root', ['admin']))).status).toBe(204);
}

/** CSV read back by csv-parse, an independent reader (RFC 4180; a leading BOM dropped). */
function parseCsv(text: string): string[][] {
  return parseCsvText(text, { bom: true, relax_column_count: true });
}

const schedule = (recipient: string, fields: Record<string, unknown>) => ({
  name: 'Dataset export',
  format: 'csv',
  schedule: { preset: 'daily', at: '06:00' },
  timezone: 'UTC',
  recipients: [recipient],
  ...fields,
});

const context = { functionName: 'previewExport', awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

function httpEvent(tenant: string, userId: string, body: unknown, roles: string[] = []): HttpEvent {
  return {
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: { authorizer: { jwt: { claims: { sub: userId, tenant, roles: `[${roles.join(' ')}]` }, scopes: null } } },
  } as unknown as HttpEvent;
}

/**
 * The preview function's module as Lambda cold-starts it, with exactly the environment the
 * description gives it, but the `exportRecords` setting as a deployment without that context
 * encodes it: empty.
 */
async function previewWithoutRecords() {
  const tableNames = Object.fromEntries(Object.keys(tables).map((table) => [table, tableName(table as TableName)])) as Record<TableName, string>;
  const settings = { tenantClaim: 'tenant', rolesClaim: 'roles', exportRecords: '', recordCollections: '{}' } as Record<SettingName, string>;
  const env = functionEnvironment(functions.previewExport, { tableNames, queueUrls: {} as never, bucketNames: {} as never, connectionsEndpoint: '', settings });
  expect(env.EXPORT_RECORDS).toBe('');
  // The SDK resolves its endpoint and credentials lazily, so these stay set (they are the runtime's own).
  Object.assign(process.env, {
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: urls().dynamodbUrl,
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  const previous = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    return (await import('#functions/exports/handlers/preview')).handler;
  } finally {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

// ---------------------------------------------------------------------------------------------

describe('the records dataset', () => {
  it("previews only the caller's tenant's records, sort key first, without the tenant key", async () => {
    const [mine, theirs] = [unique('t'), unique('t')];
    await writeAll(recordsTable, [
      ...[1, 2, 3].map((n) => ({ tenantId: mine, recordedAt: at(n), site: `mine-${n}`, crew: 'north' })),
      // Same sort keys in another tenant: only the partition key keeps them apart.
      ...[1, 2].map((n) => ({ tenantId: theirs, recordedAt: at(n), site: `theirs-${n}`, secret: 'x' })),
    ]);
    const { status, body } = await api('POST', '/exports/preview', await devToken(mine, 'ana', ['records-export']), { dataset: 'records', limit: 50 });
    expect(status).toBe(200);
    expect(body.columns.map((column: { key: string }) => column.key)).toEqual(['recordedAt', 'crew', 'site', 'other']);
    expect(body.rows).toEqual([1, 2, 3].map((n) => ({ recordedAt: at(n), crew: 'north', site: `mine-${n}` })));
  });

  it('starts with a few sample records for the demo tenant acme, so the demo has something to export', async () => {
    const { status, body } = await api('POST', '/exports/preview', await devToken('acme', 'ana', ['admin']), { dataset: 'records', limit: 50 });
    expect(status).toBe(200);
    expect(body.columns.map((column: { key: string }) => column.key)).toEqual(['recordedAt', 'crew', 'hours', 'site', 'status', 'other']);
    expect(body.rows).toHaveLength(5);
    expect(body.rows[0]).toMatchObject({ site: 'Harbour pier 3', hours: 6.5 });
  });

  it('exports through the worker: every row of the caller, later attributes in other, numbers exact, formulas escaped', async () => {
    const [mine, theirs] = [unique('t'), unique('t')];
    const recipient = `${unique('r')}@example.com`;
    // 1,200 rows: DynamoDB's first page (1,000) decides the columns, `late` appears only after it.
    await writeAll(recordsTable, [
      ...Array.from({ length: 1200 }, (_, i) => ({
        tenantId: mine,
        recordedAt: at(i),
        site: i === 5 ? '=HYPERLINK("http://evil.example")' : `site-${i}`,
        reading: i === 6 ? 12345678901234567890n : i,
        tags: new Set(['a', 'b']),
        ...(i >= 1000 && { late: `late-${i}` }),
      })),
      ...Array.from({ length: 30 }, (_, i) => ({ tenantId: theirs, recordedAt: at(i), site: `theirs-${i}` })),
    ]);
    const token = await devToken(mine, 'ana', ['records-export']);
    const created = await api('POST', '/exports/schedules', token, schedule(recipient, { dataset: 'records' }));
    expect(created.status).toBe(201);
    const { run, file } = await runAndDownload(token, created.body.id, recipient);
    expect(run.rows).toBe(1200);

    const [header, ...rows] = parseCsv(file);
    expect(header).toEqual(['recordedAt', 'reading', 'site', 'tags', 'other']);
    expect(rows).toHaveLength(1200);
    expect(rows.some((row) => row[2]!.startsWith('theirs-'))).toBe(false);
    expect(rows.map((row) => row[0])).toEqual(Array.from({ length: 1200 }, (_, i) => at(i)));
    expect(rows[5]![2]).toBe(`'=HYPERLINK("http://evil.example")`);
    expect(rows[6]![1]).toBe('12345678901234567890');
    expect(JSON.parse(rows[0]![3]!).sort()).toEqual(['a', 'b']);
    expect(rows[999]![4]).toBe('');
    expect(JSON.parse(rows[1000]![4]!)).toEqual({ late: 'late-1000' });
  });

  it('reads a date range as a key condition: from inclusive, to exclusive, nothing outside read', async () => {
    const tenant = unique('t');
    await writeAll(
      recordsTable,
      [0, 1, 2, 3, 4, 5].map((n) => ({ tenantId: tenant, recordedAt: at(n), n })),
    );
    const datasets = dynamoDatasets(db, datasetTables, { client: raw, table: LOCAL_EXPORT_RECORDS });
    const read = async (filters: { from?: string; to?: string }) => {
      queries.length = 0;
      const rows: ExportRow[] = [];
      for await (const row of (await datasets.open('records', { tenant, userId: 'ana' }, filters)).rows) rows.push(row);
      return { ns: rows.map((row) => row.n), scanned: queries.reduce((sum, query) => sum + query.scanned, 0), query: queries[0]!.input };
    };

    const both = await read({ from: at(1), to: at(4) });
    expect(both.ns).toEqual([1, 2, 3]);
    // BETWEEN includes its upper end (4), which the reader drops; 0 and 5 are never read.
    expect(both.scanned).toBe(4);
    expect(both.query.KeyConditionExpression).toBe('#tenant = :tenant AND #sort BETWEEN :from AND :to');
    expect(both.query.FilterExpression).toBeUndefined();

    const from = await read({ from: at(4) });
    expect(from).toMatchObject({ ns: [4, 5], scanned: 2 });
    const to = await read({ to: at(1) });
    expect(to).toMatchObject({ ns: [0], scanned: 1 });
    // An offset is the same instant: 09:02+01:00 is 08:02Z.
    expect((await read({ from: '2026-03-01T09:02:00+01:00', to: '2026-03-01T09:03:00+01:00' })).ns).toEqual([2]);
  });

  it('refuses a date range when no sort key is configured, naming the field, and reads without one', async () => {
    const tenant = unique('t');
    await writeAll(recordsTable, [{ tenantId: tenant, recordedAt: at(1), site: 'a' }]);
    const datasets = dynamoDatasets(db, datasetTables, { client: raw, table: { table: recordsTable, tenantKey: 'tenantId' } });
    const owner = { tenant, userId: 'ana' };
    await expect(datasets.check('records', owner, { from: at(0) })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/^filters\.from: /) });
    await expect(datasets.open('records', owner, { to: at(0) })).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/^filters\.to: /) });
    const opened = await datasets.open('records', owner, {});
    // Without a configured sort key it is a column like any other.
    expect(opened.columns.map((column) => column.key)).toEqual(['recordedAt', 'site', 'other']);
  });

  it('answers 400 naming filters.status or filters.topic, which records do not take', async () => {
    const token = await devToken(unique('t'), 'ana', ['admin']);
    for (const [filters, field] of [
      [{ status: 'unread' }, 'filters.status'],
      [{ topic: 'site-1' }, 'filters.topic'],
    ] as const) {
      const preview = await api('POST', '/exports/preview', token, { dataset: 'records', filters });
      expect(preview.status).toBe(400);
      expect(preview.body.error.message).toMatch(new RegExp(`^${field}: `));
      const created = await api('POST', '/exports/schedules', token, schedule('ana@example.com', { dataset: 'records', filters }));
      expect(created.status).toBe(400);
      expect(created.body.error.message).toMatch(new RegExp(`^${field}: `));
    }
  });

  it('answers 400 dataset_not_configured, saying which context to set, when the deployment names no table', async () => {
    const tenant = unique('t');
    const handler = await previewWithoutRecords();
    const refused = (await handler(httpEvent(tenant, 'ana', { dataset: 'records' }), context)) as { statusCode: number; body: string };
    expect(refused.statusCode).toBe(400);
    const { error } = JSON.parse(refused.body);
    expect(error.code).toBe('dataset_not_configured');
    expect(error.message).toContain('cdk.json context "exportRecords"');
    // The same function still serves the other datasets.
    expect(((await handler(httpEvent(tenant, 'ana', { dataset: 'notifications' }), context)) as { statusCode: number }).statusCode).toBe(200);

    // Creating a schedule checks the same, before anything is stored.
    const store = dynamoExportStore(db, tableName('exports'));
    const deps = {
      store,
      scheduler: eventBridgeScheduleGateway(scheduler, {
        groupName: LOCAL_EXPORT_SCHEDULE_GROUP,
        roleArn: 'arn:aws:iam::000000000000:role/unused',
        queueArn: 'arn:aws:sqs:us-east-1:000000000000:unused',
        deadLetterQueueArn: 'arn:aws:sqs:us-east-1:000000000000:unused',
      }),
      // What the schedule-writing functions are wired with: the checks alone (here without exportRecords).
      datasets: dynamoDatasetChecks(db, tableName('memberships'), undefined),
      rules: { recipients: { directory: dynamoRecipientDirectory(db, tableName('preferences')), allowedDomains: ['example.com'] }, records: undefined },
    };
    await expect(
      createSchedule(deps, { tenant, userId: 'ana', roles: ['admin'] }, schedule('ana@example.com', { dataset: 'records' }) as never),
    ).rejects.toMatchObject({
      status: 400,
      code: 'dataset_not_configured',
    });
    expect(await store.listSchedules({ tenant, userId: 'ana' })).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('the alerts dataset', () => {
  /** Tenant `tenant`: five alerts in `site-1` (one per minute 1..5), one in `site-2`; another tenant's `site-1` too. */
  async function seedAlerts() {
    const [tenant, other] = [unique('t'), unique('t')];
    const statuses = ['active', 'acknowledged', 'resolved', 'resolved', 'active'];
    const site1 = statuses.map((status, i) => alertItem(tenant, 'site-1', i + 1, { status, ...(i === 1 && { assigneeId: 'ana', message: '@SUM(A1)' }) }));
    await writeAll(tableName('alerts'), [...site1, alertItem(tenant, 'site-2', 3), alertItem(other, 'site-1', 2), alertItem(other, 'site-1', 4)]);
    await addMember(tenant, 'site-1', 'ana');
    return { tenant, site1 };
  }

  it("previews one topic's alerts of the caller's tenant, oldest first, in the alert columns", async () => {
    const { tenant, site1 } = await seedAlerts();
    const { status, body } = await api('POST', '/exports/preview', await devToken(tenant, 'ana'), {
      dataset: 'alerts',
      filters: { topic: 'site-1' },
      limit: 50,
    });
    expect(status).toBe(200);
    expect(body.columns).toEqual(ALERT_COLUMNS);
    expect(body.rows.map((row: { id: string }) => row.id)).toEqual(site1.map((alert) => alert.id));
    expect(body.rows[1]).toMatchObject({ topic: 'site-1', status: 'acknowledged', assigneeId: 'ana', version: 1, raisedAt: at(2) });
    expect(Object.keys(body.rows[0]).sort()).toEqual(
      ALERT_COLUMNS.map((column) => column.key)
        .filter((key) => !['message', 'assigneeId'].includes(key))
        .sort(),
    );
  });

  it('filters by status, and reads a date range as a key condition on raisedAt', async () => {
    const { tenant, site1 } = await seedAlerts();
    const token = await devToken(tenant, 'ana');
    const resolved = await api('POST', '/exports/preview', token, { dataset: 'alerts', filters: { topic: 'site-1', status: 'resolved' } });
    expect(resolved.body.rows.map((row: { id: string }) => row.id)).toEqual([site1[2]!.id, site1[3]!.id]);

    const datasets = dynamoDatasets(db, datasetTables);
    queries.length = 0;
    const rows: ExportRow[] = [];
    const opened = await datasets.open('alerts', { tenant, userId: 'ana' }, { topic: 'site-1', from: at(2), to: at(4), status: 'resolved' });
    for await (const row of opened.rows) rows.push(row);
    // Minutes 3 and 4 are resolved; 4 is the exclusive upper end.
    expect(rows.map((row) => row.id)).toEqual([site1[2]!.id]);
    const inRange = queries.find((query) => query.input.IndexName === 'byTopic')!;
    expect(inRange.input.KeyConditionExpression).toBe('topicKey = :topicKey AND raisedAt BETWEEN :from AND :to');
    // Read by the key condition: minutes 2, 3 and 4 (BETWEEN's upper end), not 1 or 5.
    expect(inRange.scanned).toBe(3);

    const ranged = await api('POST', '/exports/preview', token, { dataset: 'alerts', filters: { topic: 'site-1', from: at(2), to: at(4) } });
    expect(ranged.body.rows.map((row: { raisedAt: string }) => row.raisedAt)).toEqual([at(2), at(3)]);
  });

  it('refuses a non-member with 403; an admin by role or a member of the admins topic may', async () => {
    const { tenant } = await seedAlerts();
    const body = { dataset: 'alerts', filters: { topic: 'site-1' } };
    const refused = await api('POST', '/exports/preview', await devToken(tenant, 'bob'), body);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('"site-1"');
    expect((await api('POST', '/exports/preview', await devToken(tenant, 'bob', ['admin']), body)).status).toBe(200);
    await addMember(tenant, 'admins', 'carl');
    expect((await api('POST', '/exports/preview', await devToken(tenant, 'carl'), body)).status).toBe(200);
    // A member of site-1 in another tenant is nobody here.
    expect((await api('POST', '/exports/preview', await devToken(unique('t'), 'ana'), body)).status).toBe(403);
  });

  it('refuses a schedule for a topic the owner may not read, even with the admin role, before storing it', async () => {
    const { tenant } = await seedAlerts();
    const store = dynamoExportStore(db, tableName('exports'));
    const deps = {
      store,
      scheduler: eventBridgeScheduleGateway(scheduler, {
        groupName: LOCAL_EXPORT_SCHEDULE_GROUP,
        roleArn: 'arn:aws:iam::000000000000:role/unused',
        queueArn: 'arn:aws:sqs:us-east-1:000000000000:unused',
        deadLetterQueueArn: 'arn:aws:sqs:us-east-1:000000000000:unused',
      }),
      // What the schedule-writing functions are wired with: the checks alone (here without exportRecords).
      datasets: dynamoDatasetChecks(db, tableName('memberships'), undefined),
      rules: { recipients: { directory: dynamoRecipientDirectory(db, tableName('preferences')), allowedDomains: ['example.com'] }, records: undefined },
    };
    const body = schedule('bob@example.com', { dataset: 'alerts', filters: { topic: 'site-1' } }) as never;
    // Handed a caller with the admin role, the service still checks as a run will: without roles.
    const admin = { tenant, userId: 'bob', roles: ['admin'] };
    const refusal = createSchedule(deps, admin, body);
    await expect(refusal).rejects.toMatchObject({ status: 403, message: expect.stringContaining('runs without your token') });
    expect(await store.listSchedules({ tenant, userId: 'bob' })).toEqual([]);
    // The same checks let a member through, and hold a records range to the configured sort key.
    await expect(deps.datasets.check('alerts', { tenant, userId: 'ana' }, { topic: 'site-1' })).resolves.toBeUndefined();
    const withRecords = dynamoDatasetChecks(db, tableName('memberships'), { table: recordsTable, tenantKey: 'tenantId' });
    await expect(withRecords.check('records', { tenant, userId: 'bob' }, { from: at(0) })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/^filters\.from: /),
    });
    // The deployed wiring (POST /exports/schedules through the local runtime) checks the same way.
    expect((await api('POST', '/exports/schedules', await devToken(tenant, 'bob', ['admin']), body)).status).toBe(403);
    expect((await api('POST', '/exports/schedules', await devToken(tenant, 'ana'), body)).status).toBe(201);
  });

  it('answers 400 naming filters.topic without a topic, and filters.status for a notification status', async () => {
    const token = await devToken(unique('t'), 'ana');
    for (const [filters, message] of [
      [{}, /^filters\.topic: required for dataset alerts/],
      [{ topic: 'site-1', status: 'unread' }, /^filters\.status: dataset alerts takes active, acknowledged or resolved/],
    ] as const) {
      for (const response of [
        await api('POST', '/exports/preview', token, { dataset: 'alerts', filters }),
        await api('POST', '/exports/schedules', token, schedule('ana@example.com', { dataset: 'alerts', filters })),
      ]) {
        expect(response.status).toBe(400);
        expect(response.body.error.message).toMatch(message);
      }
    }
    const notifications = await api('POST', '/exports/preview', token, { dataset: 'notifications', filters: { status: 'resolved' } });
    expect(notifications.status).toBe(400);
    expect(notifications.body.error.message).toMatch(/^filters\.status: dataset notifications takes read or unread/);
  });

  it('runs a schedule of a topic through the worker into a CSV that parses back', async () => {
    const { tenant, site1 } = await seedAlerts();
    const recipient = `${unique('r')}@example.com`;
    const token = await devToken(tenant, 'ana');
    const created = await api('POST', '/exports/schedules', token, schedule(recipient, { dataset: 'alerts', filters: { topic: 'site-1', status: 'active' } }));
    expect(created.status).toBe(201);
    const { run, file } = await runAndDownload(token, created.body.id, recipient);
    expect(run.rows).toBe(2);
    const [header, ...rows] = parseCsv(file);
    expect(header).toEqual(ALERT_COLUMNS.map((column) => column.header));
    expect(rows.map((row) => row[0])).toEqual([site1[0]!.id, site1[4]!.id]);
    expect(rows.map((row) => row[6])).toEqual(['active', 'active']);
    expect(rows[0]![1]).toBe(at(1));
  });

  it('fails a run at once when the owner has left the topic, with the reason, and tells the owner', async () => {
    const { tenant } = await seedAlerts();
    const recipient = `${unique('r')}@example.com`;
    const token = await devToken(tenant, 'ana');
    const created = await api('POST', '/exports/schedules', token, schedule(recipient, { dataset: 'alerts', filters: { topic: 'site-1' } }));
    expect(created.status).toBe(201);
    await removeMember(tenant, 'site-1', 'ana');

    const { body } = await api('POST', `/exports/schedules/${created.body.id}/run`, token);
    const run = await waitForRun(token, body.runId);
    // Not retried (a retry would come back after the queue's visibility timeout, minutes later).
    expect(run).toMatchObject({ status: 'failed', attempts: 1 });
    expect(run.error).toMatch(/^Refused: ana is not a member of topic "site-1"/);
    expect(run.rows).toBeUndefined();
    const inbox = await eventually(async () => {
      const { body: page } = await api('GET', '/notifications?after=0', token);
      return page.items.find((item: { kind: string }) => item.kind === 'export.failed');
    });
    expect(inbox).toMatchObject({ title: 'Export failed: Dataset export', data: { runId: body.runId } });
    expect(inbox.body).toContain('not a member of topic "site-1"');
    expect(await emailsTo(recipient)).toEqual([]);
  });
});

describe('reading pages ahead', () => {
  const PAGE = 1_000;
  const tenant = unique('ahead');
  const seeded = async (userId: string, count: number) => {
    const items = Array.from({ length: count }, (_, index) => ({
      userKey: `${tenant}#${userId}`,
      seq: index + 1,
      id: ulid(),
      createdAt: at(index),
      kind: 'work-order.assigned',
      priority: 'normal',
      title: `Row ${index + 1}`,
      body: 'b',
    }));
    await writeAll(tableName('notifications'), items);
  };
  const queriesOf = (userId: string) =>
    queries.filter((query) => (query.input.ExpressionAttributeValues as Record<string, unknown>)[':userKey'] === `${tenant}#${userId}`);

  it('asks for the next page as soon as one arrives, and never for more than one page ahead', async () => {
    await seeded('ana', 2 * PAGE + 500);
    const { rows } = await dynamoDatasets(db, datasetTables).open('notifications', { tenant, userId: 'ana' }, {}, { readAhead: true });
    const iterator = rows[Symbol.asyncIterator]();
    const pull = async (count: number) => {
      const seqs: number[] = [];
      for (let index = 0; index < count; index++) {
        const next = await iterator.next();
        if (next.done) break;
        seqs.push(next.value.seq as number);
      }
      return seqs;
    };
    // The first row is in hand: the first page has arrived and the second has been asked for, no third.
    expect(await pull(1)).toEqual([1]);
    await eventually(async () => (queriesOf('ana').length === 2 ? true : undefined));
    expect(queriesOf('ana')).toHaveLength(2);
    // The whole first page pulled and one row of the second: the third is asked for.
    expect(await pull(PAGE)).toHaveLength(PAGE);
    await eventually(async () => (queriesOf('ana').length === 3 ? true : undefined));
    const rest = await pull(10 * PAGE);
    expect(rest).toHaveLength(2 * PAGE + 500 - PAGE - 1);
    expect(rest.at(-1)).toBe(2 * PAGE + 500);
    // Every page read once, each from where the one before ended, and nothing after the last.
    const reads = queriesOf('ana');
    expect(reads).toHaveLength(3);
    expect(reads.map((read) => read.returned)).toEqual([PAGE, PAGE, 500]);
    expect(reads.map((read) => (read.input.ExclusiveStartKey as { seq?: number } | undefined)?.seq)).toEqual([undefined, PAGE, 2 * PAGE]);
  });

  it('without readAhead (the preview) asks for a page only when the one before has been consumed', async () => {
    await seeded('cy', PAGE + 10);
    // Counted when sent, not when answered: a read ahead still in flight counts too.
    const counting = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
    let sent = 0;
    counting.middlewareStack.add(
      ((next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
        sent++;
        return next(args);
      }) as never,
      { step: 'initialize', name: 'countQueries' },
    );
    try {
      const { rows } = await dynamoDatasets(DynamoDBDocumentClient.from(counting), datasetTables).open('notifications', { tenant, userId: 'cy' }, {});
      const iterator = rows[Symbol.asyncIterator]();
      for (let index = 0; index < PAGE; index++) expect((await iterator.next()).done).toBe(false);
      // The whole first page consumed, and still only its own Query sent.
      expect(sent).toBe(1);
      expect((await iterator.next()).value).toMatchObject({ seq: PAGE + 1 });
      expect(sent).toBe(2);
    } finally {
      counting.destroy();
    }
  });

  it('throws a failed read ahead to the consumer when it reaches that page, not as an unhandled rejection', async () => {
    await seeded('bo', PAGE + 10);
    const failing = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
    let sent = 0;
    failing.middlewareStack.add(
      ((next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
        if (++sent === 2) throw Object.assign(new Error('Injected: second page read failed'), { name: 'InternalServerError' });
        return next(args);
      }) as never,
      { step: 'initialize', name: 'failSecondQuery' },
    );
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { rows } = await dynamoDatasets(DynamoDBDocumentClient.from(failing), datasetTables).open(
        'notifications',
        { tenant, userId: 'bo' },
        {},
        { readAhead: true },
      );
      let count = 0;
      const reading = (async () => {
        for await (const _row of rows) count++;
      })();
      await expect(reading).rejects.toThrow('Injected: second page read failed');
      // The first page was delivered whole before the failure surfaced.
      expect(count).toBe(PAGE);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      failing.destroy();
    }
  });
});
