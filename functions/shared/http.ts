import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { BadRequestError, HeraldError, PayloadTooLargeError, type LimitDetails } from './errors';
import { callerFromClaims, type Caller, type ClaimNames } from './caller';
import { instrument, logger } from './instrumentation';
import * as z from './validation';

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** JSON bodies Herald accepts are small; anything larger is a mistake or an attack. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

export function errorResult(error: unknown): HttpResult {
  if (error instanceof HeraldError) {
    // A limit that says when to try again says it in the standard header too, for HTTP clients and proxies that honour it.
    const retryAfterSeconds = (error.details?.limit as LimitDetails | undefined)?.retryAfterSeconds;
    const headers: Record<string, string> = retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) };
    return json(error.status, { error: { code: error.code, message: error.message }, ...error.details }, headers);
  }
  logger.error('Unhandled error', error as Error);
  return json(500, { error: { code: 'internal', message: 'Internal error' } });
}

/** The route's path parameters, checked like any other input: a value the schema refuses answers 400 `invalid_path`. */
export function pathParameters<Schema extends z.ZodMiniType>(event: HttpEvent, schema: Schema): z.infer<Schema> {
  const result = schema.safeParse(event.pathParameters ?? {});
  if (!result.success) throw new BadRequestError(z.describeIssues(result.error), 'invalid_path');
  return result.data;
}

/** Wraps a route so that domain errors become `{error:{code,message}}` responses and nothing else leaks. */
export function httpRoute(route: (event: HttpEvent) => Promise<HttpResult>) {
  return async (event: HttpEvent): Promise<HttpResult> => {
    try {
      return await route(event);
    } catch (error) {
      return errorResult(error);
    }
  };
}

/**
 * The shape of every JWT-authorized entry: instrumented, errors mapped, and the caller (tenant,
 * user, roles) taken from the verified claims before the route runs.
 */
export function callerRoute(claims: ClaimNames, route: (caller: Caller, event: HttpEvent) => Promise<HttpResult>) {
  return instrument(httpRoute(async (event: HttpEvent) => route(callerFromClaims(event.requestContext.authorizer?.jwt?.claims, claims), event)));
}

export function parseJsonBody<Schema extends z.ZodMiniType>(event: HttpEvent, schema: Schema): z.infer<Schema> {
  const raw = event.body === undefined ? '' : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (Buffer.byteLength(raw) > MAX_JSON_BODY_BYTES) {
    throw new PayloadTooLargeError(`Body is larger than ${MAX_JSON_BODY_BYTES} bytes`);
  }
  let value: unknown;
  try {
    value = raw === '' ? {} : JSON.parse(raw);
  } catch {
    throw new BadRequestError('Body is not valid JSON', 'invalid_json');
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new BadRequestError(z.describeIssues(result.error), 'invalid_body');
  return result.data;
}

/** Query string parameters validated like a body, so a bad one gets a 400 that names it. */
export function parseQuery<Schema extends z.ZodMiniType>(event: HttpEvent, schema: Schema): z.infer<Schema> {
  const result = schema.safeParse(event.queryStringParameters ?? {});
  if (!result.success) throw new BadRequestError(z.describeIssues(result.error), 'invalid_query');
  return result.data;
}
