/**
 * The HTTP shapes the client library relies on, defined once (docs/protocol.md). Handlers answer
 * them, web/client type-checks against the types inferred here.
 */
import * as z from '../shared/validation';
import { wireNotificationSchema } from './frames';

/** Every 4xx and 5xx Herald itself answers. */
export const errorBodySchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** A quota or rate refused the request (`limit_exceeded`, 403 or 429): the body names the limit. */
export const limitExceededBodySchema = z.extend(errorBodySchema, {
  limit: z.object({ name: z.string(), max: z.int(), retryAfterSeconds: z.optional(z.int()) }),
});
export type LimitExceededBody = z.infer<typeof limitExceededBodySchema>;

/** `POST /realtime/ticket`: a single-use ticket and the URL to connect with it. */
export const ticketSchema = z.object({ ticket: z.string(), expiresAt: z.string(), url: z.string() });
export type Ticket = z.infer<typeof ticketSchema>;

/** `GET /notifications?after=&limit=`; also what a WebSocket resume amounts to. */
export const notificationPageSchema = z.object({
  items: z.array(z.extend(wireNotificationSchema, { read: z.boolean() })),
  nextAfter: z.int(),
  more: z.boolean(),
  /** Notifications right after `after` expired before this client saw them. */
  gap: z.boolean(),
  unread: z.int(),
});
export type NotificationPage = z.infer<typeof notificationPageSchema>;

/** `POST /notifications/read`: up to a seq, or by id. */
export const MAX_READ_IDS = 100;
export const markReadBodySchema = z.union([
  z.strictObject({ upTo: z.int().check(z.positive(), z.lte(Number.MAX_SAFE_INTEGER)) }),
  z.strictObject({ ids: z.array(z.string().check(z.minLength(1), z.maxLength(64))).check(z.minLength(1), z.maxLength(MAX_READ_IDS)) }),
]);
export type MarkReadBody = z.infer<typeof markReadBodySchema>;
export const markReadResultSchema = z.object({ unread: z.int() });
export type MarkReadResult = z.infer<typeof markReadResultSchema>;
