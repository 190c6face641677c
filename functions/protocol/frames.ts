/**
 * The WebSocket protocol, defined once (docs/protocol.md): what clients send, what the server
 * answers, and the error codes. The handlers validate with these schemas, the local gateway takes
 * its limits from here, and web/client type-checks against the types inferred from them.
 */
import * as z from '../shared/validation';
import { priorities } from './priorities';
import { recordChangeFrameSchema } from './records';

/**
 * API Gateway's WebSocket frame limit. It closes a larger single frame itself (1009); a larger
 * message that arrived in smaller frames reaches a handler, which answers `frame_too_large`.
 */
export const MAX_FRAME_BYTES = 32 * 1024;
/** API Gateway's WebSocket message limit (a message may span several frames). */
export const MAX_MESSAGE_BYTES = 128 * 1024;

const correlationId = z.optional(z.string().check(z.maxLength(64)));
const seq = z.int().check(z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER));
/** Topic names become key prefixes (`tenant#topic`), so they are restricted like ids. */
export const topicSchema = z.string().check(z.regex(/^[A-Za-z0-9._:@+-]{1,128}$/, 'must be 1-128 letters, digits or ._:@+-'));

/** Client to server, one schema per action; API Gateway routes on `action` (a route per key here). */
export const clientFrames = {
  /**
   * `ack` (optional) carries the delivered watermark on the keep-alive, as `ack {upTo}` would, so a
   * client need not spend a frame per notification on it (docs/protocol.md, "Acks").
   */
  ping: z.strictObject({ action: z.literal('ping'), ack: z.optional(seq), id: correlationId }),
  /** `batch: true` opts in to `notifications` frames carrying many replayed notifications each (docs/protocol.md). */
  resume: z.strictObject({ action: z.literal('resume'), after: seq, batch: z.optional(z.boolean()), id: correlationId }),
  ack: z.strictObject({ action: z.literal('ack'), upTo: seq, id: correlationId }),
  subscribe: z.strictObject({ action: z.literal('subscribe'), topic: topicSchema, id: correlationId }),
  unsubscribe: z.strictObject({ action: z.literal('unsubscribe'), topic: topicSchema, id: correlationId }),
} as const;
export type ClientAction = keyof typeof clientFrames;
/** Actions with a route of their own; anything else reaches `$default`. */
export const clientActions = Object.keys(clientFrames) as ClientAction[];
export type ClientFrame = { [Action in ClientAction]: z.infer<(typeof clientFrames)[Action]> }[ClientAction];

export const errorCodes = ['malformed_frame', 'unknown_action', 'invalid_frame', 'frame_too_large', 'rate_limited', 'forbidden', 'internal'] as const;
export type ErrorCode = (typeof errorCodes)[number];

/** A notification as it travels: over the socket `read` may be absent, over HTTP it is always there. */
export const wireNotificationSchema = z.strictObject({
  seq,
  id: z.string(),
  kind: z.string(),
  title: z.string(),
  body: z.optional(z.string()),
  data: z.optional(z.record(z.string(), z.unknown())),
  priority: z.enum(priorities),
  createdAt: z.string(),
  groupKey: z.optional(z.string()),
  read: z.optional(z.boolean()),
});

/** Server to client, discriminated by `type`; strict, so a field the definition lacks is a mismatch, not a silent extra. */
export const serverFrameSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('pong'), id: correlationId }),
  z.extend(wireNotificationSchema, { type: z.literal('notification') }),
  /** Replayed notifications, in seq order, packed up to MAX_FRAME_BYTES; only to a `resume` that asked with `batch: true`. */
  z.strictObject({ type: z.literal('notifications'), items: z.array(wireNotificationSchema).check(z.minLength(1)) }),
  z.strictObject({ type: z.literal('replayed'), upTo: seq, more: z.boolean(), gap: z.boolean(), unread: seq, id: correlationId }),
  z.strictObject({ type: z.literal('subscribed'), topic: z.string(), id: correlationId }),
  z.strictObject({ type: z.literal('unsubscribed'), topic: z.string(), id: correlationId }),
  z.strictObject({ type: z.literal('event'), topic: z.string(), name: z.string(), data: z.record(z.string(), z.unknown()) }),
  z.strictObject({ type: z.literal('progress'), jobId: z.string(), done: seq, total: z.optional(seq), version: seq }),
  z.strictObject({ type: z.literal('error'), code: z.enum(errorCodes), message: z.string(), id: correlationId }),
  recordChangeFrameSchema,
]);
export type ServerFrame = z.infer<typeof serverFrameSchema>;
