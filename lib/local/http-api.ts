import { randomBytes, randomUUID } from 'node:crypto';
import { channel } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import * as z from '#functions/shared/validation';
import { corsPolicy, type HttpMethod } from '../description';
import { LOCAL_ACCOUNT } from './aws-local';
import { closeServer, listenOnLoopback, readBody } from './http-server';
import type { LocalIssuer } from './issuer';
import type { LocalFunction } from './lambda-host';

export interface HttpRoute {
  readonly method: HttpMethod;
  readonly path: string;
  readonly auth: 'jwt' | 'none';
  readonly function: LocalFunction;
}

export interface HttpApiOptions {
  readonly port: number;
  readonly apiId: string;
  readonly routes: readonly HttpRoute[];
  readonly issuer: LocalIssuer;
  readonly allowedOrigins: readonly string[];
  readonly log?: (message: string) => void;
}

export interface HttpApi {
  readonly url: string;
  /** "METHOD /path -> function" for every route served, for the parity test against the CDK template. */
  readonly routeKeys: readonly string[];
  stop(): Promise<void>;
}

/** Published with `{ routeKey }` once a request's JWT is verified, for benchmarks that time a request's stages (bench/publish-spans.ts). */
export const jwtVerifiedChannel = channel('herald.local.http-api.jwt-verified');

/** API Gateway HTTP APIs refuse larger request bodies. */
const PAYLOAD_LIMIT_BYTES = 10 * 1024 * 1024;

const devTokenBody = z.strictObject({
  // Optional so a test can mint a token without a tenant and see it refused.
  tenant: z.optional(z.string().check(z.regex(/^[A-Za-z0-9._:@+-]{1,128}$/))),
  user: z.string().check(z.regex(/^[A-Za-z0-9._:@+-]{1,128}$/)),
  roles: z._default(z.array(z.string().check(z.minLength(1), z.maxLength(64))).check(z.maxLength(20)), []),
  // The `email` claim an OIDC ID token carries (export recipients allow the caller's own).
  email: z.optional(z.string().check(z.regex(/^[^\s@]+@[^\s@]+\.[^\s@]+$/), z.maxLength(254))),
  // Negative values mint already-expired tokens, so tests can prove expiry is enforced.
  expiresInSeconds: z.optional(z.int().check(z.minimum(-86_400), z.maximum(86_400))),
});

/**
 * A stand-in for an API Gateway HTTP API with a JWT authorizer and Lambda proxy integrations
 * (payload format 2.0), plus the local issuer's `POST /dev/token` and `GET /.well-known/jwks.json`.
 */
export async function startHttpApi(options: HttpApiOptions): Promise<HttpApi> {
  const log = options.log ?? (() => undefined);
  const compiled = options.routes.map((route) => ({ route, pattern: compilePath(route.path) }));
  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log(`HTTP API error: ${String(error)}`);
      if (!response.headersSent) send(response, 500, { message: 'Internal Server Error' });
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = (request.method ?? 'GET').toUpperCase();
    const origin = request.headers.origin;
    const allowed = origin !== undefined && options.allowedOrigins.includes(origin);
    if (allowed) {
      response.setHeader('access-control-allow-origin', origin);
      response.setHeader('access-control-expose-headers', corsPolicy.exposeHeaders.join(','));
      response.setHeader('vary', 'origin');
    }
    // With CORS configured, API Gateway answers every preflight itself; only an allowed origin
    // gets the headers that let the browser go on.
    if (method === 'OPTIONS') {
      response.writeHead(
        204,
        allowed
          ? {
              'access-control-allow-methods': corsPolicy.allowMethods.join(','),
              'access-control-allow-headers': corsPolicy.allowHeaders.join(','),
              'access-control-max-age': String(corsPolicy.maxAgeSeconds),
            }
          : {},
      );
      response.end();
      return;
    }

    if (method === 'GET' && url.pathname === '/.well-known/jwks.json') return send(response, 200, options.issuer.jwks);
    if (method === 'POST' && url.pathname === '/dev/token') return issueDevToken(request, response);

    const matched = matchRoute(method, url.pathname);
    if (!matched) return send(response, 404, { message: 'Not Found' });
    const { route, pathParameters } = matched;

    let claims: JWTPayload | undefined;
    if (route.auth === 'jwt') {
      // API Gateway takes the token with or without the "Bearer " prefix.
      const token = /^(?:Bearer )?(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
      if (!token) return send(response, 401, { message: 'Unauthorized' }, { 'www-authenticate': 'Bearer' });
      try {
        claims = await options.issuer.verify(token);
        if (jwtVerifiedChannel.hasSubscribers) jwtVerifiedChannel.publish({ routeKey: `${route.method} ${route.path}` });
      } catch (error) {
        log(`JWT refused: ${String(error)}`);
        return send(response, 401, { message: 'Unauthorized' }, { 'www-authenticate': 'Bearer error="invalid_token"' });
      }
    }

    const body = await readBody(request, PAYLOAD_LIMIT_BYTES);
    if (body === undefined) return send(response, 413, { message: 'Request Entity Too Large' });
    const event = buildEvent(request, url, route, pathParameters, body, claims);
    let result: unknown;
    try {
      result = await route.function.invoke(event);
    } catch (error) {
      log(`${route.method} ${route.path} failed: ${String(error)}`);
      return send(response, 500, { message: 'Internal Server Error' });
    }
    writeResult(response, result);
  }

  async function issueDevToken(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const raw = await readBody(request, PAYLOAD_LIMIT_BYTES);
    let input: unknown;
    try {
      input = JSON.parse(raw?.toString('utf8') ?? '');
    } catch {
      return send(response, 400, { error: { code: 'invalid_json', message: 'Body is not valid JSON' } });
    }
    const parsed = devTokenBody.safeParse(input);
    if (!parsed.success) return send(response, 400, { error: { code: 'invalid_body', message: z.describeIssues(parsed.error) } });
    const token = await options.issuer.sign(parsed.data);
    send(response, 200, { token });
  }

  function matchRoute(method: string, path: string) {
    for (const { route, pattern } of compiled) {
      if (route.method !== method) continue;
      const match = pattern.regex.exec(path);
      if (!match) continue;
      const pathParameters = Object.fromEntries(pattern.names.map((name, index) => [name, decodeURIComponent(match[index + 1] ?? '')]));
      return { route, pathParameters };
    }
    return undefined;
  }

  function buildEvent(
    request: IncomingMessage,
    url: URL,
    route: HttpRoute,
    pathParameters: Record<string, string>,
    body: Buffer,
    claims: JWTPayload | undefined,
  ) {
    const now = Date.now();
    const sourceIp = sourceIpOf(request);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (name === 'cookie' || value === undefined) continue;
      headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    Object.assign(headers, forwardingHeaders(headers, { sourceIp, port: request.socket.localPort ?? port, now }));
    const domainName = headers.host ?? `127.0.0.1:${port}`;
    const queryStringParameters: Record<string, string> = {};
    for (const [key, value] of url.searchParams)
      queryStringParameters[key] = queryStringParameters[key] === undefined ? value : `${queryStringParameters[key]},${value}`;
    const textual = /^(application\/(json|x-www-form-urlencoded)|text\/)/.test(headers['content-type'] ?? 'application/json');
    return {
      version: '2.0',
      routeKey: `${route.method} ${route.path}`,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      cookies: request.headers.cookie?.split(/;\s*/),
      headers,
      queryStringParameters: Object.keys(queryStringParameters).length > 0 ? queryStringParameters : undefined,
      pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : undefined,
      requestContext: {
        accountId: LOCAL_ACCOUNT,
        apiId: options.apiId,
        authorizer: claims ? { jwt: { claims: flattenClaims(claims), scopes: null } } : undefined,
        domainName,
        domainPrefix: domainPrefixOf(domainName),
        http: { method: route.method, path: url.pathname, protocol: `HTTP/${request.httpVersion}`, sourceIp, userAgent: headers['user-agent'] ?? '' },
        requestId: randomUUID(),
        routeKey: `${route.method} ${route.path}`,
        stage: '$default',
        time: requestTimeOf(now),
        timeEpoch: now,
      },
      body: body.length === 0 ? undefined : textual ? body.toString('utf8') : body.toString('base64'),
      isBase64Encoded: body.length > 0 && !textual,
    };
  }

  const port = await listenOnLoopback(server, options.port);
  return {
    url: `http://127.0.0.1:${port}`,
    routeKeys: options.routes.map((route) => `${route.method} ${route.path} -> ${route.function.name}`),
    stop: () => closeServer(server),
  };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's `requestTime` (and HTTP API `time`): `09/Apr/2015:12:34:56 +0000`, always UTC. */
export function requestTimeOf(epochMs: number): string {
  const date = new Date(epochMs);
  const two = (value: number) => String(value).padStart(2, '0');
  return `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
}

/** An X-Ray trace header as API Gateway adds one: `Root=1-<epoch seconds, hex>-<96 random bits, hex>`. */
export function newTraceId(epochMs: number): string {
  return `Root=1-${Math.floor(epochMs / 1000)
    .toString(16)
    .padStart(8, '0')}-${randomBytes(12).toString('hex')}`;
}

/**
 * The first label of the domain name, as API Gateway defines `domainPrefix` (for the default
 * endpoint `<apiId>.execute-api.<region>.amazonaws.com` that is the API id). Locally the domain is
 * the host the client connected to, so `localhost:4100` gives `localhost` and `127.0.0.1:4100` gives `127`.
 */
export function domainPrefixOf(domainName: string): string {
  return domainName.replace(/:\d+$/, '').split('.')[0] ?? domainName;
}

/** Node reports IPv4 clients of a dual-stack socket as `::ffff:a.b.c.d`; API Gateway gives the IPv4 address. */
export function sourceIpOf(request: IncomingMessage): string {
  const address = request.socket.remoteAddress ?? '127.0.0.1';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice('::ffff:'.length) : address;
}

/**
 * The headers API Gateway adds in front of the integration: X-Forwarded-For (the client's own
 * value, if any, with the source address appended), -Port and -Proto (as the client connected:
 * locally plain HTTP on the emulator's port) and X-Amzn-Trace-Id (the client's, or a new one).
 * Names are returned in lower case; a client's spelling of them is replaced by the caller.
 */
export function forwardingHeaders(
  clientHeaders: Readonly<Record<string, string>>,
  connection: { sourceIp: string; port: number; now: number },
): Record<'x-forwarded-for' | 'x-forwarded-port' | 'x-forwarded-proto' | 'x-amzn-trace-id', string> {
  const sent = (name: string) => Object.entries(clientHeaders).find(([key]) => key.toLowerCase() === name)?.[1];
  const forwardedFor = sent('x-forwarded-for');
  return {
    'x-forwarded-for': forwardedFor ? `${forwardedFor}, ${connection.sourceIp}` : connection.sourceIp,
    'x-forwarded-port': String(connection.port),
    'x-forwarded-proto': 'http',
    'x-amzn-trace-id': sent('x-amzn-trace-id') ?? newTraceId(connection.now),
  };
}

/** "/exports/runs/{id}/download" -> a regex with one capture per parameter. */
function compilePath(path: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = path
    .split('/')
    .map((segment) => {
      const parameter = /^\{(\w+)\}$/.exec(segment);
      if (!parameter) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(parameter[1] ?? '');
      return '([^/]+)';
    })
    .join('/');
  return { regex: new RegExp(`^${source}$`), names };
}

/** The HTTP API JWT authorizer hands claims over as strings; arrays become "[a b]". */
function flattenClaims(claims: JWTPayload): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [key, value] of Object.entries(claims)) {
    if (Array.isArray(value)) flat[key] = `[${value.join(' ')}]`;
    else if (typeof value === 'object' && value !== null) flat[key] = JSON.stringify(value);
    else flat[key] = String(value);
  }
  return flat;
}

/** Payload format 2.0: a result without statusCode is a 200 JSON body. */
function writeResult(response: ServerResponse, result: unknown): void {
  if (typeof result === 'object' && result !== null && 'statusCode' in result) {
    const structured = result as { statusCode: number; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean; cookies?: string[] };
    const headers: Record<string, string | string[]> = { ...(structured.headers ?? {}) };
    if (structured.cookies?.length) headers['set-cookie'] = structured.cookies;
    response.writeHead(structured.statusCode, headers);
    response.end(structured.body === undefined ? undefined : structured.isBase64Encoded ? Buffer.from(structured.body, 'base64') : structured.body);
    return;
  }
  send(response, 200, result);
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}
