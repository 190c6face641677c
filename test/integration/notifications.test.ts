import { randomUUID } from 'node:crypto';
import { ApiGatewayManagementApiClient, LimitExceededException } from '@aws-sdk/client-apigatewaymanagementapi';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connectionsApiGateway } from '#functions/adapters/connections-api';
import { dynamoConnectionStore } from '#functions/adapters/dynamo-connection-store';
import { dynamoDeliveryReads } from '#functions/adapters/dynamo-delivery-reads';
import { dynamoNotificationStore } from '#functions/adapters/dynamo-notification-store';
import { deliver, type DeliverDeps } from '#functions/notifications/deliver';
import { readPage, RESUME_MAX_NOTIFICATIONS } from '#functions/notifications/inbox';
import type { DeliveryRequest } from '#functions/notifications/model';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { api, devToken, documentClient, eventually, getItem, tableName, TestSocket, ticketFor, urls } from '../support/local';

const deliveryTables = {
  notifications: tableName('notifications'),
  dedupe: tableName('dedupe'),
  preferences: tableName('preferences'),
  userConnections: tableName('userConnections'),
};

const opened: TestSocket[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((socket) => (socket.closed ? undefined : socket.close())));
});
const db = documentClient();
afterAll(() => db.destroy());

const uniqueUser = () => `u-${randomUUID().slice(0, 8)}`;
const uniqueTenant = () => `t-${randomUUID().slice(0, 8)}`;

async function connect(tenant: string, user: string): Promise<TestSocket> {
  const socket = await TestSocket.open((await ticketFor(tenant, user)).url);
  opened.push(socket);
  return socket;
}

async function publish(tenant: string, userId: string, fields: Record<string, unknown> = {}) {
  const token = await devToken(tenant, 'publisher-bot', ['publisher']);
  return api('POST', '/notifications', token, { userId, kind: 'note', title: 'Hello', ...fields });
}

const notificationsOf = (socket: TestSocket) => socket.frames.filter((frame) => frame.type === 'notification');

/** Faults no emulator produces, injected by SDK middleware on the real clients: the nth call of a command throws. */
interface Faults {
  dynamodb?: (command: string, call: number) => Error | undefined;
  connections?: (command: string, call: number) => Error | undefined;
}

function injectFaults(client: { middlewareStack: { add: (...args: any[]) => void } }, fault: Faults['dynamodb'], requests: Map<string, number>): void {
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName: string }) => (args: unknown) => {
      const call = (requests.get(context.commandName) ?? 0) + 1;
      requests.set(context.commandName, call);
      const error = fault?.(context.commandName, call);
      if (error) throw error;
      return next(args);
    },
    { step: 'initialize', name: 'injectFaults' },
  );
}

/** deliver() with real stores on the local emulators, and a request counter on its DynamoDB client. */
function directDeliverDeps(faults: Faults = {}): DeliverDeps & { requests: Map<string, number>; pushes: Map<string, number>; dynamodb: DynamoDBClient } {
  const requests = new Map<string, number>();
  const pushes = new Map<string, number>();
  const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  injectFaults(raw, faults.dynamodb, requests);
  const connectionsApi = new ApiGatewayManagementApiClient({
    endpoint: urls().wsUrl.replace(/^ws/, 'http'),
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  injectFaults(connectionsApi, faults.connections, pushes);
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const connections = dynamoConnectionStore(client, { connections: tableName('connections'), userConnections: tableName('userConnections') });
  return {
    requests,
    pushes,
    dynamodb: raw,
    notifications: dynamoNotificationStore(client, { notifications: tableName('notifications'), dedupe: tableName('dedupe') }),
    reads: dynamoDeliveryReads(client, deliveryTables),
    connections,
    gateway: connectionsApiGateway(connectionsApi),
    retentionDays: 30,
    sleep: async () => undefined,
  };
}

describe('deliver: persist, then push', () => {
  it('stores each notification with the next seq and pushes it to every socket of the user', async () => {
    const user = uniqueUser();
    const [phone, laptop] = [await connect('acme', user), await connect('acme', user)];
    for (const title of ['one', 'two', 'three']) expect((await publish('acme', user, { title })).status).toBe(202);
    for (const socket of [phone, laptop]) {
      await eventually(async () => (notificationsOf(socket).length === 3 ? true : undefined));
      expect(notificationsOf(socket).map((frame) => [frame.seq, frame.title])).toEqual([
        [1, 'one'],
        [2, 'two'],
        [3, 'three'],
      ]);
    }
    const { body } = await api('GET', '/notifications', await devToken('acme', user));
    expect(body).toMatchObject({ nextAfter: 3, more: false, gap: false, unread: 3 });
    expect(body.items.map((item: { seq: number; read: boolean }) => [item.seq, item.read])).toEqual([
      [1, false],
      [2, false],
      [3, false],
    ]);
  });

  it('gives concurrent publishers to one user gap-free seqs, each once', async () => {
    const user = uniqueUser();
    const responses = await Promise.all(Array.from({ length: 25 }, (_, index) => publish('acme', user, { title: `n${index}` })));
    expect(responses.map((response) => response.status)).toEqual(responses.map(() => 202));
    expect(responses.map((response) => response.body.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 25 }, (_, index) => index + 1));
    const { body } = await api('GET', '/notifications?limit=100', await devToken('acme', user));
    expect(body.items.map((item: { seq: number }) => item.seq)).toEqual(Array.from({ length: 25 }, (_, index) => index + 1));
    expect(new Set(body.items.map((item: { title: string }) => item.title)).size).toBe(25);
  });

  it('returns the first result for a repeated dedupe key and writes nothing', async () => {
    const user = uniqueUser();
    const first = await publish('acme', user, { dedupeKey: 'alert-7-v1' });
    const second = await publish('acme', user, { dedupeKey: 'alert-7-v1', title: 'changed' });
    expect(first.body).toMatchObject({ status: 'delivered', seq: 1 });
    expect(second.body).toEqual({ status: 'duplicate', id: first.body.id, seq: 1, email: false });
    const { body } = await api('GET', '/notifications', await devToken('acme', user));
    expect(body.items).toHaveLength(1);
    expect(body.items[0].title).toBe('Hello');
  });

  it('neither stores nor pushes a kind the user turned off, and honours the rest', async () => {
    const user = uniqueUser();
    const token = await devToken('acme', user);
    const put = await api('PUT', '/me/preferences', token, { kinds: { chat: { inApp: false } } });
    expect(put.status).toBe(200);
    expect((await api('GET', '/me/preferences', token)).body).toEqual({ kinds: { chat: { inApp: false } }, muted: false });
    const socket = await connect('acme', user);
    expect((await publish('acme', user, { kind: 'chat' })).body).toEqual({ status: 'suppressed', email: false });
    expect((await publish('acme', user, { kind: 'note', title: 'kept' })).body).toMatchObject({ status: 'delivered', seq: 1 });
    await socket.waitFor((frame) => frame.type === 'notification');
    expect(notificationsOf(socket).map((frame) => frame.title)).toEqual(['kept']);
    expect((await api('GET', '/notifications', token)).body.items.map((item: { kind: string }) => item.kind)).toEqual(['note']);
  });

  it('lets critical notifications through a mute, and nothing else', async () => {
    const user = uniqueUser();
    await api('PUT', '/me/preferences', await devToken('acme', user), { muted: true });
    expect((await publish('acme', user, { priority: 'normal' })).body.status).toBe('suppressed');
    expect((await publish('acme', user, { priority: 'critical' })).body).toMatchObject({ status: 'delivered', seq: 1 });
  });

  it('fans out to many users with batched reads, and per recipient only its own writes', async () => {
    const deps = directDeliverDeps();
    const tenant = uniqueTenant();
    const users = Array.from({ length: 150 }, (_, index) => `member-${index}`);
    const socket = await connect(tenant, users[42]!);
    const requests: DeliveryRequest[] = users.map((userId) => ({
      recipient: { tenant, userId },
      kind: 'alert',
      title: 'Site closed',
      priority: 'high',
      dedupeKey: 'alert-1-v1',
    }));
    const outcomes = await deliver(deps, requests);
    expect(outcomes.every((outcome) => outcome.status === 'delivered' && outcome.seq === 1)).toBe(true);
    await socket.waitFor((frame) => frame.type === 'notification' && frame.title === 'Site closed');
    // 150 users: one round of 6 multi-table calls for 600 keys (preferences, dedupe claims,
    // counter hints and connection sets) and 2 calls re-reading the connection sets after the
    // writes. Per recipient only its writes: the claim and the item (PutItem), the hint (UpdateItem).
    expect(Object.fromEntries(deps.requests)).toEqual({ BatchGetItemCommand: 8, PutItemCommand: 300, UpdateItemCommand: 150 });

    deps.requests.clear();
    const again = await deliver(deps, requests);
    expect(again.every((outcome) => outcome.status === 'duplicate' && outcome.seq === 1)).toBe(true);
    // A repeat writes nothing: each claim's first result is found by its id (byId).
    expect(Object.fromEntries(deps.requests)).toEqual({ BatchGetItemCommand: 6, QueryCommand: 150 });
  });
});

describe('deliver: one round of reads, pushes as each user is written', () => {
  it('reads preferences, dedupe records, counters and sockets together, retrying every key DynamoDB leaves unprocessed', async () => {
    const deps = directDeliverDeps();
    const tenant = uniqueTenant();
    const [ana, bob, cy] = ['ana', 'bob', 'cy'];
    // Each part of the read matters: ana's counter is at 1, bob turned notes off, cy's dedupe key is taken.
    expect((await deliver(deps, [{ recipient: { tenant, userId: ana }, kind: 'note', title: 'earlier', priority: 'normal' }]))[0]).toMatchObject({ seq: 1 });
    expect((await api('PUT', '/me/preferences', await devToken(tenant, bob), { kinds: { note: { inApp: false } } })).status).toBe(200);
    const taken = await deliver(deps, [{ recipient: { tenant, userId: cy }, kind: 'note', title: 'first', priority: 'normal', dedupeKey: 'k' }]);
    const socket = await connect(tenant, ana);

    // The first BatchGetItem answers one key and leaves every other key unprocessed, as DynamoDB may under load.
    let held = 0;
    deps.dynamodb.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
        if (context.commandName !== 'BatchGetItemCommand' || held++ > 0) return next(args);
        const tables = Object.entries(args.input.RequestItems as Record<string, { Keys: unknown[] }>);
        const [[firstTable, firstRequest]] = tables as [[string, { Keys: unknown[] }]];
        const unprocessed = Object.fromEntries(
          tables
            .map(([table, request]) => [table, { ...request, Keys: table === firstTable ? request.Keys.slice(1) : request.Keys }] as const)
            .filter(([, request]) => request.Keys.length > 0),
        );
        const result = await next({ ...args, input: { RequestItems: { [firstTable]: { ...firstRequest, Keys: firstRequest.Keys.slice(0, 1) } } } });
        result.output.UnprocessedKeys = unprocessed;
        return result;
      },
      { step: 'initialize', name: 'leaveKeysUnprocessed' },
    );
    deps.requests.clear();
    const outcomes = await deliver(
      deps,
      [ana, bob, cy].map((userId) => ({ recipient: { tenant, userId }, kind: 'note', title: 'now', priority: 'normal' as const, dedupeKey: 'k' })),
    );
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['delivered', 'suppressed', 'duplicate']);
    expect(outcomes[0]).toMatchObject({ seq: 2 });
    expect(outcomes[2]).toEqual({ ...taken[0], status: 'duplicate' });
    // ana's claim and item, her hint; cy's first result looked up by id. ana's counter was read:
    // one taken as 0 would have failed the put at seq 1 and queried her newest item.
    expect(deps.requests.get('PutItemCommand')).toBe(2);
    expect(deps.requests.get('UpdateItemCommand')).toBe(1);
    expect(deps.requests.get('QueryCommand')).toBe(1);
    // The read took two calls (the answer, then the retry), plus the socket sets re-read after the commit.
    expect(deps.requests.get('BatchGetItemCommand')).toBe(3);
    // And ana's socket, known from the retried keys, heard of it.
    await socket.waitFor((frame) => frame.type === 'notification' && frame.seq === 2);
  });

  it('pushes each user’s notifications as soon as they are stored, while later users are still pending', async () => {
    const deps = directDeliverDeps();
    const tenant = uniqueTenant();
    const users = Array.from({ length: 150 }, (_, index) => `member-${index}`);
    const [early, late] = [await connect(tenant, 'member-0'), await connect(tenant, 'member-149')];
    // Every user's item but the first user's is slow to store.
    deps.dynamodb.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
        if (
          context.commandName === 'PutItemCommand' &&
          args.input.TableName === deliveryTables.notifications &&
          !JSON.stringify(args.input).includes(`"${tenant}#member-0"`)
        ) {
          await new Promise((resolve) => setTimeout(resolve, 400));
        }
        return next(args);
      },
      { step: 'initialize', name: 'slowTransactions' },
    );
    let finished = false;
    const delivering = deliver(
      deps,
      users.map((userId) => ({ recipient: { tenant, userId }, kind: 'alert', title: 'Site closed', priority: 'high' as const, dedupeKey: 'closed' })),
    ).then((outcomes) => {
      finished = true;
      return outcomes;
    });
    const frame = await early.waitFor((received) => received.type === 'notification' && received.title === 'Site closed');
    expect(finished).toBe(false);
    expect(notificationsOf(late)).toHaveLength(0);
    // Persist, then push: the frame's notification is already stored.
    expect(await getItem('notifications', { userKey: `${tenant}#member-0`, seq: frame.seq })).toMatchObject({ id: frame.id });

    const outcomes = await delivering;
    expect(outcomes.every((outcome) => outcome.status === 'delivered' && outcome.seq === 1)).toBe(true);
    await late.waitFor((received) => received.type === 'notification' && received.title === 'Site closed');
  });

  it('pushes to a socket that connects between the read and the commit', async () => {
    const deps = directDeliverDeps();
    const tenant = uniqueTenant();
    let joined: TestSocket | undefined;
    // The socket connects while the item is on its way: after deliver() read the socket sets.
    deps.dynamodb.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
        if (context.commandName === 'PutItemCommand' && joined === undefined) joined = await connect(tenant, 'ana');
        return next(args);
      },
      { step: 'initialize', name: 'connectMidway' },
    );
    const [outcome] = await deliver(deps, [{ recipient: { tenant, userId: 'ana' }, kind: 'note', title: 'midway', priority: 'normal' }]);
    expect(outcome).toMatchObject({ status: 'delivered', seq: 1 });
    await joined!.waitFor((frame) => frame.type === 'notification' && frame.title === 'midway');
  });
});

describe('deliver under faults', () => {
  const request = (userId: string, title: string): DeliveryRequest => ({ recipient: { tenant: 'acme', userId }, kind: 'note', title, priority: 'normal' });
  const throttled = () => new LimitExceededException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 429 } });

  it('retries a throttled push and the frame still arrives', async () => {
    const user = uniqueUser();
    const socket = await connect('acme', user);
    const deps = directDeliverDeps({ connections: (command, call) => (command === 'PostToConnectionCommand' && call <= 2 ? throttled() : undefined) });
    await deliver(deps, [request(user, 'after two 429s')]);
    expect(await socket.waitFor((frame) => frame.type === 'notification')).toMatchObject({ seq: 1, title: 'after two 429s' });
    expect(deps.pushes.get('PostToConnectionCommand')).toBe(3);
  });

  it('loses nothing when every push fails: the notification is stored and resume replays it', async () => {
    const user = uniqueUser();
    const socket = await connect('acme', user);
    const deps = directDeliverDeps({
      connections: (command) =>
        command === 'PostToConnectionCommand' ? Object.assign(new Error('Internal server error'), { $metadata: { httpStatusCode: 500 } }) : undefined,
    });
    expect(await deliver(deps, [request(user, 'unpushed')])).toMatchObject([{ status: 'delivered', seq: 1 }]);
    expect(notificationsOf(socket)).toEqual([]);
    socket.send({ action: 'resume', after: 0 });
    await socket.waitFor((frame) => frame.type === 'replayed');
    expect(notificationsOf(socket).map((frame) => frame.title)).toEqual(['unpushed']);
  });

  it('moves past a seq another publisher took between the read and the put, without a duplicate or a gap', async () => {
    const user = uniqueUser();
    const other = directDeliverDeps();
    let raced = false;
    // Another publisher stores seq 1 after this deliver() read the hint (0), before its put.
    const deps = directDeliverDeps();
    deps.dynamodb.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
        if (context.commandName === 'PutItemCommand' && !raced) {
          raced = true;
          expect(await deliver(other, [request(user, 'other')])).toMatchObject([{ status: 'delivered', seq: 1 }]);
        }
        return next(args);
      },
      { step: 'initialize', name: 'raceBeforePut' },
    );
    expect(await deliver(deps, [request(user, 'first'), request(user, 'second')])).toMatchObject([
      { status: 'delivered', seq: 2 },
      { status: 'delivered', seq: 3 },
    ]);
    // The put at 1 failed, the newest item was found (one Query), then 2 and 3 were put.
    expect(deps.requests.get('PutItemCommand')).toBe(3);
    expect(deps.requests.get('QueryCommand')).toBe(1);
    expect((await getItem('notifications', { userKey: `acme#${user}`, seq: 0 }))?.lastSeq).toBe(3);
    const { body } = await api('GET', '/notifications', await devToken('acme', user));
    expect(body.items.map((item: { seq: number; title: string }) => [item.seq, item.title])).toEqual([
      [1, 'other'],
      [2, 'first'],
      [3, 'second'],
    ]);
  });

  it('gives up with a retryable error when every seq it tries is taken, having written nothing', async () => {
    const user = uniqueUser();
    const taken = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });
    const deps = directDeliverDeps({ dynamodb: (command) => (command === 'PutItemCommand' ? taken() : undefined) });
    await expect(deliver(deps, [request(user, 'never')])).rejects.toMatchObject({ status: 503, code: 'contention' });
    expect(deps.requests.get('PutItemCommand')).toBe(12);
    expect(deps.requests.get('UpdateItemCommand')).toBeUndefined();
    expect((await api('GET', '/notifications', await devToken('acme', user))).body.items).toEqual([]);
  });
});

describe('resume', () => {
  it('replays exactly what a dropped socket missed, then says replayed', async () => {
    const user = uniqueUser();
    const first = await connect('acme', user);
    for (const title of ['a', 'b']) await publish('acme', user, { title });
    await eventually(async () => (notificationsOf(first).length === 2 ? true : undefined));
    await first.close();
    for (const title of ['c', 'd', 'e']) await publish('acme', user, { title });

    const second = await connect('acme', user);
    second.send({ action: 'resume', after: 2, id: 'r1' });
    const replayed = await second.waitFor((frame) => frame.type === 'replayed');
    expect(replayed).toEqual({ type: 'replayed', upTo: 5, more: false, gap: false, unread: 5, id: 'r1' });
    expect(notificationsOf(second).map((frame) => [frame.seq, frame.title])).toEqual([
      [3, 'c'],
      [4, 'd'],
      [5, 'e'],
    ]);
  });

  it('pages a long backlog and says more until the client has caught up', { timeout: 60_000 }, async () => {
    const deps = directDeliverDeps();
    const user = uniqueUser();
    for (let batch = 0; batch < 11; batch++) {
      await deliver(
        deps,
        Array.from({ length: 49 }, (_, index) => ({
          recipient: { tenant: 'acme', userId: user },
          kind: 'bulk',
          title: `${batch}-${index}`,
          priority: 'normal' as const,
        })),
      );
    }
    const socket = await connect('acme', user);
    const replays: Array<{ upTo: number; more: boolean }> = [];
    for (let after = 0, more = true; more; ) {
      socket.send({ action: 'resume', after, id: `page-${after}` });
      // 200 posts one after another: seconds on a loaded machine.
      const replayed = await socket.waitFor((frame) => frame.id === `page-${after}`, 20_000);
      replays.push({ upTo: replayed.upTo, more: replayed.more });
      ({ upTo: after, more } = replayed);
    }
    expect(replays).toEqual([
      { upTo: RESUME_MAX_NOTIFICATIONS, more: true },
      { upTo: 2 * RESUME_MAX_NOTIFICATIONS, more: true },
      { upTo: 539, more: false },
    ]);
    expect(notificationsOf(socket).map((frame) => frame.seq)).toEqual(Array.from({ length: 539 }, (_, index) => index + 1));
  });

  it('says gap when notifications after the client’s seq have expired past retention', async () => {
    const user = uniqueUser();
    for (let index = 0; index < 3; index++) await publish('acme', user);
    // Retention is 30 days; age the first two instead of waiting (TTL deletes late, reads must not).
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
    const socket = await connect('acme', user);
    socket.send({ action: 'resume', after: 0 });
    expect(await socket.waitFor((frame) => frame.type === 'replayed')).toMatchObject({ upTo: 3, more: false, gap: true, unread: 1 });
    expect(notificationsOf(socket).map((frame) => frame.seq)).toEqual([3]);
    const polled = await api('GET', '/notifications?after=0', await devToken('acme', user));
    expect(polled.body).toMatchObject({ gap: true, nextAfter: 3, unread: 1 });
  });

  it('says gap, and where to continue, when the client claims seqs the server never issued', async () => {
    const user = uniqueUser();
    for (let index = 0; index < 3; index++) await publish('acme', user);
    const socket = await connect('acme', user);
    socket.send({ action: 'resume', after: 99 });
    expect(await socket.waitFor((frame) => frame.type === 'replayed')).toMatchObject({ upTo: 3, more: false, gap: true });
    expect(notificationsOf(socket)).toEqual([]);
  });

  it('never reports a gap for a notification committed between a page’s two reads', async () => {
    const recipient = { tenant: 'acme', userId: uniqueUser() };
    const publisher = directDeliverDeps();
    await deliver(publisher, [{ recipient, kind: 'note', title: 'first', priority: 'normal' }]);
    // A page reads the counter and the items in two requests, in some order; a publisher commits
    // between them. Whatever the order, the page must not claim the new seq is missing.
    const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    let reads = 0;
    raw.middlewareStack.add(
      (next) => async (args) => {
        if (++reads === 2) await deliver(publisher, [{ recipient, kind: 'note', title: 'racing', priority: 'normal' }]);
        return next(args);
      },
      { step: 'initialize', name: 'commitBetweenReads' },
    );
    const store = dynamoNotificationStore(DynamoDBDocumentClient.from(raw), { notifications: tableName('notifications') });
    const page = await readPage(store, recipient, 1, 100, new Date());
    // The counter, the items, and, because the items outran the counter read, the newest item and
    // the hint's repair (a no-op here: the publisher raised it).
    expect(reads).toBe(4);
    expect(page).toMatchObject({ gap: false, more: false, nextAfter: 2 });
    raw.destroy();
  });

  it('answers a malformed resume with an error frame naming the field', async () => {
    const socket = await connect('acme', uniqueUser());
    socket.send({ action: 'resume', after: 'yesterday', id: 'bad' });
    const error = await socket.waitFor((frame) => frame.type === 'error');
    expect(error).toMatchObject({ code: 'invalid_frame', id: 'bad' });
    expect(error.message).toContain('after');
    expect(socket.closed).toBeUndefined();
  });
});

describe('ack and read state', () => {
  it('records the acknowledged watermark and refuses one beyond the last seq', async () => {
    const user = uniqueUser();
    for (let index = 0; index < 3; index++) await publish('acme', user);
    const socket = await connect('acme', user);
    socket.send({ action: 'ack', upTo: 2 });
    await eventually(async () => ((await getItem('notifications', { userKey: `acme#${user}`, seq: 0 }))?.ackedUpTo === 2 ? true : undefined));
    socket.send({ action: 'ack', upTo: 9, id: 'too-far' });
    expect(await socket.waitFor((frame) => frame.id === 'too-far')).toMatchObject({ type: 'error', code: 'invalid_frame' });
    socket.send({ action: 'ack', upTo: 1 });
    socket.send({ action: 'ping', id: 'after-stale-ack' });
    await socket.waitFor((frame) => frame.id === 'after-stale-ack');
    expect((await getItem('notifications', { userKey: `acme#${user}`, seq: 0 }))?.ackedUpTo).toBe(2);
  });

  it('records the watermark a keep-alive ping carries (ack), still answering pong, and refuses one beyond the last seq', async () => {
    const user = uniqueUser();
    for (let index = 0; index < 3; index++) await publish('acme', user);
    const socket = await connect('acme', user);
    const counter = async () => (await getItem('notifications', { userKey: `acme#${user}`, seq: 0 }))?.ackedUpTo;
    socket.send({ action: 'ping', ack: 2, id: 'p1' });
    expect(await socket.waitFor((frame) => frame.id === 'p1')).toEqual({ type: 'pong', id: 'p1' });
    expect(await counter()).toBe(2);
    socket.send({ action: 'ping', ack: 1, id: 'p2' });
    expect(await socket.waitFor((frame) => frame.id === 'p2')).toEqual({ type: 'pong', id: 'p2' });
    socket.send({ action: 'ping', ack: 9, id: 'p3' });
    const beyond = await socket.waitFor((frame) => frame.id === 'p3');
    expect(beyond).toMatchObject({ type: 'error', code: 'invalid_frame' });
    expect(beyond.message).toContain('ack: 9');
    socket.send({ action: 'ping', ack: 'all', id: 'p4' });
    const malformed = await socket.waitFor((frame) => frame.id === 'p4');
    expect(malformed).toMatchObject({ type: 'error', code: 'invalid_frame' });
    expect(malformed.message).toContain('ack');
    expect(await counter()).toBe(2);
    expect(socket.closed).toBeUndefined();
  });

  it("records a resume's after as the watermark, beside the replay, and ignores one beyond the last seq", async () => {
    const user = uniqueUser();
    for (let index = 0; index < 4; index++) await publish('acme', user);
    const socket = await connect('acme', user);
    const counter = async () => (await getItem('notifications', { userKey: `acme#${user}`, seq: 0 }))?.ackedUpTo;
    socket.send({ action: 'resume', after: 0, id: 'r0' });
    await socket.waitFor((frame) => frame.type === 'replayed' && frame.id === 'r0');
    expect(await counter()).toBeUndefined();
    socket.send({ action: 'resume', after: 3, id: 'r3' });
    expect(await socket.waitFor((frame) => frame.type === 'replayed' && frame.id === 'r3')).toMatchObject({ upTo: 4, more: false, gap: false });
    expect(await counter()).toBe(3);
    socket.send({ action: 'resume', after: 7, id: 'r7' });
    expect(await socket.waitFor((frame) => frame.type === 'replayed' && frame.id === 'r7')).toMatchObject({ upTo: 4, gap: true });
    expect(await counter()).toBe(3);
  });

  it('keeps the unread count exact through reads by watermark and by id', async () => {
    const user = uniqueUser();
    const token = await devToken('acme', user);
    const published = [];
    for (let index = 0; index < 4; index++) published.push((await publish('acme', user)).body);
    expect((await api('POST', '/notifications/read', token, { upTo: 2 })).body).toEqual({ unread: 2 });
    expect((await api('POST', '/notifications/read', token, { upTo: 2 })).body).toEqual({ unread: 2 });
    expect((await api('POST', '/notifications/read', token, { ids: [published[3].id] })).body).toEqual({ unread: 1 });
    const { body } = await api('GET', '/notifications', token);
    expect(body.items.map((item: { read: boolean }) => item.read)).toEqual([true, true, false, true]);
    expect(body.unread).toBe(1);
  });

  it('answers 404 for an unknown id or another user’s, and marks nothing', async () => {
    const [owner, other] = [uniqueUser(), uniqueUser()];
    const mine = (await publish('acme', owner)).body;
    const theirs = (await publish('acme', other)).body;
    const token = await devToken('acme', owner);
    const response = await api('POST', '/notifications/read', token, { ids: [mine.id, theirs.id] });
    expect(response.status).toBe(404);
    expect(response.body.error.message).toContain(theirs.id);
    expect((await api('GET', '/notifications', token)).body.unread).toBe(1);
  });
});

describe('isolation, roles and bad input', () => {
  it('keeps each tenant’s inbox apart, even for the same user id', async () => {
    const user = uniqueUser();
    await publish('acme', user, { title: 'for acme' });
    await publish('globex', user, { title: 'for globex' });
    const acme = await api('GET', '/notifications', await devToken('acme', user));
    expect(acme.body.items.map((item: { title: string }) => item.title)).toEqual(['for acme']);
  });

  it('needs the publisher role to publish and the admin role to manage members', async () => {
    const plain = await devToken('acme', uniqueUser());
    expect((await api('POST', '/notifications', plain, { userId: 'x', kind: 'note', title: 't' })).status).toBe(403);
    expect((await api('PUT', '/topics/site-1/members/x', plain)).status).toBe(403);
    expect((await api('DELETE', '/topics/site-1/members/x', plain)).status).toBe(403);
  });

  it('answers bad bodies and queries with a 400 that names the field', async () => {
    const publisher = await devToken('acme', 'p', ['publisher']);
    const missingTitle = await api('POST', '/notifications', publisher, { userId: 'x', kind: 'note' });
    expect(missingTitle.status).toBe(400);
    expect(missingTitle.body.error.message).toContain('title');
    const badPriority = await api('POST', '/notifications', publisher, { userId: 'x', kind: 'note', title: 't', priority: 'urgent' });
    expect(badPriority.body.error.message).toContain('priority');
    const oversized = await api('POST', '/notifications', publisher, { userId: 'x', kind: 'note', title: 't', data: { blob: 'x'.repeat(9_000) } });
    expect(oversized.body.error.message).toContain('data');
    const token = await devToken('acme', uniqueUser());
    const badAfter = await api('GET', '/notifications?after=-1', token);
    expect(badAfter.status).toBe(400);
    expect(badAfter.body.error.message).toContain('after');
    expect((await api('GET', '/notifications?limit=1000', token)).body.error.message).toContain('limit');
    expect((await api('POST', '/notifications/read', token, { upTo: 0 })).status).toBe(400);
    expect((await api('PUT', '/me/preferences', token, { kinds: { chat: { push: true } } })).status).toBe(400);
  });
});

describe('topics', () => {
  it('lets members subscribe and see each other join and leave; refuses others', async () => {
    const tenant = uniqueTenant();
    const [alice, bob, mallory] = [uniqueUser(), uniqueUser(), uniqueUser()];
    const admin = await devToken(tenant, 'admin-1', ['admin']);
    expect((await api('PUT', `/topics/site-1/members/${alice}`, admin)).status).toBe(201);
    expect((await api('PUT', `/topics/site-1/members/${alice}`, admin)).status).toBe(200);
    expect((await api('PUT', `/topics/site-1/members/${bob}`, admin)).status).toBe(201);

    const aliceSocket = await connect(tenant, alice);
    aliceSocket.send({ action: 'subscribe', topic: 'site-1', id: 's1' });
    expect(await aliceSocket.waitFor((frame) => frame.id === 's1')).toEqual({ type: 'subscribed', topic: 'site-1', id: 's1' });

    const bobSocket = await connect(tenant, bob);
    bobSocket.send({ action: 'subscribe', topic: 'site-1' });
    await bobSocket.waitFor((frame) => frame.type === 'subscribed');
    expect(await aliceSocket.waitFor((frame) => frame.type === 'event' && frame.data.userId === bob)).toEqual({
      type: 'event',
      topic: 'site-1',
      name: 'join',
      data: { userId: bob },
    });

    const mallorySocket = await connect(tenant, mallory);
    mallorySocket.send({ action: 'subscribe', topic: 'site-1', id: 'm' });
    expect(await mallorySocket.waitFor((frame) => frame.id === 'm')).toMatchObject({ type: 'error', code: 'forbidden' });

    await bobSocket.close();
    expect(await aliceSocket.waitFor((frame) => frame.type === 'event' && frame.name === 'leave')).toMatchObject({ data: { userId: bob } });
    aliceSocket.send({ action: 'unsubscribe', topic: 'site-1', id: 'u1' });
    expect(await aliceSocket.waitFor((frame) => frame.id === 'u1')).toEqual({ type: 'unsubscribed', topic: 'site-1', id: 'u1' });
    expect(await getItem('subscriptions', { topicKey: `${tenant}#site-1`, connectionId: 'none' })).toBeUndefined();
  });

  it('refuses a member of another tenant’s topic of the same name', async () => {
    const [home, foreign] = [uniqueTenant(), uniqueTenant()];
    const user = uniqueUser();
    await api('PUT', `/topics/site-1/members/${user}`, await devToken(foreign, 'admin', ['admin']));
    const socket = await connect(home, user);
    socket.send({ action: 'subscribe', topic: 'site-1', id: 'x' });
    expect(await socket.waitFor((frame) => frame.id === 'x')).toMatchObject({ type: 'error', code: 'forbidden' });
    // An admin of the home tenant cannot remove the foreign membership either: it does not exist for them.
    expect((await api('DELETE', `/topics/site-1/members/${user}`, await devToken(home, 'admin', ['admin']))).status).toBe(404);
  });

  it('refuses a malformed topic name', async () => {
    const socket = await connect('acme', uniqueUser());
    socket.send({ action: 'subscribe', topic: 'a#b', id: 'bad' });
    expect(await socket.waitFor((frame) => frame.id === 'bad')).toMatchObject({ type: 'error', code: 'invalid_frame' });
  });
});

describe('frame rate', () => {
  it('closes a socket that floods frames, after telling it why, and leaves others alone', async () => {
    const [flooder, neighbour] = [await connect('acme', uniqueUser()), await connect('acme', uniqueUser())];
    for (let index = 0; index < 70; index++) flooder.send({ action: 'ping' });
    expect(await flooder.waitFor((frame) => frame.code === 'rate_limited', 10_000)).toMatchObject({ type: 'error' });
    await flooder.waitForClose(10_000);
    neighbour.send({ action: 'ping', id: 'still-here' });
    expect(await neighbour.waitFor((frame) => frame.id === 'still-here')).toEqual({ type: 'pong', id: 'still-here' });
  });
});
