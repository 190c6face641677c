import type { Notification } from '../notifications/model';
import * as z from '../shared/validation';

/**
 * The WebSocket protocol's frames (docs/protocol.md). Clients send `{action, ...}`; API Gateway
 * routes on `action`. The server answers with `{type, ...}`.
 */

/**
 * API Gateway's WebSocket frame limit. It closes a larger single frame itself (1009); a larger
 * message that arrived in smaller frames reaches a handler, which answers `frame_too_large`.
 */
export const MAX_FRAME_BYTES = 32 * 1024;

const correlationId = z.optional(z.string().check(z.maxLength(64)));

const seq = z.int().check(z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER));
/** Topic names become key prefixes (`tenant#topic`), so they are restricted like ids. */
export const topicSchema = z.string().check(z.regex(/^[A-Za-z0-9._:@+-]{1,128}$/, 'must be 1-128 letters, digits or ._:@+-'));

export const pingFrame = z.strictObject({ action: z.literal('ping'), id: correlationId });
export const resumeFrame = z.strictObject({ action: z.literal('resume'), after: seq, id: correlationId });
export const ackFrame = z.strictObject({ action: z.literal('ack'), upTo: seq, id: correlationId });
export const subscribeFrame = z.strictObject({ action: z.literal('subscribe'), topic: topicSchema, id: correlationId });
export const unsubscribeFrame = z.strictObject({ action: z.literal('unsubscribe'), topic: topicSchema, id: correlationId });

/** Actions with a route of their own; anything else reaches $default. */
export const knownActions = ['ping', 'resume', 'ack', 'subscribe', 'unsubscribe'] as const;

export type ErrorCode =
  | 'malformed_frame'
  | 'unknown_action'
  | 'invalid_frame'
  | 'frame_too_large'
  | 'rate_limited'
  | 'forbidden'
  | 'internal';

export type ServerFrame =
  | { type: 'pong'; id?: string }
  | ({ type: 'notification'; read?: boolean } & Notification)
  | { type: 'replayed'; upTo: number; more: boolean; gap: boolean; unread: number; id?: string }
  | { type: 'subscribed'; topic: string; id?: string }
  | { type: 'unsubscribed'; topic: string; id?: string }
  | { type: 'event'; topic: string; name: string; data: Record<string, unknown> }
  | { type: 'progress'; jobId: string; done: number; total?: number; version: number }
  | { type: 'error'; code: ErrorCode; message: string; id?: string };

export function errorFrame(code: ErrorCode, message: string, id?: string): ServerFrame {
  return id === undefined ? { type: 'error', code, message } : { type: 'error', code, message, id };
}

export type ParsedFrame<T> = { ok: true; frame: T } | { ok: false; error: ServerFrame };

/** Size, JSON and schema checks shared by every route, so each answers bad input the same way. */
export function parseFrame<Schema extends z.ZodMiniType>(body: string | undefined | null, schema: Schema): ParsedFrame<z.infer<Schema>> {
  const raw = body ?? '';
  if (Buffer.byteLength(raw) > MAX_FRAME_BYTES) {
    return { ok: false, error: errorFrame('frame_too_large', `Frames are limited to ${MAX_FRAME_BYTES} bytes`) };
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return { ok: false, error: errorFrame('malformed_frame', 'Frame is not valid JSON') };
  }
  const id = typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string' ? (value as { id: string }).id.slice(0, 64) : undefined;
  const result = schema.safeParse(value);
  if (!result.success) return { ok: false, error: errorFrame('invalid_frame', z.describeIssues(result.error), id) };
  return { ok: true, frame: result.data };
}

/** What $default answers: a frame that is not JSON, has no action, or names an action Herald lacks. */
export function describeUnroutableFrame(body: string | undefined | null): ServerFrame {
  const parsed = parseFrame(body, z.looseObject({ action: z.string(), id: correlationId }));
  if (!parsed.ok) {
    return parsed.error.type === 'error' && parsed.error.code === 'invalid_frame'
      ? errorFrame('malformed_frame', 'Frame must be a JSON object with a string "action"', parsed.error.id)
      : parsed.error;
  }
  return errorFrame('unknown_action', `Unknown action "${parsed.frame.action.slice(0, 64)}"; expected one of: ${knownActions.join(', ')}`, parsed.frame.id);
}
