import { clientActions, MAX_FRAME_BYTES, type ErrorCode, type ServerFrame } from '../protocol/frames';
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
