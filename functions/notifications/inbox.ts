import { NotFoundError } from '../shared/errors';
import type { InboxItem, Recipient } from './model';
import type { NotificationStore } from './store';
import type { MarkReadBody } from '../protocol/http';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;

/**
 * Notifications replayed per resume frame; the client asks again while `more` is true. Each is
 * one @connections post, in order; at tens of milliseconds a post in AWS, 200 stays far inside
 * the function's timeout and API Gateway's 29-second integration limit.
 */
export const RESUME_MAX_NOTIFICATIONS = 200;

/**
 * Notifications replayed per batched resume: about ten 32 KB frames of typical notifications, so
 * a thousand missed cost one resume, ten page reads and a handful of posts.
 */
export const RESUME_MAX_BATCHED = 1_000;

export interface ReplayPage {
  readonly items: InboxItem[];
  /** Where the next page starts: the last seq returned, or where the client should jump to. */
  readonly nextAfter: number;
  readonly more: boolean;
  /**
   * Notifications right after `after` are gone (expired past retention), or the client is ahead
   * of the server (its store is from another deployment): it should reset rather than wait.
   */
  readonly gap: boolean;
}

/** One page of the inbox after `after`: the same semantics for WebSocket resume and HTTP polling. */
export async function readPage(store: NotificationStore, recipient: Recipient, after: number, limit: number, now: Date): Promise<ReplayPage> {
  const { items, lastSeq } = await store.page(recipient, after, limit, epochSeconds(now));
  const first = items[0]?.seq;
  const last = items.at(-1)?.seq;
  const gap = after > lastSeq || ((first ?? lastSeq + 1) > after + 1 && lastSeq > after);
  const nextAfter = last ?? (gap ? lastSeq : after);
  return { items, nextAfter, more: nextAfter < lastSeq, gap };
}

/** Marks notifications read by watermark or by id; unknown or foreign ids answer 404, changing nothing. */
export async function markRead(store: NotificationStore, recipient: Recipient, request: MarkReadBody): Promise<void> {
  if ('upTo' in request) return store.markReadUpTo(recipient, request.upTo);
  const ids = [...new Set(request.ids)];
  const seqs = await store.seqsOfIds(recipient, ids);
  const unknown = ids.filter((id) => !seqs.has(id));
  if (unknown.length > 0) throw new NotFoundError(`No notification ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`);
  await store.markReadSeqs(recipient, [...seqs.values()]);
}

export function epochSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
