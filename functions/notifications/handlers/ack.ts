import { connectionDeps, notificationStoreFromEnv } from '#functions/adapters/wiring';
import { websocketAction, type ActionDeps } from '#functions/realtime/action';
import { clientFrames } from '#functions/protocol/frames';
import { errorFrame } from '#functions/realtime/frames';
import type { NotificationStore } from '../store';

export interface AckDeps extends ActionDeps {
  readonly notifications: NotificationStore;
}

/** `ack {upTo}`: raises the user's delivered watermark. Silent on success, like TCP's ack. */
export function makeHandler(deps: AckDeps) {
  return websocketAction(clientFrames.ack, deps, async (frame, { identity }) => {
    const outcome = await deps.notifications.recordAck(identity, frame.upTo);
    if (outcome === 'beyond') return errorFrame('invalid_frame', `upTo: ${frame.upTo} is beyond the last notification`, frame.id);
    return undefined;
  });
}

export const handler = makeHandler({ ...connectionDeps(), notifications: notificationStoreFromEnv() });
