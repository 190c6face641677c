import { Emitter } from './emitter';
import { HeraldHttp } from './http';
import { indexedDbName, indexedDbStore, memoryStore, type Account, type NotificationStore, type StoreFactory } from './store';
import { DEFAULT_TIMING, Transport, type Timing, type TransportSink, type WebSocketConstructor } from './transport';
import type { ConnectionState, MarkReadTarget, Notification, Progress, RecordChange, TopicEvent } from './types';

export interface HeraldClientOptions extends Partial<Timing> {
  /** Base URL of Herald's HTTP API, e.g. `https://api.example.com` (no trailing path needed). */
  readonly httpUrl: string;
  /** The signed-in user's JWT; called before every HTTP request, so return a cached, refreshed one. */
  readonly getToken: () => Promise<string>;
  /** @default globalThis.WebSocket (pass the `ws` package's `WebSocket` in Node) */
  readonly WebSocket?: WebSocketConstructor;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Whose notifications these are; keys storage and cross-tab sharing. @default read from the token's `sub` and `tenantClaim` */
  readonly account?: Account;
  /** The JWT claim that carries the tenant (Cognito: `custom:tenant`). @default 'tenant' */
  readonly tenantClaim?: string;
  /** @default indexedDbStore() where IndexedDB exists, else memoryStore() */
  readonly storage?: StoreFactory;
  /** One socket per origin and user, shared through Web Locks and BroadcastChannel. @default true where both exist */
  readonly shareAcrossTabs?: boolean;
}

export interface HeraldEvents extends Record<string, unknown> {
  /** A notification this client had not delivered before; each seq once, in seq order. */
  notification: Notification;
  state: ConnectionState;
  /** The unread count: the server's exact figure, plus unread notifications delivered since. */
  unread: number;
  /** Notifications were marked read (by this tab or another); update the inbox view. */
  read: MarkReadTarget;
  /**
   * The server no longer backs what this client showed (notifications expired unseen, or the
   * server's data was reset): the stored inbox was cleared and delivery continues after `lastSeq`.
   * Clear the inbox view.
   */
  reset: { lastSeq: number };
  /** A live event on a topic this client subscribed to (e.g. presence `join`/`leave`). */
  event: TopicEvent;
  progress: Progress;
  /** A committed record change in a scope this tab subscribed to (the records library listens: web/client/records/). */
  change: RecordChange;
  /** This tab holds the socket (`leader`) or hears from the tab that does (`follower`). */
  role: 'leader' | 'follower';
  /** Something failed and is being retried; for logging, nothing to handle. */
  error: Error;
}

/** What tabs of one origin and user say to each other over their BroadcastChannel. */
type TabMessage =
  | { t: 'hello'; tab: string; topics: string[] }
  | { t: 'topics'; tab: string; topics: string[] }
  | { t: 'bye'; tab: string }
  | { t: 'leader' }
  | { t: 'snapshot'; state: ConnectionState; unread: number }
  | { t: 'notifications'; items: Notification[] }
  | { t: 'state'; state: ConnectionState }
  | { t: 'unread'; unread: number }
  | { t: 'reset'; lastSeq: number }
  | { t: 'event'; event: TopicEvent }
  | { t: 'progress'; progress: Progress }
  | { t: 'change'; change: RecordChange }
  | { t: 'read'; target: MarkReadTarget; unread: number }
  /** A follower became visible: the leader, perhaps a throttled background tab, checks its socket. */
  | { t: 'check' };

/**
 * Herald's browser client: exactly-once, in-order notifications over the WebSocket, with HTTP
 * polling as a fallback, an offline inbox, and one socket shared by all tabs of an origin.
 * See web/client/README.md.
 */
export class HeraldClient {
  private readonly emitter = new Emitter<HeraldEvents>();
  private readonly http: HeraldHttp;
  private readonly timing: Timing;
  private readonly WebSocketImpl: WebSocketConstructor | undefined;
  private readonly tabId = Math.random().toString(36).slice(2);
  private readonly ownTopics = new Set<string>();
  private readonly tabTopics = new Map<string, Set<string>>();
  private running = false;
  private currentRole: 'leader' | 'follower' | undefined;
  private currentState: ConnectionState = 'closed';
  private unreadCount = 0;
  private seen = 0;
  private currentAccount: Account | undefined;
  private store: NotificationStore | undefined;
  private transport: Transport | undefined;
  private channel: BroadcastChannel | undefined;
  private lockRequest: AbortController | undefined;
  private releaseLock: (() => void) | undefined;
  private queue: Promise<void> = Promise.resolve();
  // The browser's word on the network and the page's visibility, so a dead socket is noticed in
  // seconds rather than at the next 5-minute ping (web/client/README.md, "Notices offline promptly").
  private readonly onOnline = () => this.transport?.networkBack();
  private readonly onOffline = () => this.transport?.networkLost();
  private readonly onVisibilityChange = () => {
    if (document.visibilityState !== 'visible') return;
    if (this.transport) this.transport.checkLiveness();
    else this.post({ t: 'check' });
  };
  private readonly onPageHide = () => this.post({ t: 'bye', tab: this.tabId });

  constructor(private readonly options: HeraldClientOptions) {
    const { httpUrl, getToken } = options;
    if (!httpUrl || typeof getToken !== 'function') throw new TypeError('HeraldClient needs httpUrl and getToken');
    this.http = new HeraldHttp(httpUrl, getToken, options.fetch);
    this.timing = { ...DEFAULT_TIMING, ...definedOnly(options) };
    this.WebSocketImpl = options.WebSocket ?? (globalThis.WebSocket as WebSocketConstructor | undefined);
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get unread(): number {
    return this.unreadCount;
  }

  /** The highest seq this client has delivered. */
  get lastSeq(): number {
    return this.seen;
  }

  get role(): 'leader' | 'follower' | undefined {
    return this.currentRole;
  }

  get account(): Account | undefined {
    return this.currentAccount;
  }

  on<K extends keyof HeraldEvents>(type: K, listener: (payload: HeraldEvents[K]) => void): () => void {
    return this.emitter.on(type, listener);
  }

  off<K extends keyof HeraldEvents>(type: K, listener: (payload: HeraldEvents[K]) => void): void {
    this.emitter.off(type, listener);
  }

  /** Loads the stored state, then connects (or joins the tab that holds the connection). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.setState('connecting');
    let account: Account;
    let store: NotificationStore;
    try {
      account = this.options.account ?? accountFromToken(await this.options.getToken(), this.options.tenantClaim ?? 'tenant');
      store = await (this.options.storage ?? defaultStorage())(account);
    } catch (error) {
      // Nothing was set up, so the caller can fix the cause (sign in, storage) and start again.
      this.running = false;
      this.setState('closed');
      throw error;
    }
    if (!this.running) return store.close();
    this.currentAccount = account;
    this.store = store;
    const saved = await store.load();
    this.seen = saved.lastSeq;
    if (saved.unread !== undefined) this.setUnread(saved.unread);
    if (!this.running) return;
    if (typeof addEventListener === 'function') {
      addEventListener('online', this.onOnline);
      addEventListener('offline', this.onOffline);
    }
    if (typeof document !== 'undefined') document.addEventListener('visibilitychange', this.onVisibilityChange);
    if (this.options.shareAcrossTabs ?? canShareAcrossTabs()) this.joinTabs(indexedDbName(account));
    else void this.lead();
  }

  /** Closes the socket (acknowledging what was delivered) or leaves the tab group; a later start() resumes. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.transport?.stop();
    this.transport = undefined;
    if (typeof removeEventListener === 'function') {
      removeEventListener('online', this.onOnline);
      removeEventListener('offline', this.onOffline);
      removeEventListener('pagehide', this.onPageHide);
    }
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', this.onVisibilityChange);
    this.post({ t: 'bye', tab: this.tabId });
    this.channel?.close();
    this.channel = undefined;
    this.lockRequest?.abort();
    this.releaseLock?.();
    this.releaseLock = this.lockRequest = undefined;
    await this.queue;
    this.store?.close();
    this.store = undefined;
    this.currentRole = undefined;
    this.setState('closed');
  }

  /** Live events of `topic` (presence, progress) while started; survives reconnects. */
  subscribe(topic: string): void {
    this.ownTopics.add(topic);
    this.topicsChanged();
  }

  unsubscribe(topic: string): void {
    this.ownTopics.delete(topic);
    this.topicsChanged();
  }

  /** Marks notifications read on the server, in the stored inbox and in every tab; resolves with the unread count. */
  async markRead(target: MarkReadTarget): Promise<number> {
    const { unread } = await this.http.markRead(target);
    await this.store?.markRead(target);
    await this.store?.setUnread(unread);
    this.applyRead(target, unread);
    this.post({ t: 'read', target, unread });
    return unread;
  }

  /** The stored inbox (the latest notifications, bounded), newest first. */
  async inbox(): Promise<Notification[]> {
    return this.store ? this.store.inbox() : [];
  }

  private joinTabs(name: string): void {
    const channel = new BroadcastChannel(name);
    this.channel = channel;
    channel.onmessage = (message: MessageEvent<TabMessage>) => this.hear(message.data);
    addEventListener('pagehide', this.onPageHide);
    this.setRole('follower');
    this.post({ t: 'hello', tab: this.tabId, topics: [...this.ownTopics] });
    const request = new AbortController();
    this.lockRequest = request;
    navigator.locks
      .request(name, { signal: request.signal }, async () => {
        if (!this.running) return;
        await this.lead();
        // Holding the lock is being the leader; closing the tab releases it and the next tab leads.
        await new Promise<void>((release) => (this.releaseLock = release));
      })
      .catch((error: unknown) => {
        if ((error as { name?: string })?.name !== 'AbortError') this.emitter.emit('error', error instanceof Error ? error : new Error(String(error)));
      });
  }

  private async lead(): Promise<void> {
    const store = this.store;
    if (!store || !this.WebSocketImpl) {
      if (!this.WebSocketImpl) this.emitter.emit('error', new Error('No WebSocket implementation: pass options.WebSocket'));
      return;
    }
    // The previous leader may have delivered more than this tab heard of; both went to the store.
    this.seen = Math.max(this.seen, (await store.load()).lastSeq);
    if (!this.running) return;
    this.setRole('leader');
    this.transport = new Transport(this.http, this.WebSocketImpl, this.timing, this.sink(store));
    this.transport.setTopics(this.allTopics());
    this.post({ t: 'leader' });
    this.transport.start(this.seen);
    if (globalThis.navigator?.onLine === false) this.transport.networkLost();
  }

  private sink(store: NotificationStore): TransportSink {
    return {
      deliver: (items, lastSeq) =>
        this.enqueue(async () => {
          // Stored before shown: a tab that dies in between still has it in the inbox on reload.
          await store.append(items, lastSeq);
          const unreadBefore = this.unreadCount;
          for (const item of items) {
            this.seen = item.seq;
            if (!item.read) this.unreadCount += 1;
            this.emitter.emit('notification', item);
          }
          this.seen = lastSeq;
          this.post({ t: 'notifications', items });
          if (this.unreadCount !== unreadBefore) this.publishUnread(store);
        }),
      unread: (count) =>
        this.enqueue(async () => {
          if (count === this.unreadCount) return;
          this.unreadCount = count;
          this.publishUnread(store);
        }),
      reset: (lastSeq) =>
        this.enqueue(async () => {
          await store.reset(lastSeq);
          this.seen = lastSeq;
          this.emitter.emit('reset', { lastSeq });
          this.post({ t: 'reset', lastSeq });
        }),
      state: (state) => {
        if (!this.running) return;
        this.setState(state);
        this.post({ t: 'state', state });
      },
      event: (event) => {
        if (this.ownTopics.has(event.topic)) this.emitter.emit('event', event);
        this.post({ t: 'event', event });
      },
      progress: (progress) => {
        this.emitter.emit('progress', progress);
        this.post({ t: 'progress', progress });
      },
      change: (change) => {
        if (this.ownTopics.has(change.scope)) this.emitter.emit('change', change);
        this.post({ t: 'change', change });
      },
      error: (error) => this.emitter.emit('error', error),
    };
  }

  private publishUnread(store: NotificationStore): void {
    this.emitter.emit('unread', this.unreadCount);
    this.post({ t: 'unread', unread: this.unreadCount });
    void store.setUnread(this.unreadCount).catch((error: unknown) => this.emitter.emit('error', error as Error));
  }

  private hear(message: TabMessage): void {
    if (!this.running) return;
    const leading = this.currentRole === 'leader';
    switch (message.t) {
      case 'hello':
      case 'topics':
      case 'bye':
        if (message.t === 'bye') this.tabTopics.delete(message.tab);
        else this.tabTopics.set(message.tab, new Set(message.topics));
        if (!leading) return;
        this.transport?.setTopics(this.allTopics());
        if (message.t === 'hello') this.post({ t: 'snapshot', state: this.currentState, unread: this.unreadCount });
        return;
      case 'leader':
        return this.post({ t: 'topics', tab: this.tabId, topics: [...this.ownTopics] });
      case 'snapshot':
        this.setState(message.state);
        return this.setUnread(message.unread);
      case 'notifications':
        for (const item of message.items) {
          if (item.seq <= this.seen) continue;
          this.seen = item.seq;
          this.emitter.emit('notification', item);
        }
        return;
      case 'state':
        return this.setState(message.state);
      case 'unread':
        return this.setUnread(message.unread);
      case 'reset':
        this.seen = message.lastSeq;
        return this.emitter.emit('reset', { lastSeq: message.lastSeq });
      case 'event':
        if (this.ownTopics.has(message.event.topic)) this.emitter.emit('event', message.event);
        return;
      case 'progress':
        return this.emitter.emit('progress', message.progress);
      case 'change':
        if (this.ownTopics.has(message.change.scope)) this.emitter.emit('change', message.change);
        return;
      case 'read':
        return this.applyRead(message.target, message.unread);
      case 'check':
        if (leading) this.transport?.checkLiveness();
        return;
    }
  }

  private applyRead(target: MarkReadTarget, unread: number): void {
    this.emitter.emit('read', target);
    this.setUnread(unread);
  }

  private topicsChanged(): void {
    if (this.currentRole === 'leader') this.transport?.setTopics(this.allTopics());
    else this.post({ t: 'topics', tab: this.tabId, topics: [...this.ownTopics] });
  }

  private allTopics(): Set<string> {
    const topics = new Set(this.ownTopics);
    for (const tabTopics of this.tabTopics.values()) for (const topic of tabTopics) topics.add(topic);
    return topics;
  }

  private post(message: TabMessage): void {
    this.channel?.postMessage(message);
  }

  private enqueue(task: () => Promise<void>): void {
    this.queue = this.queue.then(task).catch((error: unknown) => this.emitter.emit('error', error instanceof Error ? error : new Error(String(error))));
  }

  private setState(state: ConnectionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    this.emitter.emit('state', state);
  }

  private setUnread(unread: number): void {
    if (unread === this.unreadCount) return;
    this.unreadCount = unread;
    this.emitter.emit('unread', unread);
  }

  private setRole(role: 'leader' | 'follower'): void {
    this.currentRole = role;
    this.emitter.emit('role', role);
  }
}

function canShareAcrossTabs(): boolean {
  return typeof navigator !== 'undefined' && typeof navigator.locks?.request === 'function' && typeof BroadcastChannel === 'function';
}

function defaultStorage(): StoreFactory {
  return typeof indexedDB === 'undefined' ? memoryStore() : indexedDbStore();
}

/** Reads (does not verify: the server does) the tenant and user a JWT names. */
export function accountFromToken(token: string, tenantClaim: string): Account {
  try {
    const payload = token.split('.')[1] ?? '';
    const binary = atob(
      payload
        .replace(/-/g, '+')
        .replace(/_/g, '/')
        .padEnd(Math.ceil(payload.length / 4) * 4, '='),
    );
    const claims = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)))) as Record<string, unknown>;
    const tenant = claims[tenantClaim];
    if (typeof tenant === 'string' && tenant !== '' && typeof claims.sub === 'string' && claims.sub !== '') return { tenant, user: claims.sub };
  } catch {
    // Fall through to the error below, which says what to do.
  }
  throw new TypeError(`The token does not name a tenant ("${tenantClaim}") and a user ("sub"); pass options.account or options.tenantClaim`);
}

function definedOnly(options: Partial<Timing>): Partial<Timing> {
  const timing: Partial<Record<keyof Timing, number>> = {};
  for (const key of Object.keys(DEFAULT_TIMING) as Array<keyof Timing>) {
    const value = options[key];
    if (value !== undefined) timing[key] = value;
  }
  return timing;
}
