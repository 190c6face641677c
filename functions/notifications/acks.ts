import type { ServerFrame } from '../protocol/frames';
import { errorFrame } from '../realtime/frames';
import type { Recipient } from './model';
import type { NotificationStore } from './store';

/**
 * Raises the user's delivered watermark (`ackedUpTo` on the counter item) from any of the frames
 * that carry one: `ack {upTo}`, a keep-alive `ping {ack}`, or a `resume`'s `after`. Nothing shown
 * or replayed depends on it (docs/protocol.md, "Acks"), so it may lag. An `upTo` beyond the last
 * committed seq is an `invalid_frame` error naming `field`; a lower one than already recorded is
 * ignored.
 */
export async function acknowledge(
  store: Pick<NotificationStore, 'recordAck'>,
  recipient: Recipient,
  upTo: number,
  field: string,
  id: string | undefined,
): Promise<ServerFrame | undefined> {
  const outcome = await store.recordAck(recipient, upTo);
  if (outcome === 'beyond') return errorFrame('invalid_frame', `${field}: ${upTo} is beyond the last notification`, id);
  return undefined;
}
