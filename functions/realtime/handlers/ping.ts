import { connectionDeps, notificationStoreFromEnv } from '#functions/adapters/wiring';
import { acknowledge } from '#functions/notifications/acks';
import type { NotificationStore } from '#functions/notifications/store';
import { countMetric } from '#functions/shared/instrumentation';
import { websocketAction, withId, type ActionDeps } from '../action';
import { clientFrames } from '#functions/protocol/frames';

export interface PingDeps extends ActionDeps {
  readonly notifications: Pick<NotificationStore, 'recordAck'>;
}

/**
 * `ping` → `pong`: keeps the socket inside API Gateway's 10-minute idle timeout. A ping with
 * `ack` also raises the delivered watermark, as `ack {upTo}` would (docs/protocol.md, "Acks"):
 * one frame where a client would otherwise send two. An `ack` beyond the last notification is
 * answered with `invalid_frame` instead of `pong`.
 */
export function makeHandler(deps: PingDeps) {
  return websocketAction(clientFrames.ping, deps, async (frame, { identity }) => {
    countMetric('Pings');
    if (frame.ack !== undefined) {
      const refused = await acknowledge(deps.notifications, identity, frame.ack, 'ack', frame.id);
      if (refused) return refused;
    }
    return withId({ type: 'pong' }, frame.id);
  });
}

export const handler = makeHandler({ ...connectionDeps(), notifications: notificationStoreFromEnv() });
