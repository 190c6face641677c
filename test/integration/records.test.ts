import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deliver } from '#functions/notifications/deliver';
import type { AssignmentDeps } from '#functions/records/assignments';
import { dynamoRecordStore } from '#functions/adapters/dynamo-record-store';
import { dynamoMembershipStore } from '#functions/adapters/dynamo-topic-stores';
import { push as syncPush, type SyncDeps } from '#functions/records/sync';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { LOCAL_RECORD_COLLECTIONS } from '#lib/local/runtime';
import { tick } from '#functions/protocol/hlc';
import { MAX_CHANGED_FIELDS, MAX_PUSH_OPS, pullPageSchema, pushResultSchema, type ClientOp } from '#functions/protocol/records';
import { localDeliverDeps } from '../support/delivery';
import { importAsLambda } from '../support/lambda-module';
import { api, devToken, eventually, tableName, TestSocket, ticketFor, urls } from '../support/local';

/**
 * Offline-first records over the HTTP API of the local runtime (docs/sync.md): push, pull,
 * conflicts and their resolution, live change frames, device status, and every bad input's answer.
 * The `inspections` collection is the local runtime's declaration (lib/local/runtime.ts):
 * status server-wins, notes last-writer-wins, items merge-by-id, verdict manual.
 */

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const opened: TestSocket[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((socket) => (socket.closed ? undefined : socket.close())));
});

/** A tenant and a scope (topic) whose members are `members`; tokens by user. */
async function scopeWith(members: string[]): Promise<{ tenant: string; scope: string; tokens: Record<string, string> }> {
  const tenant = unique('t');
  const scope = unique('site');
  const admin = await devToken(tenant, 'admin-ann', ['admin']);
  const tokens: Record<string, string> = {};
  for (const user of members) {
    expect((await api('PUT', `/topics/${scope}/members/${user}`, admin)).status).toBe(201);
    tokens[user] = await devToken(tenant, user);
  }
  return { tenant, scope, tokens };
}

/** A device: its own HLC, op ids, and the versions it last saw. */
function device(id: string, skewMs = 0) {
  let last: string | undefined;
  let next = 0;
  return {
    id,
    clock: () => {
      last = tick(last, Date.now() + skewMs, id);
      return last;
    },
    opId: () => `${id}-op${next++}-${randomUUID().slice(0, 6)}`,
  };
}

async function push(token: string, scope: string, deviceId: string, ops: ClientOp[], extra: Record<string, unknown> = {}) {
  return api('POST', `/records/${scope}/push`, token, { deviceId, ops, ...extra });
}

describe('records: push and pull', () => {
  it('creates and updates a record, and a pull from nothing then from its cursor returns each change once, in seq order', async () => {
    const { scope, tokens } = await scopeWith(['ana']);
    const tablet = device('tablet-1');
    const created = await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'insp-1', base: 0, changes: { notes: { clock: tablet.clock(), value: 'Pump room' } } },
      { opId: tablet.opId(), collection: 'inspections', id: 'insp-2', base: 0, changes: { status: { clock: tablet.clock(), value: 'open' } } },
    ]);
    expect(created.status).toBe(200);
    expect(pushResultSchema.safeParse(created.body).success).toBe(true);
    expect(created.body.results.map((result: { status: string; version: number }) => [result.status, result.version])).toEqual([
      ['applied', 1],
      ['applied', 1],
    ]);

    const first = await api('GET', `/records/${scope}/changes?deviceId=${tablet.id}`, tokens.ana);
    expect(first.status).toBe(200);
    expect(pullPageSchema.safeParse(first.body).success).toBe(true);
    expect(first.body.records.map((record: { id: string; seq: number }) => [record.id, record.seq])).toEqual([
      ['insp-1', 1],
      ['insp-2', 2],
    ]);
    expect(first.body.records[0].fields).toEqual({ notes: 'Pump room' });

    const updated = await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'insp-1', base: 1, changes: { notes: { clock: tablet.clock(), value: 'Pump room, east' } } },
    ]);
    expect(updated.body.results[0]).toMatchObject({ status: 'applied', version: 2 });

    const next = await api('GET', `/records/${scope}/changes?after=${first.body.cursor}`, tokens.ana);
    expect(next.body.records).toHaveLength(1);
    expect(next.body.records[0]).toMatchObject({ id: 'insp-1', version: 2, seq: 3, fields: { notes: 'Pump room, east' }, updatedBy: 'ana' });
    const empty = await api('GET', `/records/${scope}/changes?after=${next.body.cursor}`, tokens.ana);
    expect(empty.body).toMatchObject({ reset: false, records: [], more: false });
  });

  it('pages a pull with limit, and keeps going from each cursor', async () => {
    const { scope, tokens } = await scopeWith(['ana']);
    const tablet = device('tablet-p');
    const ops = ['a', 'b', 'c', 'd', 'e'].map(
      (id): ClientOp => ({ opId: tablet.opId(), collection: 'checklists', id, base: 0, changes: { title: { clock: tablet.clock(), value: id } } }),
    );
    expect((await push(tokens.ana as string, scope, tablet.id, ops)).status).toBe(200);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (let more = true; more; pages++) {
      const page = await api('GET', `/records/${scope}/changes?limit=2${cursor ? `&after=${cursor}` : ''}`, tokens.ana);
      expect(page.status).toBe(200);
      seen.push(...page.body.records.map((record: { id: string }) => record.id));
      cursor = page.body.cursor;
      more = page.body.more;
    }
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it('merges concurrent offline edits field by field, each by its declared strategy', async () => {
    const { scope, tokens } = await scopeWith(['ana', 'ben']);
    const anaTablet = device('ana-tablet');
    const benPhone = device('ben-phone', -30_000); // its wall clock is half a minute behind
    const create = await push(tokens.ana as string, scope, anaTablet.id, [
      {
        opId: anaTablet.opId(),
        collection: 'inspections',
        id: 'insp-m',
        base: 0,
        changes: {
          status: { clock: anaTablet.clock(), value: 'open' },
          notes: { clock: anaTablet.clock(), value: 'first' },
          verdict: { clock: anaTablet.clock(), value: 'pending' },
          items: { clock: anaTablet.clock(), upsert: [{ id: 'valve', ok: false }] },
        },
      },
    ]);
    expect(create.body.results[0].status).toBe('applied');

    // Both saw version 1, then went offline. Ben edits first (by wall time), Ana later, but Ben pushes last.
    const benOp: ClientOp = {
      opId: benPhone.opId(),
      collection: 'inspections',
      id: 'insp-m',
      base: 1,
      changes: {
        status: { clock: benPhone.clock(), value: 'in-progress' },
        notes: { clock: benPhone.clock(), value: 'ben notes' },
        verdict: { clock: benPhone.clock(), value: 'fail' },
        // A new element, and a note on the valve Ana is marking ok: a different field of the same element.
        items: {
          clock: benPhone.clock(),
          upsert: [
            { id: 'gauge', ok: true },
            { id: 'valve', note: 'seal worn' },
          ],
        },
      },
    };
    const anaOp: ClientOp = {
      opId: anaTablet.opId(),
      collection: 'inspections',
      id: 'insp-m',
      base: 1,
      changes: {
        status: { clock: anaTablet.clock(), value: 'done' },
        notes: { clock: anaTablet.clock(), value: 'ana notes' },
        verdict: { clock: anaTablet.clock(), value: 'pass' },
        items: { clock: anaTablet.clock(), upsert: [{ id: 'valve', ok: true }] },
      },
    };
    const anaPush = await push(tokens.ana as string, scope, anaTablet.id, [anaOp]);
    expect(anaPush.body.results[0]).toMatchObject({ status: 'applied', version: 2 });
    const benPush = await push(tokens.ben as string, scope, benPhone.id, [benOp]);
    expect(benPush.status).toBe(200);
    const answer = benPush.body.results[0];
    expect(answer.status).toBe('conflict');
    expect(answer.fields).toEqual({ status: 'kept-server', notes: 'superseded', verdict: 'conflict', items: 'applied' });
    expect(answer.conflicts).toEqual([expect.objectContaining({ field: 'verdict', mine: 'fail', theirs: 'pass', by: 'ben', opId: benOp.opId })]);

    const record = benPush.body.records[0];
    expect(record.version).toBe(3);
    // server-wins kept Ana's; last-writer-wins took Ana's later clock though Ben's push came last;
    // merge-by-id kept both elements (in the order of the clocks that first added them: Ben's phone
    // runs behind) and, inside the valve, Ana's ok and Ben's note; manual kept the value and recorded the conflict.
    expect(record.fields).toEqual({
      status: 'done',
      notes: 'ana notes',
      verdict: 'pass',
      items: [
        { id: 'gauge', ok: true },
        { id: 'valve', ok: true, note: 'seal worn' },
      ],
    });

    const conflicts = await api('GET', `/records/${scope}/conflicts`, tokens.ana);
    expect(conflicts.status).toBe(200);
    expect(conflicts.body.conflicts).toEqual([
      { collection: 'inspections', id: 'insp-m', version: 3, conflict: expect.objectContaining({ field: 'verdict', mine: 'fail', theirs: 'pass' }) },
    ]);
  });

  it('answers a replayed op id with its first answer and applies nothing again', async () => {
    const { scope, tokens } = await scopeWith(['ana']);
    const tablet = device('tablet-r');
    const ops: ClientOp[] = [
      {
        opId: tablet.opId(),
        collection: 'inspections',
        id: 'insp-r',
        base: 0,
        changes: { items: { clock: tablet.clock(), upsert: [{ id: 'hose', ok: false }] } },
      },
    ];
    const first = await push(tokens.ana as string, scope, tablet.id, ops);
    const again = await push(tokens.ana as string, scope, tablet.id, ops);
    expect(again.status).toBe(200);
    expect(again.body.results[0]).toEqual({ ...first.body.results[0], replayed: true });
    const pulled = await api('GET', `/records/${scope}/changes`, tokens.ana);
    expect(pulled.body.records).toHaveLength(1);
    expect(pulled.body.records[0]).toMatchObject({ version: 1, seq: 1 });
  });

  it('answers a cursor older than the retention with reset', async () => {
    const { scope, tokens } = await scopeWith(['ana']);
    const longAgo = Date.now() - 31 * 24 * 60 * 60 * 1000;
    const page = await api('GET', `/records/${scope}/changes?after=5.${longAgo}`, tokens.ana);
    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ reset: true, message: expect.stringContaining('retention') });
  });

  it('keeps a deleted record as a tombstone that pulls carry, and answers a later edit record_deleted with nothing applied', async () => {
    const { scope, tokens } = await scopeWith(['ana', 'ben']);
    const tablet = device('tablet-d');
    const phone = device('phone-d');
    await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'insp-d', base: 0, changes: { notes: { clock: tablet.clock(), value: 'x' } } },
    ]);
    const deleted = await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'insp-d', base: 1, kind: 'delete', clock: tablet.clock() },
    ]);
    expect(deleted.body.results[0]).toMatchObject({ status: 'applied', version: 2 });
    const late = await push(tokens.ben as string, scope, phone.id, [
      { opId: phone.opId(), collection: 'inspections', id: 'insp-d', base: 1, changes: { notes: { clock: phone.clock(), value: 'y' } } },
    ]);
    expect(late.body.results[0]).toMatchObject({ status: 'rejected', reason: 'record_deleted' });
    const pulled = await api('GET', `/records/${scope}/changes`, tokens.ben);
    expect(pulled.body.records).toEqual([expect.objectContaining({ id: 'insp-d', version: 2, fields: {}, deleted: expect.objectContaining({ by: 'ana' }) })]);
  });
});

describe('records: bad input gets its answer and loses nothing', () => {
  it('rejects the bad ops of a batch with their reasons and applies the others', async () => {
    const { scope, tokens } = await scopeWith(['ana']);
    const tablet = device('tablet-b');
    const ahead = device('tablet-ahead', 60 * 60 * 1000);
    const response = await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'good', base: 0, changes: { notes: { clock: tablet.clock(), value: 'ok' } } },
      { opId: tablet.opId(), collection: 'inspections', id: 'stale', base: 7, changes: { notes: { clock: tablet.clock(), value: 'no' } } },
      { opId: tablet.opId(), collection: 'inspections', id: 'good', base: 5, changes: { notes: { clock: tablet.clock(), value: 'no' } } },
      { opId: tablet.opId(), collection: 'inspections', id: 'shape', base: 0, changes: { items: { clock: tablet.clock(), value: [{ id: 'a' }] } } },
      { opId: tablet.opId(), collection: 'inspections', id: 'future', base: 0, changes: { notes: { clock: ahead.clock(), value: 'later' } } },
    ]);
    expect(response.status).toBe(200);
    expect(response.body.results.map((result: { status: string; reason?: string }) => [result.status, result.reason])).toEqual([
      ['applied', undefined],
      ['rejected', 'unknown_record'],
      ['rejected', 'base_ahead'],
      ['rejected', 'invalid_change'],
      ['rejected', 'clock_ahead'],
    ]);
    expect(response.body.results[3].message).toContain('merge-by-id');
    const pulled = await api('GET', `/records/${scope}/changes`, tokens.ana);
    expect(pulled.body.records.map((record: { id: string }) => record.id)).toEqual(['good']);
  });

  it('refuses a malformed body, an oversized batch and an oversized body as a whole, applying none of it', async () => {
    const { scope, tokens } = await scopeWith(['ana']);
    const tablet = device('tablet-x');
    const op = (id: string, value: unknown = 'v'): ClientOp => ({
      opId: tablet.opId(),
      collection: 'inspections',
      id,
      base: 0,
      changes: { notes: { clock: tablet.clock(), value } },
    });

    const badClock = await api('POST', `/records/${scope}/push`, tokens.ana, {
      deviceId: tablet.id,
      ops: [{ ...op('a'), changes: { notes: { clock: 'yesterday', value: 1 } } }],
    });
    expect(badClock.status).toBe(400);
    expect(badClock.body.error).toMatchObject({ code: 'invalid_body', message: expect.stringContaining('clock') });

    const tooManyFields = await api('POST', `/records/${scope}/push`, tokens.ana, {
      deviceId: tablet.id,
      ops: [
        {
          ...op('wide'),
          changes: Object.fromEntries(Array.from({ length: MAX_CHANGED_FIELDS + 1 }, (_, index) => [`f${index}`, { clock: tablet.clock(), value: index }])),
        },
      ],
    });
    expect(tooManyFields.status).toBe(400);
    expect(tooManyFields.body.error).toMatchObject({ code: 'invalid_body', message: expect.stringContaining(`at most ${MAX_CHANGED_FIELDS} fields`) });

    const tooMany = await push(
      tokens.ana as string,
      scope,
      tablet.id,
      Array.from({ length: MAX_PUSH_OPS + 1 }, (_, index) => op(`n${index}`)),
    );
    expect(tooMany.status).toBe(413);
    expect(tooMany.body).toMatchObject({ error: { code: 'batch_too_large' }, limit: { name: 'opsPerPush', max: MAX_PUSH_OPS } });

    const tooBig = await push(tokens.ana as string, scope, tablet.id, [op('big', 'x'.repeat(70 * 1024))]);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.code).toBe('payload_too_large');

    const notJson = await api('POST', `/records/${scope}/push`, tokens.ana, '{"deviceId":');
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('invalid_json');

    const badCursor = await api('GET', `/records/${scope}/changes?after=yesterday`, tokens.ana);
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error.code).toBe('invalid_query');

    const pulled = await api('GET', `/records/${scope}/changes`, tokens.ana);
    expect(pulled.body.records).toEqual([]);
  });

  it('refuses bad pull queries with 400 naming the parameter, and bad resolve paths and bodies, changing nothing', async () => {
    const { scope, tokens } = await scopeWith(['ana']);
    const tablet = device('tablet-q');
    await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'q1', base: 0, changes: { notes: { clock: tablet.clock(), value: 'kept' } } },
    ]);
    for (const [query, names] of [
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['limit=ten', 'limit'],
      ['after=1.2.3', 'after'],
      ['deviceId=bad%20device', 'deviceId'],
      ['since=5', 'since'],
    ] as const) {
      const response = await api('GET', `/records/${scope}/changes?${query}`, tokens.ana);
      expect(response.status, query).toBe(400);
      expect(response.body.error, query).toMatchObject({ code: 'invalid_query', message: expect.stringContaining(names) });
    }
    // A cursor this server cannot have made (its time a day and more ahead).
    const future = await api('GET', `/records/${scope}/changes?after=1.${Date.now() + 3 * 24 * 60 * 60 * 1000}`, tokens.ana);
    expect(future.status).toBe(400);
    expect(future.body.error).toMatchObject({ code: 'invalid_query', message: expect.stringContaining('cursor') });

    const badCollection = await api('POST', `/records/${scope}/bad%20name/q1/resolve`, tokens.ana, { field: 'verdict', base: 1, choose: 'theirs' });
    expect(badCollection.status).toBe(400);
    const noBase = await api('POST', `/records/${scope}/inspections/q1/resolve`, tokens.ana, { field: 'verdict', base: 0, choose: 'theirs' });
    expect(noBase.status).toBe(400);
    expect(noBase.body.error).toMatchObject({ code: 'invalid_body', message: expect.stringContaining('base') });
    const noConflict = await api('POST', `/records/${scope}/inspections/q1/resolve`, tokens.ana, { field: 'verdict', base: 1, choose: 'theirs' });
    expect(noConflict.status).toBe(404);
    expect(noConflict.body.error.message).toContain('No open conflict');
    const pulled = await api('GET', `/records/${scope}/changes`, tokens.ana);
    expect(pulled.body.records).toEqual([expect.objectContaining({ id: 'q1', version: 1, fields: { notes: 'kept' } })]);
  });

  it('rejects an op that would make a record too large, a delete with changes, and answers an op id repeated within one batch once', async () => {
    const { scope, tokens } = await scopeWith(['ana']);
    const tablet = device('tablet-l');
    const repeated = tablet.opId();
    const response = await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'big', base: 0, changes: { notes: { clock: tablet.clock(), value: 'x'.repeat(50 * 1024) } } },
      {
        opId: tablet.opId(),
        collection: 'inspections',
        id: 'del',
        base: 0,
        kind: 'delete',
        clock: tablet.clock(),
        changes: { notes: { clock: tablet.clock(), value: 1 } },
      },
      { opId: repeated, collection: 'inspections', id: 'twice', base: 0, changes: { notes: { clock: tablet.clock(), value: 'first' } } },
      { opId: repeated, collection: 'inspections', id: 'twice', base: 0, changes: { notes: { clock: tablet.clock(), value: 'second' } } },
    ]);
    expect(response.status).toBe(200);
    expect(
      response.body.results.map((result: { status: string; reason?: string; replayed?: boolean }) => [result.status, result.reason, result.replayed]),
    ).toEqual([
      ['rejected', 'record_too_large', undefined],
      ['rejected', 'invalid_change', undefined],
      ['applied', undefined, undefined],
      ['applied', undefined, true],
    ]);
    expect(response.body.results[0].message).toContain('larger than');
    const pulled = await api('GET', `/records/${scope}/changes`, tokens.ana);
    expect(pulled.body.records).toEqual([expect.objectContaining({ id: 'twice', version: 1, fields: { notes: 'first' } })]);
  });

  it('answers 404 for a scope the caller is not a member of, in their tenant or another, and for a bad scope name 400', async () => {
    const { tenant, scope, tokens } = await scopeWith(['ana']);
    const tablet = device('tablet-f');
    await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'secret', base: 0, changes: { notes: { clock: tablet.clock(), value: 'mine' } } },
    ]);
    const outsider = await devToken(tenant, 'olga');
    const otherTenant = await devToken(unique('t'), 'ana');
    for (const token of [outsider, otherTenant]) {
      for (const [method, path, body] of [
        ['GET', `/records/${scope}/changes`, undefined],
        ['GET', `/records/${scope}/conflicts`, undefined],
        ['GET', `/records/${scope}/devices/${tablet.id}`, undefined],
        [
          'POST',
          `/records/${scope}/push`,
          { deviceId: 'x', ops: [{ opId: 'o1', collection: 'inspections', id: 'secret', base: 1, kind: 'delete', clock: tablet.clock() }] },
        ],
        ['POST', `/records/${scope}/inspections/secret/resolve`, { field: 'verdict', base: 1, choose: 'theirs' }],
      ] as const) {
        const response = await api(method, path, token, body);
        expect(response.status, `${method} ${path}`).toBe(404);
        expect(response.body.error.code).toBe('not_found');
      }
    }
    expect((await api('GET', '/records/bad%23scope/changes', tokens.ana)).status).toBe(400);
    // The outsider's delete did nothing.
    const pulled = await api('GET', `/records/${scope}/changes`, tokens.ana);
    expect(pulled.body.records[0]).toMatchObject({ id: 'secret', version: 1, fields: { notes: 'mine' } });
  });
});

describe('records: conflicts, live changes, assignment and device status', () => {
  async function conflicted(scope: string, tokens: Record<string, string>) {
    const anaTablet = device('ana-c');
    const benPhone = device('ben-c');
    await push(tokens.ana as string, scope, anaTablet.id, [
      { opId: anaTablet.opId(), collection: 'inspections', id: 'insp-c', base: 0, changes: { verdict: { clock: anaTablet.clock(), value: 'pending' } } },
    ]);
    await push(tokens.ana as string, scope, anaTablet.id, [
      { opId: anaTablet.opId(), collection: 'inspections', id: 'insp-c', base: 1, changes: { verdict: { clock: anaTablet.clock(), value: 'pass' } } },
    ]);
    const benOpId = benPhone.opId();
    const ben = await push(tokens.ben as string, scope, benPhone.id, [
      { opId: benOpId, collection: 'inspections', id: 'insp-c', base: 1, changes: { verdict: { clock: benPhone.clock(), value: 'fail' } } },
    ]);
    expect(ben.body.results[0].status).toBe('conflict');
    return { benOpId, version: ben.body.records[0].version as number };
  }

  it('resolves a conflict by choosing mine, theirs or an edit, each a new version that closes the field', async () => {
    for (const [choice, expected] of [
      ['mine', 'fail'],
      ['theirs', 'pass'],
      ['edit', 'pass with remarks'],
    ] as const) {
      const { tenant, scope, tokens } = await scopeWith(['ana', 'ben']);
      const { benOpId, version } = await conflicted(scope, tokens);
      // Ben's phone is online and subscribed: it hears the resolution live.
      const phone = await TestSocket.open((await ticketFor(tenant, 'ben')).url);
      opened.push(phone);
      phone.send({ action: 'subscribe', topic: scope, id: 's1' });
      await phone.waitFor((frame) => frame.type === 'subscribed');
      const body = choice === 'mine' ? { choose: 'mine', opId: benOpId } : choice === 'edit' ? { choose: 'edit', value: expected } : { choose: 'theirs' };
      const stale = await api('POST', `/records/${scope}/inspections/insp-c/resolve`, tokens.ana, { field: 'verdict', base: version - 1, ...body });
      expect(stale.status).toBe(409);
      expect(stale.body).toMatchObject({ error: { code: 'stale_version' }, version });

      const resolved = await api('POST', `/records/${scope}/inspections/insp-c/resolve`, tokens.ana, { field: 'verdict', base: version, ...body });
      expect(resolved.status, choice).toBe(200);
      expect(resolved.body.record).toMatchObject({ version: version + 1, fields: { verdict: expected }, updatedBy: 'ana' });
      expect(resolved.body.record.conflicts).toBeUndefined();
      const live = await phone.waitFor((frame) => frame.type === 'change' && frame.record.version === version + 1);
      expect(live.record.fields.verdict).toEqual(expected);
      expect((await api('GET', `/records/${scope}/conflicts`, tokens.ben)).body.conflicts).toEqual([]);
      // Every device receives the resolution through its pull.
      const pulled = await api('GET', `/records/${scope}/changes`, tokens.ben);
      expect(pulled.body.records[0]).toMatchObject({ version: version + 1, fields: { verdict: expected } });
      const again = await api('POST', `/records/${scope}/inspections/insp-c/resolve`, tokens.ana, { field: 'verdict', base: version + 1, choose: 'theirs' });
      expect(again.status).toBe(404);
    }
  });

  it('refuses a resolution that names no conflict of the field', async () => {
    const { scope, tokens } = await scopeWith(['ana', 'ben']);
    const { version } = await conflicted(scope, tokens);
    const wrongOp = await api('POST', `/records/${scope}/inspections/insp-c/resolve`, tokens.ana, {
      field: 'verdict',
      base: version,
      choose: 'mine',
      opId: 'nope',
    });
    expect(wrongOp.status).toBe(400);
    const badBody = await api('POST', `/records/${scope}/inspections/insp-c/resolve`, tokens.ana, { field: 'verdict', choose: 'maybe' });
    expect(badBody.status).toBe(400);
    expect(badBody.body.error.code).toBe('invalid_body');
    const noRecord = await api('POST', `/records/${scope}/inspections/ghost/resolve`, tokens.ana, { field: 'verdict', base: 1, choose: 'theirs' });
    expect(noRecord.status).toBe(404);
  });

  it('sends each committed change to the live subscribers of the scope as a change frame', async () => {
    const { tenant, scope, tokens } = await scopeWith(['ana', 'ben']);
    const board = await TestSocket.open((await ticketFor(tenant, 'ben')).url);
    opened.push(board);
    board.send({ action: 'subscribe', topic: scope, id: 's1' });
    await board.waitFor((frame) => frame.type === 'subscribed');
    const tablet = device('tablet-live');
    await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'insp-live', base: 0, changes: { notes: { clock: tablet.clock(), value: 'live!' } } },
    ]);
    const frame = await board.waitFor((candidate) => candidate.type === 'change');
    expect(frame).toMatchObject({ type: 'change', scope, record: { collection: 'inspections', id: 'insp-live', version: 1, fields: { notes: 'live!' } } });
  });

  it('sends no change frame to a subscriber who has left the scope since subscribing', async () => {
    const { tenant, scope, tokens } = await scopeWith(['ana', 'ben', 'cy']);
    const sockets: Record<string, TestSocket> = {};
    for (const user of ['ben', 'cy']) {
      const socket = await TestSocket.open((await ticketFor(tenant, user)).url);
      opened.push(socket);
      socket.send({ action: 'subscribe', topic: scope, id: 's1' });
      await socket.waitFor((frame) => frame.type === 'subscribed');
      sockets[user] = socket;
    }
    const admin = await devToken(tenant, 'admin-ann', ['admin']);
    expect((await api('DELETE', `/topics/${scope}/members/cy`, admin)).status).toBe(204);
    const tablet = device('tablet-left');
    await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'insp-left', base: 0, changes: { notes: { clock: tablet.clock(), value: 'members only' } } },
    ]);
    await sockets.ben?.waitFor((frame) => frame.type === 'change');
    // The push answered after its change frames were posted, so one posted to Cy would reach her before this pong.
    sockets.cy?.send({ action: 'ping', id: 'barrier' });
    await sockets.cy?.waitFor((frame) => frame.id === 'barrier');
    expect(sockets.cy?.frames.filter((frame) => frame.type === 'change')).toEqual([]);
  });

  it('notifies a newly assigned member through their inbox, once, and not a non-member', async () => {
    const { scope, tokens } = await scopeWith(['ana', 'ben']);
    const tablet = device('tablet-a');
    const assign = (id: string, assigneeId: string, base = 0) =>
      push(tokens.ana as string, scope, tablet.id, [
        { opId: tablet.opId(), collection: 'inspections', id, base, changes: { assigneeId: { clock: tablet.clock(), value: assigneeId } } },
      ]);
    await assign('insp-a', 'ben');
    await assign('insp-outsider', 'olga');
    const inbox = await eventually(async () => {
      const page = await api('GET', '/notifications?after=0', tokens.ben);
      return page.body.items?.length > 0 ? page.body.items : undefined;
    });
    expect(inbox).toEqual([expect.objectContaining({ kind: 'record.assigned', data: { scope, collection: 'inspections', id: 'insp-a', version: 1 } })]);
    // The same assignee again is no new assignment.
    await push(tokens.ana as string, scope, tablet.id, [
      { opId: tablet.opId(), collection: 'inspections', id: 'insp-a', base: 1, changes: { notes: { clock: tablet.clock(), value: 'still ben' } } },
    ]);
    expect((await api('GET', '/notifications?after=0', tokens.ben)).body.items).toHaveLength(1);
  });

  it('notifies the owner a resolution chose', async () => {
    const { scope, tokens } = await scopeWith(['ana', 'ben', 'cy']);
    const anaTablet = device('ana-h');
    const benPhone = device('ben-h');
    const set = (token: string, d: ReturnType<typeof device>, base: number, owner: string) =>
      push(token, scope, d.id, [{ opId: d.opId(), collection: 'handovers', id: 'h1', base, changes: { owner: { clock: d.clock(), value: owner } } }]);
    await set(tokens.ana as string, anaTablet, 0, 'ana');
    await set(tokens.ana as string, anaTablet, 1, 'ana'); // version 2, by the tablet
    const conflict = await set(tokens.ben as string, benPhone, 1, 'cy');
    expect(conflict.body.results[0].status).toBe('conflict');
    expect((await api('GET', '/notifications?after=0', tokens.cy)).body.items).toEqual([]);
    const resolved = await api('POST', `/records/${scope}/handovers/h1/resolve`, tokens.ana, {
      field: 'owner',
      base: conflict.body.records[0].version,
      choose: 'mine',
      opId: conflict.body.results[0].opId,
    });
    expect(resolved.status).toBe(200);
    const inbox = await eventually(async () => {
      const page = await api('GET', '/notifications?after=0', tokens.cy);
      return page.body.items?.length > 0 ? page.body.items : undefined;
    });
    expect(inbox[0]).toMatchObject({ kind: 'record.assigned', data: { collection: 'handovers', id: 'h1' } });
  });

  it("shows a device's last pull, last push, pending ops and the scope's open conflicts", async () => {
    const { scope, tokens } = await scopeWith(['ana', 'ben']);
    const before = await api('GET', `/records/${scope}/devices/ben-c`, tokens.ben);
    expect(before.body).toEqual({ deviceId: 'ben-c', latestSeq: 0, openConflicts: 0 });
    await conflicted(scope, tokens);
    await api('POST', `/records/${scope}/push`, tokens.ben, {
      deviceId: 'ben-c',
      pending: 3,
      ops: [{ opId: unique('op'), collection: 'inspections', id: 'insp-s', base: 0, changes: { notes: { clock: device('ben-c').clock(), value: 'n' } } }],
    });
    await api('GET', `/records/${scope}/changes?deviceId=ben-c&limit=1`, tokens.ben);
    const status = await api('GET', `/records/${scope}/devices/ben-c`, tokens.ben);
    expect(status.status).toBe(200);
    // A record appears once, at its latest seq: insp-c's third change (seq 3) is the first page.
    expect(status.body).toMatchObject({ deviceId: 'ben-c', lastPulledSeq: 3, pendingOps: 3, latestSeq: 4, openConflicts: 1 });
    expect(Date.parse(status.body.lastPulledAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(Date.parse(status.body.lastPushAt)).toBeGreaterThan(Date.now() - 60_000);
    const badDevice = await api('GET', `/records/${scope}/devices/bad%20id`, tokens.ben);
    expect(badDevice.status).toBe(400);
  });
});

/** The assignment notifier's entry module, imported with the environment its description gives it (its `handler` is wired at import). */
function notifierModule() {
  // The SDK resolves its region and endpoint lazily, so these stay set (they are the runtime's own).
  Object.assign(process.env, { AWS_REGION: LOCAL_REGION, AWS_ENDPOINT_URL_DYNAMODB: urls().dynamodbUrl });
  return importAsLambda(
    'notifyRecordAssignees',
    { settings: { notificationRetentionDays: '30' } },
    () => import('#functions/records/handlers/notify-assignees'),
  );
}

/** The notifier's deps over `db` (a client faults can be injected into): memberships and deliver() with the real adapters. */
function assignmentDepsOver(db: DynamoDBDocumentClient): AssignmentDeps {
  const gateway = new ApiGatewayManagementApiClient({ endpoint: urls().wsUrl.replace(/^ws/, 'http'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const delivery = localDeliverDeps(db, gateway);
  return { memberships: dynamoMembershipStore(db, tableName('memberships')), deliver: (requests) => deliver(delivery, requests) };
}

describe('records: one transaction per push (faults injected with SDK middleware)', () => {
  const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
  const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  let fault: 'none' | 'fail-transaction' | 'lose-answer' | 'die-after-commit' = 'none';
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      if (fault === 'die-after-commit' && /^Update(Item)?Command$/.test(context.commandName ?? '')) {
        fault = 'none';
        throw Object.assign(new Error('injected: the function died after its commit'), { name: 'TimeoutError' });
      }
      // deliver() writes no transaction: its answer that can be lost is the notification item's put.
      const deliverPut =
        /^Put(Item)?Command$/.test(context.commandName ?? '') && (args.input as { TableName?: string }).TableName === tableName('notifications');
      if (
        !(/^TransactWrite(Items)?Command$/.test(context.commandName ?? '') || (fault === 'lose-answer' && deliverPut)) ||
        fault === 'none' ||
        fault === 'die-after-commit'
      )
        return next(args);
      const mode = fault;
      fault = 'none';
      if (mode === 'fail-transaction') throw Object.assign(new Error('injected: connection reset before the transaction'), { name: 'TimeoutError' });
      await next(args);
      throw Object.assign(new Error('injected: the answer of a committed transaction was lost'), { name: 'TimeoutError' });
    },
    { step: 'initialize', name: 'injectTransactionFault' },
  );
  afterAll(() => raw.destroy());
  const deps = (): SyncDeps => ({
    records: dynamoRecordStore(db, tableName('records')),
    memberships: dynamoMembershipStore(db, tableName('memberships')),
    collections: LOCAL_RECORD_COLLECTIONS,
    retentionDays: 30,
  });

  it('applies nothing of a batch whose transaction fails, and the same batch again applies all of it once', async () => {
    const { tenant, scope, tokens } = await scopeWith(['ana']);
    const caller = { tenant, userId: 'ana', roles: [] };
    const tablet = device('tablet-t');
    const body = {
      deviceId: tablet.id,
      ops: ['t1', 't2', 't3'].map(
        (id): ClientOp => ({ opId: tablet.opId(), collection: 'inspections', id, base: 0, changes: { notes: { clock: tablet.clock(), value: id } } }),
      ),
    };
    fault = 'fail-transaction';
    await expect(syncPush(deps(), caller, scope, body)).rejects.toThrow('injected');
    expect((await api('GET', `/records/${scope}/changes`, tokens.ana)).body.records).toEqual([]);

    // The answer lost after the commit: the device cannot tell, so it sends the batch again.
    fault = 'lose-answer';
    await expect(syncPush(deps(), caller, scope, body)).rejects.toThrow('injected');
    const retried = await syncPush(deps(), caller, scope, body);
    expect(retried.results.map((result) => [result.status, result.replayed, result.version])).toEqual([
      ['applied', true, 1],
      ['applied', true, 1],
      ['applied', true, 1],
    ]);
    const pulled = await api('GET', `/records/${scope}/changes`, tokens.ana);
    expect(pulled.body.records.map((record: { id: string; version: number; seq: number }) => [record.id, record.version, record.seq])).toEqual([
      ['t1', 1, 1],
      ['t2', 1, 2],
      ['t3', 1, 3],
    ]);
  });

  it('notifies a new assignee from the Records stream exactly once, though the push died after its commit and the notifier is retried', async () => {
    const { tenant, scope, tokens } = await scopeWith(['ana', 'ben']);
    const caller = { tenant, userId: 'ana', roles: [] };
    const tablet = device('tablet-n');
    const body = {
      deviceId: tablet.id,
      ops: [{ opId: tablet.opId(), collection: 'inspections', id: 'insp-n', base: 0, changes: { assigneeId: { clock: tablet.clock(), value: 'ben' } } }],
    };
    // The function dies right after its transaction committed: the next call (the device row) never returns.
    fault = 'die-after-commit';
    await expect(syncPush(deps(), caller, scope, body)).rejects.toThrow('injected');
    expect(fault, 'the fault was hit').toBe('none');
    // The committed version names its new assignee on the item, which is what the stream's filter passes on.
    const item = await db.send(new GetCommand({ TableName: tableName('records'), Key: { pk: `${tenant}#${scope}`, sk: 'rec#inspections#insp-n' } }));
    expect(item.Item).toMatchObject({ version: 1, assignedTo: 'ben' });
    const assigned = (items: Array<{ kind: string; data: { id: string } }>) =>
      items.filter((item) => item.kind === 'record.assigned' && item.data.id === 'insp-n');
    const inbox = await eventually(async () => {
      const page = await api('GET', '/notifications?after=0', tokens.ben);
      return assigned(page.body.items ?? []).length > 0 ? page.body.items : undefined;
    }, 10_000);
    expect(assigned(inbox)).toEqual([expect.objectContaining({ data: { scope, collection: 'inspections', id: 'insp-n', version: 1 } })]);

    // The device retries the push: replayed, nothing new committed, nothing new notified.
    const retried = await syncPush(deps(), caller, scope, body);
    expect(retried.results[0]).toMatchObject({ status: 'applied', replayed: true });

    // A later assignment in the same scope (the same stream partition, so read after anything the replay could have written) is the barrier.
    await syncPush(deps(), caller, scope, {
      deviceId: tablet.id,
      ops: [{ opId: tablet.opId(), collection: 'inspections', id: 'insp-barrier', base: 0, changes: { assigneeId: { clock: tablet.clock(), value: 'ben' } } }],
    });
    const after = await eventually(async () => {
      const items = (await api('GET', '/notifications?after=0', tokens.ben)).body.items as Array<{ kind: string; data: { id: string } }>;
      return items.some((item) => item.kind === 'record.assigned' && item.data.id === 'insp-barrier') ? items : undefined;
    }, 10_000);
    expect(assigned(after)).toHaveLength(1);
  });

  it('sends a record version the notifier cannot read to its failure queue after the retries, and notifies the versions after it', async () => {
    const { tenant, scope, tokens } = await scopeWith(['ana', 'ben']);
    const sqs = new SQSClient({ endpoint: urls().sqsUrl, ...local, useQueueUrlAsEndpoint: false });
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'herald-recordAssignments-failures' }));
      // An item no commit could write: an assignment without a version.
      await db.send(
        new PutCommand({
          TableName: tableName('records'),
          Item: { pk: `${tenant}#${scope}`, sk: 'rec#inspections#poison', collection: 'inspections', id: 'poison', version: 'one', assignedTo: 'ben' },
        }),
      );
      const tablet = device('tablet-p');
      await push(tokens.ana as string, scope, tablet.id, [
        { opId: tablet.opId(), collection: 'inspections', id: 'after-poison', base: 0, changes: { assigneeId: { clock: tablet.clock(), value: 'ben' } } },
      ]);
      const failure = await eventually(async () => {
        const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
        for (const message of Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }));
        // Lambda's on-failure record: where in the shard, not the record itself.
        return (Messages ?? []).map((message) => JSON.parse(message.Body as string)).find((body) => body.DDBStreamBatchInfo?.batchSize === 1);
      }, 30_000);
      expect(failure.requestContext.condition).toBe('RetryAttemptsExhausted');
      const inbox = await eventually(async () => {
        const items = (await api('GET', '/notifications?after=0', tokens.ben)).body.items ?? [];
        return items.some((item: { data: { id: string } }) => item.data.id === 'after-poison') ? items : undefined;
      }, 30_000);
      expect(inbox.map((item: { data: { id: string } }) => item.data.id)).toEqual(['after-poison']);
    } finally {
      sqs.destroy();
    }
  }, 60_000);

  it('notifies once when the notifier is retried after deliver() committed and its answer was lost', async () => {
    const { tenant, scope, tokens } = await scopeWith(['ana', 'ben']);
    // A stream record of a version that assigned Ben, handed to the notifier as Lambda would (the runtime's own
    // consumer never sees it: no commit made it), first with the answer to deliver()'s put of the item lost after it was stored.
    const image = marshall({
      pk: `${tenant}#${scope}`,
      sk: 'rec#inspections#insp-retry',
      collection: 'inspections',
      id: 'insp-retry',
      version: 3,
      seq: 3,
      fields: { assigneeId: 'ben' },
      assignedTo: 'ben',
    });
    const event = { Records: [{ eventName: 'MODIFY', dynamodb: { SequenceNumber: '7', NewImage: image as never } }] } as never;
    const { makeHandler } = await notifierModule();
    const notifier = makeHandler(assignmentDepsOver(db));
    fault = 'lose-answer';
    await notifier(event, {} as never).catch(() => undefined);
    expect(fault, 'the fault was hit').toBe('none');
    expect(await notifier(event, {} as never)).toEqual({ batchItemFailures: [] });
    const items = (await api('GET', '/notifications?after=0', tokens.ben)).body.items;
    expect(items).toEqual([expect.objectContaining({ kind: 'record.assigned', data: { scope, collection: 'inspections', id: 'insp-retry', version: 3 } })]);
  });
});
