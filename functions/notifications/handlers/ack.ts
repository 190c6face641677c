import { connectionDeps, notificationStoreFromEnv } from '#functions/adapters/wiring';
import { websocketAction, type ActionDeps } from '#functions/realtime/action';
import { clientFrames } from '#functions/protocol/frames';
import { acknowledge } from '../acks';
import type { NotificationStore } from '../store';

export interface AckDeps extends ActionDeps {
  readonly notifications: NotificationStore;
}

/**
 * `ack {upTo}`: raises the user's delivered watermark. Silent on success, like TCP's ack.
 * HeraldClient now sends it only on stop(), its acks riding on pings and resumes (docs/protocol.md,
 * "Acks"); the route stays for every client that acks this way.
 */
export function makeHandler(deps: AckDeps) {
  return websocketAction(clientFrames.ack, deps, async (frame, { identity }) => acknowledge(deps.notifications, identity, frame.upTo, 'upTo', frame.id));
}

export const handler = makeHandler({ ...connectionDeps(), notifications: notificationStoreFromEnv() });
