import { randomBytes, randomUUID } from 'node:crypto';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connectionsApiGateway } from '#functions/adapters/connections-api';
import { dynamoConnectionStore } from '#functions/adapters/dynamo-connection-store';
import { limitExceededBodySchema } from '#functions/protocol/http';
import { identityToAuthorizerContext } from '#functions/realtime/connections';
import { FrameMeter } from '#functions/realtime/frame-rate';
import { FRAME_RATE_LIMIT, REALTIME_LIMIT_DEFAULTS } from '#functions/realtime/limits';
import { environment } from '#functions/shared/environment';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { importAsLambda } from '../support/lambda-module';
import { api, devToken, documentClient, eventually, getItem, tableName, TestSocket, ticketFor, urls } from '../support/local';

/** The local runtime runs with the defaults, as a deployment without these context keys does. */
const { socketsPerUser, ticketsPerMinute } = REALTIME_LIMIT_DEFAULTS;

const db = documentClient();
afterAll(() => db.destroy());
const opened: TestSocket[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((socket) => (socket.closed ? undefined : socket.close())));
});

const uniqueUser = () => `u-${randomUUID().slice(0, 8)}`;
const userKey = (tenant: string, user: string) => `${tenant}#${user}`;

async function open(url: string): Promise<TestSocket> {
  const socket = await TestSocket.open(url);
  opened.push(socket);
  return socket;
}

async function socketIdsOf(tenant: string, user: string): Promise<string[]> {
  const item = await getItem('userConnections', { userKey: userKey(tenant, user) });
  return [...((item?.connectionIds as Set<string> | undefined) ?? [])];
}

/** Opens `count` sockets for one user, a few at a time, each with its own ticket. */
async function openSockets(tenant: string, user: string, count: number): Promise<TestSocket[]> {
  const sockets: TestSocket[] = [];
  for (let start = 0; start < count; start += 10) {
    const batch = Math.min(10, count - start);
    sockets.push(...(await Promise.all(Array.from({ length: batch }, async () => open((await ticketFor(tenant, user)).url)))));
  }
  return sockets;
}

/** Waits for a fresh minute when the current one is nearly over, so a per-minute count stays in one minute. */
async function startOfAMinute(neededSeconds: number): Promise<void> {
  const secondsLeft = 60 - (Math.floor(Date.now() / 1000) % 60);
  if (secondsLeft < neededSeconds) await new Promise((wait) => setTimeout(wait, secondsLeft * 1000 + 100));
}

describe('ticket rate', () => {
  it(`issues ${ticketsPerMinute} tickets a minute to a user, then answers 429 naming the limit, without touching others`, { timeout: 90_000 }, async () => {
    const [user, neighbour] = [uniqueUser(), uniqueUser()];
    const token = await devToken('acme', user);
    await startOfAMinute(40);
    const answers = [];
    for (let start = 0; start < ticketsPerMinute; start += 10) {
      answers.push(...(await Promise.all(Array.from({ length: 10 }, () => api('POST', '/realtime/ticket', token)))));
    }
    expect(answers.map((answer) => answer.status)).toEqual(Array(ticketsPerMinute).fill(200));

    const refused = await api('POST', '/realtime/ticket', token);
    expect(refused.status).toBe(429);
    const body = limitExceededBodySchema.parse(refused.body);
    expect(body).toMatchObject({ error: { code: 'limit_exceeded' }, limit: { name: 'ticketsPerMinute', max: ticketsPerMinute } });
    expect(body.error.message).toContain(`At most ${ticketsPerMinute} WebSocket tickets per user per minute`);
    expect(body.limit.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(body.limit.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(refused.headers.get('retry-after')).toBe(String(body.limit.retryAfterSeconds));
    // The tickets issued before the refusal still work, and another user is not held back.
    const socket = await open(answers[0]!.body.url);
    socket.send({ action: 'ping', id: 'p' });
    expect(await socket.waitFor((frame) => frame.id === 'p')).toEqual({ type: 'pong', id: 'p' });
    expect((await api('POST', '/realtime/ticket', await devToken('acme', neighbour))).status).toBe(200);
  });
});

describe('socket cap', () => {
  it(`refuses a ticket with 403 at ${socketsPerUser} open sockets, naming the limit, and issues one again once a socket closes`, {
    timeout: 90_000,
  }, async () => {
    const user = uniqueUser();
    await startOfAMinute(30);
    const sockets = await openSockets('acme', user, socketsPerUser);
    expect(await socketIdsOf('acme', user)).toHaveLength(socketsPerUser);

    const refused = await api('POST', '/realtime/ticket', await devToken('acme', user));
    expect(refused.status).toBe(403);
    expect(limitExceededBodySchema.parse(refused.body)).toMatchObject({
      error: { code: 'limit_exceeded', message: `At most ${socketsPerUser} open WebSocket connections per user; close one first` },
      limit: { name: 'socketsPerUser', max: socketsPerUser },
    });
    expect(refused.body.limit.retryAfterSeconds).toBeUndefined();
    expect(refused.headers.get('retry-after')).toBeNull();
    // Every socket is still open and served.
    const last = sockets.at(-1)!;
    last.send({ action: 'ping', id: 'alive' });
    expect(await last.waitFor((frame) => frame.id === 'alive')).toEqual({ type: 'pong', id: 'alive' });

    await sockets[0]!.close();
    await eventually(async () => ((await socketIdsOf('acme', user)).length < socketsPerUser ? true : undefined));
    const again = await api('POST', '/realtime/ticket', await devToken('acme', user));
    expect(again.status).toBe(200);
    await open(again.body.url);
  });

  it('refuses at $connect with 429 a ticket issued before the cap filled, and leaves no trace of the refused socket', { timeout: 90_000 }, async () => {
    const user = uniqueUser();
    await startOfAMinute(30);
    await openSockets('acme', user, socketsPerUser - 1);
    const early = await ticketFor('acme', user);
    await open((await ticketFor('acme', user)).url);
    const before = await socketIdsOf('acme', user);
    expect(before).toHaveLength(socketsPerUser);

    await expect(TestSocket.open(early.url)).rejects.toThrow('refused 429');
    expect((await socketIdsOf('acme', user)).sort()).toEqual(before.sort());
    // Another user is not affected.
    await open((await ticketFor('acme', uniqueUser())).url);
  });

  it(`admits exactly the free places when more sockets than there are places connect at once, refusing the rest with 429`, { timeout: 90_000 }, async () => {
    const user = uniqueUser();
    const [free, racing] = [3, 10];
    await startOfAMinute(40);
    await openSockets('acme', user, socketsPerUser - free);
    // Tickets first (the ticket route counts only open sockets), then every connect at the same moment.
    const tickets = await Promise.all(Array.from({ length: racing }, () => ticketFor('acme', user)));
    const outcomes = await Promise.allSettled(tickets.map((ticket) => open(ticket.url)));

    const admitted = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const refusals = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String((outcome.reason as Error).message)] : []));
    expect(admitted).toHaveLength(free);
    expect(refusals).toEqual(Array(racing - free).fill('refused 429'));
    // The refused sockets left no trace: the set holds exactly the cap, and each admitted socket is served.
    expect(await socketIdsOf('acme', user)).toHaveLength(socketsPerUser);
    for (const [index, socket] of admitted.entries()) {
      socket.send({ action: 'ping', id: `in-${index}` });
      expect(await socket.waitFor((frame) => frame.id === `in-${index}`)).toEqual({ type: 'pong', id: `in-${index}` });
    }
    const refused = await api('POST', '/realtime/ticket', await devToken('acme', user));
    expect(refused).toMatchObject({ status: 403, body: { limit: { name: 'socketsPerUser', max: socketsPerUser } } });

    // A place comes back when a socket closes.
    await admitted[0]!.close();
    await eventually(async () => ((await socketIdsOf('acme', user)).length < socketsPerUser ? true : undefined));
    const again = await open((await ticketFor('acme', user)).url);
    again.send({ action: 'ping', id: 'again' });
    expect(await again.waitFor((frame) => frame.id === 'again')).toEqual({ type: 'pong', id: 'again' });
  });

  it('through the $connect handler: of ten sockets connecting at once for three places, exactly three are admitted', { timeout: 90_000 }, async () => {
    const user = uniqueUser();
    const [free, racing] = [3, 10];
    await startOfAMinute(30);
    await openSockets('acme', user, socketsPerUser - free);
    const connect = await connectHandler();
    // Sockets that API Gateway has not opened yet (and here never will): each connect sees the earlier ones only as recorded.
    const answers = await Promise.all(
      Array.from({ length: racing }, () =>
        connect(
          {
            requestContext: {
              connectionId: randomBytes(10).toString('base64'),
              routeKey: '$connect',
              eventType: 'CONNECT',
              authorizer: identityToAuthorizerContext({ tenant: 'acme', userId: user, roles: [] }),
            },
          } as never,
          lambdaContext,
        ),
      ),
    );
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([...Array(free).fill(200), ...Array(racing - free).fill(429)]);
    expect(await socketIdsOf('acme', user)).toHaveLength(socketsPerUser);
  });

  it('counts a socket recorded moments ago and not open yet as still connecting: the place is taken', { timeout: 60_000 }, async () => {
    const user = uniqueUser();
    // The cap's worth of sockets whose $connect recorded them a second ago and has not finished.
    const connecting = Array.from({ length: socketsPerUser }, () => randomBytes(10).toString('base64'));
    await seedSocketSet('acme', user, connecting, Date.now() - 1_000);
    // The ticket route counts open sockets only; $connect counts these as connecting and refuses.
    const { status, body } = await api('POST', '/realtime/ticket', await devToken('acme', user));
    expect(status).toBe(200);
    await expect(TestSocket.open(body.url)).rejects.toThrow('refused 429');
    expect((await socketIdsOf('acme', user)).sort()).toEqual([...connecting].sort());
  });

  it('does not count ids of sockets gone for good (a lost $disconnect) against the cap, and takes them out of the set', { timeout: 60_000 }, async () => {
    const user = uniqueUser();
    // Ids recorded long ago and no longer open, and ids from before the set kept times: both gone.
    const old = Array.from({ length: socketsPerUser / 2 }, () => randomBytes(10).toString('base64'));
    const untimed = Array.from({ length: socketsPerUser / 2 }, () => randomBytes(10).toString('base64'));
    await seedSocketSet('acme', user, old, Date.now() - 10 * 60_000);
    await seedSocketSet('acme', user, untimed);
    expect(await socketIdsOf('acme', user)).toHaveLength(socketsPerUser);

    const { status, body } = await api('POST', '/realtime/ticket', await devToken('acme', user));
    expect(status).toBe(200);
    const socket = await open(body.url);
    socket.send({ action: 'ping', id: 'in' });
    expect(await socket.waitFor((frame) => frame.id === 'in')).toEqual({ type: 'pong', id: 'in' });
    const [own] = await socketIdsOf('acme', user);
    expect(await socketIdsOf('acme', user)).toHaveLength(1);
    // Their times went with them; the admitted socket's own is there.
    const item = await getItem('userConnections', { userKey: userKey('acme', user) });
    expect(Object.keys(item ?? {}).filter((name) => name.startsWith('recordedAt#'))).toEqual([`recordedAt#${own}`]);
  });
});

const lambdaContext = { functionName: 'wsConnect', awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

/** The $connect function's module as Lambda cold-starts it (its environment from the description), for its makeHandler on the runtime's table and gateway. */
const connectHandler = () =>
  importAsLambda('wsConnect', { settings: { connectionTtlSeconds: '7800', socketsPerUser: String(socketsPerUser) } }, async (env) => {
    const { makeHandler } = await import('#functions/realtime/handlers/connect');
    const gateway = new ApiGatewayManagementApiClient({ endpoint: env[environment.connectionsEndpoint], region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    return makeHandler({
      connections: dynamoConnectionStore(db, { connections: tableName('connections'), userConnections: tableName('userConnections') }),
      gateway: connectionsApiGateway(gateway),
      connectionTtlSeconds: 7800,
      limits: { socketsPerUser },
    });
  });

/** Adds ids to a user's socket set as a $connect would have recorded them at `recordedAt`, or without a time (before the set kept times). */
async function seedSocketSet(tenant: string, user: string, ids: readonly string[], recordedAt?: number): Promise<void> {
  const times = recordedAt === undefined ? [] : ids.map((id, index) => [`#t${index}`, `:t${index}`, id] as const);
  await db.send(
    new UpdateCommand({
      TableName: tableName('userConnections'),
      Key: { userKey: userKey(tenant, user) },
      UpdateExpression: ['ADD connectionIds :ids', ...(times.length > 0 ? [`SET ${times.map(([name, value]) => `${name} = ${value}`).join(', ')}`] : [])].join(
        ' ',
      ),
      ...(times.length > 0 && { ExpressionAttributeNames: Object.fromEntries(times.map(([name, , id]) => [name, `recordedAt#${id}`])) }),
      ExpressionAttributeValues: { ':ids': new Set(ids), ...Object.fromEntries(times.map(([, value]) => [value, recordedAt])) },
    }),
  );
}

describe('frame rate meter', () => {
  /** The real connection store on DynamoDB Local, with every request it sends counted. */
  function countedStore() {
    const counted = { requests: 0 };
    const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    raw.middlewareStack.add(
      (next) => async (args) => {
        counted.requests += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countRequests' },
    );
    const store = dynamoConnectionStore(DynamoDBDocumentClient.from(raw), { connections: tableName('connections'), userConnections: undefined });
    return { store, counted, destroy: () => raw.destroy() };
  }

  async function connectionRow(): Promise<string> {
    const user = uniqueUser();
    await open((await ticketFor('acme', user)).url);
    const [connectionId] = await eventually(async () => {
      const ids = await socketIdsOf('acme', user);
      return ids.length === 1 && (await getItem('connections', { connectionId: ids[0] })) ? ids : undefined;
    });
    return connectionId!;
  }

  const windowStart = new Date(Date.UTC(2026, 0, 1, 12));

  it('costs no request under syncEvery frames a window, one UpdateItem per syncEvery frames beyond, and refuses past the limit', async () => {
    const { store, counted, destroy } = countedStore();
    try {
      const connectionId = await connectionRow();
      const meter = new FrameMeter(store);
      for (let frame = 1; frame < FRAME_RATE_LIMIT.syncEvery; frame += 1) expect(await meter.count(connectionId, windowStart)).toBe('allowed');
      expect(counted.requests).toBe(0);
      for (let frame = FRAME_RATE_LIMIT.syncEvery; frame <= FRAME_RATE_LIMIT.frames; frame += 1) {
        expect(await meter.count(connectionId, windowStart)).toBe('allowed');
      }
      expect(counted.requests).toBe(FRAME_RATE_LIMIT.frames / FRAME_RATE_LIMIT.syncEvery);
      expect(await getItem('connections', { connectionId })).toMatchObject({ frameWindow: windowStart.getTime() / 1000, frameCount: FRAME_RATE_LIMIT.frames });
      expect(await meter.count(connectionId, windowStart)).toBe('limited');

      // The next window starts over.
      const next = new Date(windowStart.getTime() + FRAME_RATE_LIMIT.windowSeconds * 1000);
      expect(await meter.count(connectionId, next)).toBe('allowed');
    } finally {
      destroy();
    }
  });

  it('refuses a socket whose frames are spread over several containers once their counts together pass the limit', async () => {
    const { store, destroy } = countedStore();
    try {
      const connectionId = await connectionRow();
      const containers = [new FrameMeter(store), new FrameMeter(store), new FrameMeter(store)];
      let admitted = 0;
      for (let frame = 0; frame < 3 * FRAME_RATE_LIMIT.frames; frame += 1) {
        if ((await containers[frame % containers.length]!.count(connectionId, windowStart)) === 'limited') break;
        admitted += 1;
      }
      // Each container alone would allow the limit; together they hold back at most syncEvery - 1 frames each.
      expect(admitted).toBeGreaterThanOrEqual(FRAME_RATE_LIMIT.frames);
      expect(admitted).toBeLessThanOrEqual(FRAME_RATE_LIMIT.frames + containers.length * (FRAME_RATE_LIMIT.syncEvery - 1));
    } finally {
      destroy();
    }
  });

  // Every frame route counts with its own meter (one per function, as one per Lambda container), so each writes the row once busy.
  it.each([
    ['ack', (id: string) => ({ action: 'ack', upTo: 1, id }), 'error'],
    ['resume', (id: string) => ({ action: 'resume', after: 0, id }), 'replayed'],
    ['$default', (id: string) => ({ action: 'no-such-action', id }), 'error'],
  ])('through the runtime: a busy socket sending %s frames adds its count to the row', async (_route, frameWith, answer) => {
    const user = uniqueUser();
    const socket = await open((await ticketFor('acme', user)).url);
    const [connectionId] = await eventually(async () => {
      const ids = await socketIdsOf('acme', user);
      return ids.length === 1 ? ids : undefined;
    });
    // 2.5 x syncEvery frames: however the windows split them, one window gets syncEvery of them.
    for (let index = 0; index < FRAME_RATE_LIMIT.syncEvery * 2.5; index += 1) {
      socket.send(frameWith(`f${index}`));
      expect(await socket.waitFor((frame) => frame.id === `f${index}`)).toMatchObject({ type: answer });
    }
    expect((await getItem('connections', { connectionId }))?.frameCount).toBeGreaterThanOrEqual(FRAME_RATE_LIMIT.syncEvery);
  });

  it('through the runtime: a few pings write nothing to the connection row, a busy socket adds to it', async () => {
    const user = uniqueUser();
    const socket = await open((await ticketFor('acme', user)).url);
    const [connectionId] = await eventually(async () => {
      const ids = await socketIdsOf('acme', user);
      return ids.length === 1 ? ids : undefined;
    });
    // Fewer than syncEvery frames fall in one window or two; neither reaches a write.
    for (let index = 0; index < FRAME_RATE_LIMIT.syncEvery / 2; index += 1) {
      socket.send({ action: 'ping', id: `a${index}` });
      await socket.waitFor((frame) => frame.id === `a${index}`);
    }
    expect(await getItem('connections', { connectionId })).not.toHaveProperty('frameCount');
    // 2.5 x syncEvery frames: however the windows split them, one window gets syncEvery of them.
    for (let index = 0; index < FRAME_RATE_LIMIT.syncEvery * 2.5; index += 1) {
      socket.send({ action: 'ping', id: `b${index}` });
      await socket.waitFor((frame) => frame.id === `b${index}`);
    }
    expect((await getItem('connections', { connectionId }))?.frameCount).toBeGreaterThanOrEqual(FRAME_RATE_LIMIT.syncEvery);
  });
});
