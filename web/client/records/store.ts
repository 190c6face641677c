import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { maxClock } from '../../../functions/protocol/hlc';
import type { Account } from '../store';
import { newerRecord } from './outbox';
import type { ClientOp, OpPriority, OutboxOp, WireRecord } from './types';

/** What one atomic write after a push, pull or live change does. */
export interface StoreChange {
  readonly scope: string;
  /** Server copies; each kept only if newer than the stored one. */
  readonly records?: readonly WireRecord[];
  /** Ops answered by the server (by seq). */
  readonly removeOps?: readonly number[];
  /** Ops whose push failed, with their new attempts and backoff. */
  readonly updateOps?: readonly OutboxOp[];
  readonly cursor?: string;
}

/**
 * What the records library keeps on the device: the server's copy of each record, the outbox of
 * unsent ops, each scope's pull cursor, the device id and the device's last clock reading. Every
 * method is one transaction, so an edit or an answer is stored whole or not at all, and tabs of
 * one browser see one outbox.
 */
export interface RecordStore {
  /** The device id, made by `make` the first time and kept. */
  deviceId(make: () => string): Promise<string>;
  /**
   * Adds an op built from the device's last clock reading, and stores the reading the op ends at,
   * together: two tabs never build ops from the same reading.
   */
  append(build: (lastClock: string | undefined) => { scope: string; priority: OpPriority; op: ClientOp; clock: string }): Promise<OutboxOp>;
  /** Every unsent op, oldest first. */
  ops(): Promise<OutboxOp[]>;
  /** One record's unsent ops, oldest first. */
  recordOps(scope: string, collection: string, id: string): Promise<OutboxOp[]>;
  /** How many ops are unsent. */
  count(): Promise<number>;
  server(scope: string, collection: string, id: string): Promise<WireRecord | undefined>;
  /** A scope's server copies. */
  servers(scope: string): Promise<WireRecord[]>;
  /** Applies the change in one transaction; answers the records it stored (the newer ones). */
  apply(change: StoreChange): Promise<WireRecord[]>;
  cursor(scope: string): Promise<string | undefined>;
  /** Forgets a scope's server copies and cursor (a `reset`); unsent ops stay. */
  dropScope(scope: string): Promise<void>;
  close(): void;
}

export type RecordStoreFactory = (account: Account) => Promise<RecordStore>;

/** The latest clock reading in a record's merge metadata: the device's next reading must be above it. */
function latestClock(record: WireRecord): string | undefined {
  let latest: string | undefined = record.deleted?.clock;
  for (const meta of Object.values(record.meta)) latest = maxClock(latest, meta.clock);
  return latest;
}

/** State in memory, per account, for as long as the factory lives (unit tests, Node). */
export function memoryRecordStore(): RecordStoreFactory {
  const accounts = new Map<
    string,
    { meta: Map<string, string>; records: Map<string, WireRecord & { scope: string }>; outbox: Map<number, OutboxOp>; seq: number }
  >();
  return async (account) => {
    const name = JSON.stringify([account.tenant, account.user]);
    let state = accounts.get(name);
    if (!state) accounts.set(name, (state = { meta: new Map(), records: new Map(), outbox: new Map(), seq: 0 }));
    const s = state;
    const keyOf = (scope: string, collection: string, id: string) => JSON.stringify([scope, collection, id]);
    return {
      async deviceId(make) {
        if (!s.meta.has('deviceId')) s.meta.set('deviceId', make());
        return s.meta.get('deviceId') as string;
      },
      async append(build) {
        const built = build(s.meta.get('clock'));
        s.meta.set('clock', built.clock);
        s.seq += 1;
        const op: OutboxOp = { seq: s.seq, scope: built.scope, priority: built.priority, op: built.op, createdAt: Date.now(), attempts: 0, notBefore: 0 };
        s.outbox.set(op.seq, op);
        return op;
      },
      async ops() {
        return [...s.outbox.values()].sort((a, b) => a.seq - b.seq);
      },
      async recordOps(scope, collection, id) {
        return [...s.outbox.values()].filter((op) => op.scope === scope && op.op.collection === collection && op.op.id === id).sort((a, b) => a.seq - b.seq);
      },
      async count() {
        return s.outbox.size;
      },
      async server(scope, collection, id) {
        return s.records.get(keyOf(scope, collection, id));
      },
      async servers(scope) {
        return [...s.records.values()].filter((record) => record.scope === scope);
      },
      async apply(change) {
        const stored: WireRecord[] = [];
        for (const record of change.records ?? []) {
          const key = keyOf(change.scope, record.collection, record.id);
          if (!newerRecord(s.records.get(key), record)) continue;
          s.records.set(key, { ...record, scope: change.scope });
          stored.push(record);
          const clock = latestClock(record);
          s.meta.set('clock', maxClock(s.meta.get('clock'), clock) as string);
        }
        for (const seq of change.removeOps ?? []) s.outbox.delete(seq);
        for (const op of change.updateOps ?? []) if (s.outbox.has(op.seq)) s.outbox.set(op.seq, op);
        if (change.cursor !== undefined) s.meta.set(`cursor:${change.scope}`, change.cursor);
        return stored;
      },
      async cursor(scope) {
        return s.meta.get(`cursor:${scope}`);
      },
      async dropScope(scope) {
        for (const [key, record] of s.records) if (record.scope === scope) s.records.delete(key);
        s.meta.delete(`cursor:${scope}`);
      },
      close() {},
    };
  };
}

interface StoredRecord {
  scope: string;
  collection: string;
  id: string;
  record: WireRecord;
}

interface RecordsDb extends DBSchema {
  meta: { key: string; value: string };
  records: { key: [string, string, string]; value: StoredRecord; indexes: { scope: string } };
  outbox: { key: number; value: OutboxOp; indexes: { record: [string, string, string] } };
}

export function recordsDbName(account: Account): string {
  return `herald-records:${encodeURIComponent(account.tenant)}:${encodeURIComponent(account.user)}`;
}

/**
 * State in IndexedDB, one database per tenant and user (`herald-records:<tenant>:<user>`), shared
 * by the tabs of the origin. The outbox's keys come from IndexedDB's key generator, so ops made in
 * two tabs have one order.
 */
export function indexedDbRecordStore(): RecordStoreFactory {
  return async (account) => {
    const db: IDBPDatabase<RecordsDb> = await openDB<RecordsDb>(recordsDbName(account), 1, {
      upgrade(database) {
        database.createObjectStore('meta');
        database.createObjectStore('records', { keyPath: ['scope', 'collection', 'id'] }).createIndex('scope', 'scope');
        database.createObjectStore('outbox', { keyPath: 'seq', autoIncrement: true }).createIndex('record', ['scope', 'op.collection', 'op.id']);
      },
    });
    return {
      async deviceId(make) {
        const tx = db.transaction('meta', 'readwrite');
        let id = await tx.store.get('deviceId');
        if (id === undefined) await tx.store.put((id = make()), 'deviceId');
        await tx.done;
        return id;
      },
      async append(build) {
        const tx = db.transaction(['meta', 'outbox'], 'readwrite');
        const meta = tx.objectStore('meta');
        const built = build(await meta.get('clock'));
        void meta.put(built.clock, 'clock');
        const entry = { scope: built.scope, priority: built.priority, op: built.op, createdAt: Date.now(), attempts: 0, notBefore: 0 };
        // The key generator fills in `seq`.
        const seq = await tx.objectStore('outbox').add(entry as OutboxOp);
        await tx.done;
        return { ...entry, seq };
      },
      async ops() {
        return db.getAll('outbox');
      },
      async recordOps(scope, collection, id) {
        // Entries of one index key come in primary key order: the order the ops were made.
        return db.getAllFromIndex('outbox', 'record', [scope, collection, id]);
      },
      async count() {
        return db.count('outbox');
      },
      async server(scope, collection, id) {
        return (await db.get('records', [scope, collection, id]))?.record;
      },
      async servers(scope) {
        return (await db.getAllFromIndex('records', 'scope', scope)).map((stored) => stored.record);
      },
      async apply(change) {
        const tx = db.transaction(['meta', 'records', 'outbox'], 'readwrite');
        const records = tx.objectStore('records');
        const meta = tx.objectStore('meta');
        const outbox = tx.objectStore('outbox');
        const stored: WireRecord[] = [];
        let clock = await meta.get('clock');
        for (const record of change.records ?? []) {
          const current = await records.get([change.scope, record.collection, record.id]);
          if (!newerRecord(current?.record, record)) continue;
          void records.put({ scope: change.scope, collection: record.collection, id: record.id, record });
          stored.push(record);
          clock = maxClock(clock, latestClock(record));
        }
        if (clock !== undefined) void meta.put(clock, 'clock');
        for (const seq of change.removeOps ?? []) void outbox.delete(seq);
        for (const op of change.updateOps ?? []) if ((await outbox.getKey(op.seq)) !== undefined) void outbox.put(op);
        if (change.cursor !== undefined) void meta.put(change.cursor, `cursor:${change.scope}`);
        await tx.done;
        return stored;
      },
      async cursor(scope) {
        return db.get('meta', `cursor:${scope}`);
      },
      async dropScope(scope) {
        const tx = db.transaction(['meta', 'records'], 'readwrite');
        const records = tx.objectStore('records');
        for (const key of await records.index('scope').getAllKeys(scope)) void records.delete(key);
        void tx.objectStore('meta').delete(`cursor:${scope}`);
        await tx.done;
      },
      close() {
        db.close();
      },
    };
  };
}
