import { connectionDeps } from '#functions/adapters/wiring';
import { countMetric } from '#functions/shared/instrumentation';
import { websocketAction, withId, type ActionDeps } from '../action';
import { clientFrames } from '#functions/protocol/frames';

/** `ping` → `pong`: keeps the socket inside API Gateway's 10-minute idle timeout. */
export function makeHandler(deps: ActionDeps) {
  return websocketAction(clientFrames.ping, deps, async (frame) => {
    countMetric('Pings');
    return withId({ type: 'pong' }, frame.id);
  });
}

export const handler = makeHandler(connectionDeps());
