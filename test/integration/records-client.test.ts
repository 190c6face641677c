import { randomUUID } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HeraldClient, HeraldRecords, memoryRecordStore, memoryStore, type RecordsEvents, type RecordStoreFactory } from '#web/client';
import { api, devToken, documentClient, eventually, tableName, urls } from '../support/local';

/**
 * The records client library (web/client/records/) in Node against the real local runtime, with
 * its in-memory store. Only the network between the library and the HTTP API is tampered with:
 * pushes that fail, answers that are lost after the server committed, as a flaky network would.
 * The Chromium tests (test/browser/records-sync.test.ts) cover IndexedDB, tabs and the live frames.
 */
const TENANT = 'acme';
const started: Array<HeraldRecords | HeraldClient> = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((running) => running.stop()));
});

async function memberScope(users: string[]): Promise<string> {
  const scope = `rc-${randomUUID().slice(0, 8)}`;
  const admin = await devToken(TENANT, 'admin-bot', ['admin']);
  for (const user of users) expect((await api('PUT', `/topics/${scope}/members/${user}`, admin)).status).toBe(201);
  return scope;
}

/** What the library sent, and a switch that makes pushes fail before (`down`) or after (`lose-answer`) reaching the server. */
class Network {
  mode: 'up' | 'down' | 'lose-answer' = 'up';
  readonly pushes: Array<{ ops: Array<{ opId: string; collection: string; id: string }>; pending?: number }> = [];
  pulls = 0;
  readonly fetch: typeof fetch = async (input, init) => {
    const url = String(input);
    if (url.includes('/changes')) this.pulls += 1;
    const isPush = init?.method === 'POST' && url.endsWith('/push');
    if (isPush && this.mode === 'down') throw new TypeError('fetch failed (network down)');
    const response = await fetch(input, init);
    if (isPush) this.pushes.push(JSON.parse(String(init?.body)));
    if (isPush && this.mode === 'lose-answer') {
      this.mode = 'up';
      throw new TypeError('fetch failed (answer lost)');
    }
    return response;
  };
}

/** A failed push waits `retryBaseMs` or so: long by default, so only the test's `flush({now: true})` sends again and the order of pushes is the test's. */
async function startRecords(user: string, network: Network, storage: RecordStoreFactory = memoryRecordStore(), retryBaseMs = 60_000, client?: HeraldClient) {
  const records = new HeraldRecords({
    client,
    httpUrl: urls().httpUrl,
    getToken: () => devToken(TENANT, user),
    account: { tenant: TENANT, user },
    fetch: network.fetch,
    storage,
    retryBaseMs,
    retryCapMs: retryBaseMs * 4,
  });
  started.push(records);
  await records.start();
  const events = { pending: [] as number[], rejected: [] as RecordsEvents['rejected'][], conflicts: [] as RecordsEvents['conflict'][], resets: [] as string[] };
  records.on('pending', (count) => events.pending.push(count));
  records.on('rejected', (event) => events.rejected.push(event));
  records.on('conflict', (event) => events.conflicts.push(event));
  records.on('reset', ({ scope }) => events.resets.push(scope));
  return { records, events };
}

async function serverRecord(scope: string, user: string, id: string) {
  const { body } = await api('GET', `/records/${scope}/changes`, await devToken(TENANT, user));
  return (body.records as Array<{ id: string; version: number; fields: Record<string, unknown>; conflicts?: unknown[]; deleted?: unknown }>).find(
    (record) => record.id === id,
  );
}

describe('records client library against the local runtime', () => {
  it('queues edits while pushes fail, backs off, then sends critical first in batches of 25, each op once, reporting what is left', async () => {
    const user = `ana-${randomUUID().slice(0, 6)}`;
    const scope = await memberScope([user]);
    const network = new Network();
    const storage = memoryRecordStore();
    const { records, events } = await startRecords(user, network, storage);
    await records.sync(scope);

    network.mode = 'down';
    for (let index = 0; index < 29; index += 1)
      await records.edit(scope, 'inspections', `r${String(index).padStart(2, '0')}`, { set: { notes: `n${index}` } }, { priority: 'low' });
    await records.edit(scope, 'inspections', 'urgent', { set: { status: 'open' } }, { priority: 'critical' });
    expect(records.pending).toBe(30);
    expect(events.pending.at(-1)).toBe(30);
    // The failed pushes left the ops with an attempt counted and a backoff to wait.
    await records.flush();
    const store = await storage({ tenant: TENANT, user });
    const waiting = await store.ops();
    expect(waiting.some((op) => op.attempts > 0 && op.notBefore > 0)).toBe(true);
    expect((await records.get(scope, 'inspections', 'r03'))?.fields).toEqual({ notes: 'n3' });

    network.mode = 'up';
    await records.flush({ now: true });
    await eventually(async () => (records.pending === 0 ? true : undefined), 10_000);
    expect(network.pushes.map((push) => [push.ops.length, push.pending])).toEqual([
      [25, 5],
      [5, 0],
    ]);
    expect(network.pushes[0]?.ops[0]?.id).toBe('urgent');
    const opIds = network.pushes.flatMap((push) => push.ops.map((op) => op.opId));
    expect(new Set(opIds).size).toBe(30);
    // The kept op ids are the ones made with the edits.
    expect(new Set(opIds)).toEqual(new Set(waiting.map((op) => op.op.opId)));
    expect((await serverRecord(scope, user, 'r28'))?.fields).toEqual({ notes: 'n28' });
    expect(await records.get(scope, 'inspections', 'r28')).toMatchObject({ version: 1, pending: 0 });
    const { body: status } = await api('GET', `/records/${scope}/devices/${records.deviceId}`, await devToken(TENANT, user));
    expect(status).toMatchObject({ deviceId: records.deviceId, pendingOps: 0 });
  });

  it('retries an op whose answer was lost with the same op id: the server replays its answer and applies nothing again', async () => {
    const user = `ana-${randomUUID().slice(0, 6)}`;
    const scope = await memberScope([user]);
    const network = new Network();
    const { records } = await startRecords(user, network, memoryRecordStore(), 50);
    await records.sync(scope);

    network.mode = 'lose-answer';
    await records.edit(scope, 'inspections', 'once', { upsert: { items: [{ id: 'p1' }] } });
    await eventually(async () => (records.pending === 0 ? true : undefined), 10_000);
    expect(network.pushes).toHaveLength(2);
    expect(network.pushes[1]?.ops[0]?.opId).toBe(network.pushes[0]?.ops[0]?.opId);
    const stored = await serverRecord(scope, user, 'once');
    expect(stored).toMatchObject({ version: 1, fields: { items: [{ id: 'p1' }] } });
    expect(await records.get(scope, 'inspections', 'once')).toMatchObject({ version: 1, pending: 0, fields: { items: [{ id: 'p1' }] } });
  });

  it('drops an op the server refuses (rejected, or a malformed one alone in its batch), sends the others, and deletes', async () => {
    const [ana, ben] = [`ana-${randomUUID().slice(0, 6)}`, `ben-${randomUUID().slice(0, 6)}`];
    const scope = await memberScope([ana, ben]);
    const network = new Network();
    const { records, events } = await startRecords(ana, network);
    await records.sync(scope);
    await records.edit(scope, 'inspections', 'gone', { set: { notes: 'v1' } });
    await eventually(async () => ((await records.get(scope, 'inspections', 'gone'))?.version === 1 ? true : undefined));

    // Ben deletes it meanwhile; Ana's later edit is rejected (record_deleted), and her view follows the server.
    const deleted = await api('POST', `/records/${scope}/push`, await devToken(TENANT, ben), {
      deviceId: 'bens-phone',
      ops: [{ opId: randomUUID(), collection: 'inspections', id: 'gone', base: 1, kind: 'delete', clock: `${Date.now()}-0000-bens-phone` }],
    });
    expect(deleted.body.results[0].status).toBe('applied');
    network.mode = 'down';
    await records.edit(scope, 'inspections', 'gone', { set: { notes: 'too late' } });
    // A field name the protocol refuses: the server answers 400 for the whole batch.
    await records.edit(scope, 'inspections', 'bad', { set: { 'not a field!': 1 } });
    await records.edit(scope, 'inspections', 'fine', { set: { notes: 'ok' } });
    network.mode = 'up';
    await records.flush({ now: true });
    await eventually(async () => (records.pending === 0 ? true : undefined), 10_000);

    expect(events.rejected.map(({ op, reason }) => [op.id, reason])).toEqual([
      ['gone', 'record_deleted'],
      ['bad', 'refused'],
    ]);
    expect(events.rejected[1]?.message).toMatch(/400/);
    expect((await serverRecord(scope, ana, 'fine'))?.fields).toEqual({ notes: 'ok' });
    expect(await serverRecord(scope, ana, 'bad')).toBeUndefined();
    expect(await records.get(scope, 'inspections', 'gone')).toMatchObject({ deleted: true, pending: 0 });
    expect(await records.get(scope, 'inspections', 'bad')).toBeUndefined();

    // A delete through the library leaves a tombstone on the server; the view shows it deleted at once.
    expect(await records.delete(scope, 'inspections', 'fine')).toMatchObject({ deleted: true, pending: 1 });
    await eventually(async () => (records.pending === 0 ? true : undefined));
    expect(await serverRecord(scope, ana, 'fine')).toMatchObject({ version: 2, fields: {}, deleted: { by: ana } });
    expect(await records.get(scope, 'inspections', 'fine')).toMatchObject({ version: 2, deleted: true, pending: 0 });
  });

  it('recovers from a reset (cursor older than the retention): pulls the scope again and keeps the unsent ops', async () => {
    const user = `ana-${randomUUID().slice(0, 6)}`;
    const scope = await memberScope([user]);
    const network = new Network();
    const storage = memoryRecordStore();
    const { records, events } = await startRecords(user, network, storage);
    await records.sync(scope);
    await records.edit(scope, 'inspections', 'kept', { set: { notes: 'on the server' } });
    await eventually(async () => (records.pending === 0 ? true : undefined));

    network.mode = 'down';
    await records.edit(scope, 'inspections', 'unsent', { set: { notes: 'waiting' } });
    const store = await storage({ tenant: TENANT, user });
    await store.dropScope(scope);
    await store.apply({ scope, cursor: '1.1000000000000' }); // a catch-up begun in 2001
    await records.pull(scope);

    expect(events.resets).toEqual([scope]);
    expect((await records.list(scope)).map((view) => [view.id, view.fields.notes, view.pending])).toEqual([
      ['kept', 'on the server', 0],
      ['unsent', 'waiting', 1],
    ]);
    expect(await store.cursor(scope)).not.toBe('1.1000000000000');
    network.mode = 'up';
    await records.flush({ now: true });
    expect((await serverRecord(scope, user, 'unsent'))?.fields).toEqual({ notes: 'waiting' });
  });

  it('edits different fields of one merge-by-id element on two devices: each view keeps the other fields, and both edits survive', async () => {
    const [ana, ben] = [`ana-${randomUUID().slice(0, 6)}`, `ben-${randomUUID().slice(0, 6)}`];
    const scope = await memberScope([ana, ben]);
    const anaNetwork = new Network();
    const first = await startRecords(ana, anaNetwork);
    const second = await startRecords(ben, new Network());
    await first.records.sync(scope);
    await second.records.sync(scope);
    await first.records.edit(scope, 'inspections', 'pump', {
      upsert: {
        items: [
          { id: 'valve', ok: false, note: 'not checked' },
          { id: 'gauge', ok: true },
        ],
      },
    });
    await eventually(async () => (first.records.pending === 0 ? true : undefined));
    await second.records.pull(scope);

    // Ana, offline, ticks the valve; her view keeps its note while the edit waits.
    anaNetwork.mode = 'down';
    const offline = await first.records.edit(scope, 'inspections', 'pump', { upsert: { items: [{ id: 'valve', ok: true }] } });
    // (The server orders elements by the clock that added them, then id: both came with one clock.)
    expect(offline.fields.items).toEqual([
      { id: 'gauge', ok: true },
      { id: 'valve', ok: true, note: 'not checked' },
    ]);
    // Ben, online, writes the valve's note; his edit reaches the server first.
    await second.records.edit(scope, 'inspections', 'pump', { upsert: { items: [{ id: 'valve', note: 'drips at the flange' }] } });
    await eventually(async () => (second.records.pending === 0 ? true : undefined));
    // Only the changed field travels, so Ana's later push cannot undo Ben's note.
    anaNetwork.mode = 'up';
    await first.records.flush({ now: true });
    await eventually(async () => (first.records.pending === 0 ? true : undefined));
    expect(anaNetwork.pushes.at(-1)).toMatchObject({ ops: [{ changes: { items: { upsert: [{ id: 'valve', ok: true }] } } }] });

    const merged = [
      { id: 'gauge', ok: true },
      { id: 'valve', ok: true, note: 'drips at the flange' },
    ];
    expect((await serverRecord(scope, ben, 'pump'))?.fields.items).toEqual(merged);
    expect((await first.records.get(scope, 'inspections', 'pump'))?.fields.items).toEqual(merged);
    await second.records.pull(scope);
    expect((await second.records.get(scope, 'inspections', 'pump'))?.fields.items).toEqual(merged);
  });

  it('lists manual conflicts and resolves them (theirs, mine), each record closing its conflicts at a new version', async () => {
    const [ana, ben] = [`ana-${randomUUID().slice(0, 6)}`, `ben-${randomUUID().slice(0, 6)}`];
    const scope = await memberScope([ana, ben]);
    const first = await startRecords(ana, new Network());
    const second = await startRecords(ben, new Network());
    await first.records.sync(scope);
    await second.records.sync(scope);
    for (const id of ['pump', 'valve']) await first.records.edit(scope, 'inspections', id, { set: { verdict: 'pending' } });
    await eventually(async () => (first.records.pending === 0 ? true : undefined));
    await second.records.pull(scope);
    // Both edit the manual field from version 1; the second to arrive is kept as a conflict.
    for (const id of ['pump', 'valve']) await first.records.edit(scope, 'inspections', id, { set: { verdict: 'pass' } });
    await eventually(async () => (first.records.pending === 0 ? true : undefined));
    for (const id of ['pump', 'valve']) await second.records.edit(scope, 'inspections', id, { set: { verdict: 'fail' } });
    await eventually(async () => (second.records.pending === 0 ? true : undefined));

    expect(second.events.conflicts.map(({ record, conflicts }) => [record.id, conflicts.map((c) => [c.field, c.mine, c.theirs])])).toEqual([
      ['pump', [['verdict', 'fail', 'pass']]],
      ['valve', [['verdict', 'fail', 'pass']]],
    ]);
    const listed = await second.records.conflicts(scope);
    expect(listed).toMatchObject([
      { collection: 'inspections', id: 'pump', version: 3, conflict: { field: 'verdict', mine: 'fail', theirs: 'pass' } },
      { collection: 'inspections', id: 'valve', version: 3, conflict: { field: 'verdict', mine: 'fail', theirs: 'pass' } },
    ]);
    const theirs = await second.records.resolve(scope, 'inspections', 'pump', { field: 'verdict', choose: 'theirs' });
    expect(theirs).toMatchObject({ version: 4, fields: { verdict: 'pass' }, conflicts: [] });
    const opId = listed.find((entry) => entry.id === 'valve')?.conflict.opId as string;
    const mine = await second.records.resolve(scope, 'inspections', 'valve', { field: 'verdict', choose: 'mine', opId });
    expect(mine).toMatchObject({ version: 4, fields: { verdict: 'fail' }, conflicts: [] });
    expect(await second.records.conflicts(scope)).toEqual([]);
    expect((await serverRecord(scope, ana, 'valve'))?.fields.verdict).toBe('fail');
    // A resolution based on a version the device no longer has is refused, naming the problem.
    await expect(first.records.resolve(scope, 'inspections', 'pump', { field: 'verdict', choose: 'theirs' })).rejects.toMatchObject({
      status: 409,
      code: 'stale_version',
    });
  });

  it('takes live change frames from the HeraldClient socket of a synced scope, with no pull', async () => {
    const [ana, ben] = [`ana-${randomUUID().slice(0, 6)}`, `ben-${randomUUID().slice(0, 6)}`];
    const scope = await memberScope([ana, ben]);
    const client = new HeraldClient({
      httpUrl: urls().httpUrl,
      getToken: () => devToken(TENANT, ana),
      WebSocket,
      storage: memoryStore(),
      shareAcrossTabs: false,
    });
    started.push(client);
    await client.start();
    await eventually(async () => (client.state === 'open' ? true : undefined));
    const network = new Network();
    const { records } = await startRecords(ana, network, memoryRecordStore(), 60_000, client);
    await records.sync(scope);
    // Subscribed once the gateway has the socket among the scope's subscribers.
    await eventually(async () => {
      const { Count } = await documentClient().send(
        new QueryCommand({
          TableName: tableName('subscriptions'),
          KeyConditionExpression: 'topicKey = :topic',
          ExpressionAttributeValues: { ':topic': `${TENANT}#${scope}` },
        }),
      );
      return Count ? true : undefined;
    });
    const pullsBefore = network.pulls;

    const pushed = await api('POST', `/records/${scope}/push`, await devToken(TENANT, ben), {
      deviceId: 'bens-phone',
      ops: [
        {
          opId: randomUUID(),
          collection: 'inspections',
          id: 'live',
          base: 0,
          changes: { notes: { clock: `${Date.now()}-0000-bens-phone`, value: 'from ben' } },
        },
      ],
    });
    expect(pushed.status).toBe(200);
    const seen = await eventually(() => records.get(scope, 'inspections', 'live'));
    expect(seen).toMatchObject({ version: 1, fields: { notes: 'from ben' }, pending: 0 });
    expect(network.pulls).toBe(pullsBefore);
  });
});
