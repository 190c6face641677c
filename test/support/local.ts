import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MessageRejected, SESClient, type SendEmailCommandInput } from '@aws-sdk/client-ses';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { inject } from 'vitest';
import { serverFrameSchema } from '#functions/protocol/frames';
import WebSocket from 'ws';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { localTableName } from '#lib/local/resources';
import type { TableName } from '#lib/description';

/** Helpers for tests that drive the local runtime over the wire, as a client would. */
export const urls = () => inject('localUrls');

export const tableName = (table: TableName) => localTableName(table);

export function documentClient(): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
}

export async function devToken(tenant: string, user: string, roles: string[] = [], expiresInSeconds?: number, email?: string): Promise<string> {
  const response = await fetch(`${urls().httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ tenant, user, roles, expiresInSeconds, email }) });
  if (response.status !== 200) throw new Error(`dev token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

export async function api(
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${urls().httpUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON; the raw text is the body.
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

export async function ticketFor(tenant: string, user: string, roles: string[] = []): Promise<{ ticket: string; url: string; expiresAt: string }> {
  const { status, body } = await api('POST', '/realtime/ticket', await devToken(tenant, user, roles));
  if (status !== 200) throw new Error(`ticket: ${status} ${JSON.stringify(body)}`);
  return body;
}

/** A client socket that records every frame it receives, so tests can await one by predicate. */
export class TestSocket {
  /** Frames this file received that the protocol definition (functions/protocol/frames.ts) refuses. */
  static readonly protocolViolations: string[] = [];
  readonly frames: any[] = [];
  private waiters: Array<() => void> = [];
  closed?: { code: number; reason: string };

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const text = data.toString();
      let frame: unknown = text;
      try {
        frame = JSON.parse(text);
      } catch {
        // Keep the raw text so a test can see what a non-JSON frame was.
      }
      // Herald's frames carry `type`; API Gateway's own answers (a 500's message) do not.
      if (typeof frame === 'object' && frame !== null && 'type' in frame) {
        const checked = serverFrameSchema.safeParse(frame);
        if (!checked.success) TestSocket.protocolViolations.push(`${text.slice(0, 200)}: ${checked.error.message.slice(0, 200)}`);
      }
      this.frames.push(frame);
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
  }

  /** Resolves with the open socket, or rejects with `refused <status>` when the upgrade is refused. */
  static open(url: string, headers: Record<string, string> = {}): Promise<TestSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers });
      const socket = new TestSocket(ws);
      ws.once('open', () => resolve(socket));
      ws.once('unexpected-response', (_request, response) => reject(new Error(`refused ${response.statusCode}`)));
      ws.once('error', reject);
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async waitFor(predicate: (frame: any) => boolean, timeoutMs = 5_000): Promise<any> {
    return this.until(() => this.frames.find(predicate), timeoutMs, 'frame');
  }

  async waitForClose(timeoutMs = 5_000): Promise<{ code: number; reason: string }> {
    return this.until(() => this.closed, timeoutMs, 'close');
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close(1000, 'done');
    return this.waitForClose();
  }

  private async until<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value !== undefined) return value;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for ${what}; frames so far: ${JSON.stringify(this.frames).slice(0, 500)}`);
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, remaining);
        this.waiters.push(() => (clearTimeout(timer), wake()));
      });
    }
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Polls a condition that becomes true asynchronously (e.g. a row removed by $disconnect). */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((wait) => setTimeout(wait, 50));
  }
}

export async function getItem(table: TableName, key: Record<string, unknown>) {
  const client = documentClient();
  try {
    return (await client.send(new GetCommand({ TableName: tableName(table), Key: key, ConsistentRead: true }))).Item;
  } finally {
    client.destroy();
  }
}

/** An email as aws-ses-v2-local keeps it (GET /store). */
export interface StoredEmail {
  from: string;
  destination: { to: string[]; cc?: string[]; bcc?: string[] };
  subject: string;
  body: { text?: string; html?: string };
  at: number;
}

export async function emailsTo(address: string): Promise<StoredEmail[]> {
  const response = await fetch(`${urls().mailUrl}/store`);
  const { emails } = (await response.json()) as { emails: StoredEmail[] };
  return emails.filter((email) => email.destination.to.includes(address));
}

/**
 * The real SES client with the SES sandbox's answer for `unverified` addresses: SendEmail refuses
 * any message to one of them with MessageRejected, naming them. `attempts` lists each send's recipients.
 */
export function sandboxedSes(unverified: string[]): { client: SESClient; attempts: string[][] } {
  const client = new SESClient({ endpoint: urls().mailUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const attempts: string[][] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const to = (args.input as SendEmailCommandInput).Destination?.ToAddresses ?? [];
      attempts.push(to);
      const refused = to.filter((address) => unverified.includes(address));
      if (refused.length > 0) {
        throw new MessageRejected({
          message: `Email address is not verified. The following identities failed the check in region ${LOCAL_REGION.toUpperCase()}: ${refused.join(', ')}`,
          $metadata: { httpStatusCode: 400 },
        });
      }
      return next(args);
    },
    { step: 'initialize', name: 'sesSandbox' },
  );
  return { client, attempts };
}
