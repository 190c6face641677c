import { randomBytes, randomUUID } from 'node:crypto';
import { ApiGatewayManagementApiClient, GetConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { SignJWT, generateKeyPair } from 'jose';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { connectionsApiGateway } from '#functions/adapters/connections-api';
import { dynamoConnectionStore } from '#functions/adapters/dynamo-connection-store';
import { pushFrames } from '#functions/realtime/push';
import { CONNECTING_GRACE_MS, newConnectionRecord, type ConnectionRecord } from '#functions/realtime/connections';
import { hashTicket } from '#functions/realtime/tickets';
import { CONNECTION_TTL_SECONDS } from '#lib/config';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { api, devToken, documentClient, eventually, getItem, tableName, TestSocket, ticketFor, urls } from '../support/local';

const db = documentClient();
const connections = dynamoConnectionStore(db, { connections: tableName('connections'), userConnections: tableName('userConnections') });

/** The user's connections as fan-out finds them: ids from the user's set, rows by id. */
async function connectionsOf(tenant: string, userId: string): Promise<ConnectionRecord[]> {
  const ids = (await connections.connectionIdsOf([{ tenant, userId }])).get(`${tenant}#${userId}`) ?? [];
  const rows = await Promise.all(ids.map((connectionId) => getItem('connections', { connectionId })));
  return rows.filter((row) => row !== undefined) as ConnectionRecord[];
}
const opened: TestSocket[] = [];
const uniqueUser = () => `u-${randomUUID().slice(0, 8)}`;

async function connect(tenant: string, user: string, headers: Record<string, string> = {}): Promise<TestSocket> {
  const { url } = await ticketFor(tenant, user);
  const socket = await TestSocket.open(url, headers);
  opened.push(socket);
  return socket;
}

async function refusal(url: string, headers: Record<string, string> = {}): Promise<string> {
  try {
    const socket = await TestSocket.open(url, headers);
    opened.push(socket);
    return 'opened';
  } catch (error) {
    return (error as Error).message;
  }
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((socket) => (socket.closed ? undefined : socket.close())));
});
afterAll(() => db.destroy());

describe('tickets', () => {
  it('issues a 30-second single-use ticket and the URL to connect to', async () => {
    const before = Date.now();
    const { status, body } = await api('POST', '/realtime/ticket', await devToken('acme', uniqueUser()));
    expect(status).toBe(200);
    expect(body.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const lifetime = Date.parse(body.expiresAt) - before;
    expect(lifetime).toBeGreaterThan(28_000);
    expect(lifetime).toBeLessThanOrEqual(31_000);
    expect(body.url).toBe(`${urls().wsUrl}?ticket=${body.ticket}`);
  });

  it('stores only a hash of the ticket, bound to tenant and user', async () => {
    const user = uniqueUser();
    const { ticket } = await ticketFor('acme', user, ['admin']);
    const stored = await eventually(async () => {
      const { GetCommand } = await import('@aws-sdk/lib-dynamodb');
      return (await db.send(new GetCommand({ TableName: tableName('tickets'), Key: { ticketHash: hashTicket(ticket) } }))).Item;
    });
    expect(stored).toMatchObject({ tenant: 'acme', userId: user, roles: ['admin'] });
    expect(JSON.stringify(stored)).not.toContain(ticket);
  });

  it('refuses a request without a token, with an expired one, or one from another issuer', async () => {
    expect((await api('POST', '/realtime/ticket')).status).toBe(401);
    expect((await api('POST', '/realtime/ticket', await devToken('acme', uniqueUser(), [], -60))).status).toBe(401);

    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT({ tenant: 'acme' })
      .setProtectedHeader({ alg: 'RS256', kid: 'attacker' })
      .setIssuer(urls().httpUrl)
      .setAudience('herald-local')
      .setSubject('mallory')
      .setExpirationTime('5m')
      .sign(privateKey);
    expect((await api('POST', '/realtime/ticket', forged)).status).toBe(401);

    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: 'mallory', tenant: 'acme', iss: urls().httpUrl, aud: 'herald-local', exp: Math.floor(Date.now() / 1000) + 300 }),
    ).toString('base64url')}.`;
    expect((await api('POST', '/realtime/ticket', unsigned)).status).toBe(401);
  });

  it('refuses a token it accepted before once it expires, and another payload under its signature', async () => {
    // The local issuer remembers tokens whose signature it checked (docs/local.md); expiry still counts on every request.
    const token = await devToken('acme', uniqueUser(), [], 2);
    expect((await api('POST', '/realtime/ticket', token)).status).toBe(200);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const admin = (await devToken('acme', uniqueUser(), ['admin'])).split('.')[1];
    expect((await api('POST', '/realtime/ticket', [header, admin, signature].join('.'))).status).toBe(401);
    const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp: number };
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 + 100 - Date.now()));
    expect((await api('POST', '/realtime/ticket', token)).status).toBe(401);
  });

  it('refuses a token whose tenant claim is missing with 403 and says why', async () => {
    const response = await fetch(`${urls().httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ user: uniqueUser() }) });
    const { token } = (await response.json()) as { token: string };
    const { status, body } = await api('POST', '/realtime/ticket', token);
    expect(status).toBe(403);
    expect(body.error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('"tenant" claim') });
  });

  it('local issuer: refuses a malformed token request, naming the field', async () => {
    const response = await fetch(`${urls().httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ tenant: 'acme#x', user: 'ana' }) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain('tenant');
  });
});

describe('$connect', () => {
  it('records a connection with its tenant, user and a TTL past API Gateway’s 2-hour limit', async () => {
    const user = uniqueUser();
    await connect('acme', user);
    const [row] = await eventually(async () => {
      const rows = await connectionsOf('acme', user);
      return rows.length > 0 ? rows : undefined;
    });
    expect(row).toMatchObject({ tenant: 'acme', userId: user });
    const ttlFromNow = (row?.expiresAt ?? 0) - Date.now() / 1000;
    expect(ttlFromNow).toBeGreaterThan(CONNECTION_TTL_SECONDS - 60);
    expect(ttlFromNow).toBeLessThanOrEqual(CONNECTION_TTL_SECONDS);
  });

  it('refuses a missing, forged, malformed or reused ticket with 401', async () => {
    const base = urls().wsUrl;
    expect(await refusal(base)).toBe('refused 401');
    expect(await refusal(`${base}?ticket=${randomBytes(32).toString('base64url')}`)).toBe('refused 401');
    expect(await refusal(`${base}?ticket=not-a-ticket`)).toBe('refused 401');

    const { url } = await ticketFor('acme', uniqueUser());
    opened.push(await TestSocket.open(url));
    expect(await refusal(url)).toBe('refused 401');
  });

  it('refuses an expired ticket', async () => {
    const ticket = randomBytes(32).toString('base64url');
    await db.send(
      new PutCommand({
        TableName: tableName('tickets'),
        Item: { ticketHash: hashTicket(ticket), tenant: 'acme', userId: uniqueUser(), roles: [], expiresAt: Math.floor(Date.now() / 1000) - 1 },
      }),
    );
    expect(await refusal(`${urls().wsUrl}?ticket=${ticket}`)).toBe('refused 401');
  });

  it('lets exactly one of two sockets racing with one ticket in', async () => {
    const { url } = await ticketFor('acme', uniqueUser());
    const outcomes = await Promise.all([refusal(url), refusal(url)]);
    expect(outcomes.sort()).toEqual(['opened', 'refused 401']);
  });

  it('refuses a browser origin that is not on the allowlist, without burning the ticket', async () => {
    const { url } = await ticketFor('acme', uniqueUser());
    expect(await refusal(url, { origin: 'https://evil.example' })).toBe('refused 403');
    // Exact match only: a look-alike of the allowed origin is foreign too.
    expect(await refusal(url, { origin: `${urls().webUrl}.evil.example` })).toBe('refused 403');
    expect(await refusal(url, { origin: urls().webUrl })).toBe('opened');
  });

  it('lets a non-browser client without Origin in on its ticket alone', async () => {
    const socket = await connect('acme', uniqueUser());
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
  });
});

describe('frames', () => {
  it('answers ping with pong, echoing the correlation id', async () => {
    const socket = await connect('acme', uniqueUser());
    socket.send({ action: 'ping', id: 'p-1' });
    expect(await socket.waitFor((frame) => frame.type === 'pong')).toEqual({ type: 'pong', id: 'p-1' });
  });

  it('answers malformed, unknown and invalid frames with error frames and keeps the socket open', async () => {
    const socket = await connect('acme', uniqueUser());
    socket.send('this is not json');
    socket.send({ action: 'launch-missiles', id: 'u-1' });
    socket.send({ nothing: 'here' });
    socket.send({ action: 'ping', id: 'bad', extra: true });
    const errors = await eventually(async () => {
      const found = socket.frames.filter((frame) => frame.type === 'error');
      return found.length >= 4 ? found : undefined;
    });
    expect(errors.map((frame) => frame.code).sort()).toEqual(['invalid_frame', 'malformed_frame', 'malformed_frame', 'unknown_action']);
    expect(errors.find((frame) => frame.code === 'unknown_action')).toMatchObject({ id: 'u-1', message: expect.stringContaining('launch-missiles') });
    expect(errors.find((frame) => frame.code === 'invalid_frame')?.message).toContain('extra');

    socket.send({ action: 'ping', id: 'still-open' });
    await socket.waitFor((frame) => frame.type === 'pong' && frame.id === 'still-open');
    expect(socket.closed).toBeUndefined();
  });

  it('closes a socket that sends a frame over 32 KB with 1009, as API Gateway does, leaving other sockets alone', async () => {
    const bystander = await connect('acme', uniqueUser());
    const socket = await connect('acme', uniqueUser());
    socket.send(JSON.stringify({ action: 'ping', id: 'x'.repeat(33 * 1024) }));
    expect((await socket.waitForClose()).code).toBe(1009);
    // API Gateway closes before any Lambda runs, so no pong and no error frame can come back.
    expect(socket.frames).toEqual([]);

    bystander.send({ action: 'ping', id: 'fine' });
    await bystander.waitFor((frame) => frame.type === 'pong');
  });

  it('closes a socket that sends a binary frame with 1003, as API Gateway does, before any function runs', async () => {
    const socket = await connect('acme', uniqueUser());
    socket.ws.send(Buffer.from(JSON.stringify({ action: 'ping', id: 'binary' })), { binary: true });
    expect((await socket.waitForClose()).code).toBe(1003);
    expect(socket.frames).toEqual([]);
  });

  it('closes a socket that sends a message over 128 KB with 1009', async () => {
    const socket = await connect('acme', uniqueUser());
    socket.send('x'.repeat(129 * 1024));
    expect((await socket.waitForClose()).code).toBe(1009);
  });
});

describe('$disconnect and pruning', () => {
  it('removes the connection row when the client closes', async () => {
    const user = uniqueUser();
    const socket = await connect('acme', user);
    await eventually(async () => ((await connectionsOf('acme', user)).length === 1 ? true : undefined));
    await socket.close();
    await eventually(async () => ((await connectionsOf('acme', user)).length === 0 ? true : undefined));
  });

  it('pushes to a live connection and prunes a gone one on 410', async () => {
    const gateway = connectionsApiGateway(
      new ApiGatewayManagementApiClient({ endpoint: urls().wsUrl.replace(/^ws/, 'http'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
    );
    const user = uniqueUser();
    const socket = await connect('acme', user);
    const [live] = await eventually(async () => {
      const rows = await connectionsOf('acme', user);
      return rows.length === 1 ? rows : undefined;
    });
    const deps = { gateway, connections };
    const owner = { tenant: 'acme', userId: user };
    expect(await pushFrames(deps, { connectionId: live!.connectionId, owner }, [{ type: 'pong', id: 'pushed' }])).toBe('sent');
    await socket.waitFor((frame) => frame.id === 'pushed');

    // A socket recorded moments ago answers 410 while its $connect still runs: it is left in place.
    const connecting = { ...live!, connectionId: randomBytes(10).toString('base64'), connectedAt: new Date().toISOString() };
    await connections.save(connecting);
    expect(await pushFrames(deps, { connectionId: connecting.connectionId, owner }, [{ type: 'pong' }])).toBe('gone');
    expect(await getItem('connections', { connectionId: connecting.connectionId })).toBeDefined();
    expect((await connections.connectionIdsOf([owner])).get(`acme#${user}`)?.sort()).toEqual([live!.connectionId, connecting.connectionId].sort());
    await connections.remove(connecting.connectionId, owner);

    const stale = { ...live!, connectionId: randomBytes(10).toString('base64'), connectedAt: new Date(Date.now() - CONNECTING_GRACE_MS - 1_000).toISOString() };
    await connections.save(stale);
    expect(await pushFrames(deps, { connectionId: stale.connectionId, owner }, [{ type: 'pong' }])).toBe('gone');
    expect(await getItem('connections', { connectionId: stale.connectionId })).toBeUndefined();
    expect((await connections.connectionIdsOf([owner])).get(`acme#${user}`)).toEqual([live!.connectionId]);
  });

  it('keeps a socket whose $connect may still be running: API Gateway answers 410 until it returns', async () => {
    const gateway = connectionsApiGateway(
      new ApiGatewayManagementApiClient({ endpoint: urls().wsUrl.replace(/^ws/, 'http'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }),
    );
    const user = uniqueUser();
    const owner = { tenant: 'acme', userId: user };
    const deps = { gateway, connections };
    // Recorded as $connect records it, and not open (yet) at the gateway.
    const connecting = newConnectionRecord(randomBytes(10).toString('base64'), { ...owner, roles: [] }, 600);
    await connections.save(connecting);
    expect(await pushFrames(deps, { connectionId: connecting.connectionId, owner }, [{ type: 'pong' }])).toBe('gone');
    expect(await getItem('connections', { connectionId: connecting.connectionId })).toBeDefined();
    expect((await connections.connectionIdsOf([owner])).get(`acme#${user}`)).toEqual([connecting.connectionId]);
    // An id in the set without a recorded time (recorded before the set kept times; a lost $disconnect) counts as old: pruned.
    await connections.remove(connecting.connectionId);
    const lingering = randomBytes(10).toString('base64');
    await db.send(
      new UpdateCommand({
        TableName: tableName('userConnections'),
        Key: { userKey: `acme#${user}` },
        UpdateExpression: 'ADD connectionIds :id',
        ExpressionAttributeValues: { ':id': new Set([lingering]) },
      }),
    );
    expect(await pushFrames(deps, { connectionId: lingering, owner }, [{ type: 'pong' }])).toBe('gone');
    expect((await connections.connectionIdsOf([owner])).get(`acme#${user}`) ?? []).toEqual([]);
    // Between its $connect's two writes (the set, then the row): no row yet, but a recent time beside the set: kept.
    const between = randomBytes(10).toString('base64');
    await db.send(
      new UpdateCommand({
        TableName: tableName('userConnections'),
        Key: { userKey: `acme#${user}` },
        UpdateExpression: 'ADD connectionIds :id SET #recordedAt = :recordedAt',
        ExpressionAttributeNames: { '#recordedAt': `recordedAt#${between}` },
        ExpressionAttributeValues: { ':id': new Set([between]), ':recordedAt': Date.now() },
      }),
    );
    expect(await pushFrames(deps, { connectionId: between, owner }, [{ type: 'pong' }])).toBe('gone');
    expect((await connections.connectionIdsOf([owner])).get(`acme#${user}`)).toEqual([between]);
    await connections.remove(between, owner);
  });
});

describe('@connections GET', () => {
  it('answers in the service’s JSON, so the real SDK reads every field of GetConnection', async () => {
    const client = new ApiGatewayManagementApiClient({ endpoint: urls().wsUrl.replace(/^ws/, 'http'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    try {
      const user = uniqueUser();
      const before = Date.now();
      const socket = await connect('acme', user, { 'user-agent': 'herald-field-app/1.0' });
      const [row] = await eventually(async () => {
        const rows = await connectionsOf('acme', user);
        return rows.length === 1 ? rows : undefined;
      });
      socket.send({ action: 'ping', id: 'activity' });
      await socket.waitFor((frame) => frame.id === 'activity');

      const connection = await client.send(new GetConnectionCommand({ ConnectionId: row!.connectionId }));
      expect(connection.ConnectedAt).toBeInstanceOf(Date);
      expect(connection.ConnectedAt!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
      expect(connection.LastActiveAt!.getTime()).toBeGreaterThan(connection.ConnectedAt!.getTime());
      expect(connection.LastActiveAt!.getTime()).toBeLessThanOrEqual(Date.now());
      expect(connection.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: 'herald-field-app/1.0' });
    } finally {
      client.destroy();
    }
  });
});

describe('API Gateway timeouts', () => {
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

  it('closes an idle connection with 1001 and removes its row, while pings keep another alive', async () => {
    // Generous margins: the gateway shares a slow machine with the tests.
    await setLimits({ idleTimeoutMs: 1_500 });
    const user = uniqueUser();
    const idle = await connect('acme', user);
    const busy = await connect('acme', uniqueUser());
    const keepAlive = setInterval(() => busy.send({ action: 'ping' }), 250);
    try {
      expect((await idle.waitForClose(6_000)).code).toBe(1001);
      expect(busy.closed).toBeUndefined();
    } finally {
      clearInterval(keepAlive);
    }
    await eventually(async () => ((await connectionsOf('acme', user)).length === 0 ? true : undefined));
  });

  it('closes any connection at its maximum duration, however busy', async () => {
    await setLimits({ maxDurationMs: 700 });
    const socket = await connect('acme', uniqueUser());
    const keepAlive = setInterval(() => socket.send({ action: 'ping' }), 100);
    try {
      expect((await socket.waitForClose(3_000)).code).toBe(1001);
    } finally {
      clearInterval(keepAlive);
    }
  });
});
