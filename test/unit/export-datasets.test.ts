import { describe, expect, it } from 'vitest';
import { exportRecordsSetting, exportValue, sortKeyRange } from '#functions/adapters/dynamo-datasets';
import { checkRecordsFilters, collectionLayout, datasetSource, MAX_RECORD_COLUMNS, recordsLayout, type DatasetReader } from '#functions/exports/datasets';
import { createScheduleBody, previewBody, validateFilters } from '#functions/exports/model';

describe('validateFilters', () => {
  it.each([
    ['notifications', { status: 'unread' }],
    ['notifications', { status: 'read', from: '2026-03-01T00:00:00Z', to: '2026-03-02T00:00:00Z' }],
    ['alerts', { topic: 'site-1' }],
    ['alerts', { topic: 'site-1', status: 'acknowledged' }],
    ['records', {}],
    ['records', { from: '2026-03-01T00:00:00Z' }],
    ['records', { scope: 'site-1', collection: 'inspections' }],
  ] as const)('accepts %s with %j', (dataset, filters) => {
    expect(validateFilters(dataset, filters)).toBeUndefined();
  });

  it.each([
    ['notifications', { status: 'resolved' }, 'filters.status: dataset notifications takes read or unread, got "resolved"'],
    ['alerts', { topic: 'site-1', status: 'unread' }, 'filters.status: dataset alerts takes active, acknowledged or resolved, got "unread"'],
    ['records', { status: 'active' }, 'filters.status: dataset records takes no status filter'],
    ['alerts', {}, 'filters.topic: required for dataset alerts, which exports the alerts of one topic'],
    ['notifications', { topic: 'site-1' }, 'filters.topic: only dataset alerts takes a topic, not notifications'],
    ['records', { topic: 'site-1' }, 'filters.topic: only dataset alerts takes a topic, not records'],
    ['records', { from: '2026-03-02T00:00:00Z', to: '2026-03-02T00:00:00Z' }, 'filters.to: must be after filters.from'],
  ] as const)('refuses %s with %j', (dataset, filters, message) => {
    expect(validateFilters(dataset, filters)).toBe(message);
  });

  it('leaves the topic to the body schema, which keeps a "#" out of the tenant#topic key', () => {
    const result = previewBody.safeParse({ dataset: 'alerts', filters: { topic: 'site#1' } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['filters', 'topic']);
  });

  it('knows the three datasets, and no other', () => {
    const body = { name: 'n', format: 'csv', schedule: { preset: 'daily', at: '06:00' }, timezone: 'UTC', recipients: ['a@example.com'] };
    for (const dataset of ['notifications', 'alerts', 'records']) expect(createScheduleBody.safeParse({ ...body, dataset }).success).toBe(true);
    expect(createScheduleBody.safeParse({ ...body, dataset: 'alert' }).success).toBe(false);
  });
});

describe('datasetSource', () => {
  const notifications: DatasetReader = { open: async () => ({ columns: [], rows: [] as never }) };

  it('answers dataset_not_configured for records when the deployment names no table, at check and at open', async () => {
    const source = datasetSource({ notifications });
    const owner = { tenant: 't', userId: 'ana' };
    for (const attempt of [source.check('records', owner, {}), source.open('records', owner, {})]) {
      await expect(attempt).rejects.toMatchObject({
        status: 400,
        code: 'dataset_not_configured',
        message: expect.stringContaining('cdk.json context "exportRecords"'),
      });
    }
    await expect(source.check('notifications', owner, {})).resolves.toBeUndefined();
  });

  it('treats a function wired without alerts as a bug, not as the caller’s mistake', async () => {
    const attempt = datasetSource({ notifications }).check('alerts', { tenant: 't', userId: 'ana' }, { topic: 'x' });
    await expect(attempt).rejects.toThrow('Dataset alerts is not wired into this function');
    await expect(attempt).rejects.not.toHaveProperty('status');
  });

  it('checks before it opens, and opens for the owner without the roles', async () => {
    const seen: string[] = [];
    const alerts: DatasetReader = {
      check: async (requester) => void seen.push(`check ${requester.roles?.join() ?? 'none'}`),
      open: async (owner) => (seen.push(`open ${JSON.stringify(owner)}`), { columns: [], rows: [] as never }),
    };
    await datasetSource({ notifications, alerts }).open('alerts', { tenant: 't', userId: 'ana', roles: ['admin'] }, { topic: 'x' });
    expect(seen).toEqual(['check admin', 'open {"tenant":"t","userId":"ana"}']);
  });
});

describe('checkRecordsFilters', () => {
  it('refuses a date range without a sort key, naming the field given', () => {
    const table = { table: 'WorkOrders', tenantKey: 'tenantId' };
    expect(() => checkRecordsFilters(table, { from: '2026-03-01T00:00:00Z' })).toThrow(/^filters\.from: the records table has no sort key configured/);
    expect(() => checkRecordsFilters(table, { to: '2026-03-01T00:00:00Z' })).toThrow(/^filters\.to: /);
    expect(() => checkRecordsFilters(table, {})).not.toThrow();
    expect(() => checkRecordsFilters({ ...table, sortKey: 'createdAt' }, { from: '2026-03-01T00:00:00Z' })).not.toThrow();
  });
});

describe('recordsLayout', () => {
  const table = { table: 'WorkOrders', tenantKey: 'tenantId', sortKey: 'createdAt' };

  it('puts the sort key first, the first page’s other attributes alphabetically, then other; never the tenant key', () => {
    const layout = recordsLayout(table, [
      { tenantId: 'acme', createdAt: '2026-03-01', site: 'a', crew: 'n' },
      { tenantId: 'acme', createdAt: '2026-03-02', amount: 3 },
    ]);
    expect(layout.columns.map((column) => column.key)).toEqual(['createdAt', 'amount', 'crew', 'site', 'other']);
    expect(layout.columns.map((column) => column.header)).toEqual(['createdAt', 'amount', 'crew', 'site', 'other']);
    expect({ ...layout.toRow({ tenantId: 'acme', createdAt: 'c', site: 's', late: 1, later: { x: [1] } }) }).toEqual({
      createdAt: 'c',
      site: 's',
      other: { late: 1, later: { x: [1] } },
    });
    // Nothing unknown: no other cell at all, so CSV writes it empty.
    expect(layout.toRow({ tenantId: 'acme', createdAt: 'c' })).not.toHaveProperty('other');
  });

  it('renames the extras column when a record has an attribute called other', () => {
    const layout = recordsLayout(table, [{ tenantId: 'acme', createdAt: 'c', other: 'mine', _other: 'also' }]);
    expect(layout.otherKey).toBe('__other');
    expect(layout.columns.map((column) => column.key)).toEqual(['createdAt', '_other', 'other', '__other']);
    expect({ ...layout.toRow({ tenantId: 'acme', createdAt: 'c', other: 'mine', surprise: true }) }).toEqual({
      createdAt: 'c',
      other: 'mine',
      __other: { surprise: true },
    });
  });

  it('keeps an attribute named __proto__ as data', () => {
    const item = JSON.parse('{"tenantId":"acme","createdAt":"c","__proto__":"x"}') as Record<string, unknown>;
    const layout = recordsLayout(table, [item]);
    expect(layout.columns.map((column) => column.key)).toContain('__proto__');
    const row = layout.toRow(item);
    expect(row.__proto__).toBe('x');
    expect(JSON.stringify({ ...row })).toBe('{"createdAt":"c","__proto__":"x"}');
  });

  it(`caps named columns at ${MAX_RECORD_COLUMNS}; the rest go to other`, () => {
    const wide = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`a${String(i).padStart(3, '0')}`, i]));
    const layout = recordsLayout(table, [{ tenantId: 'acme', createdAt: 'c', ...wide }]);
    expect(layout.columns).toHaveLength(MAX_RECORD_COLUMNS + 1);
    expect(layout.columns.at(-2)!.key).toBe('a198');
    expect((layout.toRow({ createdAt: 'c', ...wide }).other as Record<string, number>).a299).toBe(299);
  });

  it('has only other when the first page is empty', () => {
    expect(recordsLayout({ table: 't', tenantKey: 'tenantId' }, []).columns.map((column) => column.key)).toEqual(['other']);
  });
});

describe('collectionLayout', () => {
  const record = (id: string, fields: Record<string, unknown>) => ({ id, version: 2, updatedAt: '2026-03-01T00:00:00.000Z', updatedBy: 'ana', fields });

  it('puts id first, the declared fields in declaration order, the other first-page fields alphabetically, then other and the record columns', () => {
    const layout = collectionLayout(['status', 'notes'], [record('a', { zeta: 1, alpha: 2, notes: 'n' })]);
    expect(layout.columns.map((column) => column.key)).toEqual(['id', 'status', 'notes', 'alpha', 'zeta', 'other', 'version', 'updatedAt', 'updatedBy']);
    expect({ ...layout.toRow(record('b', { notes: 'x', late: true })) }).toEqual({
      id: 'b',
      notes: 'x',
      other: { late: true },
      version: 2,
      updatedAt: '2026-03-01T00:00:00.000Z',
      updatedBy: 'ana',
    });
  });

  it('gives a field named like a record column the column fields.<name>, so neither hides the other', () => {
    const layout = collectionLayout(['id'], [record('a', { version: 'v', other: 'o', updatedBy: 'u' })]);
    expect(layout.columns.map((column) => column.key)).toEqual([
      'id',
      'fields.id',
      'fields.other',
      'fields.updatedBy',
      'fields.version',
      'other',
      'version',
      'updatedAt',
      'updatedBy',
    ]);
    const row = layout.toRow(record('a', { id: 'field-id', version: 'v', other: 'o', updatedBy: 'u' }));
    expect(row).toMatchObject({
      id: 'a',
      'fields.id': 'field-id',
      'fields.version': 'v',
      version: 2,
      'fields.other': 'o',
      'fields.updatedBy': 'u',
      updatedBy: 'ana',
    });
    expect(row.other).toBeUndefined();
  });
});

describe('sortKeyRange', () => {
  it('uses BETWEEN for both bounds and names the exclusive end to drop, >= and < for one', () => {
    expect(sortKeyRange('raisedAt', { from: '2026-03-01T09:00:00+01:00', to: '2026-03-02T00:00:00Z' })).toEqual({
      condition: ' AND raisedAt BETWEEN :from AND :to',
      values: { ':from': '2026-03-01T08:00:00.000Z', ':to': '2026-03-02T00:00:00.000Z' },
      excludeEqualTo: '2026-03-02T00:00:00.000Z',
    });
    expect(sortKeyRange('#sort', { from: '2026-03-01T00:00:00Z' })).toEqual({
      condition: ' AND #sort >= :from',
      values: { ':from': '2026-03-01T00:00:00.000Z' },
    });
    expect(sortKeyRange('#sort', { to: '2026-03-01T00:00:00Z' })).toEqual({ condition: ' AND #sort < :to', values: { ':to': '2026-03-01T00:00:00.000Z' } });
    expect(sortKeyRange('#sort', {})).toEqual({ condition: '', values: {} });
  });
});

describe('exportValue', () => {
  it('turns every DynamoDB type into plain JSON data without losing digits', () => {
    expect(exportValue({ S: '=1+2' })).toBe('=1+2');
    expect(exportValue({ N: '42' })).toBe(42);
    expect(exportValue({ N: '-1.5' })).toBe(-1.5);
    expect(exportValue({ N: '12345678901234567890' })).toBe('12345678901234567890');
    expect(exportValue({ N: '0.1000000000000000055511151231257827' })).toBe('0.1000000000000000055511151231257827');
    expect(exportValue({ BOOL: false })).toBe(false);
    expect(exportValue({ NULL: true })).toBeNull();
    expect(exportValue({ SS: ['a', 'b'] })).toEqual(['a', 'b']);
    expect(exportValue({ NS: ['1', '99999999999999999999'] })).toEqual([1, '99999999999999999999']);
    expect(exportValue({ B: new Uint8Array([1, 2, 255]) })).toBe('AQL/');
    expect(exportValue({ BS: [new Uint8Array([0])] })).toEqual(['AA==']);
    expect(exportValue({ L: [{ S: 'x' }, { M: { n: { N: '1' } } }] })).toEqual(['x', { n: 1 }]);
  });
});

describe('exportRecordsSetting', () => {
  it('reads empty as not configured, JSON as the table, and fails naming the variable otherwise', () => {
    expect(exportRecordsSetting('EXPORT_RECORDS', '')).toBeUndefined();
    expect(exportRecordsSetting('EXPORT_RECORDS', '{"table":"WorkOrders","tenantKey":"tenantId"}')).toEqual({ table: 'WorkOrders', tenantKey: 'tenantId' });
    expect(exportRecordsSetting('EXPORT_RECORDS', '{"table":"W","tenantKey":"t","sortKey":"at"}')).toEqual({ table: 'W', tenantKey: 't', sortKey: 'at' });
    expect(() => exportRecordsSetting('EXPORT_RECORDS', undefined)).toThrow('Missing environment variable: EXPORT_RECORDS');
    for (const bad of ['{', '[]', '{"table":"W"}', '{"table":"W","tenantKey":""}', '{"table":"W","tenantKey":"t","sortKey":7}']) {
      expect(() => exportRecordsSetting('EXPORT_RECORDS', bad)).toThrow(/^Environment variable EXPORT_RECORDS must be empty or JSON/);
    }
  });
});
