import { tick } from '../../../functions/protocol/hlc';
import type { DeviceStatus, PullPage, PushBody, PushResult } from '../../../functions/protocol/records';
import { accountFromToken, type HeraldClient } from '../client';
import { Emitter } from '../emitter';
import { HeraldHttp, HeraldHttpError } from '../http';
import type { Account } from '../store';
import { afterFailedPush, DEFAULT_RETRY, nextAttemptAt, nextBatch, opFromEdit, recordKeyOf, viewOf, type RetryTiming } from './outbox';
import { indexedDbRecordStore, memoryRecordStore, recordsDbName, type RecordStore, type RecordStoreFactory } from './store';
import {
  type Conflict,
  type LocalRecord,
  type OpPriority,
  type OutboxOp,
  type RecordEdit,
  type RecordsEvents,
  StorageQuotaError,
  type WireRecord,
} from './types';

export interface HeraldRecordsOptions extends Partial<RetryTiming> {
  /** Base URL of Herald's HTTP API. */
  readonly httpUrl: string;
  /** The signed-in user's JWT; called before every request. */
  readonly getToken: () => Promise<string>;
  /** The tab's HeraldClient: its socket brings the live `change` frames of the synced scopes. Without it, changes arrive by `pull()` only. */
  readonly client?: HeraldClient;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default the client's account, else read from the token's `sub` and `tenantClaim` */
  readonly account?: Account;
  /** @default 'tenant' */
  readonly tenantClaim?: string;
  /** @default indexedDbRecordStore() where IndexedDB exists, else memoryRecordStore() */
  readonly storage?: RecordStoreFactory;
  /** This device's id in clocks, ops and device status. @default one made once and kept in storage */
  readonly deviceId?: string;
  /** Bytes an edit must leave free in the origin's quota. @default 1 MiB */
  readonly quotaReserveBytes?: number;
  /** @default navigator.storage.estimate where it exists (no check without it) */
  readonly estimate?: () => Promise<{ usage?: number; quota?: number }>;
}

/** What tabs of one origin and user tell each other after a write to the shared store. */
type TabMessage = { t: 'records'; scope: string; keys: Array<[string, string]> } | { t: 'pending' };

/**
 * Offline-first records (docs/sync.md, "The client"): edits apply locally at once and wait in an
 * IndexedDB outbox that one tab at a time pushes (Web Locks), with priorities, capped backoff and
 * op ids kept across retries; answers, pulls and live `change` frames rebase the local view.
 */
export class HeraldRecords {
  private readonly emitter = new Emitter<RecordsEvents>();
  private readonly http: HeraldHttp;
  private readonly retry: RetryTiming;
  private readonly scopes = new Set<string>();
  private readonly pulls = new Map<string, Promise<void>>();
  private readonly cleanups: Array<() => void> = [];
  private store: RecordStore | undefined;
  private account: Account | undefined;
  private device: string | undefined;
  private channel: BroadcastChannel | undefined;
  private pendingCount = 0;
  private flushing: Promise<void> | undefined;
  private queuedFlush: Promise<void> | undefined;
  /** The next round ignores backoffs: the network is back. */
  private flushNow = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private localLock: Promise<void> = Promise.resolve();

  constructor(private readonly options: HeraldRecordsOptions) {
    if (!options.httpUrl || typeof options.getToken !== 'function') throw new TypeError('HeraldRecords needs httpUrl and getToken');
    this.http = new HeraldHttp(options.httpUrl, options.getToken, options.fetch);
    this.retry = { retryBaseMs: options.retryBaseMs ?? DEFAULT_RETRY.retryBaseMs, retryCapMs: options.retryCapMs ?? DEFAULT_RETRY.retryCapMs };
  }

  /** Ops waiting in the outbox, every scope and tab of this device. */
  get pending(): number {
    return this.pendingCount;
  }

  get deviceId(): string | undefined {
    return this.device;
  }

  on<K extends keyof RecordsEvents>(type: K, listener: (payload: RecordsEvents[K]) => void): () => void {
    return this.emitter.on(type, listener);
  }

  off<K extends keyof RecordsEvents>(type: K, listener: (payload: RecordsEvents[K]) => void): void {
    this.emitter.off(type, listener);
  }

  /** Opens the store and starts pushing the outbox (what earlier page loads left in it, too). */
  async start(): Promise<void> {
    if (this.store) return;
    const account =
      this.options.account ?? this.options.client?.account ?? accountFromToken(await this.options.getToken(), this.options.tenantClaim ?? 'tenant');
    const store = await (this.options.storage ?? (typeof indexedDB === 'undefined' ? memoryRecordStore() : indexedDbRecordStore()))(account);
    this.account = account;
    this.store = store;
    this.device = this.options.deviceId ?? (await store.deviceId(() => `web-${randomId()}`));
    if (typeof BroadcastChannel === 'function') {
      const channel = new BroadcastChannel(`${recordsDbName(account)}:events`);
      channel.onmessage = (message: MessageEvent<TabMessage>) => void this.hear(message.data);
      this.channel = channel;
    }
    if (typeof addEventListener === 'function') {
      const online = () => this.flush({ now: true });
      addEventListener('online', online);
      this.cleanups.push(() => removeEventListener('online', online));
    }
    const client = this.options.client;
    if (client) {
      this.cleanups.push(
        client.on('change', ({ scope, record }) => {
          if (this.scopes.has(scope)) this.guard(this.receive(scope, [record]));
        }),
        // Back on a socket: catch up on what the frames missed, and send what waited.
        client.on('state', (state) => {
          if (state !== 'open') return;
          for (const scope of this.scopes) this.guard(this.pull(scope));
          this.flush({ now: true });
        }),
      );
    }
    await this.refreshPending();
    this.flush();
  }

  /** Stops pushing and closes the store; the outbox stays for the next start. */
  async stop(): Promise<void> {
    const store = this.store;
    if (!store) return;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    for (const scope of this.scopes) this.options.client?.unsubscribe(scope);
    this.scopes.clear();
    clearTimeout(this.retryTimer);
    this.channel?.close();
    this.channel = undefined;
    await this.flushing;
    await Promise.allSettled(this.pulls.values());
    this.store = undefined;
    store.close();
  }

  /** Keeps `scope` (a topic the user is a member of) in sync: pulls it now and subscribes to its live changes. */
  async sync(scope: string): Promise<void> {
    this.requireStore();
    if (!this.scopes.has(scope)) {
      this.scopes.add(scope);
      this.options.client?.subscribe(scope);
    }
    await this.pull(scope);
  }

  /** Stops syncing `scope`; its stored records and unsent ops stay. */
  leave(scope: string): void {
    if (this.scopes.delete(scope)) this.options.client?.unsubscribe(scope);
  }

  /**
   * Edits a record (creating it if new): stored in the outbox and applied to the local view at
   * once, then pushed. Throws StorageQuotaError, having stored nothing, when the edit would not fit.
   */
  async edit(scope: string, collection: string, id: string, edit: RecordEdit, options: { priority?: OpPriority } = {}): Promise<LocalRecord> {
    return this.write(scope, collection, id, edit, options.priority ?? 'normal');
  }

  /** Deletes a record (a tombstone on the server, which wins over concurrent edits). */
  async delete(scope: string, collection: string, id: string, options: { priority?: OpPriority } = {}): Promise<LocalRecord> {
    return this.write(scope, collection, id, 'delete', options.priority ?? 'normal');
  }

  /** A record as this device shows it (server copy plus unsent edits), or undefined if it knows none. */
  async get(scope: string, collection: string, id: string): Promise<LocalRecord | undefined> {
    const store = this.requireStore();
    const server = await store.server(scope, collection, id);
    const ops = (await store.recordOps(scope, collection, id)).map((op) => op.op);
    return server || ops.length > 0 ? viewOf({ scope, collection, id }, server, ops) : undefined;
  }

  /** The records of a scope (one collection, or all), deleted ones included (`deleted: true`), by id. */
  async list(scope: string, collection?: string): Promise<LocalRecord[]> {
    const store = this.requireStore();
    const servers = new Map((await store.servers(scope)).map((record) => [recordKeyOf(scope, record.collection, record.id), record]));
    const ops = new Map<string, OutboxOp[]>();
    for (const op of await store.ops()) {
      if (op.scope !== scope) continue;
      const key = recordKeyOf(scope, op.op.collection, op.op.id);
      ops.set(key, [...(ops.get(key) ?? []), op]);
    }
    const views: LocalRecord[] = [];
    for (const key of new Set([...servers.keys(), ...ops.keys()])) {
      const [, recordCollection, id] = JSON.parse(key) as [string, string, string];
      if (collection !== undefined && recordCollection !== collection) continue;
      views.push(
        viewOf(
          { scope, collection: recordCollection, id },
          servers.get(key),
          (ops.get(key) ?? []).map((op) => op.op),
        ),
      );
    }
    return views.sort((a, b) => (a.collection === b.collection ? (a.id < b.id ? -1 : 1) : a.collection < b.collection ? -1 : 1));
  }

  /** Pulls a scope's changes after its cursor, page by page; on `reset` drops the scope's copy and pulls it whole (unsent ops stay). */
  pull(scope: string): Promise<void> {
    const running = this.pulls.get(scope);
    if (running) return running;
    const pull = this.pullPages(scope).finally(() => this.pulls.delete(scope));
    this.pulls.set(scope, pull);
    return pull;
  }

  /** The scope's open manual conflicts, from the server, oldest first. */
  async conflicts(scope: string): Promise<Array<{ collection: string; id: string; version: number; conflict: Conflict }>> {
    return (
      await this.http.request<{ conflicts: Array<{ collection: string; id: string; version: number; conflict: Conflict }> }>(
        'GET',
        `${scopePath(scope)}/conflicts`,
      )
    ).conflicts;
  }

  /**
   * Resolves a field's open conflicts, based on the version this device has: `mine` takes the edit
   * of conflict `opId`, `theirs` keeps the record's value, `edit` sets `value`. Throws
   * HeraldHttpError 409 `stale_version` if the record changed since (pull, look again, retry).
   */
  async resolve(
    scope: string,
    collection: string,
    id: string,
    resolution: { field: string; choose: 'mine'; opId: string } | { field: string; choose: 'theirs' } | { field: string; choose: 'edit'; value: unknown },
  ): Promise<LocalRecord> {
    const store = this.requireStore();
    const server = await store.server(scope, collection, id);
    if (!server) throw new TypeError(`No server copy of ${collection}/${id} in ${scope}: pull it first`);
    const { record } = await this.http.request<{ record: WireRecord }>(
      'POST',
      `${scopePath(scope)}/${encodeURIComponent(collection)}/${encodeURIComponent(id)}/resolve`,
      { ...resolution, base: server.version },
    );
    await this.receive(scope, [record]);
    return (await this.get(scope, collection, id)) as LocalRecord;
  }

  /** The server's view of this device in a scope (last pull and push, pending ops, open conflicts). */
  deviceStatus(scope: string): Promise<DeviceStatus> {
    return this.http.request('GET', `${scopePath(scope)}/devices/${encodeURIComponent(this.requireDevice())}`);
  }

  /**
   * Pushes what the outbox holds, batch by batch, inside an exclusive Web Lock shared by the
   * device's tabs, so no two tabs send an op at once. `now`: retry ops waiting out a backoff too
   * (the network is back). Resolves when this round is done; failures are retried later.
   */
  flush(options: { now?: boolean } = {}): Promise<void> {
    if (!this.store) return Promise.resolve();
    if (options.now) this.flushNow = true;
    if (this.flushing) {
      // One more round after the running one, shared by every caller meanwhile: it sees what they stored.
      this.queuedFlush ??= this.flushing.then(() => {
        this.queuedFlush = undefined;
        return this.flush();
      });
      return this.queuedFlush;
    }
    const round = this.withLock(() => this.pushAll())
      .then((retryAt) => this.retryAt(retryAt))
      .catch((error: unknown) => this.emitter.emit('error', toError(error)))
      .finally(() => {
        this.flushing = undefined;
      });
    this.flushing = round;
    return round;
  }

  private async write(scope: string, collection: string, id: string, edit: RecordEdit | 'delete', priority: OpPriority): Promise<LocalRecord> {
    const store = this.requireStore();
    const device = this.requireDevice();
    const server = await store.server(scope, collection, id);
    const opId = randomId();
    // Built before the quota check so a malformed edit fails as such; its size is what it will take.
    const sample = opFromEdit({ opId, collection, id, base: server?.version ?? 0 }, edit, () => tick(undefined, Date.now(), device));
    await this.checkQuota(JSON.stringify(sample).length * 2);
    try {
      await store.append((lastClock) => {
        let clock = lastClock;
        const op = opFromEdit({ opId, collection, id, base: server?.version ?? 0 }, edit, () => (clock = tick(clock, Date.now(), device)));
        return { scope, priority, op, clock: clock as string };
      });
    } catch (error) {
      if ((error as { name?: string })?.name === 'QuotaExceededError') {
        const estimate = await this.estimate();
        throw new StorageQuotaError(estimate?.quota ?? 0, estimate?.usage ?? 0, JSON.stringify(sample).length * 2);
      }
      throw error;
    }
    const view = (await this.get(scope, collection, id)) as LocalRecord;
    this.emitter.emit('record', view);
    this.post({ t: 'records', scope, keys: [[collection, id]] });
    await this.refreshPending();
    this.flush();
    return view;
  }

  /** Pushes batch after batch; answers when to try again for ops left waiting out a backoff (none: nothing waits, or offline). */
  private async pushAll(): Promise<number | undefined> {
    let limit: number | undefined;
    // A push that went through shows the network works: the rest of the round need not wait either.
    let ignoreBackoff = this.flushNow;
    this.flushNow = false;
    for (;;) {
      const store = this.store;
      if (!store) return undefined;
      if (globalThis.navigator?.onLine === false) return undefined; // the `online` event flushes again
      const ops = await store.ops();
      const batch = nextBatch(ops, ignoreBackoff ? Number.POSITIVE_INFINITY : Date.now(), limit);
      if (batch.length === 0) return nextAttemptAt(ops, Date.now());
      const scope = (batch[0] as OutboxOp).scope;
      const body: PushBody = { deviceId: this.requireDevice(), ops: batch.map((op) => op.op), pending: ops.length - batch.length };
      let answer: PushResult;
      try {
        answer = await this.http.request<PushResult>('POST', `${scopePath(scope)}/push`, body);
      } catch (error) {
        const refused = error instanceof HeraldHttpError && (error.status === 400 || error.status === 413);
        if (refused && batch.length > 1) {
          // One op makes the batch malformed or too large: halve until it is alone, then drop it.
          limit = Math.ceil(batch.length / 2);
          continue;
        }
        if (refused) {
          const [op] = batch as [OutboxOp];
          await store.apply({ scope, removeOps: [op.seq] });
          this.emitter.emit('rejected', { scope, op: op.op, reason: 'refused', message: (error as Error).message });
          await this.changed(scope, [[op.op.collection, op.op.id]]);
          continue;
        }
        const failed = afterFailedPush(batch, Date.now(), this.retry);
        await store.apply({ scope, updateOps: failed });
        this.emitter.emit('error', toError(error));
        const retried = new Set(failed.map((op) => op.seq));
        return nextAttemptAt([...failed, ...ops.filter((op) => !retried.has(op.seq))], Date.now());
      }
      limit = undefined;
      ignoreBackoff = true;
      const stored = await store.apply({ scope, records: answer.records, removeOps: batch.map((op) => op.seq) });
      for (const result of answer.results) {
        if (result.status !== 'rejected') continue;
        const op = batch.find((candidate) => candidate.op.opId === result.opId);
        if (op) this.emitter.emit('rejected', { scope, op: op.op, reason: result.reason ?? 'invalid_change', message: result.message ?? result.reason ?? '' });
      }
      await this.changed(scope, batchKeys(batch), stored);
    }
  }

  private async pullPages(scope: string): Promise<void> {
    const store = this.requireStore();
    let after = await store.cursor(scope);
    let resets = 0;
    for (;;) {
      const query = new URLSearchParams({ deviceId: this.requireDevice(), ...(after === undefined ? {} : { after }) });
      const page = await this.http.request<PullPage>('GET', `${scopePath(scope)}/changes?${query}`);
      if (page.reset) {
        if (resets++ > 0) throw new Error(`Pull of ${scope}: the server answered reset to a pull from scratch`);
        const dropped = (await store.servers(scope)).map((record): [string, string] => [record.collection, record.id]);
        await store.dropScope(scope);
        after = undefined;
        this.emitter.emit('reset', { scope });
        await this.changed(scope, dropped);
        continue;
      }
      const stored = await store.apply({ scope, records: page.records, cursor: page.cursor });
      await this.changed(scope, [], stored);
      if (!page.more) return;
      after = page.cursor;
    }
  }

  /** A live change (or a resolution's answer): stored if newer, then shown. */
  private async receive(scope: string, records: WireRecord[]): Promise<void> {
    const stored = await this.requireStore().apply({ scope, records });
    await this.changed(scope, [], stored);
  }

  /** Emits the new views of the records a write touched, conflicts that arrived, the pending count; tells the other tabs. */
  private async changed(scope: string, keys: Array<[string, string]>, stored: WireRecord[] = []): Promise<void> {
    const all = new Map<string, [string, string]>();
    for (const [collection, id] of [...keys, ...stored.map((record): [string, string] => [record.collection, record.id])])
      all.set(recordKeyOf(scope, collection, id), [collection, id]);
    if (all.size === 0) return;
    await this.emitViews(scope, [...all.values()]);
    for (const record of stored) {
      if (!record.conflicts?.length) continue;
      const view = await this.get(scope, record.collection, record.id);
      if (view) this.emitter.emit('conflict', { record: view, conflicts: record.conflicts });
    }
    this.post({ t: 'records', scope, keys: [...all.values()] });
    await this.refreshPending();
  }

  private async emitViews(scope: string, keys: Array<[string, string]>): Promise<void> {
    for (const [collection, id] of keys) {
      const view = await this.get(scope, collection, id);
      if (view) this.emitter.emit('record', view);
    }
  }

  private async hear(message: TabMessage): Promise<void> {
    if (!this.store) return;
    try {
      if (message.t === 'records') await this.emitViews(message.scope, message.keys);
      await this.refreshPending();
    } catch (error) {
      this.emitter.emit('error', toError(error));
    }
  }

  private async refreshPending(): Promise<void> {
    const store = this.store;
    if (!store) return;
    const count = await store.count();
    if (count === this.pendingCount) return;
    this.pendingCount = count;
    this.emitter.emit('pending', count);
    this.post({ t: 'pending' });
  }

  private retryAt(at: number | undefined): void {
    clearTimeout(this.retryTimer);
    if (at !== undefined && this.store) this.retryTimer = setTimeout(() => this.flush(), Math.max(0, at - Date.now()));
  }

  /** The exclusive lock of this account's outbox across tabs (Web Locks), or within this page where there are none. */
  private withLock<T>(task: () => Promise<T>): Promise<T> {
    const locks = globalThis.navigator?.locks;
    if (typeof locks?.request === 'function') return locks.request(`${recordsDbName(this.account as Account)}:outbox`, task);
    const run = this.localLock.then(task);
    this.localLock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async estimate(): Promise<{ usage?: number; quota?: number } | undefined> {
    if (this.options.estimate) return this.options.estimate();
    const storage = globalThis.navigator?.storage;
    return typeof storage?.estimate === 'function' ? storage.estimate() : undefined;
  }

  private async checkQuota(bytes: number): Promise<void> {
    const estimate = await this.estimate();
    if (!estimate?.quota) return;
    const usage = estimate.usage ?? 0;
    const needed = bytes + (this.options.quotaReserveBytes ?? 1024 * 1024);
    if (usage + needed > estimate.quota) throw new StorageQuotaError(estimate.quota, usage, needed);
  }

  private post(message: TabMessage): void {
    this.channel?.postMessage(message);
  }

  private guard(work: Promise<void>): void {
    work.catch((error: unknown) => this.emitter.emit('error', toError(error)));
  }

  private requireStore(): RecordStore {
    if (!this.store) throw new Error('HeraldRecords is not started: call start() first');
    return this.store;
  }

  private requireDevice(): string {
    if (!this.device) throw new Error('HeraldRecords is not started: call start() first');
    return this.device;
  }
}

/**
 * A random UUID (v4). `crypto.randomUUID` exists only in secure contexts (https, localhost);
 * `getRandomValues` everywhere, so a page served over plain http still gets ids.
 */
function randomId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const scopePath = (scope: string) => `/records/${encodeURIComponent(scope)}`;

function batchKeys(batch: readonly OutboxOp[]): Array<[string, string]> {
  return batch.map((op) => [op.op.collection, op.op.id]);
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
