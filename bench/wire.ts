/**
 * What the benchmarks need to talk to the local runtime as a client does (dev tokens, tickets,
 * sockets that record frames) and the floor they are compared with: a bare `ws` echo server on
 * loopback.
 */
import { performance } from 'node:perf_hooks';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import WebSocket, { WebSocketServer } from 'ws';

export async function devToken(httpUrl: string, tenant: string, user: string, roles: string[] = []): Promise<string> {
  const response = await fetch(`${httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ tenant, user, roles }) });
  if (response.status !== 200) throw new Error(`dev token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** A fresh single-use ticket's socket URL. */
export async function ticketUrl(httpUrl: string, token: string): Promise<string> {
  const response = await fetch(`${httpUrl}/realtime/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`ticket: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { url: string }).url;
}

export function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

export interface EchoServer {
  readonly url: string;
  close(): void;
}

/** The floor: a `ws` server on 127.0.0.1 that sends every message straight back. */
export async function startEcho(): Promise<EchoServer> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  server.on('connection', (socket) => socket.on('message', (data) => socket.send(data.toString())));
  await new Promise((ready) => server.once('listening', ready));
  return { url: `ws://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => server.close() };
}

/** Sequential `ping` round trips, so each sample is one frame's latency rather than a queue's. */
export async function roundTrips(socket: WebSocket, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const id = String(index);
    const started = performance.now();
    await new Promise<void>((done) => {
      const onMessage = (data: WebSocket.RawData) => {
        if (data.toString().includes(`"id":"${id}"`)) {
          socket.off('message', onMessage);
          done();
        }
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ action: 'ping', id }));
    });
    samples.push(performance.now() - started);
  }
  return samples;
}

export interface Frame {
  readonly type: string;
  readonly [field: string]: any;
}

/** Called with each frame's size in bytes as it is sent or received (the cost meter counts what API Gateway bills). */
export interface FrameTap {
  readonly sent?: (bytes: number) => void;
  readonly received?: (bytes: number) => void;
}

/** A socket that keeps every frame it receives, stamped on arrival, so a wait cannot miss one. */
export class FrameSocket {
  readonly frames: Array<{ frame: Frame; at: number }> = [];
  private wake: Array<() => void> = [];
  closed = false;

  private constructor(
    private readonly socket: WebSocket,
    private readonly tap: FrameTap,
  ) {
    socket.on('message', (data) => {
      this.tap.received?.(Buffer.byteLength(data.toString()));
      this.frames.push({ frame: JSON.parse(data.toString()) as Frame, at: performance.now() });
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static async open(url: string, tap: FrameTap = {}): Promise<FrameSocket> {
    return new FrameSocket(await open(url), tap);
  }

  send(frame: unknown): void {
    const text = JSON.stringify(frame);
    this.tap.sent?.(Buffer.byteLength(text));
    this.socket.send(text);
  }

  /** Frames of `type` received so far. */
  countOf(type: string): number {
    return this.frames.filter(({ frame }) => frame.type === type).length;
  }

  /** The first recorded frame that matches, with its arrival time; fails on close or after `timeoutMs`. */
  async waitFor(predicate: (frame: Frame) => boolean, timeoutMs = 20_000): Promise<{ frame: Frame; at: number }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find((entry) => predicate(entry.frame));
      if (found) return found;
      if (this.closed) throw new Error(`socket closed while waiting; last frames: ${JSON.stringify(this.frames.slice(-3).map((entry) => entry.frame))}`);
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new Error(`timed out waiting for a frame; last frames: ${JSON.stringify(this.frames.slice(-3).map((entry) => entry.frame))}`);
      await new Promise<void>((resume) => {
        const timer = setTimeout(resume, remaining);
        this.wake.push(() => (clearTimeout(timer), resume()));
      });
    }
  }

  /** Every notification received, whether in its own frame or in a batched replay's `notifications` frame. */
  notifications(): Frame[] {
    return this.frames.flatMap(({ frame }) => (frame.type === 'notification' ? [frame] : frame.type === 'notifications' ? (frame.items as Frame[]) : []));
  }

  /** Frames that carried notifications: what API Gateway bills as posts. */
  notificationPosts(): number {
    return this.frames.filter(({ frame }) => frame.type === 'notification' || frame.type === 'notifications').length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const closed = new Promise((done) => this.socket.once('close', done));
    this.socket.close(1000, 'done');
    await closed;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const resume of wake) resume();
  }
}

/** Counts every request `client` sends from now on; set `count` to 0 to start a new count. */
export function countRequests(client: DynamoDBClient): { count: number } {
  const counter = { count: 0 };
  client.middlewareStack.add(
    (next) => async (args) => {
      counter.count += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return counter;
}
