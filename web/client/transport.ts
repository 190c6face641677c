import { backoffDelay } from './backoff';
import type { HeraldHttp } from './http';
import { Sequencer } from './sequencer';
import type { ClientFrame, ConnectionState, Notification, NotificationPage, Progress, RecordChange, ServerFrame, TopicEvent } from './types';

/** The part of the WebSocket API the client uses; browsers' `WebSocket` and the `ws` package both fit. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // `any`: browsers and `ws` type their events differently; the client reads only `data` and `code`.
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}

export type WebSocketConstructor = new (url: string) => SocketLike;

export interface Timing {
  /** A `ping` frame this often keeps API Gateway's 10-minute idle timeout away. @default 300_000 (5 min) */
  readonly pingIntervalMs: number;
  /** A ping without a pong within this time means the socket is dead. @default 10_000 */
  readonly pongTimeoutMs: number;
  /**
   * When the browser comes back online or the page becomes visible again, a ping must be answered
   * within this time, or the socket counts as silently dead and is replaced (and resumed) at once.
   * @default 3_000
   */
  readonly livenessTimeoutMs: number;
  /**
   * A socket this old is replaced, make-before-break, ahead of API Gateway's 2-hour cut-off.
   * @default 6_900_000 (1 h 55 min)
   */
  readonly maxConnectionAgeMs: number;
  /** First reconnect waits under this; each failure doubles it. @default 500 */
  readonly backoffBaseMs: number;
  /** Longest wait between reconnect attempts. @default 30_000 */
  readonly backoffCapMs: number;
  /** Consecutive failed connects after which notifications are fetched by polling. @default 2 */
  readonly pollAfterFailures: number;
  /** How often to poll `GET /notifications` while the socket is down. @default 15_000 */
  readonly pollIntervalMs: number;
  /** A socket not open by then counts as a failed attempt. @default 10_000 */
  readonly connectTimeoutMs: number;
  /**
   * A resume not answered by `replayed` within this time failed (its function erred or timed out,
   * and API Gateway's own error message names no request): the socket is replaced and resumes
   * again. Above API Gateway's 29-second integration timeout, so a slow replay is not cut short.
   * @default 30_000
   */
  readonly resumeTimeoutMs: number;
}

export const DEFAULT_TIMING: Timing = {
  pingIntervalMs: 5 * 60_000,
  pongTimeoutMs: 10_000,
  livenessTimeoutMs: 3_000,
  maxConnectionAgeMs: 115 * 60_000,
  backoffBaseMs: 500,
  backoffCapMs: 30_000,
  pollAfterFailures: 2,
  pollIntervalMs: 15_000,
  connectTimeoutMs: 10_000,
  resumeTimeoutMs: 30_000,
};

/** What the transport hands to the client, synchronously and in order. */
export interface TransportSink {
  /** Notifications released in seq order; `lastSeq` is the sequencer's watermark after them. */
  deliver(items: Notification[], lastSeq: number): void;
  /** The server's exact unread count. */
  unread(count: number): void;
  /**
   * The server no longer backs the client's view: seqs up to `lastSeq` expired unseen, or the
   * server is behind the client (its data was reset). Delivery continues after `lastSeq`.
   */
  reset(lastSeq: number): void;
  state(state: ConnectionState): void;
  event(event: TopicEvent): void;
  progress(progress: Progress): void;
  /** A committed record change in a scope this client subscribed to (docs/sync.md, "Live"). */
  change?(change: RecordChange): void;
  error(error: Error): void;
}

/** A server `error` frame, or a subscription the server refused (then `topic` names it). */
export class HeraldFrameError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly topic?: string,
  ) {
    super(message);
    this.name = 'HeraldFrameError';
  }
}

const PAGE_LIMIT = 100;
const OPEN = 1;
/** A delivery this soon after an unread count may have raced it (see scheduleRecount). */
const RECOUNT_WINDOW_MS = 1_000;
/** Lets the racing pushes settle before the count is read again. */
const RECOUNT_DELAY_MS = 300;
/** Refill reads that made no progress before the held frames are released anyway (see refill). */
const REFILL_ATTEMPTS = 10;

class Link {
  resumed = false;
  resuming = false;
  /** The `after` of the resume in flight. */
  resumeAfter = 0;
  /** The correlation id of the resume in flight: an `error` frame carrying it means the resume failed. */
  resumeId: string | undefined;
  private resumeTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private ageTimer: ReturnType<typeof setTimeout> | undefined;
  private probeTimer: ReturnType<typeof setTimeout> | undefined;
  private probeAnswered: (() => void) | undefined;

  /** `pingFrame` makes each ping, when it is sent: it may carry the delivered watermark. */
  constructor(
    readonly socket: SocketLike,
    private readonly pingFrame: () => ClientFrame,
  ) {}

  send(frame: ClientFrame): void {
    if (this.socket.readyState === OPEN) this.socket.send(JSON.stringify(frame));
  }

  private ping(): void {
    if (this.socket.readyState === OPEN) this.socket.send(JSON.stringify(this.pingFrame()));
  }

  keepAlive(timing: Timing, onDead: () => void, onOld: () => void): void {
    this.pingTimer = setInterval(() => {
      this.ping();
      this.pongTimer ??= setTimeout(onDead, timing.pongTimeoutMs);
    }, timing.pingIntervalMs);
    this.ageTimer = setTimeout(onOld, timing.maxConnectionAgeMs);
  }

  /** A ping with its own short deadline; a probe already in flight is not repeated. */
  probe(deadlineMs: number, onAlive: () => void, onDead: () => void): void {
    if (this.probeTimer !== undefined) return;
    this.probeAnswered = onAlive;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = this.probeAnswered = undefined;
      onDead();
    }, deadlineMs);
    this.ping();
  }

  /** Starts (or restarts) the deadline of the resume in flight. */
  awaitReplay(timeoutMs: number, onTimeout: () => void): void {
    clearTimeout(this.resumeTimer);
    this.resumeTimer = setTimeout(onTimeout, timeoutMs);
  }

  /** The resume in flight is over: answered, failed or abandoned. */
  replayEnded(): void {
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    this.resuming = false;
    this.resumeId = undefined;
  }

  ponged(): void {
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
    clearTimeout(this.probeTimer);
    const answered = this.probeAnswered;
    this.probeTimer = this.probeAnswered = undefined;
    answered?.();
  }

  /** Stops timers and handlers, then closes; nothing this link does reaches the transport afterwards. */
  dispose(code: number, reason: string): void {
    clearTimeout(this.resumeTimer);
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    clearTimeout(this.ageTimer);
    clearTimeout(this.probeTimer);
    this.probeTimer = this.probeAnswered = undefined;
    this.socket.onopen = this.socket.onmessage = this.socket.onclose = this.socket.onerror = null;
    try {
      this.socket.close(code, reason);
    } catch {
      // Closing a socket that never opened may throw in some implementations; it is gone either way.
    }
  }
}

/**
 * One tab's connection to Herald: the WebSocket with resume, ack, ping and make-before-break
 * renewal; reconnects with backoff; HTTP polling while the socket cannot connect; HTTP refills of
 * gaps in live pushes. Everything it receives goes through one sequencer, so whichever path a
 * notification takes (push, resume, refill, poll, old or new socket) it is delivered once, in order.
 */
export class Transport {
  private sequencer = new Sequencer<Notification>(0);
  private current: Link | undefined;
  private replacing: Link | undefined;
  private running = false;
  private currentState: ConnectionState = 'closed';
  /** The state the connection itself is in; shown unless the browser reports the network gone. */
  private linkState: ConnectionState = 'closed';
  /** The browser said `offline`, and no socket or pong has proved the network back since. */
  private networkDown = false;
  private failures = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private polling = false;
  private pollTimer: ReturnType<typeof setTimeout> | undefined;
  /** The watermark the server last heard (an `ack`, a ping's `ack`, or a resume's `after`). */
  private acked = 0;
  private refilling = false;
  private recounting = false;
  private recountTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the server's last unread count arrived (ms since epoch). */
  private countedAt = 0;
  /** Set while a page is applied: its own deliveries are covered by its count. */
  private applyingPage = false;
  /** Retries of renewals and refills, cleared on stop so none outlives the session it belongs to. */
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private topics = new Set<string>();
  private subscribeIds = new Map<string, string>();
  private nextFrameId = 0;

  constructor(
    private readonly http: HeraldHttp,
    private readonly WebSocketImpl: WebSocketConstructor,
    private readonly timing: Timing,
    private readonly sink: TransportSink,
  ) {}

  get state(): ConnectionState {
    return this.currentState;
  }

  get lastSeq(): number {
    return this.sequencer.lastSeq;
  }

  start(lastSeq: number): void {
    if (this.running) return;
    this.running = true;
    this.sequencer = new Sequencer(lastSeq);
    this.acked = lastSeq;
    this.failures = 0;
    this.networkDown = false;
    this.setState('connecting');
    void this.connect();
  }

  stop(): void {
    if (!this.running) return;
    this.sendAck();
    this.running = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.recountTimer);
    this.recountTimer = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.stopPolling();
    this.current?.dispose(1000, 'Client stopped');
    this.replacing?.dispose(1000, 'Client stopped');
    this.current = this.replacing = undefined;
    this.setState('closed');
  }

  /** Connects now instead of waiting out the backoff. */
  reconnectNow(): void {
    if (!this.running || this.current || this.retryTimer === undefined) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.connect();
  }

  /**
   * The browser reports the network gone (`offline`): the state says so at once. The socket is
   * kept, since a short cut may not break it; the network's return checks it (networkBack).
   */
  networkLost(): void {
    if (!this.running) return;
    this.networkDown = true;
    this.showState();
  }

  /** The browser reports the network back (`online`): check the socket, or connect now if there is none. */
  networkBack(): void {
    if (!this.running) return;
    this.checkLiveness();
  }

  /**
   * Proves the socket alive with a ping under a short deadline (`livenessTimeoutMs`), for when it
   * may have died unnoticed: back online, or the page visible again after timers were throttled.
   * Unanswered, the socket is dropped and a new one connects and resumes at once. Without a
   * socket, the reconnect waiting out its backoff happens now.
   */
  checkLiveness(): void {
    if (!this.running) return;
    const link = this.current;
    if (!link) {
      this.networkDown = false;
      this.showState();
      return this.reconnectNow();
    }
    link.probe(
      this.timing.livenessTimeoutMs,
      () => {
        this.networkDown = false;
        this.showState();
      },
      () => {
        this.networkDown = false;
        this.sink.error(new Error(`No pong within ${this.timing.livenessTimeoutMs} ms; reconnecting`));
        link.dispose(4000, 'No pong');
        this.closed(link);
        this.reconnectNow();
      },
    );
  }

  /** The topics this socket should be subscribed to; subscribes and unsubscribes the difference. */
  setTopics(topics: ReadonlySet<string>): void {
    const previous = this.topics;
    this.topics = new Set(topics);
    for (const topic of topics) if (!previous.has(topic)) this.subscribeOn(this.current, topic);
    for (const topic of previous) if (!topics.has(topic)) this.current?.send({ action: 'unsubscribe', topic });
  }

  private setState(state: ConnectionState): void {
    this.linkState = state;
    this.showState();
  }

  /** What the app sees: `offline` while the browser says the network is gone, else the link's own state. */
  private showState(): void {
    const state = this.networkDown && this.linkState !== 'closed' ? 'offline' : this.linkState;
    if (state === this.currentState) return;
    this.currentState = state;
    this.sink.state(state);
  }

  private async connect(): Promise<void> {
    this.retryTimer = undefined;
    try {
      const link = await this.open();
      if (!this.running) return link.dispose(1000, 'Client stopped');
      this.adopt(link);
    } catch (error) {
      if (!this.running) return;
      this.failures += 1;
      this.sink.error(asError(error));
      if (this.failures >= this.timing.pollAfterFailures) this.startPolling();
      this.scheduleReconnect();
    }
  }

  private scheduleReconnect(): void {
    if (!this.running || this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => void this.connect(), backoffDelay(this.failures, this.timing.backoffBaseMs, this.timing.backoffCapMs));
  }

  /** A fresh single-use ticket, then a socket; resolves once it is open. */
  private async open(): Promise<Link> {
    const { url } = await this.http.ticket();
    if (!this.running) throw new Error('Client stopped');
    const socket = new this.WebSocketImpl(url);
    const link = new Link(socket, () => this.pingFrame());
    return new Promise<Link>((resolve, reject) => {
      const timer = setTimeout(
        () => (link.dispose(1000, 'Connect timeout'), reject(new Error('WebSocket did not open in time'))),
        this.timing.connectTimeoutMs,
      );
      socket.onerror = () => undefined; // a close event follows, and carries the code
      socket.onclose = (event: { code?: number }) => (clearTimeout(timer), reject(new Error(`WebSocket closed before opening (${event?.code ?? 'no code'})`)));
      socket.onopen = () => {
        clearTimeout(timer);
        socket.onmessage = (message: { data?: unknown }) => this.receive(link, message?.data);
        socket.onclose = () => this.closed(link);
        resolve(link);
      };
    });
  }

  private adopt(link: Link): void {
    this.current = link;
    // A socket that opened proves the network is there, whatever the browser last said.
    this.networkDown = false;
    this.stopPolling();
    this.setState('open');
    for (const topic of this.topics) this.subscribeOn(link, topic);
    this.resume(link, this.sequencer.lastSeq);
    this.keepAlive(link);
  }

  private keepAlive(link: Link): void {
    link.keepAlive(
      this.timing,
      () => (link.dispose(4000, 'No pong'), this.closed(link)),
      () => void this.replace(),
    );
  }

  private subscribeOn(link: Link | undefined, topic: string): void {
    if (!link) return;
    const id = `s${(this.nextFrameId += 1)}`;
    this.subscribeIds.set(id, topic);
    link.send({ action: 'subscribe', topic, id });
  }

  private resume(link: Link, after: number): void {
    link.resuming = true;
    link.resumeAfter = after;
    const id = `r${(this.nextFrameId += 1)}`;
    link.resumeId = id;
    // While a resume is in flight, gaps wait for its `replayed` (see accept): one that never comes
    // must not leave them waiting for good.
    link.awaitReplay(this.timing.resumeTimeoutMs, () => this.resumeFailed(link, new Error(`No replayed within ${this.timing.resumeTimeoutMs} ms of resume`)));
    // The server records a resume's `after` as the watermark, as an ack.
    this.acked = Math.max(this.acked, after);
    // Batched: a catch-up arrives packed in 32 KB `notifications` frames, not one frame per notification.
    link.send({ action: 'resume', after, batch: true, id });
  }

  /**
   * A resume that failed (an `error` frame answering it, or no `replayed` in time) counts as a
   * failed connection: the socket is replaced (with backoff, then polling) and the new one resumes.
   */
  private resumeFailed(link: Link, error: Error): void {
    if (!this.running || (link !== this.current && link !== this.replacing)) return;
    this.sink.error(error);
    link.replayEnded();
    link.dispose(4000, 'Resume failed');
    this.closed(link);
  }

  /** Make-before-break: a second socket resumes; once it has caught up, it takes over and the old one closes. */
  private async replace(): Promise<void> {
    if (!this.running || this.replacing) return;
    try {
      const link = await this.open();
      if (!this.running || !this.current) return link.dispose(1000, 'Not needed');
      this.replacing = link;
      for (const topic of this.topics) this.subscribeOn(link, topic);
      this.resume(link, this.sequencer.lastSeq);
    } catch (error) {
      if (!this.running) return;
      this.sink.error(asError(error));
      // The old socket still works until API Gateway's cut-off; try again well before that.
      this.later(() => void this.replace(), backoffDelay(1, this.timing.backoffBaseMs * 10, this.timing.backoffCapMs));
    }
  }

  private promote(link: Link): void {
    const old = this.current;
    this.current = link;
    this.replacing = undefined;
    this.keepAlive(link);
    old?.dispose(1000, 'Replaced');
  }

  private closed(link: Link): void {
    if (!this.running) return;
    if (link === this.replacing) {
      this.replacing = undefined;
      this.later(() => void this.replace(), backoffDelay(0, this.timing.backoffBaseMs, this.timing.backoffCapMs));
      // Gaps held for this socket's resume are fetched now, over HTTP.
      if (this.sequencer.hasGap && !this.resuming()) void this.refill();
      return;
    }
    if (link !== this.current) return;
    link.dispose(1000, 'Closed');
    this.current = undefined;
    // A renewal under way simply takes over; its resume covers whatever the old socket missed.
    if (this.replacing) return this.promote(this.replacing);
    // A socket that closes before its resume finished counts as a failed attempt, so a server that
    // keeps refusing after the handshake still leads to polling and longer waits.
    if (!link.resumed) this.failures += 1;
    if (this.failures >= this.timing.pollAfterFailures) this.startPolling();
    else if (!this.polling) this.setState('connecting');
    this.scheduleReconnect();
    // Gaps held for this socket's resume are fetched now, over HTTP, rather than after the reconnect.
    if (this.sequencer.hasGap && !this.resuming()) void this.refill();
  }

  private receive(link: Link, data: unknown): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(String(data)) as ServerFrame;
    } catch {
      return this.sink.error(new Error(`Unreadable frame: ${String(data).slice(0, 100)}`));
    }
    switch (frame.type) {
      case 'notification': {
        const { type: _type, ...fields } = frame;
        return this.accept([fields]);
      }
      case 'notifications':
        return this.accept(frame.items);
      case 'replayed':
        return this.replayed(link, frame);
      case 'pong':
        return link.ponged();
      case 'event':
        if (link === this.current) this.sink.event({ topic: frame.topic, name: frame.name, data: frame.data });
        return;
      case 'progress':
        if (link === this.current)
          this.sink.progress({ jobId: frame.jobId, done: frame.done, ...(frame.total === undefined ? {} : { total: frame.total }), version: frame.version });
        return;
      case 'change':
        if (link === this.current) this.sink.change?.({ scope: frame.scope, record: frame.record });
        return;
      case 'subscribed':
      case 'unsubscribed':
        if (frame.id) this.subscribeIds.delete(frame.id);
        return;
      case 'error': {
        if (frame.id !== undefined && frame.id === link.resumeId)
          return this.resumeFailed(link, new HeraldFrameError(frame.code, `resume failed: ${frame.message}`));
        const topic = frame.id === undefined ? undefined : this.subscribeIds.get(frame.id);
        if (frame.id) this.subscribeIds.delete(frame.id);
        return this.sink.error(new HeraldFrameError(frame.code, frame.message, topic));
      }
    }
  }

  private accept(items: ReadonlyArray<Omit<Notification, 'read'> & { read?: boolean }>): void {
    const released: Notification[] = [];
    // Pushes carry no read flag (a new notification is unread); replays may omit it too.
    for (const item of items) released.push(...this.sequencer.accept({ ...item, read: item.read === true }));
    this.release(released);
    if (this.sequencer.hasGap && !this.resuming()) void this.refill();
  }

  private replayed(link: Link, frame: Extract<ServerFrame, { type: 'replayed' }>): void {
    // Replay frames precede `replayed` on the same socket, so a seq up to upTo that did not come expired.
    if (frame.gap) this.expire(frame.upTo, link.resumeAfter);
    if (typeof frame.unread === 'number') this.counted(frame.unread);
    if (frame.more) return this.resume(link, frame.upTo);
    link.replayEnded();
    link.resumed = true;
    this.failures = 0;
    if (link === this.replacing) this.promote(link);
    if (this.sequencer.hasGap) void this.refill();
    else if (this.sequencer.lastSeq > frame.upTo) this.scheduleRecount();
  }

  private counted(unread: number): void {
    this.countedAt = Date.now();
    this.sink.unread(unread);
  }

  /**
   * The server's unread count is a snapshot taken while it answers, not tied to a seq, so a push
   * racing it (arriving just before the answer though beyond what it replayed, or just after it
   * though already counted) may be counted twice or not at all. Such a race is read again once the
   * pushes have settled. Quiet traffic never triggers it; steady traffic at most once per
   * RECOUNT_WINDOW_MS.
   */
  private scheduleRecount(): void {
    if (this.recountTimer !== undefined || !this.running) return;
    this.recountTimer = setTimeout(() => {
      this.recountTimer = undefined;
      void this.recount();
    }, RECOUNT_DELAY_MS);
  }

  private async recount(): Promise<void> {
    // Without a socket there are no pushes to race, and the next resume brings a fresh count.
    if (this.recounting || !this.current?.resumed) return;
    this.recounting = true;
    try {
      const after = this.sequencer.lastSeq;
      const page = await this.http.notifications(after, 1);
      if (!this.running) return;
      this.page(page, after, false);
      if (this.sequencer.hasGap && !this.resuming()) void this.refill();
    } catch (error) {
      this.sink.error(asError(error));
    } finally {
      this.recounting = false;
    }
  }

  private resuming(): boolean {
    return Boolean(this.current?.resuming || this.replacing?.resuming);
  }

  /**
   * The server answered `gap` to a read after `after`: seqs up to `upTo` that have not arrived
   * expired, so stop waiting for them; or, when `upTo` is below `after`, the server's sequence is
   * behind this client's (its data was reset), so start over from the server's.
   */
  private expire(upTo: number, after: number): void {
    if (upTo < after) {
      this.sequencer = new Sequencer(upTo);
      this.acked = upTo;
      return this.sink.reset(upTo);
    }
    if (upTo <= this.sequencer.lastSeq) return;
    const released = this.sequencer.skipTo(upTo);
    this.sink.reset(this.sequencer.lastSeq);
    this.release(released);
  }

  private release(items: Notification[]): void {
    if (items.length === 0) return;
    this.sink.deliver(items, this.sequencer.lastSeq);
    if (!this.applyingPage && Date.now() - this.countedAt < RECOUNT_WINDOW_MS) this.scheduleRecount();
  }

  /**
   * Applies `GET /notifications?after=` (the `after` it asked with). `actOnGap` is false for a
   * recount, which reads one item for the count's sake: resume and refill read whole pages and
   * settle gaps there.
   */
  private page(page: NotificationPage, after: number, actOnGap = true): void {
    // Items start at the oldest survivor; without items, nextAfter is the server's last seq.
    if (page.gap && actOnGap) this.expire(page.items[0] ? page.items[0].seq - 1 : page.nextAfter, after);
    const released: Notification[] = [];
    for (const item of page.items) released.push(...this.sequencer.accept(item));
    this.applyingPage = true;
    try {
      this.release(released);
    } finally {
      this.applyingPage = false;
    }
    this.counted(page.unread);
  }

  /**
   * A live push went missing (seq > lastSeq + 1): fetch what is missing over HTTP while later
   * frames wait in the sequencer. Reads may briefly lag the push that revealed the gap, so a read
   * that brings nothing new is retried; after REFILL_ATTEMPTS of those the held frames are released
   * anyway rather than blocking delivery forever, and the skip is reported as an error.
   */
  private async refill(): Promise<void> {
    if (this.refilling) return;
    this.refilling = true;
    let fruitless = 0;
    try {
      while (this.running && this.sequencer.hasGap && !this.resuming()) {
        const before = this.sequencer.lastSeq;
        const page = await this.http.notifications(before, PAGE_LIMIT);
        if (!this.running) return;
        this.page(page, before);
        if (!this.sequencer.hasGap && this.sequencer.lastSeq > page.nextAfter) this.scheduleRecount();
        if (this.sequencer.lastSeq > before || page.more) {
          fruitless = 0;
          continue;
        }
        if ((fruitless += 1) >= REFILL_ATTEMPTS) {
          const held = this.sequencer.lowestHeld ?? before + 1;
          this.sink.error(new Error(`Seqs ${before + 1}..${held - 1} could not be fetched; skipping them`));
          this.release(this.sequencer.skipTo(held - 1));
          return;
        }
        await sleep(backoffDelay(fruitless, this.timing.backoffBaseMs, this.timing.backoffCapMs));
      }
    } catch (error) {
      this.sink.error(asError(error));
      this.later(() => void this.refill(), this.timing.backoffBaseMs);
    } finally {
      this.refilling = false;
    }
  }

  private later(task: () => void, ms: number): void {
    if (!this.running) return;
    const timer = setTimeout(() => (this.timers.delete(timer), task()), ms);
    this.timers.add(timer);
  }

  private startPolling(): void {
    if (this.polling) return;
    this.polling = true;
    void this.poll();
  }

  private stopPolling(): void {
    this.polling = false;
    clearTimeout(this.pollTimer);
  }

  private async poll(): Promise<void> {
    try {
      let page: NotificationPage;
      do {
        const after = this.sequencer.lastSeq;
        page = await this.http.notifications(after, PAGE_LIMIT);
        if (!this.polling) return;
        this.page(page, after);
      } while (page.more);
      this.setState('polling');
    } catch (error) {
      if (!this.polling) return;
      this.sink.error(asError(error));
      this.setState('offline');
    }
    this.pollTimer = setTimeout(() => void this.poll(), this.timing.pollIntervalMs);
  }

  /**
   * Acks ride on what the client sends anyway (docs/protocol.md, "Acks"): each keep-alive ping
   * carries the watermark when it moved, and each resume's `after` is one; an `ack` frame goes only
   * on stop(). Nothing is shown or replayed by the watermark, so a coarse one costs no guarantee.
   */
  private pingFrame(): ClientFrame {
    const upTo = this.sequencer.lastSeq;
    if (upTo <= this.acked) return { action: 'ping' };
    this.acked = upTo;
    return { action: 'ping', ack: upTo };
  }

  private sendAck(): void {
    const upTo = this.sequencer.lastSeq;
    if (upTo <= this.acked || !this.current?.resumed || this.current.socket.readyState !== OPEN) return;
    this.current.send({ action: 'ack', upTo });
    this.acked = upTo;
  }
}

const sleep = (ms: number) => new Promise((resume) => setTimeout(resume, ms));

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
