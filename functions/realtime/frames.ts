import { clientActions, MAX_FRAME_BYTES, type ErrorCode, type ServerFrame, type wireNotificationSchema } from '../protocol/frames';
import * as z from '../shared/validation';

/**
 * Reading and answering frames on the server. The frames themselves are defined once, in
 * functions/protocol/frames.ts (docs/protocol.md).
 */

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
  const id =
    typeof value === 'object' && value !== null && typeof (value as { id?: unknown }).id === 'string' ? (value as { id: string }).id.slice(0, 64) : undefined;
  const result = schema.safeParse(value);
  if (!result.success) return { ok: false, error: errorFrame('invalid_frame', z.describeIssues(result.error), id) };
  return { ok: true, frame: result.data };
}

/** What $default answers: a frame that is not JSON, has no action, or names an action Herald lacks. */
export function describeUnroutableFrame(body: string | undefined | null): ServerFrame {
  const parsed = parseFrame(body, z.looseObject({ action: z.string(), id: z.optional(z.string().check(z.maxLength(64))) }));
  if (!parsed.ok) {
    return parsed.error.type === 'error' && parsed.error.code === 'invalid_frame'
      ? errorFrame('malformed_frame', 'Frame must be a JSON object with a string "action"', parsed.error.id)
      : parsed.error;
  }
  return errorFrame('unknown_action', `Unknown action "${parsed.frame.action.slice(0, 64)}"; expected one of: ${clientActions.join(', ')}`, parsed.frame.id);
}

type WireNotification = z.infer<typeof wireNotificationSchema>;
type NotificationsFrame = Extract<ServerFrame, { type: 'notifications' }>;

/** `{"type":"notifications","items":[` and `]}`: what a batch frame adds around its items. */
const BATCH_ENVELOPE_BYTES = Buffer.byteLength(JSON.stringify({ type: 'notifications', items: [] }));

/**
 * Packs notifications, in the order added, into `notifications` frames of at most `maxBytes`
 * serialized. API Gateway bills a WebSocket message per 32 KB started, so a frame filled to 32 KB
 * costs what a single notification's frame does. A notification too large for a frame of its own
 * (cannot happen within deliver()'s limits) still goes, alone.
 */
export class BatchPacker {
  private items: WireNotification[] = [];
  private bytes = BATCH_ENVELOPE_BYTES;

  constructor(private readonly maxBytes = MAX_FRAME_BYTES) {}

  /** Adds one notification; returns the frame it closed, when it did not fit beside the ones before. */
  add(item: WireNotification): NotificationsFrame | undefined {
    const itemBytes = Buffer.byteLength(JSON.stringify(item));
    // A comma separates items after the first.
    const full = this.items.length > 0 && this.bytes + 1 + itemBytes > this.maxBytes ? this.flush() : undefined;
    this.bytes += (this.items.length > 0 ? 1 : 0) + itemBytes;
    this.items.push(item);
    return full;
  }

  /** The frame of what was added since the last one, if anything was. */
  flush(): NotificationsFrame | undefined {
    if (this.items.length === 0) return undefined;
    const frame: NotificationsFrame = { type: 'notifications', items: this.items };
    this.items = [];
    this.bytes = BATCH_ENVELOPE_BYTES;
    return frame;
  }
}
