import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
// API Gateway's documented WebSocket limits, from the one protocol definition.
import { MAX_FRAME_BYTES, MAX_MESSAGE_BYTES } from '#functions/protocol/frames';
import { routeSelectionExpression } from '../description';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './aws-local';
import { forwardingHeaders, requestTimeOf, sourceIpOf } from './http-api';
import { closeServer, listenOnLoopback, readBody } from './http-server';
import type { LocalFunction } from './lambda-host';

export interface WebSocketRoute {
  readonly function: LocalFunction;
  readonly returnResponse: boolean;
}

export interface WebSocketGatewayOptions {
  readonly port: number;
  readonly stage: string;
  readonly apiId: string;
  /** Route key ($connect, $disconnect, $default or an action) to the function that serves it. */
  readonly routes: ReadonlyMap<string, WebSocketRoute>;
  readonly authorizer?: { readonly function: LocalFunction; readonly identitySource: readonly string[] };
  /** @default 10 minutes, as API Gateway */
  readonly idleTimeoutMs?: number;
  /** @default 2 hours, as API Gateway */
  readonly maxDurationMs?: number;
  readonly log?: (message: string) => void;
}

/** What every event of a connection repeats from its $connect. */
type ConnectionIdentity = Pick<LiveConnection, 'connectedAt' | 'sourceIp' | 'userAgent' | 'domainName'>;

interface LiveConnection {
  readonly id: string;
  readonly socket: WebSocket;
  readonly connectedAt: number;
  lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent: string;
  /** The Host the client connected to: the event's domainName, and Host on $disconnect. */
  readonly domainName: string;
  readonly authorizer: Record<string, unknown>;
  idleTimer?: NodeJS.Timeout;
  maxTimer?: NodeJS.Timeout;
  closedByServer?: { code: number; reason: string };
}

export interface WebSocketGateway {
  readonly url: string;
  /** Base URL of the @connections management API, as a function's CONNECTIONS_ENDPOINT. */
  readonly connectionsEndpoint: string;
  /** "routeKey -> function" for each route (and the authorizer), for the parity test against the CDK template. */
  readonly routeKeys: readonly string[];
  setLimits(limits: { idleTimeoutMs?: number; maxDurationMs?: number }): void;
  stop(): Promise<void>;
}

/**
 * A faithful stand-in for an API Gateway WebSocket API with Lambda proxy integrations:
 * REQUEST authorizer and $connect on upgrade, route selection on `action`, route responses,
 * the 32 KB frame / 128 KB message limits, text frames only (a binary frame closes with 1003),
 * idle and maximum-duration closes, and the @connections API (POST, GET, DELETE; 410 for a
 * connection that is gone) that the real ApiGatewayManagementApiClient talks to. Events carry
 * API Gateway's requestTime format, forwarding and trace headers, and, as domainName, the host the
 * client connected to (AWS: <apiId>.execute-api.<region>.amazonaws.com).
 */
export async function startWebSocketGateway(options: WebSocketGatewayOptions): Promise<WebSocketGateway> {
  const log = options.log ?? (() => undefined);
  const limits = { idleTimeoutMs: options.idleTimeoutMs ?? 10 * 60_000, maxDurationMs: options.maxDurationMs ?? 2 * 3600_000 };
  const connections = new Map<string, LiveConnection>();
  // Every invocation still running, so stop() can let $disconnect finish before the tables go.
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(invocation: Promise<T>): Promise<T> => {
    inFlight.add(invocation);
    void invocation.finally(() => inFlight.delete(invocation)).catch(() => undefined);
    return invocation;
  };
  const sockets = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const server: Server = createServer((request, response) => {
    handleManagementRequest(request, response).catch((error: unknown) => {
      log(`@connections error: ${String(error)}`);
      sendJson(response, 500, { message: 'Internal server error' });
    });
  });
  let listenAddress = '127.0.0.1';

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node drops its own error handler on upgrade; without one, a client that resets during the
    // authorizer or $connect would crash the whole runtime.
    socket.on('error', (error) => log(`handshake socket error: ${error.message}`));
    handleUpgrade(request, socket, head).catch((error: unknown) => {
      log(`$connect error: ${String(error)}`);
      refuseUpgrade(socket, 500, 'Internal server error');
    });
  });

  const port = await listenOnLoopback(server, options.port);
  listenAddress = `127.0.0.1:${port}`;

  function baseContext(
    connectionId: string,
    eventType: 'CONNECT' | 'MESSAGE' | 'DISCONNECT',
    routeKey: string,
    connection: ConnectionIdentity,
    now = Date.now(),
  ) {
    return {
      routeKey,
      eventType,
      extendedRequestId: randomUUID(),
      requestTime: requestTimeOf(now),
      messageDirection: 'IN',
      stage: options.stage,
      connectedAt: connection.connectedAt,
      requestTimeEpoch: now,
      identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
      requestId: randomUUID(),
      domainName: connection.domainName,
      connectionId,
      apiId: options.apiId,
    };
  }

  async function handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(request.url ?? '/', `http://${listenAddress}`);
    if (url.pathname !== `/${options.stage}`) return refuseUpgrade(socket, 403, 'Forbidden');
    const connectionId = randomBytes(10).toString('base64');
    const connectedAt = Date.now();
    const identity: ConnectionIdentity = {
      connectedAt,
      sourceIp: sourceIpOf(request),
      userAgent: String(request.headers['user-agent'] ?? ''),
      domainName: request.headers.host ?? listenAddress,
    };
    const headers = connectHeaders(request, { sourceIp: identity.sourceIp, port: request.socket.localPort ?? port, now: connectedAt });
    const multiValueHeaders = Object.fromEntries(Object.entries(headers).map(([key, value]) => [key, [value]]));
    const queryStringParameters = Object.fromEntries(url.searchParams);
    const multiValueQueryStringParameters: Record<string, string[]> = {};
    for (const [key, value] of url.searchParams) (multiValueQueryStringParameters[key] ??= []).push(value);
    const requestContext = baseContext(connectionId, 'CONNECT', '$connect', identity, connectedAt);

    let authorizerContext: Record<string, unknown> = {};
    if (options.authorizer) {
      // API Gateway refuses with 401 without invoking the authorizer when an identity source is absent.
      const missing = options.authorizer.identitySource.some((source) => identityValue(source, headers, queryStringParameters) === undefined);
      if (missing) return refuseUpgrade(socket, 401, 'Unauthorized');
      let result: unknown;
      try {
        result = await track(
          options.authorizer.function.invoke({
            type: 'REQUEST',
            methodArn: `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${options.apiId}/${options.stage}/$connect`,
            headers,
            multiValueHeaders,
            queryStringParameters,
            multiValueQueryStringParameters,
            stageVariables: {},
            requestContext,
            isBase64Encoded: false,
          }),
        );
      } catch (error) {
        if (error instanceof Error && error.message === 'Unauthorized') return refuseUpgrade(socket, 401, 'Unauthorized');
        log(`authorizer failed: ${String(error)}`);
        return refuseUpgrade(socket, 500, 'Internal server error');
      }
      const policy = result as { principalId?: string; policyDocument?: { Statement?: Array<{ Effect?: string }> }; context?: Record<string, unknown> };
      // API Gateway treats an authorizer answer without a policy as an authorizer failure.
      if (!policy?.policyDocument) return refuseUpgrade(socket, 500, 'Internal server error');
      const statements = policy.policyDocument.Statement ?? [];
      const allowed = statements.some((statement) => statement.Effect === 'Allow');
      const denied = statements.some((statement) => statement.Effect === 'Deny');
      if (!allowed || denied) return refuseUpgrade(socket, 403, 'Forbidden');
      authorizerContext = { ...(policy.context ?? {}), principalId: policy.principalId };
    }

    const connectRoute = options.routes.get('$connect');
    if (connectRoute) {
      let result: { statusCode?: number } | undefined;
      try {
        result = (await track(
          connectRoute.function.invoke({
            headers,
            multiValueHeaders,
            queryStringParameters,
            multiValueQueryStringParameters,
            requestContext: { ...requestContext, authorizer: authorizerContext },
            isBase64Encoded: false,
          }),
        )) as { statusCode?: number } | undefined;
      } catch (error) {
        log(`$connect failed: ${String(error)}`);
        return refuseUpgrade(socket, 500, 'Internal server error');
      }
      const status = result?.statusCode ?? 200;
      if (status < 200 || status > 299) return refuseUpgrade(socket, status, 'Connection refused');
    }

    if (socket.destroyed || !socket.writable) {
      // The client left while $connect ran: API Gateway follows a recorded connect with $disconnect.
      invokeDisconnect(connectionId, identity, authorizerContext, { code: 1006, reason: 'Client left during the handshake' });
      return;
    }
    sockets.handleUpgrade(request, socket, head, (webSocket) => {
      const connection: LiveConnection = {
        id: connectionId,
        socket: webSocket,
        ...identity,
        lastActiveAt: identity.connectedAt,
        authorizer: authorizerContext,
      };
      connections.set(connectionId, connection);
      armTimers(connection);
      webSocket.on('message', (data, isBinary) => onMessage(connection, data, isBinary));
      webSocket.on('close', (code, reason) => onClose(connection, code, reason.toString()));
      webSocket.on('error', (error) => log(`socket ${connectionId} error: ${error.message}`));
    });
  }

  function setLimits(next: { idleTimeoutMs?: number; maxDurationMs?: number }): void {
    if (typeof next.idleTimeoutMs === 'number' && next.idleTimeoutMs > 0) limits.idleTimeoutMs = next.idleTimeoutMs;
    if (typeof next.maxDurationMs === 'number' && next.maxDurationMs > 0) limits.maxDurationMs = next.maxDurationMs;
  }

  function armTimers(connection: LiveConnection): void {
    clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => closeByServer(connection, 1001, 'Going away'), limits.idleTimeoutMs);
    connection.maxTimer ??= setTimeout(
      () => closeByServer(connection, 1001, 'Going away'),
      Math.max(0, connection.connectedAt + limits.maxDurationMs - Date.now()),
    );
  }

  function closeByServer(connection: LiveConnection, code: number, reason: string): void {
    connection.closedByServer ??= { code, reason };
    connection.socket.close(code, reason);
  }

  function onMessage(connection: LiveConnection, data: RawData, isBinary: boolean): void {
    connection.lastActiveAt = Date.now();
    armTimers(connection);
    const body = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    // API Gateway closes with 1009, before any Lambda runs, on a frame over 32 KB. `ws` hands over
    // whole messages, so a message that arrived as several smaller frames (which API Gateway would
    // deliver, up to 128 KB) is treated the same here; see docs/local.md.
    if (body.length > MAX_FRAME_BYTES) {
      closeByServer(connection, 1009, 'Message too big');
      return;
    }
    // API Gateway takes text frames only: a binary frame closes the connection with 1003, before
    // any function runs, so a message event is never base64-encoded.
    if (isBinary) {
      closeByServer(connection, 1003, 'Binary frames are not supported');
      return;
    }
    const text = body.toString('utf8');
    const routeKey = selectRoute(text);
    const route = options.routes.get(routeKey);
    if (!route) {
      connection.socket.send(JSON.stringify({ message: 'Forbidden', connectionId: connection.id, requestId: randomUUID() }));
      return;
    }
    const event = {
      requestContext: {
        ...baseContext(connection.id, 'MESSAGE', routeKey, connection),
        messageId: randomBytes(8).toString('base64'),
        authorizer: connection.authorizer,
      },
      body: text,
      isBase64Encoded: false,
    };
    track(route.function.invoke(event))
      .then((result) => {
        const body = (result as { body?: unknown } | undefined)?.body;
        if (route.returnResponse && typeof body === 'string' && connection.socket.readyState === WebSocket.OPEN) connection.socket.send(body);
      })
      .catch((error: unknown) => {
        log(`route ${routeKey} failed: ${String(error)}`);
        if (connection.socket.readyState === WebSocket.OPEN) {
          connection.socket.send(JSON.stringify({ message: 'Internal server error', connectionId: connection.id, requestId: event.requestContext.requestId }));
        }
      });
  }

  /** `$request.body.action`: a JSON body whose `action` names a route, otherwise $default. */
  function selectRoute(text: string): string {
    const field = routeSelectionExpression.replace('$request.body.', '');
    try {
      const value = (JSON.parse(text) as Record<string, unknown>)[field];
      if (typeof value === 'string' && options.routes.has(value) && !value.startsWith('$')) return value;
    } catch {
      // Not JSON: API Gateway falls through to $default.
    }
    return '$default';
  }

  function onClose(connection: LiveConnection, code: number, reason: string): void {
    clearTimeout(connection.idleTimer);
    clearTimeout(connection.maxTimer);
    if (!connections.delete(connection.id)) return;
    invokeDisconnect(connection.id, connection, connection.authorizer, connection.closedByServer ?? { code, reason });
  }

  function invokeDisconnect(
    connectionId: string,
    identity: ConnectionIdentity,
    authorizer: Record<string, unknown>,
    closed: { code: number; reason: string },
  ): void {
    const route = options.routes.get('$disconnect');
    if (!route) return;
    // API Gateway's $disconnect carries a fixed, reduced header set: the Host and three empty values.
    const headers = { Host: identity.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' };
    track(
      route.function.invoke({
        headers,
        multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([key, value]) => [key, [value]])),
        requestContext: {
          ...baseContext(connectionId, 'DISCONNECT', '$disconnect', identity),
          disconnectStatusCode: closed.code,
          disconnectReason: closed.reason,
          authorizer,
        },
        isBase64Encoded: false,
      }),
    ).catch((error: unknown) => log(`$disconnect failed: ${String(error)}`));
  }

  async function handleManagementRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', `http://${listenAddress}`);
    // Local only: tests shorten the idle and maximum-duration timeouts (applied when a connection's
    // timers are next armed: at connect, and the idle timer at each message).
    if (url.pathname === '/_local/limits' && request.method === 'PUT') {
      const body = JSON.parse((await readBody(request, 1024))?.toString('utf8') ?? '{}') as { idleTimeoutMs?: number; maxDurationMs?: number };
      setLimits(body);
      return sendJson(response, 200, limits);
    }
    const match = /^\/([^/]+)\/@connections\/([^/]+)$/.exec(url.pathname);
    if (!match || match[1] !== options.stage) return sendJson(response, 404, { message: 'Not Found' });
    const connection = connections.get(decodeURIComponent(match[2] ?? ''));
    if (!connection || connection.socket.readyState !== WebSocket.OPEN) {
      return sendJson(response, 410, { message: null }, 'GoneException');
    }
    switch (request.method) {
      case 'POST': {
        const body = await readBody(request, MAX_MESSAGE_BYTES);
        if (body === undefined) return sendJson(response, 413, { message: 'Message too long' }, 'PayloadTooLargeException');
        await new Promise<void>((done, fail) => connection.socket.send(body, { binary: false }, (error) => (error ? fail(error) : done())));
        response.writeHead(200).end();
        return;
      }
      case 'GET':
        // The service's JSON names (the SDK maps them to ConnectedAt, Identity, LastActiveAt), with date-time timestamps.
        return sendJson(response, 200, {
          connectedAt: new Date(connection.connectedAt).toISOString(),
          identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
          lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
        });
      case 'DELETE':
        closeByServer(connection, 1000, 'Closed by the server');
        response.writeHead(204).end();
        return;
      default:
        return sendJson(response, 405, { message: 'Method not allowed' });
    }
  }

  return {
    url: `ws://${listenAddress}/${options.stage}`,
    connectionsEndpoint: `http://${listenAddress}/${options.stage}`,
    routeKeys: [
      ...[...options.routes].map(([key, route]) => `${key} -> ${route.function.name}`),
      ...(options.authorizer ? [`$connect authorizer -> ${options.authorizer.function.name}`] : []),
    ],
    setLimits,
    async stop() {
      for (const connection of connections.values()) closeByServer(connection, 1001, 'Going away');
      // Let $disconnect handlers run before the tables behind them go away.
      const deadline = Date.now() + 2_000;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 20));
      for (const connection of connections.values()) connection.socket.terminate();
      await Promise.allSettled([...inFlight]);
      sockets.close();
      await closeServer(server);
    },
  };
}

function identityValue(source: string, headers: Record<string, string>, query: Record<string, string>): string | undefined {
  const queryPrefix = 'route.request.querystring.';
  const headerPrefix = 'route.request.header.';
  if (source.startsWith(queryPrefix)) return query[source.slice(queryPrefix.length)] || undefined;
  if (source.startsWith(headerPrefix)) {
    const name = source.slice(headerPrefix.length).toLowerCase();
    return Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1] || undefined;
  }
  return undefined;
}

/**
 * API Gateway hands WebSocket $connect headers over with their original names, one value each,
 * plus the forwarding and trace headers it adds, spelled as it spells them (a client's own
 * spelling of those is replaced).
 */
function connectHeaders(request: IncomingMessage, connection: { sourceIp: string; port: number; now: number }): Record<string, string> {
  const headers: Record<string, string> = {};
  for (let index = 0; index < request.rawHeaders.length; index += 2) {
    const name = request.rawHeaders[index] ?? '';
    const value = request.rawHeaders[index + 1] ?? '';
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const added = forwardingHeaders(headers, connection);
  for (const name of Object.keys(headers)) if (name.toLowerCase() in added) delete headers[name];
  return {
    ...headers,
    'X-Amzn-Trace-Id': added['x-amzn-trace-id'],
    'X-Forwarded-For': added['x-forwarded-for'],
    'X-Forwarded-Port': added['x-forwarded-port'],
    'X-Forwarded-Proto': added['x-forwarded-proto'],
  };
}

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  socket.end(
    `HTTP/1.1 ${status} ${message}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

function sendJson(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  response.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
  response.end(JSON.stringify(body));
}
