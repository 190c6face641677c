import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parse as parseCsvText } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { tick } from '#functions/protocol/hlc';
import type { ClientOp } from '#functions/protocol/records';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { LOCAL_RECORD_COLLECTIONS } from '#lib/local/runtime';
import { api, devToken, emailsTo, eventually, tableName, urls } from '../support/local';
import { waitForRun, runAndDownload } from '../support/exports';

/**
 * The `records` export dataset reading a collection of Herald's own Records table (docs/exports.md,
 * "records"): over the HTTP API of the local runtime (records pushed through /records, preview,
 * schedules, run now through the queue and the export worker under local IAM, the emailed file read
 * back by csv-parse or JSON.parse), and every refusal: an undeclared collection, a scope the owner
 * is not a member of, another tenant's scope, and a member removed after the schedule was made.
 * `inspections` is the local runtime's declaration: status, notes, items, verdict, assigneeId.
 */
const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
afterAll(() => raw.destroy());

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const declaredInspectionFields = Object.keys(LOCAL_RECORD_COLLECTIONS.inspections.fields);

async function addMember(tenant: string, scope: string, userId: string): Promise<void> {
  expect([200, 201]).toContain((await api('PUT', `/topics/${scope}/members/${userId}`, await devToken(tenant, 'root', ['admin']))).status);
}

async function removeMember(tenant: string, scope: string, userId: string): Promise<void> {
  expect((await api('DELETE', `/topics/${scope}/members/${userId}`, await devToken(tenant, 'root', ['admin']))).status).toBe(204);
}

let last: string | undefined;
const clock = () => (last = tick(last, Date.now(), 'tablet-1'));
const opId = () => `op-${randomUUID()}`;

function create(collection: string, id: string, fields: Record<string, unknown>): ClientOp {
  const changes = Object.fromEntries(
    Object.entries(fields).map(([field, value]) =>
      field === 'items' ? [field, { clock: clock(), upsert: value as Array<Record<string, unknown>> }] : [field, { clock: clock(), value }],
    ),
  );
  return { opId: opId(), collection, id, base: 0, changes } as ClientOp;
}

async function push(token: string, scope: string, ops: ClientOp[]): Promise<void> {
  const { status, body } = await api('POST', `/records/${scope}/push`, token, { deviceId: 'tablet-1', ops });
  expect(status, JSON.stringify(body)).toBe(200);
  expect(body.results.map((result: { status: string }) => result.status)).toEqual(ops.map(() => 'applied'));
}

/**
 * A scope of a new tenant with ana as a member, holding two live inspections, one deleted
 * (a tombstone), a handover (another collection) and, in another scope, another inspection.
 */
async function seedScope() {
  const tenant = unique('t');
  const scope = unique('site');
  const otherScope = unique('site');
  await addMember(tenant, scope, 'ana');
  await addMember(tenant, otherScope, 'ana');
  const token = await devToken(tenant, 'ana');
  await push(token, scope, [
    // `version` is a field here too: it gets the column fields.version, beside the record's own version.
    create('inspections', 'insp-1', { status: 'open', notes: 'Pump room\nsecond line', verdict: 'pass', zeta: 'z1', version: 'v-field' }),
    create('inspections', 'insp-2', { notes: '=SUM(A1)', items: [{ id: 'valve', ok: true }] }),
    create('inspections', 'insp-3', { status: 'closed' }),
    create('handovers', 'h-1', { owner: 'ana' }),
  ]);
  await push(token, scope, [{ opId: opId(), collection: 'inspections', id: 'insp-3', base: 1, kind: 'delete', clock: clock() } as ClientOp]);
  await push(token, otherScope, [create('inspections', 'insp-9', { status: 'open' })]);
  return { tenant, scope, otherScope, token };
}

const collectionSchedule = (recipient: string, filters: Record<string, unknown>, format = 'csv') => ({
  name: 'Inspections',
  dataset: 'records',
  filters,
  format,
  schedule: { preset: 'daily', at: '06:00' },
  timezone: 'UTC',
  recipients: [recipient],
});

const expectedColumns = ['id', ...declaredInspectionFields, 'fields.version', 'zeta', 'other', 'version', 'updatedAt', 'updatedBy'];

describe('the records dataset: a collection of Herald records', () => {
  it('previews one collection of one scope for a member without any role: declared fields first, no tombstones', async () => {
    const { scope, token } = await seedScope();
    const { status, body } = await api('POST', '/exports/preview', token, { dataset: 'records', filters: { scope, collection: 'inspections' }, limit: 50 });
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.columns.map((column: { key: string }) => column.key)).toEqual(expectedColumns);
    expect(body.rows.map((row: { id: string }) => row.id)).toEqual(['insp-1', 'insp-2']);
    expect(body.rows[0]).toMatchObject({ status: 'open', verdict: 'pass', zeta: 'z1', 'fields.version': 'v-field', version: 1, updatedBy: 'ana' });
    expect(body.rows[1].items).toEqual([{ id: 'valve', ok: true }]);
  });

  it('runs a schedule through the worker into a CSV that csv-parse reads back', async () => {
    const { scope, token } = await seedScope();
    const recipient = `${unique('r')}@example.com`;
    const created = await api('POST', '/exports/schedules', token, collectionSchedule(recipient, { scope, collection: 'inspections' }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { run, file } = await runAndDownload(token, created.body.id, recipient);
    expect(run.rows).toBe(2);
    const [header, ...rows] = parseCsvText(file, { bom: true }) as string[][];
    expect(header).toEqual(expectedColumns);
    const cell = (row: string[], column: string) => row[expectedColumns.indexOf(column)];
    expect(rows.map((row) => row[0])).toEqual(['insp-1', 'insp-2']);
    expect(cell(rows[0]!, 'notes')).toBe('Pump room\nsecond line');
    expect(cell(rows[0]!, 'fields.version')).toBe('v-field');
    expect(cell(rows[0]!, 'version')).toBe('1');
    expect(cell(rows[1]!, 'notes')).toBe(`'=SUM(A1)`);
    expect(JSON.parse(cell(rows[1]!, 'items')!)).toEqual([{ id: 'valve', ok: true }]);
    expect(cell(rows[1]!, 'status')).toBe('');
  });

  it('reads page after page: fields first seen after the first page go to `other`, tombstones on every page are left out', async () => {
    const tenant = unique('t');
    const scope = unique('site');
    await addMember(tenant, scope, 'ana');
    const pk = `${tenant}#${scope}`;
    const now = new Date().toISOString();
    // Written as the record store writes them (dynamo-record-store.ts), enough for three Query pages.
    const items = Array.from({ length: 2_300 }, (_, i) => {
      const id = `r-${String(i).padStart(5, '0')}`;
      const deleted = i % 10 === 3;
      return {
        pk,
        sk: `rec#inspections#${id}`,
        collection: 'inspections',
        id,
        version: 1,
        seq: i + 1,
        fields: deleted ? {} : { status: 'open', n: i, ...(i >= 1_500 && { late: `late-${i}` }) },
        meta: {},
        ...(deleted && { deleted: { at: now, by: 'ana', clock: '1764600000000-0000-x' }, expiresAt: Math.floor(Date.now() / 1000) + 86_400 }),
        updatedAt: now,
        updatedBy: 'ana',
      };
    });
    for (let start = 0; start < items.length; start += 25) {
      let pending: unknown[] = items.slice(start, start + 25).map((Item) => ({ PutRequest: { Item } }));
      while (pending.length > 0) {
        const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName('records')]: pending as never } }));
        pending = result.UnprocessedItems?.[tableName('records')] ?? [];
      }
    }
    const token = await devToken(tenant, 'ana');
    const recipient = `${unique('r')}@example.com`;
    const created = await api('POST', '/exports/schedules', token, collectionSchedule(recipient, { scope, collection: 'inspections' }, 'ndjson'));
    expect(created.status).toBe(201);
    const { run, file } = await runAndDownload(token, created.body.id, recipient);
    const live = items.filter((item) => item.deleted === undefined);
    expect(run.rows).toBe(live.length);
    const rows = file
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(rows.map((row) => row.id)).toEqual(live.map((item) => item.id));
    expect(Object.keys(rows[0]!)).toEqual(['id', ...declaredInspectionFields, 'n', 'other', 'version', 'updatedAt', 'updatedBy']);
    expect(rows[0]).toMatchObject({ status: 'open', n: 0, other: null, version: 1, updatedBy: 'ana' });
    const late = rows.find((row) => row.id === 'r-01500')!;
    expect(late).toMatchObject({ n: 1_500, other: { late: 'late-1500' } });
  });

  it('answers 400 naming the filter for an undeclared collection, a scope without a collection and the reverse, a date range, another dataset', async () => {
    const { scope, token } = await seedScope();
    for (const [dataset, filters, message] of [
      [
        'records',
        { scope, collection: 'nope' },
        /^filters\.collection: "nope" is not a record collection of this deployment \(it declares inspections, handovers\)/,
      ],
      ['records', { scope }, /^filters\.collection: required with filters\.scope/],
      ['records', { collection: 'inspections' }, /^filters\.scope: required with filters\.collection/],
      ['records', { scope, collection: 'inspections', from: '2026-03-01T00:00:00Z' }, /^filters\.from: a collection is exported whole/],
      ['notifications', { scope, collection: 'inspections' }, /^filters\.scope: only dataset records takes a scope/],
      ['records', { scope, collection: 'not a name' }, /filters\.collection/],
    ] as const) {
      for (const response of [
        await api('POST', '/exports/preview', token, { dataset, filters }),
        await api('POST', '/exports/schedules', token, { ...collectionSchedule('ana@example.com', filters), dataset }),
      ]) {
        expect(response.status, JSON.stringify(filters)).toBe(400);
        expect(response.body.error.message).toMatch(message);
      }
    }
    expect((await api('GET', '/exports/schedules', token)).body.schedules ?? []).toEqual([]);
  });

  it('answers 404 to a non-member and to another tenant naming the scope, storing nothing; the role is not what decides', async () => {
    const { tenant, scope } = await seedScope();
    const filters = { scope, collection: 'inspections' };
    for (const token of [
      await devToken(tenant, 'carl'),
      // The admin role does not open a scope: sync does not either.
      await devToken(tenant, 'carl', ['admin']),
      // ana of another tenant, where no such scope has her.
      await devToken(unique('t'), 'ana', ['admin']),
    ]) {
      const preview = await api('POST', '/exports/preview', token, { dataset: 'records', filters });
      expect(preview.status).toBe(404);
      expect(preview.body.error.message).toBe(`No scope ${scope}`);
      const created = await api('POST', '/exports/schedules', token, collectionSchedule('ana@example.com', filters));
      expect(created.status).toBe(404);
      const listed = await api('GET', '/exports/schedules', token);
      expect(listed.status).toBe(200);
      expect(JSON.stringify(listed.body)).not.toContain(scope);
    }
  });

  it('refuses and records a run whose owner was removed from the scope since, and tells the owner', async () => {
    const { tenant, scope, token } = await seedScope();
    const recipient = `${unique('r')}@example.com`;
    const created = await api('POST', '/exports/schedules', token, collectionSchedule(recipient, { scope, collection: 'inspections' }));
    expect(created.status).toBe(201);
    await removeMember(tenant, scope, 'ana');

    const { status, body } = await api('POST', `/exports/schedules/${created.body.id}/run`, token);
    expect(status).toBe(202);
    const run = await waitForRun(token, body.runId);
    expect(run).toMatchObject({ status: 'failed', attempts: 1 });
    expect(run.error).toMatch(new RegExp(`^Refused: No scope ${scope} that ana is a member of`));
    expect(run.rows).toBeUndefined();
    const failed = await eventually(async () => {
      const { body: page } = await api('GET', '/notifications?after=0', token);
      return page.items.find((item: { kind: string }) => item.kind === 'export.failed');
    });
    expect(failed.body).toContain(`No scope ${scope}`);
    expect(await emailsTo(recipient)).toEqual([]);
  });
});
