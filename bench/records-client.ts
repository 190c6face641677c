/**
 * The records client library (web/client/records/, docs/sync.md "The client"), pure parts and the
 * library over its in-memory store (Node has no IndexedDB: these figures are the library's own work,
 * not IndexedDB's), each beside a baseline from the same run:
 * - choosing the next push (`nextBatch`) from an outbox of 1,000 and 10,000 ops, against 25;
 * - an edit (`HeraldRecords.edit`: quota check, op, store, view) with 1,000 and 10,000 ops waiting,
 *   against an empty outbox: the view of the edited record is rebuilt from the whole outbox;
 * - `list()` of a scope of 1,000 records with 1,000 ops waiting, against 100 records and none.
 * Pushes fail at once (a fetch that throws) so nothing leaves the outbox. Bounded: fixed counts.
 */
import { performance } from 'node:perf_hooks';
import type { WireRecord } from '../functions/protocol/records';
import { tick } from '../functions/protocol/hlc';
import { HeraldRecords, memoryRecordStore, nextBatch, type OutboxOp } from '../web/client';
import { percentile, row } from './stats';

const ROUNDS = 50;

export async function benchRecordsClient(): Promise<void> {
  benchNextBatch();
  await benchEdits();
}

function outbox(size: number): OutboxOp[] {
  let clock: string | undefined;
  return Array.from({ length: size }, (_, index) => ({
    seq: index + 1,
    scope: index % 10 === 0 ? 'other' : 'site-1',
    priority: index % 7 === 0 ? 'critical' : index % 3 === 0 ? 'low' : 'normal',
    op: {
      opId: `op-${index}`,
      collection: 'inspections',
      id: `r${index % 500}`,
      base: 0,
      changes: { notes: { clock: (clock = tick(clock, 1_000, 'bench')), value: index } },
    },
    createdAt: 0,
    attempts: 0,
    notBefore: 0,
  }));
}

function timed(rounds: number, work: () => unknown): number {
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    work();
    samples.push(performance.now() - start);
  }
  return percentile(samples, 50);
}

function benchNextBatch(): void {
  const small = outbox(25);
  const baseline = timed(ROUNDS * 4, () => nextBatch(small, 0));
  console.log(`\nnext push chosen from the outbox (nextBatch, pure), p50 of ${ROUNDS * 4}; baseline = an outbox of 25 ops`);
  for (const size of [1_000, 10_000]) {
    const ops = outbox(size);
    console.log(
      row(
        `outbox of ${size.toLocaleString('en')} ops`,
        timed(ROUNDS * 4, () => nextBatch(ops, 0)),
        baseline,
      ),
    );
  }
}

async function timedAsync(rounds: number, work: (round: number) => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const start = performance.now();
    await work(round);
    samples.push(performance.now() - start);
  }
  return percentile(samples, 50);
}

async function library(waiting: number, records: number): Promise<HeraldRecords> {
  const storage = memoryRecordStore();
  const account = { tenant: 'bench', user: 'u' };
  const store = await storage(account);
  const server: WireRecord[] = Array.from({ length: records }, (_, index) => ({
    collection: 'inspections',
    id: `s${index}`,
    version: 1,
    seq: index + 1,
    fields: { notes: `n${index}`, status: 'open' },
    meta: {},
    updatedAt: '',
    updatedBy: 'u',
  }));
  await store.apply({ scope: 'site-1', records: server });
  for (let index = 0; index < waiting; index++) {
    await store.append((last) => {
      const clock = tick(last, Date.now(), 'bench');
      return {
        scope: 'site-1',
        priority: 'low',
        op: { opId: `w${index}`, collection: 'inspections', id: `s${index % 500}`, base: 1, changes: { notes: { clock, value: index } } },
        clock,
      };
    });
  }
  const client = new HeraldRecords({
    httpUrl: 'http://127.0.0.1:1',
    getToken: async () => 'token',
    account,
    storage,
    deviceId: 'bench',
    fetch: async () => {
      throw new TypeError('offline (bench)');
    },
    estimate: async () => ({ usage: 0, quota: 1e12 }),
  });
  await client.start();
  await client.flush();
  return client;
}

async function benchEdits(): Promise<void> {
  const editOnce = (records: HeraldRecords) => (round: number) => records.edit('site-1', 'inspections', `e${round}`, { set: { notes: 'x' } });
  const empty = await library(0, 0);
  const baseline = await timedAsync(ROUNDS, editOnce(empty));
  console.log(`\nHeraldRecords over the memory store, p50 of ${ROUNDS}; baseline = an edit with an empty outbox`);
  for (const waiting of [1_000, 10_000]) {
    const records = await library(waiting, 0);
    console.log(row(`edit with ${waiting.toLocaleString('en')} ops waiting`, await timedAsync(ROUNDS, editOnce(records)), baseline));
    await records.stop();
  }
  await empty.stop();
  const small = await library(0, 100);
  const listBaseline = await timedAsync(ROUNDS, () => small.list('site-1'));
  const large = await library(1_000, 1_000);
  console.log(`list() of a scope; baseline = 100 records, no ops waiting`);
  console.log(row('1,000 records, 1,000 ops waiting', await timedAsync(ROUNDS, () => large.list('site-1')), listBaseline));
  await Promise.all([small.stop(), large.stop()]);
}
