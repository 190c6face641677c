/**
 * What the smoke test talks through: HTTP with a bearer token, a WebSocket that records its
 * frames, the local mailbox (aws-ses-v2-local's `GET /store`) and a small CSV reader. Nothing
 * here knows Herald's internals; it is a client of the public contract.
 */
import WebSocket from 'ws';
import { parse as parseCsvText } from 'csv-parse/sync';

/** A check that did not hold: what the contract says, and what came back. */
export class Mismatch extends Error {
  constructor(
    readonly expected: string,
    readonly seen: string,
  ) {
    super(`expected ${expected}, seen ${seen}`);
  }
}

/** The overall time limit ran out; whatever was waiting stops. */
export class OutOfTime extends Error {
  constructor(limitSeconds: number) {
    super(`the overall time limit of ${limitSeconds} s ran out`);
  }
}

/** Short, one-line text of any value, for "seen:" lines. */
export function brief(value: unknown, max = 300): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const line = (text ?? String(value)).replace(/\s+/g, ' ');
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: any;
  readonly headers: Headers;
  /** `METHOD /path -> status`, for messages. */
  readonly summary: string;
}

/** One HTTP API, called the way an app calls it. Each request gives up after `requestTimeoutMs`. */
export class HttpApi {
  constructor(
    readonly baseUrl: string,
    private readonly signal: AbortSignal,
    private readonly requestTimeoutMs = 15_000,
  ) {}

  async call(method: string, path: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const url = path.startsWith('http') ? path : `${this.baseUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        redirect: 'manual',
        signal: AbortSignal.any([this.signal, AbortSignal.timeout(this.requestTimeoutMs)]),
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      if (this.signal.aborted) throw this.signal.reason;
      throw new Mismatch(`an answer to ${method} ${path}`, `no answer: ${describeFetchError(error)}`);
    }
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      // Not JSON: the text is the body.
    }
    return { status: response.status, body: parsed, headers: response.headers, summary: `${method} ${path.replace(/\?.*$/, '')}` };
  }

  /** Calls and insists on one status; anything else is a Mismatch showing the answer. */
  async expect(status: number, method: string, path: string, token: string | undefined, body?: unknown, headers?: Record<string, string>): Promise<HttpAnswer> {
    const answer = await this.call(method, path, token, body, headers);
    if (answer.status !== status)
      throw new Mismatch(`${method} ${path.replace(/\?.*$/, '')} to answer ${status}`, `${answer.status} ${brief(answer.body)}${hintFor(answer)}`);
    return answer;
  }
}

/** A 500 that reads like IAM saying no is worth naming: it is a finding, not noise. */
function hintFor(answer: { status: number; body: unknown }): string {
  const text = brief(answer.body, 2_000);
  if (answer.status >= 500 && /AccessDenied|not authorized to perform/i.test(text))
    return ' (looks like a missing IAM permission of the function behind this route)';
  if (answer.status === 401) return ' (the token was refused: expired, or not of the issuer and audience the stack trusts)';
  return '';
}

export function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return error instanceof Error ? error.message : String(error);
}

/** A client socket that keeps every frame it receives, so a step can wait for one by predicate. */
export class FrameSocket {
  readonly frames: any[] = [];
  closed?: { code: number; reason: string };
  private waiters: Array<() => void> = [];

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      let frame: unknown = text;
      try {
        frame = JSON.parse(text);
      } catch {
        // A raw text frame is kept as it came.
      }
      this.frames.push(frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  /** Opens `url`; an upgrade the gateway refuses is a Mismatch naming its status. */
  static open(url: string, signal: AbortSignal, timeoutMs = 15_000): Promise<FrameSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
      const socket = new FrameSocket(ws);
      const onAbort = () => {
        ws.terminate();
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const settle = (fn: () => void) => {
        signal.removeEventListener('abort', onAbort);
        fn();
      };
      ws.once('open', () => settle(() => resolve(socket)));
      ws.once('unexpected-response', (_request, response) => {
        ws.terminate();
        settle(() => reject(new Mismatch('the WebSocket upgrade to be accepted (101)', `refused with ${response.statusCode}`)));
      });
      ws.once('error', (error) => settle(() => reject(new Mismatch('the WebSocket to open', describeFetchError(error)))));
    });
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Waits for the first frame that matches; on timeout a Mismatch lists the frames seen. */
  async waitFor(predicate: (frame: any) => boolean, what: string, timeoutMs: number, signal: AbortSignal): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(predicate);
      if (found !== undefined) return found;
      if (signal.aborted) throw signal.reason;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || this.closed) {
        const why = this.closed
          ? `the socket closed (${this.closed.code} ${this.closed.reason})`
          : `nothing matching within ${(timeoutMs / 1000).toFixed(0)} s`;
        throw new Mismatch(what, `${why}; ${this.frames.length} frame(s): ${brief(this.frames.slice(-5), 400)}`);
      }
      await new Promise<void>((wake) => {
        const timer = setTimeout(done, remaining);
        const onAbort = () => done();
        signal.addEventListener('abort', onAbort, { once: true });
        function done() {
          clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          wake();
        }
        this.waiters.push(done);
      });
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.ws.terminate();
        resolve();
      }, 3_000);
      this.ws.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.close(1000, 'smoke done');
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Polls until `check` gives a value; on timeout a Mismatch carries the last thing seen. */
export async function eventually<T>(
  check: () => Promise<{ value?: T; seen: string }>,
  what: string,
  timeoutMs: number,
  signal: AbortSignal,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { value, seen } = await check();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Mismatch(what, `after ${(timeoutMs / 1000).toFixed(0)} s: ${seen}`);
    await sleep(intervalMs, signal);
  }
}

/** An email as aws-ses-v2-local keeps it (`GET /store`). */
export interface StoredEmail {
  readonly from: string;
  readonly destination: { to: string[]; cc?: string[]; bcc?: string[] };
  readonly subject: string;
  readonly body: { text?: string; html?: string };
  readonly at: number;
}

/** A mailbox the smoke test can read: locally the SES emulator's store. Deployed there is none. */
export interface Mailbox {
  emailsTo(address: string, signal: AbortSignal): Promise<StoredEmail[]>;
}

export function sesLocalMailbox(mailUrl: string): Mailbox {
  return {
    async emailsTo(address, signal) {
      let response: Response;
      try {
        response = await fetch(`${mailUrl}/store`, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        throw new Mismatch(`the mailbox at ${mailUrl}/store to answer`, describeFetchError(error));
      }
      if (response.status !== 200) throw new Mismatch(`GET ${mailUrl}/store to answer 200`, `${response.status}`);
      const { emails } = (await response.json()) as { emails: StoredEmail[] };
      const wanted = address.toLowerCase();
      return emails.filter((email) => email.destination.to.some((to) => to.toLowerCase() === wanted));
    },
  };
}

/** CSV read back by csv-parse, an independent reader (RFC 4180; a leading BOM dropped). */
export function parseCsv(text: string): string[][] {
  return parseCsvText(text, { bom: true, relax_column_count: true });
}
