/**
 * Offline-first records (docs/sync.md). Two parts, each beside a baseline from the same run:
 * - the merge alone (functions/records/sync.ts applyBatch, pure): a 25-op batch into records whose
 *   merge-by-id field holds 10, 100 and 1,000 elements, against the same batch of plain
 *   last-writer-wins edits;
 * - over the wire through the local runtime: POST /records/{scope}/push of 1 and 25 ops (one
 *   BatchGetItem and one transaction each), against a pull of one page (one Query).
 * Bounded: fixed counts, no waits.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { ClientOp, WireRecord } from '../functions/protocol/records';
import { tick } from '../functions/protocol/hlc';
import { applyBatch, recordKey } from '../functions/records/sync';
import { startLocalRuntime } from '../lib/local/runtime';
import { percentile, row } from './stats';
import { devToken } from './wire';

const collections = { jobs: { fields: { title: 'last-writer-wins', items: 'merge-by-id' } } } as const;
const MERGE_ROUNDS = 200;
const PUSHES = 30;

export async function benchRecords(): Promise<void> {
  benchMerge();
  await benchWire();
}

function benchMerge(): void {
  let clock: string | undefined;
  const next = () => (clock = tick(clock, Date.now(), 'bench'));
  const recordWith = (id: string, elements: number): WireRecord => {
    const items = Array.from({ length: elements }, (_, index) => ({ id: `e${index}`, done: false }));
    const batch = applyBatch(
      new Map(),
      new Map(),
      [{ opId: `seed-${id}`, collection: 'jobs', id, base: 0, changes: { title: { clock: next(), value: 't' }, items: { clock: next(), upsert: items } } }],
      {
        collections,
        userId: 'u',
        deviceId: 'seed',
        nowMs: Date.now(),
      },
    );
    return batch.touched.get(recordKey('jobs', id)) as WireRecord;
  };
  const time = (records: Map<string, WireRecord>, ops: () => ClientOp[]) => {
    const samples: number[] = [];
    for (let round = 0; round < MERGE_ROUNDS; round++) {
      const batch = ops();
      const start = performance.now();
      applyBatch(records, new Map(), batch, { collections, userId: 'u', deviceId: 'd', nowMs: Date.now() + 1 });
      samples.push(performance.now() - start);
    }
    return percentile(samples, 50);
  };
  const ids = Array.from({ length: 25 }, (_, index) => `r${index}`);
  const lwwRecords = new Map(ids.map((id) => [recordKey('jobs', id), recordWith(id, 0)]));
  const baseline = time(lwwRecords, () =>
    ids.map((id) => ({ opId: randomUUID(), collection: 'jobs', id, base: 1, changes: { title: { clock: next(), value: 'x' } } })),
  );
  console.log(`\nmerge of one 25-op batch (applyBatch, pure), p50 of ${MERGE_ROUNDS}; baseline = 25 last-writer-wins edits of one field`);
  for (const elements of [10, 100, 1_000]) {
    const records = new Map(ids.map((id) => [recordKey('jobs', id), recordWith(id, elements)]));
    const value = time(records, () =>
      ids.map((id) => ({
        opId: randomUUID(),
        collection: 'jobs',
        id,
        base: 1,
        changes: { items: { clock: next(), upsert: [{ id: 'e1', done: true }], remove: ['e2'] } },
      })),
    );
    console.log(row(`merge-by-id, ${elements} elements per record`, value, baseline));
  }
}

async function benchWire(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0 });
  try {
    const { httpUrl } = runtime.urls;
    const tenant = `bench-${randomUUID().slice(0, 8)}`;
    const scope = 'site-bench';
    const admin = await devToken(httpUrl, tenant, 'admin', ['admin']);
    await fetch(`${httpUrl}/topics/${scope}/members/ana`, { method: 'PUT', headers: { authorization: `Bearer ${admin}` } });
    const token = await devToken(httpUrl, tenant, 'ana');
    let clock: string | undefined;
    let record = 0;
    const call = async (method: string, path: string, body?: unknown) => {
      const start = performance.now();
      const response = await fetch(`${httpUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      await response.text();
      if (response.status !== 200) throw new Error(`${method} ${path}: ${response.status}`);
      return performance.now() - start;
    };
    const pushOf = (count: number) => ({
      deviceId: 'bench',
      ops: Array.from({ length: count }, () => ({
        opId: randomUUID(),
        collection: 'jobs',
        id: `r${record++}`,
        base: 0,
        changes: { title: { clock: (clock = tick(clock, Date.now(), 'bench')), value: 'x' } },
      })),
    });
    const sample = async (run: () => Promise<number>) => {
      await run(); // warm-up: the function's first call loads it
      const samples: number[] = [];
      for (let index = 0; index < PUSHES; index++) samples.push(await run());
      return percentile(samples, 50);
    };
    const push1 = await sample(() => call('POST', `/records/${scope}/push`, pushOf(1)));
    const push25 = await sample(() => call('POST', `/records/${scope}/push`, pushOf(25)));
    const pullPage = await sample(() => call('GET', `/records/${scope}/changes?limit=25`));
    console.log(`\nHTTP through the local runtime (IAM enforced), p50 of ${PUSHES}; baseline = GET /records/{scope}/changes?limit=25`);
    console.log(row('push of 1 op', push1, pullPage));
    console.log(row('push of 25 ops (one transaction)', push25, pullPage));
    console.log(row('push of 25 ops, per op', push25 / 25, pullPage));
  } finally {
    await runtime.stop();
  }
}
