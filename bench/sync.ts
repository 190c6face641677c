/**
 * Offline-first sync over the wire (docs/sync.md, "Figures"), through the local runtime with IAM
 * enforced, each figure beside a floor measured in the same run:
 * - a device pulling 10,000 records (GET /records/{scope}/changes, every page of 200) against a
 *   bare consistent Query of the same index, table and page size through the SDK;
 * - a client outbox draining 1,000 queued offline edits in pushes of MAX_PUSH_OPS against the same
 *   number of bare TransactWriteItems of the same items (what a push's commit writes: the counter,
 *   the records and the op answers; without the membership check and reads before it, the merge,
 *   and the device row and live fan-out after it);
 * - a push to the `change` frame on another device's socket subscribed to the scope, against a
 *   ping round trip on that same socket (the socket path alone) and against a publish to the
 *   `notification` frame on it (Herald's other write-then-push path: one read, one transaction, a post).
 * Bounded: fixed counts, every wait with a timeout. `npm run bench -- sync --quick` runs a tenth.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT, MAX_PUSH_OPS, type ClientOp, type WireRecord } from '../functions/protocol/records';
import { tick } from '../functions/protocol/hlc';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local';
import { localTableName } from '../lib/local/resources';
import { startLocalRuntime } from '../lib/local/runtime';
import { percentile, row } from './stats';
import { devToken, FrameSocket, ticketUrl } from './wire';

const QUICK = process.argv.includes('--quick');
const PULLED_RECORDS = QUICK ? 1_000 : 10_000;
const PULL_RUNS = 3;
const OUTBOX_EDITS = QUICK ? 100 : 1_000;
const LIVE_SAMPLES = QUICK ? 10 : 40;
const PINGS = LIVE_SAMPLES;
const table = localTableName('records');

export async function benchSync(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0 });
  const raw = new DynamoDBClient({ endpoint: runtime.urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  try {
    // Imported once the runtime has set the environment the server modules read at import.
    const { dynamoRecordStore } = await import('../functions/adapters/dynamo-record-store');
    const store = dynamoRecordStore(db, table);
    const { httpUrl } = runtime.urls;
    const tenant = `bench-${randomUUID().slice(0, 8)}`;
    const scope = 'site-sync';
    const admin = await devToken(httpUrl, tenant, 'admin', ['admin']);
    for (const user of ['ana', 'ben']) {
      const response = await fetch(`${httpUrl}/topics/${scope}/members/${user}`, { method: 'PUT', headers: { authorization: `Bearer ${admin}` } });
      if (response.status !== 201) throw new Error(`membership: ${response.status}`);
    }
    const ana = await devToken(httpUrl, tenant, 'ana');
    const ben = await devToken(httpUrl, tenant, 'ben');
    const call = async (token: string, method: string, path: string, body?: unknown, expected = 200) => {
      const response = await fetch(`${httpUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status !== expected) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 200)}`);
      return JSON.parse(text);
    };

    await pullFigures({ store, db, tenant, scope, pull: (path) => call(ana, 'GET', path) });
    await outboxFigures({ db, tenant, push: (body) => call(ana, 'POST', `/records/${scope}/push`, body), scope });
    const publisher = await devToken(httpUrl, tenant, 'monitor', ['publisher']);
    await liveFigures({
      httpUrl,
      ben,
      scope,
      push: (body) => call(ana, 'POST', `/records/${scope}/push`, body),
      publish: (body) => call(publisher, 'POST', '/notifications', body, 202),
    });
  } finally {
    raw.destroy();
    await runtime.stop();
  }
}

/** A record as a device would have made it: a few fields of each strategy's kind, about 300 bytes. */
function seedRecord(index: number, seq: number, clock: string): WireRecord {
  const meta = { clock, version: 1, by: 'seed', device: 'seed' };
  return {
    collection: 'inspections',
    id: `insp-${String(index).padStart(6, '0')}`,
    version: 1,
    seq,
    fields: { status: 'open', notes: `Pump room ${index}, east wall`, items: [{ id: 'valve', ok: false }], assigneeId: 'ana' },
    meta: { status: meta, notes: meta, assigneeId: meta, items: { ...meta, items: { valve: { clock, version: 1, added: clock, fields: { ok: clock } } } } },
    updatedAt: new Date().toISOString(),
    updatedBy: 'seed',
  };
}

async function pullFigures(context: {
  store: Awaited<ReturnType<typeof import('../functions/adapters/dynamo-record-store')['dynamoRecordStore']>>;
  db: DynamoDBDocumentClient;
  tenant: string;
  scope: string;
  pull: (path: string) => Promise<{ records: WireRecord[]; cursor: string; more: boolean }>;
}): Promise<void> {
  const { store, db, tenant, scope } = context;
  // Seeded through the store's own commit (25 records a transaction), so the items are what pushes write.
  let clock: string | undefined;
  const seedStarted = performance.now();
  for (let seq = 0; seq < PULLED_RECORDS; seq += MAX_PUSH_OPS) {
    const writes = Array.from({ length: Math.min(MAX_PUSH_OPS, PULLED_RECORDS - seq) }, (_, offset) => ({
      record: seedRecord(seq + offset, seq + offset + 1, (clock = tick(clock, Date.now(), 'seed'))),
      expectedVersion: 0,
    }));
    const outcome = await store.commit({ tenant, scope }, { expectedLastSeq: seq, writes, answers: [], expiresAt: 0 });
    if (outcome !== 'committed') throw new Error('seeding contended');
  }
  console.log(`\nseeded ${PULLED_RECORDS} records in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);

  const viaHttp = async () => {
    const pages: number[] = [];
    let count = 0;
    let cursor: string | undefined;
    const started = performance.now();
    for (let more = true; more; ) {
      const pageStarted = performance.now();
      const page = await context.pull(`/records/${scope}/changes?limit=${MAX_PULL_LIMIT}${cursor ? `&after=${cursor}` : ''}`);
      pages.push(performance.now() - pageStarted);
      count += page.records.length;
      cursor = page.cursor;
      more = page.more;
    }
    if (count !== PULLED_RECORDS) throw new Error(`pulled ${count} records, seeded ${PULLED_RECORDS}`);
    return { total: performance.now() - started, pages };
  };
  const viaQuery = async () => {
    const pages: number[] = [];
    let count = 0;
    let start: Record<string, unknown> | undefined;
    const started = performance.now();
    do {
      const pageStarted = performance.now();
      const page = await db.send(
        new QueryCommand({
          TableName: table,
          IndexName: 'bySeq',
          KeyConditionExpression: 'pk = :pk AND seq > :after',
          ExpressionAttributeValues: { ':pk': `${tenant}#${scope}`, ':after': 0 },
          ConsistentRead: true,
          Limit: MAX_PULL_LIMIT,
          ExclusiveStartKey: start,
        }),
      );
      pages.push(performance.now() - pageStarted);
      count += page.Items?.length ?? 0;
      start = page.LastEvaluatedKey;
    } while (start);
    if (count !== PULLED_RECORDS) throw new Error(`queried ${count} records, seeded ${PULLED_RECORDS}`);
    return { total: performance.now() - started, pages };
  };
  await viaHttp(); // warm-up: the pull function's first call loads it
  const http: Array<Awaited<ReturnType<typeof viaHttp>>> = [];
  const query: Array<Awaited<ReturnType<typeof viaQuery>>> = [];
  // Interleaved, so drift on the shared machine falls on both.
  for (let run = 0; run < PULL_RUNS; run++) {
    query.push(await viaQuery());
    http.push(await viaHttp());
  }
  const median = (runs: Array<{ total: number }>) =>
    percentile(
      runs.map((r) => r.total),
      50,
    );
  const pagesOf = (runs: Array<{ pages: number[] }>) => runs.flatMap((r) => r.pages);
  console.log(
    `\npull of ${PULLED_RECORDS} records in pages of ${MAX_PULL_LIMIT} (default ${DEFAULT_PULL_LIMIT}), median of ${PULL_RUNS}; baseline = bare consistent Query of bySeq, same page size`,
  );
  console.log(row(`whole pull, ${Math.ceil(PULLED_RECORDS / MAX_PULL_LIMIT)} pages`, median(http), median(query)));
  console.log(row('one page, p50', percentile(pagesOf(http), 50), percentile(pagesOf(query), 50)));
  console.log(row('one page, p99', percentile(pagesOf(http), 99), percentile(pagesOf(query), 99)));
  console.log(row('records per second', PULLED_RECORDS / (median(http) / 1000), PULLED_RECORDS / (median(query) / 1000), 'rec/s'));
}

async function outboxFigures(context: { db: DynamoDBDocumentClient; tenant: string; scope: string; push: (body: unknown) => Promise<unknown> }): Promise<void> {
  // The outbox: 1,000 offline edits of existing records (the seeded ones, base version 1), two fields each.
  let clock: string | undefined;
  const edits: ClientOp[] = Array.from({ length: OUTBOX_EDITS }, (_, index) => ({
    opId: randomUUID(),
    collection: 'inspections',
    id: `insp-${String(index).padStart(6, '0')}`,
    base: 1,
    changes: {
      notes: { clock: (clock = tick(clock, Date.now(), 'tablet')), value: `Checked ${index}` },
      status: { clock: (clock = tick(clock, Date.now(), 'tablet')), value: 'done' },
    },
  }));
  const batches: ClientOp[][] = [];
  for (let index = 0; index < edits.length; index += MAX_PUSH_OPS) batches.push(edits.slice(index, index + MAX_PUSH_OPS));

  // Warm-up push (one op of its own) so the push function is loaded.
  await context.push({
    deviceId: 'tablet',
    ops: [{ opId: randomUUID(), collection: 'warm', id: 'w', base: 0, changes: { x: { clock: tick(clock, Date.now(), 'tablet'), value: 1 } } }],
  });
  const pushSamples: number[] = [];
  const pushStarted = performance.now();
  for (const [index, ops] of batches.entries()) {
    const started = performance.now();
    const answer = (await context.push({ deviceId: 'tablet', pending: OUTBOX_EDITS - (index + 1) * MAX_PUSH_OPS, ops })) as {
      results: Array<{ status: string }>;
    };
    pushSamples.push(performance.now() - started);
    if (answer.results.some((result) => result.status !== 'applied')) throw new Error(`a push was not applied: ${JSON.stringify(answer.results[0])}`);
  }
  const pushTotal = performance.now() - pushStarted;

  // The floor: the same records, as committed, in the same number of transactions of a counter update and 25 puts, in a scope of their own.
  const floorScope = `${context.tenant}#floor-${randomUUID().slice(0, 6)}`;
  const floorSamples: number[] = [];
  const floorStarted = performance.now();
  let lastSeq = 0;
  for (const ops of batches) {
    const started = performance.now();
    await context.db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: table,
              Key: { pk: floorScope, sk: 'counter' },
              UpdateExpression: 'SET lastSeq = :next',
              ConditionExpression: 'attribute_not_exists(lastSeq) OR lastSeq = :expected',
              ExpressionAttributeValues: { ':next': lastSeq + ops.length, ':expected': lastSeq },
            },
          },
          ...ops.map((op, offset) => {
            const record = seedRecord(offset, lastSeq + offset + 1, op.changes?.notes?.clock as string);
            return {
              Put: {
                TableName: table,
                Item: { pk: floorScope, sk: `rec#${op.collection}#${op.id}`, ...record, version: 2, fields: { ...record.fields, notes: 'x', status: 'done' } },
              },
            };
          }),
          // Each op's answer, as a push stores it for replays.
          ...ops.map((op) => ({
            Put: {
              TableName: table,
              Item: {
                pk: floorScope,
                sk: `op#ana#${op.opId}`,
                opId: op.opId,
                result: { opId: op.opId, status: 'applied', collection: op.collection, id: op.id, version: 2, fields: { notes: 'applied', status: 'applied' } },
                expiresAt: 0,
              },
            },
          })),
        ],
      }),
    );
    lastSeq += ops.length;
    floorSamples.push(performance.now() - started);
  }
  const floorTotal = performance.now() - floorStarted;
  console.log(
    `\nan outbox of ${OUTBOX_EDITS} offline edits drained in ${batches.length} pushes of ${MAX_PUSH_OPS}; baseline = ${batches.length} bare TransactWriteItems of the same items (counter + ${MAX_PUSH_OPS} records + ${MAX_PUSH_OPS} op answers)`,
  );
  console.log(row('edits per second', OUTBOX_EDITS / (pushTotal / 1000), OUTBOX_EDITS / (floorTotal / 1000), 'op/s'));
  console.log(row('one push of 25, p50', percentile(pushSamples, 50), percentile(floorSamples, 50)));
  console.log(row('one push of 25, p99', percentile(pushSamples, 99), percentile(floorSamples, 99)));
}

async function liveFigures(context: {
  httpUrl: string;
  ben: string;
  scope: string;
  push: (body: unknown) => Promise<unknown>;
  publish: (body: unknown) => Promise<unknown>;
}): Promise<void> {
  const socket = await FrameSocket.open(await ticketUrl(context.httpUrl, context.ben));
  try {
    socket.send({ action: 'subscribe', topic: context.scope, id: 'sub' });
    await socket.waitFor((frame) => frame.type === 'subscribed');
    // The floor: ping round trips on the same socket, through the same gateway.
    const pings: number[] = [];
    for (let index = 0; index < PINGS + 3; index++) {
      const id = `p${index}`;
      const started = performance.now();
      socket.send({ action: 'ping', id });
      const { at } = await socket.waitFor((frame) => frame.type === 'pong' && frame.id === id);
      if (index >= 3) pings.push(at - started);
    }
    // The second floor: Herald's own write-then-push path, a publish to Ben until his notification frame arrives.
    const publishes: number[] = [];
    for (let index = 0; index < LIVE_SAMPLES + 3; index++) {
      const title = `n${index}`;
      const started = performance.now();
      await context.publish({ userId: 'ben', kind: 'bench.sync', title });
      const { at } = await socket.waitFor((frame) => frame.type === 'notification' && frame.title === title);
      if (index >= 3) publishes.push(at - started);
    }
    let clock: string | undefined;
    const samples: number[] = [];
    const answers: number[] = [];
    for (let index = 0; index < LIVE_SAMPLES + 3; index++) {
      const id = `live-${index}`;
      const started = performance.now();
      await context.push({
        deviceId: 'ana-tablet',
        ops: [
          {
            opId: randomUUID(),
            collection: 'inspections',
            id,
            base: 0,
            changes: { notes: { clock: (clock = tick(clock, Date.now(), 'ana-tablet')), value: id } },
          },
        ],
      });
      const answered = performance.now() - started;
      const { at } = await socket.waitFor((frame) => frame.type === 'change' && frame.record?.id === id);
      if (index >= 3) {
        samples.push(at - started);
        answers.push(answered);
      }
    }
    console.log(
      `\na push to the change frame on another device's subscribed socket, ${LIVE_SAMPLES} pushes of one op; baselines = a ping round trip on that socket, and POST /notifications to the notification frame on it`,
    );
    console.log(row('push -> change frame, p50 (vs ping)', percentile(samples, 50), percentile(pings, 50)));
    console.log(row('push -> change frame, p99 (vs ping)', percentile(samples, 99), percentile(pings, 99)));
    console.log(row('push -> change frame, p50 (vs publish -> frame)', percentile(samples, 50), percentile(publishes, 50)));
    console.log(row('push -> change frame, p99 (vs publish -> frame)', percentile(samples, 99), percentile(publishes, 99)));
    console.log(row('push -> its own HTTP answer, p50 (vs publish -> frame)', percentile(answers, 50), percentile(publishes, 50)));
  } finally {
    await socket.close();
  }
}
