import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  HeraldClient,
  HeraldFrameError,
  memoryStore,
  type ConnectionState,
  type HeraldClientOptions,
  type Notification,
  type SocketLike,
  type TopicEvent,
} from '#web/client';
import { api, devToken, urls } from '../support/local';

/**
 * The client library in Node against the real local runtime: the gateway, the handlers and
 * DynamoDB Local. Only the network between client and gateway is sometimes tampered with (a
 * blocked WebSocket URL, a dropped push), as a flaky network would.
 */

const TENANT = 'acme';
const started: HeraldClient[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((client) => client.stop()));
});

const uniqueUser = () => `client-${randomUUID().slice(0, 8)}`;

async function publish(userId: string, title: string): Promise<{ seq: number; id: string }> {
  const { status, body } = await api('POST', '/notifications', await devToken(TENANT, 'publisher-bot', ['publisher']), { userId, kind: 'test', title });
  if (status !== 202 || body.status !== 'delivered') throw new Error(`publish: ${status} ${JSON.stringify(body)}`);
  return body;
}

/** A network between client and gateway that tests can break: block new sockets, drop pushes. */
class Wire {
  blocked = false;
  readonly dropSeqs = new Set<number>();
  readonly sockets: WireSocket[] = [];

  get Socket() {
    const wire = this;
    return class extends WireSocket {
      constructor(url: string) {
        // Port 1 on loopback refuses at once, like a firewall that rejects WebSockets.
        super(wire.blocked ? 'ws://127.0.0.1:1/live' : url, wire);
        wire.sockets.push(this);
      }
    };
  }

  openSockets(): WireSocket[] {
    return this.sockets.filter((socket) => socket.readyState === WebSocket.OPEN);
  }
}

class WireSocket implements SocketLike {
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  readonly ws: WebSocket;

  constructor(url: string, wire: Wire) {
    this.ws = new WebSocket(url);
    this.ws.onopen = (event) => this.onopen?.(event);
    this.ws.onclose = (event) => this.onclose?.(event);
    this.ws.onerror = (event) => this.onerror?.(event);
    this.ws.onmessage = (event) => {
      const frame = JSON.parse(String(event.data));
      if (frame.type === 'notification' && wire.dropSeqs.delete(frame.seq)) return;
      this.onmessage?.(event);
    };
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  send(data: string): void {
    this.ws.send(data);
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }
}

interface Observed {
  client: HeraldClient;
  user: string;
  notifications: Notification[];
  states: ConnectionState[];
  unread: number[];
  httpRequests: string[];
  /** The client's `error` and `reset` events, shown when a wait times out. */
  errors: string[];
  resets: number[];
}

async function startClient(options: Partial<HeraldClientOptions> & { user?: string } = {}): Promise<Observed> {
  const user = options.user ?? uniqueUser();
  const token = await devToken(TENANT, user);
  const httpRequests: string[] = [];
  const client = new HeraldClient({
    httpUrl: urls().httpUrl,
    getToken: async () => token,
    WebSocket,
    storage: memoryStore(),
    fetch: (input, init) => (
      httpRequests.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}${new URL(String(input)).search}`), fetch(input, init)
    ),
    ...options,
  });
  const observed: Observed = { client, user, notifications: [], states: [], unread: [], httpRequests, errors: [], resets: [] };
  client.on('error', (error) => observed.errors.push(error.message));
  client.on('reset', ({ lastSeq }) => observed.resets.push(lastSeq));
  waitingOn = observed;
  client.on('notification', (notification) => observed.notifications.push(notification));
  client.on('state', (state) => observed.states.push(state));
  client.on('unread', (unread) => observed.unread.push(unread));
  started.push(client);
  await client.start();
  return observed;
}

/** The client a test started last, whose state a timeout reports. */
let waitingOn: Observed | undefined;

async function until(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      const { notifications, states, httpRequests, errors, resets } = waitingOn ?? {};
      throw new Error(`timed out waiting for ${what}; ${JSON.stringify({ seqs: notifications?.map((n) => n.seq), states, resets, httpRequests, errors })}`);
    }
    await new Promise((wait) => setTimeout(wait, 20));
  }
}

const seqsOf = (observed: Observed) => observed.notifications.map((notification) => notification.seq);
/** Inbox reads that fetch notifications (refills and polls ask for 100; unread recounts for 1). */
const inboxReads = (observed: Observed) => observed.httpRequests.filter((request) => /^GET \/notifications\?after=\d+&limit=100$/.test(request));
const settle = (ms = 600) => new Promise((wait) => setTimeout(wait, ms));

describe('client library against the local runtime', () => {
  it('delivers live notifications in order over the ws package, with the unread count', async () => {
    const observed = await startClient();
    await until(() => observed.client.state === 'open', 'open');
    const first = await publish(observed.user, 'one');
    const second = await publish(observed.user, 'two');

    await until(() => observed.notifications.length === 2, 'two notifications');
    expect(observed.notifications.map(({ seq, id, title, read }) => ({ seq, id, title, read }))).toEqual([
      { seq: first.seq, id: first.id, title: 'one', read: false },
      { seq: second.seq, id: second.id, title: 'two', read: false },
    ]);
    expect(second.seq).toBe(first.seq + 1);
    await until(() => observed.client.unread === 2, 'unread 2');
    expect(observed.client.lastSeq).toBe(second.seq);
    // Live delivery needed no inbox reads, and one ticket.
    expect(inboxReads(observed)).toEqual([]);
    expect(observed.httpRequests.filter((request) => request.startsWith('POST'))).toEqual(['POST /realtime/ticket']);
    expect((await observed.client.inbox()).map((notification) => notification.seq)).toEqual([second.seq, first.seq]);
  });

  it('shows a notification the server sends twice only once', async () => {
    const wire = new Wire();
    const observed = await startClient({ WebSocket: wire.Socket });
    await until(() => observed.client.state === 'open', 'open');
    await publish(observed.user, 'once');
    await publish(observed.user, 'twice');
    await until(() => observed.notifications.length === 2, 'two notifications');

    // Asking the server to replay from the start on the client's own socket makes it send every
    // notification frame again: real duplicates, over the real wire.
    const socket = wire.openSockets()[0];
    const duplicates: unknown[] = [];
    socket?.ws.on('message', (data) => (JSON.parse(String(data)).type === 'notification' ? duplicates.push(data) : undefined));
    socket?.send(JSON.stringify({ action: 'resume', after: 0 }));
    await until(() => duplicates.length === 2, 'the server to resend both');
    await publish(observed.user, 'after');

    await until(() => observed.notifications.length === 3, 'the next notification');
    await settle();
    expect(observed.notifications.map((notification) => notification.title)).toEqual(['once', 'twice', 'after']);
    expect(seqsOf(observed)).toEqual([1, 2, 3]);
  });

  it('refills a push that never arrived over HTTP, holding the later one until then', async () => {
    const wire = new Wire();
    const observed = await startClient({ WebSocket: wire.Socket });
    await until(() => observed.client.state === 'open', 'open');
    await publish(observed.user, 'one');
    await until(() => observed.notifications.length === 1, 'first');
    // Past the window in which a delivery makes the client re-read its unread count (that read
    // could bring seq 2 along), so only gap detection can fetch it.
    await settle(1_500);
    wire.dropSeqs.add(2);
    await publish(observed.user, 'two (push lost)');
    expect(inboxReads(observed)).toEqual([]);
    await publish(observed.user, 'three');

    await until(() => observed.notifications.length === 3, 'all three');
    await settle();
    expect(seqsOf(observed)).toEqual([1, 2, 3]);
    expect(wire.dropSeqs.size).toBe(0);
    expect(observed.httpRequests).toContain('GET /notifications?after=1&limit=100');
  });

  it('after a dropped socket, resumes and delivers exactly the notifications it missed', async () => {
    const wire = new Wire();
    // Never fall back to polling here: what is missed must come from the resume.
    const observed = await startClient({ WebSocket: wire.Socket, pollAfterFailures: 1_000, backoffCapMs: 300 });
    await until(() => observed.client.state === 'open', 'open');
    await publish(observed.user, 'before the drop');
    await until(() => observed.notifications.length === 1, 'first');

    wire.blocked = true;
    wire.openSockets()[0]?.ws.terminate();
    await until(() => observed.client.state === 'connecting', 'connecting');
    const missed = [await publish(observed.user, 'missed 1'), await publish(observed.user, 'missed 2'), await publish(observed.user, 'missed 3')];
    await settle(400);
    expect(observed.notifications).toHaveLength(1);

    wire.blocked = false;
    await until(() => observed.notifications.length === 4, 'the missed ones');
    await settle();
    expect(seqsOf(observed)).toEqual([1, ...missed.map((notification) => notification.seq)]);
    expect(observed.notifications.slice(1).map((notification) => notification.title)).toEqual(['missed 1', 'missed 2', 'missed 3']);
    expect(observed.client.state).toBe('open');
    expect(inboxReads(observed)).toEqual([]);
    // A fresh ticket for every attempt, blocked ones included.
    expect(observed.httpRequests.filter((request) => request === 'POST /realtime/ticket')).toHaveLength(wire.sockets.length);
  });

  it('a restarted client resumes from its stored lastSeq', async () => {
    const storage = memoryStore();
    const user = uniqueUser();
    const firstRun = await startClient({ storage, user });
    await until(() => firstRun.client.state === 'open', 'open');
    await publish(user, 'seen');
    await until(() => firstRun.notifications.length === 1, 'first');
    await firstRun.client.stop();

    await publish(user, 'while stopped');
    const secondRun = await startClient({ storage, user });
    await until(() => secondRun.notifications.length === 1, 'the one it missed');
    await settle();
    expect(secondRun.notifications.map((notification) => notification.title)).toEqual(['while stopped']);
    expect((await secondRun.client.inbox()).map((notification) => notification.title)).toEqual(['while stopped', 'seen']);
  });

  it('falls back to HTTP polling when the WebSocket cannot connect, and upgrades back when it can', async () => {
    const wire = new Wire();
    wire.blocked = true;
    const observed = await startClient({ WebSocket: wire.Socket, pollAfterFailures: 2, pollIntervalMs: 200, backoffBaseMs: 100, backoffCapMs: 400 });
    await until(() => observed.client.state === 'polling', 'polling');
    expect(wire.sockets.length).toBeGreaterThanOrEqual(2);
    await publish(observed.user, 'by polling');
    await until(() => observed.notifications.length === 1, 'a polled notification');
    expect(inboxReads(observed)).toContain('GET /notifications?after=0&limit=100');

    wire.blocked = false;
    await until(() => observed.client.state === 'open', 'back on the socket');
    const polls = inboxReads(observed).length;
    await publish(observed.user, 'live again');
    await until(() => observed.notifications.length === 2, 'a live notification');
    await settle(500);
    expect(observed.notifications.map((notification) => notification.title)).toEqual(['by polling', 'live again']);
    // Polling stopped once the socket was back.
    expect(inboxReads(observed)).toHaveLength(polls);
    expect(observed.states).toEqual(['connecting', 'polling', 'open']);
  });
});

describe('client library within API Gateway limits', () => {
  const setLimits = (limits: { idleTimeoutMs?: number; maxDurationMs?: number }) =>
    fetch(
      `${urls()
        .wsUrl.replace(/^ws/, 'http')
        .replace(/\/live$/, '')}/_local/limits`,
      { method: 'PUT', body: JSON.stringify(limits) },
    );
  afterEach(async () => {
    await setLimits({ idleTimeoutMs: 10 * 60_000, maxDurationMs: 2 * 3600_000 });
  });

  it('pings keep the socket open past the idle timeout, which closes a client that pings too rarely', async () => {
    await setLimits({ idleTimeoutMs: 1_500 });
    const pinging = new Wire();
    const quiet = new Wire();
    const pinger = await startClient({ WebSocket: pinging.Socket, pingIntervalMs: 300 });
    const control = await startClient({ WebSocket: quiet.Socket });
    await until(() => pinger.client.state === 'open' && control.client.state === 'open', 'both open');
    await settle(3_500);

    expect(pinging.sockets).toHaveLength(1);
    expect(pinger.states).toEqual(['connecting', 'open']);
    // The control proves the gateway did enforce the timeout: its socket was closed and replaced.
    expect(quiet.sockets.length).toBeGreaterThanOrEqual(2);
    expect(control.states.filter((state) => state === 'connecting').length).toBeGreaterThanOrEqual(2);
  });

  it('replaces each socket make-before-break before the gateway cuts it: never offline, nothing lost or doubled', async () => {
    // The gateway cuts every socket at 2 s here; the client renews each after 0.7 s.
    await setLimits({ maxDurationMs: 2_000 });
    const wire = new Wire();
    const observed = await startClient({ WebSocket: wire.Socket, maxConnectionAgeMs: 700 });
    await until(() => observed.client.state === 'open', 'open');
    const published: number[] = [];
    const deadline = Date.now() + 3_000;
    while (Date.now() < deadline) {
      published.push((await publish(observed.user, `n${published.length}`)).seq);
      await new Promise((wait) => setTimeout(wait, 50));
    }

    await until(() => observed.notifications.length === published.length, 'everything published');
    await settle();
    expect(seqsOf(observed)).toEqual(published);
    expect(wire.sockets.length).toBeGreaterThanOrEqual(4);
    expect(observed.states).toEqual(['connecting', 'open']);
    await until(() => wire.openSockets().length === 1, 'old sockets closed');
  });
});

describe('client library topics', () => {
  async function addMember(topic: string, user: string): Promise<void> {
    const { status } = await api('PUT', `/topics/${topic}/members/${user}`, await devToken(TENANT, 'site-admin', ['admin']));
    expect([200, 201]).toContain(status);
  }

  it('subscribes, hears presence, resubscribes after a drop, and reports a refused subscription with its topic', async () => {
    const topic = `site-${randomUUID().slice(0, 8)}`;
    const [ana, bob, eve] = [uniqueUser(), uniqueUser(), uniqueUser()];
    await addMember(topic, ana);
    await addMember(topic, bob);
    const wire = new Wire();
    const listener = await startClient({ user: ana, WebSocket: wire.Socket });
    const events: TopicEvent[] = [];
    listener.client.on('event', (event) => events.push(event));
    listener.client.subscribe(topic);
    await until(() => events.some((event) => event.name === 'join' && (event.data as { userId?: string }).userId === ana), 'own join');

    // A drop loses the server-side subscription with the socket; the client subscribes again.
    wire.openSockets()[0]?.ws.terminate();
    await until(() => wire.sockets.length === 2 && listener.client.state === 'open', 'reconnected');
    await until(() => events.filter((event) => event.name === 'join' && (event.data as { userId?: string }).userId === ana).length === 2, 'join again');

    const joiner = await startClient({ user: bob });
    joiner.client.subscribe(topic);
    await until(() => events.some((event) => event.name === 'join' && (event.data as { userId?: string }).userId === bob), "bob's join");
    await joiner.client.stop();
    await until(() => events.some((event) => event.name === 'leave' && (event.data as { userId?: string }).userId === bob), "bob's leave");
    expect(events.every((event) => event.topic === topic)).toBe(true);

    const outsider = await startClient({ user: eve });
    const refusals: HeraldFrameError[] = [];
    outsider.client.on('error', (error) => error instanceof HeraldFrameError && refusals.push(error));
    outsider.client.subscribe(topic);
    await until(() => refusals.length === 1, 'the refusal');
    expect(refusals[0]).toMatchObject({ code: 'forbidden', topic });
  });
});
