import { randomUUID } from 'node:crypto';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { deliver, MAX_NOTIFICATIONS_PER_USER, type DeliverDeps } from '#functions/notifications/deliver';
import { RESUME_MAX_BATCHED } from '#functions/notifications/inbox';
import type { DeliveryRequest } from '#functions/notifications/model';
import { MAX_FRAME_BYTES } from '#functions/protocol/frames';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { localDeliverDeps } from '../support/delivery';
import { api, devToken, documentClient, tableName, TestSocket, ticketFor, urls } from '../support/local';

/**
 * Batched replay (docs/protocol.md, "Batched replay"): a resume with `batch: true` gets its
 * notifications packed in `notifications` frames filled up to 32 KB; one without it still gets a
 * `notification` frame each. Every frame is checked against the protocol (protocol-guard).
 */

const opened: TestSocket[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((socket) => (socket.closed ? undefined : socket.close())));
});

const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
const gatewayClient = new ApiGatewayManagementApiClient({
  endpoint: urls().wsUrl.replace(/^ws/, 'http'),
  region: LOCAL_REGION,
  credentials: LOCAL_CREDENTIALS,
});
const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const deps: DeliverDeps = localDeliverDeps(client, gatewayClient);
const db = documentClient();
afterAll(() => {
  raw.destroy();
  gatewayClient.destroy();
  db.destroy();
});

const uniqueUser = () => `u-${randomUUID().slice(0, 8)}`;

async function connect(user: string): Promise<TestSocket> {
  const socket = await TestSocket.open((await ticketFor('acme', user)).url);
  opened.push(socket);
  return socket;
}

/** `count` notifications for `user`, committed directly (no socket is open, so none is pushed). */
async function backlog(user: string, count: number, fields: (seq: number) => Partial<DeliveryRequest> = () => ({})): Promise<void> {
  for (let first = 1; first <= count; first += MAX_NOTIFICATIONS_PER_USER) {
    const seqs = Array.from({ length: Math.min(MAX_NOTIFICATIONS_PER_USER, count - first + 1) }, (_, index) => first + index);
    await deliver(
      deps,
      seqs.map((seq) => ({ recipient: { tenant: 'acme', userId: user }, kind: 'bulk', title: `#${seq}`, priority: 'normal' as const, ...fields(seq) })),
    );
  }
}

const frameBytes = (frame: unknown) => Buffer.byteLength(JSON.stringify(frame));
const batchesOf = (socket: TestSocket) => socket.frames.filter((frame) => frame.type === 'notifications');
const seqsOf = (socket: TestSocket) =>
  socket.frames.flatMap((frame) => (frame.type === 'notifications' ? frame.items : frame.type === 'notification' ? [frame] : [])).map((item) => item.seq);
const oneToN = (count: number, after = 0) => Array.from({ length: count }, (_, index) => after + index + 1);

describe('batched replay', () => {
  it('packs a 1,000-notification catch-up into 32 KB frames, in order, each filled before the next begins', async () => {
    const user = uniqueUser();
    // Bodies of varying length, some multi-byte, so frames fill by bytes, not by count.
    await backlog(user, RESUME_MAX_BATCHED, (seq) => ({ body: `${'é'.repeat(seq % 7)}${'x'.repeat((seq * 37) % 600)}` }));
    const socket = await connect(user);
    socket.send({ action: 'resume', after: 0, batch: true, id: 'b1' });
    const replayed = await socket.waitFor((frame) => frame.id === 'b1', 15_000);

    expect(replayed).toEqual({ type: 'replayed', upTo: RESUME_MAX_BATCHED, more: false, gap: false, unread: RESUME_MAX_BATCHED, id: 'b1' });
    expect(socket.frames.filter((frame) => frame.type === 'notification')).toEqual([]);
    expect(seqsOf(socket)).toEqual(oneToN(RESUME_MAX_BATCHED));
    const batches = batchesOf(socket);
    for (const [index, batch] of batches.entries()) {
      expect(frameBytes(batch)).toBeLessThanOrEqual(MAX_FRAME_BYTES);
      // Full: the next frame's first notification would not have fitted after a comma.
      const next = batches[index + 1];
      if (next) expect(frameBytes(batch) + 1 + frameBytes(next.items[0])).toBeGreaterThan(MAX_FRAME_BYTES);
    }
    // At least 10x fewer posts than one per notification.
    expect(batches.length * 10).toBeLessThanOrEqual(RESUME_MAX_BATCHED);
    // Replays carry read state, as unbatched replays do.
    expect(batches[0].items[0]).toMatchObject({ seq: 1, title: '#1', read: false, kind: 'bulk', priority: 'normal' });
  });

  it('still replays one notification frame each, 200 per resume, to a client that does not opt in', async () => {
    const user = uniqueUser();
    await backlog(user, 250);
    const socket = await connect(user);
    socket.send({ action: 'resume', after: 0, id: 'old' });
    expect(await socket.waitFor((frame) => frame.id === 'old', 10_000)).toMatchObject({ upTo: 200, more: true });
    expect(batchesOf(socket)).toEqual([]);
    expect(socket.frames.filter((frame) => frame.type === 'notification').map((frame) => frame.seq)).toEqual(oneToN(200));
  });

  it('continues past RESUME_MAX_BATCHED with more: true, and the next resume picks up after upTo', async () => {
    const user = uniqueUser();
    await backlog(user, RESUME_MAX_BATCHED + 30);
    const socket = await connect(user);
    socket.send({ action: 'resume', after: 0, batch: true, id: 'p1' });
    expect(await socket.waitFor((frame) => frame.id === 'p1', 15_000)).toMatchObject({ upTo: RESUME_MAX_BATCHED, more: true, gap: false });
    socket.send({ action: 'resume', after: RESUME_MAX_BATCHED, batch: true, id: 'p2' });
    expect(await socket.waitFor((frame) => frame.id === 'p2', 15_000)).toMatchObject({ upTo: RESUME_MAX_BATCHED + 30, more: false, gap: false });
    expect(seqsOf(socket)).toEqual(oneToN(RESUME_MAX_BATCHED + 30));
  });

  it('says gap, and batches only the survivors, when the first notifications expired', async () => {
    const user = uniqueUser();
    await backlog(user, 4);
    for (const seq of [1, 2]) {
      await db.send(
        new UpdateCommand({
          TableName: tableName('notifications'),
          Key: { userKey: `acme#${user}`, seq },
          UpdateExpression: 'SET expiresAt = :past',
          ExpressionAttributeValues: { ':past': 1 },
        }),
      );
    }
    const socket = await connect(user);
    socket.send({ action: 'resume', after: 0, batch: true });
    expect(await socket.waitFor((frame) => frame.type === 'replayed')).toMatchObject({ upTo: 4, more: false, gap: true, unread: 2 });
    expect(batchesOf(socket).map((batch) => batch.items.map((item: { seq: number }) => item.seq))).toEqual([[3, 4]]);
  });

  it('sends no notifications frame when nothing was missed', async () => {
    const user = uniqueUser();
    await backlog(user, 2);
    const socket = await connect(user);
    socket.send({ action: 'resume', after: 2, batch: true, id: 'none' });
    expect(await socket.waitFor((frame) => frame.id === 'none')).toMatchObject({ upTo: 2, more: false, gap: false, unread: 2 });
    expect(batchesOf(socket)).toEqual([]);
  });

  it('answers a batch flag that is not a boolean with invalid_frame naming it, replaying nothing', async () => {
    const user = uniqueUser();
    await backlog(user, 1);
    const socket = await connect(user);
    socket.send({ action: 'resume', after: 0, batch: 'yes', id: 'bad' });
    const error = await socket.waitFor((frame) => frame.type === 'error');
    expect(error).toMatchObject({ code: 'invalid_frame', id: 'bad' });
    expect(error.message).toContain('batch');
    expect(seqsOf(socket)).toEqual([]);
    expect(socket.closed).toBeUndefined();
    // The notification is still there for a correct resume.
    expect((await api('GET', '/notifications', await devToken('acme', user))).body.items.map((item: { seq: number }) => item.seq)).toEqual([1]);
  });
});
