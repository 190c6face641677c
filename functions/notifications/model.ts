import * as z from '../shared/validation';

/** Who a notification is for. Tenant and user become the key prefix `tenant#user`. */
export interface Recipient {
  readonly tenant: string;
  readonly userId: string;
}

export function recipientKey(recipient: Recipient): string {
  return `${recipient.tenant}#${recipient.userId}`;
}

import { priorities, type Priority } from '../protocol/priorities';

export { priorities, type Priority };

/** Bounds that keep a stored notification, and the frame that carries it, far below 32 KB. */
export const notificationLimits = { title: 200, body: 2_000, dataBytes: 8 * 1024, kind: 64, groupKey: 128, dedupeKey: 256 } as const;

const SAFE_TOKEN = /^[A-Za-z0-9._:@+-]+$/;

export const kindSchema = z.string().check(z.minLength(1), z.maxLength(notificationLimits.kind), z.regex(/^[a-z0-9][a-z0-9._-]*$/i));

export const notificationContentSchema = z.object({
  kind: kindSchema,
  title: z.string().check(z.minLength(1), z.maxLength(notificationLimits.title)),
  body: z.optional(z.string().check(z.maxLength(notificationLimits.body))),
  data: z.optional(
    z.record(z.string(), z.unknown()).check(
      z.refine((data) => Buffer.byteLength(JSON.stringify(data)) <= notificationLimits.dataBytes, {
        message: `must serialise to at most ${notificationLimits.dataBytes} bytes`,
      }),
    ),
  ),
  priority: z._default(z.enum(priorities), 'normal'),
  groupKey: z.optional(z.string().check(z.minLength(1), z.maxLength(notificationLimits.groupKey))),
});

export const dedupeKeySchema = z.string().check(z.minLength(1), z.maxLength(notificationLimits.dedupeKey), z.regex(SAFE_TOKEN));

export interface NotificationContent {
  readonly kind: string;
  readonly title: string;
  readonly body?: string;
  readonly data?: Record<string, unknown>;
  readonly priority: Priority;
  readonly groupKey?: string;
}

/** A persisted notification: its content plus the user's seq, a unique id and when it was made. */
export interface Notification extends NotificationContent {
  readonly seq: number;
  readonly id: string;
  readonly createdAt: string;
}

export interface InboxItem extends Notification {
  readonly read: boolean;
}

/** One notification for one user, as any source (an API call, an alert, an export) asks for it. */
export interface DeliveryRequest extends NotificationContent {
  readonly recipient: Recipient;
  /** Makes a repeated request a no-op that returns the first result (stream replays, retries). */
  readonly dedupeKey?: string;
  /** The source would like this to go by email too; the recipient's preferences decide. */
  readonly email?: boolean;
}

/**
 * `email`: the source asked for email and the recipient's preferences allow it; `emailTo`: their
 * address, when they gave one. A duplicate carries both too, so a source that failed after the
 * notification committed (its email unsent) can still send it when it is retried.
 */
export type DeliveryOutcome = DeliveryStatus & { readonly email: boolean; readonly emailTo?: string };

export type DeliveryStatus =
  | { readonly status: 'delivered'; readonly id: string; readonly seq: number }
  | { readonly status: 'duplicate'; readonly id: string; readonly seq: number }
  | { readonly status: 'suppressed' };
