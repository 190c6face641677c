import { afterEach, describe, expect, it, vi } from 'vitest';
import { HeraldHttp } from '#web/client/http';
import { DEFAULT_TIMING, Transport, type SocketLike, type Timing, type TransportSink } from '#web/client/transport';
import type { ConnectionState, Notification, NotificationPage } from '#web/client/types';

/**
 * Replay paging and the server's `gap` answers, which the local runtime cannot produce on demand
 * (500+ notifications per page, 30-day expiry, a server reset). The socket and HTTP are scripted.
 */

class ScriptedSocket implements SocketLike {
  static opened: ScriptedSocket[] = [];
  readyState = 0;
  readonly sent: any[] = [];
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;

  constructor(readonly url: string) {
    ScriptedSocket.opened.push(this);
    setTimeout(() => ((this.readyState = 1), this.onopen?.({})));
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(code = 1000): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }

  receive(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
}

const notification = (seq: number): Notification => ({
  seq,
  id: `n${seq}`,
  kind: 'test',
  title: `#${seq}`,
  priority: 'normal',
  createdAt: '2026-01-01T00:00:00Z',
  read: false,
});
const push = (seq: number) => {
  const { read: _read, ...fields } = notification(seq);
  return { type: 'notification', ...fields };
};

function setup(
  lastSeq: number,
  pages: (after: number) => NotificationPage = () => ({ items: [], nextAfter: 0, more: false, gap: false, unread: 0 }),
  timing: Partial<Timing> = {},
) {
  const fetchStub = async (input: RequestInfo | URL) => {
    const url = new URL(String(input));
    if (url.pathname === '/realtime/ticket') return Response.json({ ticket: 't', expiresAt: '', url: 'ws://scripted/live?ticket=t' });
    if (url.pathname === '/notifications') return Response.json(pages(Number(url.searchParams.get('after'))));
    return new Response('{}', { status: 404 });
  };
  const record = {
    delivered: [] as number[],
    resets: [] as number[],
    unread: [] as number[],
    states: [] as ConnectionState[],
    errors: [] as string[],
    read: [] as boolean[],
  };
  const sink: TransportSink = {
    deliver: (items) => {
      record.delivered.push(...items.map((item) => item.seq));
      record.read.push(...items.map((item) => item.read));
    },
    unread: (count) => record.unread.push(count),
    reset: (seq) => record.resets.push(seq),
    state: (state) => record.states.push(state),
    event: () => undefined,
    progress: () => undefined,
    error: (error) => record.errors.push(error.message),
  };
  const transport = new Transport(new HeraldHttp('http://herald.test', async () => 'token', fetchStub), ScriptedSocket, { ...DEFAULT_TIMING, ...timing }, sink);
  transport.start(lastSeq);
  return { transport, record };
}

async function openSocket(): Promise<ScriptedSocket> {
  await vi.waitFor(() => expect(ScriptedSocket.opened.at(-1)?.readyState).toBe(1));
  return ScriptedSocket.opened.at(-1) as ScriptedSocket;
}

let running: Transport | undefined;
afterEach(() => {
  running?.stop();
  ScriptedSocket.opened = [];
});

describe('client transport', () => {
  it('resumes from lastSeq, pages while the server says more, then acks cumulatively on the next ping', async () => {
    const { transport, record } = setup(5, undefined, { pingIntervalMs: 50 });
    running = transport;
    const socket = await openSocket();
    expect(socket.sent).toEqual([{ action: 'resume', after: 5, batch: true, id: expect.any(String) }]);

    socket.receive(push(6));
    socket.receive(push(7));
    socket.receive({ type: 'replayed', upTo: 7, more: true, gap: false, unread: 4 });
    expect(socket.sent.at(-1)).toEqual({ action: 'resume', after: 7, batch: true, id: expect.any(String) });
    socket.receive(push(8));
    socket.receive(push(7));
    socket.receive({ type: 'replayed', upTo: 8, more: false, gap: false, unread: 3 });

    expect(record.delivered).toEqual([6, 7, 8]);
    expect(record.unread).toEqual([4, 3]);
    // No ack frame per delivery: the keep-alive carries the watermark once it moved, then pings bare.
    await vi.waitFor(() => expect(socket.sent.filter((frame) => frame.action === 'ping').length).toBeGreaterThanOrEqual(2));
    const pings = socket.sent.filter((frame) => frame.action === 'ping');
    expect(pings[0]).toEqual({ action: 'ping', ack: 8 });
    expect(pings.slice(1).every((frame) => frame.ack === undefined)).toBe(true);
    expect(socket.sent.filter((frame) => frame.action === 'ack')).toEqual([]);
    expect(record.states).toEqual(['connecting', 'open']);
  });

  it("counts a resume's after as acked: pings stay bare until a delivery moves the watermark, and stop() acks with a frame", async () => {
    const { transport } = setup(5, undefined, { pingIntervalMs: 30 });
    running = transport;
    const socket = await openSocket();
    socket.receive({ type: 'replayed', upTo: 5, more: false, gap: false, unread: 0 });
    await vi.waitFor(() => expect(socket.sent.filter((frame) => frame.action === 'ping').length).toBeGreaterThanOrEqual(2));
    expect(socket.sent.filter((frame) => frame.action === 'ping' && frame.ack !== undefined)).toEqual([]);
    socket.receive(push(6));
    await vi.waitFor(() => expect(socket.sent.filter((frame) => frame.action === 'ping' && frame.ack !== undefined)).toEqual([{ action: 'ping', ack: 6 }]));
    socket.receive(push(7));
    transport.stop();
    expect(socket.sent.filter((frame) => frame.action === 'ack')).toEqual([{ action: 'ack', upTo: 7 }]);
  });

  it('on a replay gap, stops waiting for the expired seqs and resets the view below the survivors', async () => {
    const { transport, record } = setup(5);
    running = transport;
    const socket = await openSocket();
    socket.receive(push(9));
    socket.receive(push(10));
    expect(record.delivered).toEqual([]);
    socket.receive({ type: 'replayed', upTo: 10, more: false, gap: true, unread: 2 });

    expect(record.resets).toEqual([10]);
    expect(record.delivered).toEqual([9, 10]);
    expect(transport.lastSeq).toBe(10);
  });

  it('when the server is behind the client (its data was reset), starts over from the server seq', async () => {
    const { transport, record } = setup(50);
    running = transport;
    const socket = await openSocket();
    socket.receive({ type: 'replayed', upTo: 3, more: false, gap: true, unread: 0 });
    socket.receive(push(4));

    expect(record.resets).toEqual([3]);
    expect(record.delivered).toEqual([4]);
  });

  it('refills a gap in live pushes over HTTP, and skips what the page says expired', async () => {
    const { transport, record } = setup(0, (after) => ({ items: [notification(7), notification(8)], nextAfter: 8, more: false, gap: after < 6, unread: 2 }));
    running = transport;
    const socket = await openSocket();
    socket.receive({ type: 'replayed', upTo: 0, more: false, gap: false, unread: 0 });
    socket.receive(push(8));

    await vi.waitFor(() => expect(record.delivered).toEqual([7, 8]));
    expect(record.resets).toEqual([6]);
  });
});

/**
 * A seq gap is fetched whatever state the link is in (docs/protocol.md, "Reconnects"): while a
 * resume is in flight the gap waits for its `replayed`, so a resume that fails, never answers, or
 * loses its socket must not leave the gap waiting for another push.
 */
describe('client transport: a gap is fetched in every link state', () => {
  const pages = (requests: number[]) => (after: number) => {
    requests.push(after);
    return after < 8
      ? { items: [notification(7), notification(8)].filter((item) => item.seq > after), nextAfter: 8, more: false, gap: false, unread: 2 }
      : { items: [], nextAfter: 8, more: false, gap: false, unread: 2 };
  };

  it('a push beyond lastSeq + 1 that arrives before the resume answers is filled once the resume has answered', async () => {
    const requests: number[] = [];
    const { transport, record } = setup(6, pages(requests));
    running = transport;
    const socket = await openSocket();
    socket.receive(push(8));
    expect(requests).toEqual([]);
    // The replay read the store before 7 and 8 were committed; 8 was pushed, 7 went missing.
    socket.receive({ type: 'replayed', upTo: 6, more: false, gap: false, unread: 0, id: socket.sent[0].id });
    await vi.waitFor(() => expect(record.delivered).toEqual([7, 8]));
    expect(requests[0]).toBe(6);
  });

  it('a resume answered by an error frame is not waited for: the socket is replaced and the new one resumes', async () => {
    const { transport, record } = setup(6, undefined, { backoffBaseMs: 1 });
    running = transport;
    const socket = await openSocket();
    const resume = socket.sent[0];
    socket.receive({ type: 'error', code: 'internal', message: 'Internal error; retry', id: resume.id });
    const fresh = await vi.waitFor(() => {
      const next = ScriptedSocket.opened[1];
      expect(next?.readyState).toBe(1);
      return next as ScriptedSocket;
    });
    expect(socket.readyState).toBe(3);
    expect(fresh.sent[0]).toEqual({ action: 'resume', after: 6, batch: true, id: expect.any(String) });
    expect(fresh.sent[0].id).not.toBe(resume.id);
    expect(record.errors).toContain('resume failed: Internal error; retry');
  });

  it('a resume never answered (API Gateway says only "Internal server error") is replaced after resumeTimeoutMs', async () => {
    const { transport, record } = setup(6, undefined, { backoffBaseMs: 1, resumeTimeoutMs: 50 });
    running = transport;
    const socket = await openSocket();
    socket.receive({ message: 'Internal server error', connectionId: 'c', requestId: 'r' });
    socket.receive(push(8));
    const fresh = await vi.waitFor(() => {
      const next = ScriptedSocket.opened[1];
      expect(next?.readyState).toBe(1);
      return next as ScriptedSocket;
    });
    expect(fresh.sent[0]).toMatchObject({ action: 'resume', after: 6 });
    fresh.receive({ type: 'notifications', items: [{ ...notification(7), read: false }] });
    fresh.receive({ type: 'replayed', upTo: 8, more: false, gap: false, unread: 2, id: fresh.sent[0].id });
    expect(record.delivered).toEqual([7, 8]);
    expect(record.errors).toContain('No replayed within 50 ms of resume');
  });

  it('a gap held for a resume whose socket closes is fetched over HTTP at once, not after the reconnect', async () => {
    const requests: number[] = [];
    // A long backoff: the refill must not wait for the next socket.
    const { transport, record } = setup(6, pages(requests), { backoffBaseMs: 60_000 });
    running = transport;
    const socket = await openSocket();
    socket.receive({ type: 'replayed', upTo: 6, more: false, gap: false, unread: 0, id: socket.sent[0].id });
    // A second resume, on the socket that replaces this one at its age limit.
    (transport as unknown as { replace(): Promise<void> }).replace();
    const replacing = await vi.waitFor(() => {
      const next = ScriptedSocket.opened[1];
      expect(next?.sent.length).toBeGreaterThan(0);
      return next as ScriptedSocket;
    });
    socket.receive(push(8));
    expect(requests).toEqual([]);
    replacing.close(1006);
    await vi.waitFor(() => expect(record.delivered).toEqual([7, 8]));
    expect(requests[0]).toBe(6);
  });
});

describe('client transport unread count', () => {
  it('reads the count again when pushes beyond the replay raced its snapshot', async () => {
    const requests: number[] = [];
    const { transport, record } = setup(0, (after) => (requests.push(after), { items: [], nextAfter: after, more: false, gap: false, unread: 2 }));
    running = transport;
    const socket = await openSocket();
    socket.receive(push(1));
    socket.receive(push(2));
    // The server counted before seq 2 was committed, but its push got here first.
    socket.receive({ type: 'replayed', upTo: 0, more: false, gap: false, unread: 1 });

    await vi.waitFor(() => expect(record.unread).toEqual([1, 2]));
    expect(requests).toEqual([2]);
  });

  it('reads the count again when a push arrives right after a snapshot that may already include it', async () => {
    const requests: number[] = [];
    const { transport, record } = setup(0, (after) => (requests.push(after), { items: [], nextAfter: after, more: false, gap: false, unread: 1 }));
    running = transport;
    const socket = await openSocket();
    // The server counted seq 1 (committed after its replay read) before its push arrived.
    socket.receive({ type: 'replayed', upTo: 0, more: false, gap: false, unread: 1 });
    socket.receive(push(1));

    await vi.waitFor(() => expect(requests).toEqual([1]));
    await vi.waitFor(() => expect(record.unread).toEqual([1, 1]));
  });

  it('takes only the count from a recount, never a gap: only whole-page reads settle gaps', async () => {
    const requests: number[] = [];
    // What the server may answer while seq 2 commits: its counter already says 2, its query not yet.
    const { transport, record } = setup(0, (after) => (requests.push(after), { items: [], nextAfter: after + 1, more: false, gap: true, unread: 2 }));
    running = transport;
    const socket = await openSocket();
    socket.receive({ type: 'replayed', upTo: 0, more: false, gap: false, unread: 0 });
    socket.receive(push(1));
    await vi.waitFor(() => expect(requests).toEqual([1]));
    socket.receive(push(2));

    expect(record.delivered).toEqual([1, 2]);
    expect(record.resets).toEqual([]);
  });

  it('trusts a count that covers everything delivered', async () => {
    const requests: number[] = [];
    const { transport, record } = setup(0, (after) => (requests.push(after), { items: [], nextAfter: after, more: false, gap: false, unread: 0 }));
    running = transport;
    const socket = await openSocket();
    socket.receive(push(1));
    socket.receive({ type: 'replayed', upTo: 1, more: false, gap: false, unread: 1 });
    await new Promise((wait) => setTimeout(wait, 50));
    expect(record.unread).toEqual([1]);
    expect(requests).toEqual([]);
  });
});

describe('client transport batched replay', () => {
  it('delivers a notifications frame through the sequencer: in order, duplicates dropped, held pushes released, read kept', async () => {
    const { transport, record } = setup(5);
    running = transport;
    const socket = await openSocket();
    socket.receive(push(8)); // a live push ahead of the replay: held
    socket.receive({ type: 'notifications', items: [notification(6), { ...notification(7), read: true }, notification(8)] });
    socket.receive({ type: 'notifications', items: [notification(8), notification(9)] });
    socket.receive({ type: 'replayed', upTo: 9, more: false, gap: false, unread: 3 });

    expect(record.delivered).toEqual([6, 7, 8, 9]);
    expect(record.read).toEqual([false, true, false, false]);
    expect(transport.lastSeq).toBe(9);
  });
});

describe('client transport offline detection', () => {
  // A long backoff: a reconnect that comes within a test's wait came at once, not after a backoff.
  const timing = { livenessTimeoutMs: 50, backoffBaseMs: 60_000 };

  async function live(lastSeq = 0) {
    const { transport, record } = setup(lastSeq, undefined, timing);
    running = transport;
    const socket = await openSocket();
    socket.receive({ type: 'replayed', upTo: lastSeq, more: false, gap: false, unread: 0 });
    expect(record.states).toEqual(['connecting', 'open']);
    return { transport, record, socket };
  }

  it('shows offline as soon as the browser says so, keeping the socket; back online, a pong restores open without reconnecting', async () => {
    const { transport, record, socket } = await live();
    transport.networkLost();
    expect(transport.state).toBe('offline');
    expect(socket.readyState).toBe(1);

    transport.networkBack();
    expect(socket.sent.at(-1)).toEqual({ action: 'ping' });
    expect(transport.state).toBe('offline'); // not proven yet
    socket.receive({ type: 'pong' });
    expect(record.states).toEqual(['connecting', 'open', 'offline', 'open']);
    await new Promise((wait) => setTimeout(wait, 100)); // past the liveness deadline
    expect(ScriptedSocket.opened).toHaveLength(1);
    expect(socket.readyState).toBe(1);
  });

  it('back online with no pong within the deadline, drops the silent socket, reconnects at once and resumes from lastSeq', async () => {
    const { transport, record, socket } = await live(5);
    socket.receive(push(6));
    transport.networkLost();
    transport.networkBack();

    await vi.waitFor(() => expect(ScriptedSocket.opened).toHaveLength(2));
    expect(socket.readyState).toBe(3);
    const fresh = await openSocket();
    expect(fresh.sent[0]).toEqual({ action: 'resume', after: 6, batch: true, id: expect.any(String) });
    fresh.receive({ type: 'replayed', upTo: 6, more: false, gap: false, unread: 0 });
    expect(record.states).toEqual(['connecting', 'open', 'offline', 'connecting', 'open']);
    expect(record.errors).toContain('No pong within 50 ms; reconnecting');
  });

  it('checks a socket when the page becomes visible: a pong changes nothing, silence replaces it', async () => {
    const { transport, record, socket } = await live();
    transport.checkLiveness();
    transport.checkLiveness(); // one probe at a time
    expect(socket.sent.filter((frame) => frame.action === 'ping')).toHaveLength(1);
    socket.receive({ type: 'pong' });
    await new Promise((wait) => setTimeout(wait, 100));
    expect(ScriptedSocket.opened).toHaveLength(1);
    expect(record.states).toEqual(['connecting', 'open']);

    transport.checkLiveness();
    await vi.waitFor(() => expect(ScriptedSocket.opened).toHaveLength(2));
    expect(socket.readyState).toBe(3);
  });

  it('stays offline while the browser says so, even when the socket drops and a reconnect is under way', async () => {
    const { transport, record, socket } = await live();
    transport.networkLost();
    socket.close(1006);
    expect(transport.state).toBe('offline');
    expect(record.states).toEqual(['connecting', 'open', 'offline']);
    transport.networkBack(); // no socket: connect now rather than after the backoff
    await vi.waitFor(() => expect(ScriptedSocket.opened).toHaveLength(2));
    await vi.waitFor(() => expect(transport.state).toBe('open'));
    expect(record.states).toEqual(['connecting', 'open', 'offline', 'connecting', 'open']);
  });
});
