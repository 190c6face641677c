import { connectionDeps } from '#functions/adapters/wiring';
import { countMetric, instrument } from '#functions/shared/instrumentation';
import { frameResult, type WebSocketEvent, type WebSocketResult } from '#functions/shared/websocket';
import { frameMeterOf, overFrameRate, type ActionDeps } from '../action';
import { describeUnroutableFrame } from '../frames';

/** Every frame no route claims lands here; it gets an error frame and the socket stays open. */
export function makeHandler(deps: ActionDeps) {
  const meter = frameMeterOf(deps);
  return instrument(async (event: WebSocketEvent): Promise<WebSocketResult> => {
    if (await overFrameRate(deps, meter, event.requestContext.connectionId, deps.now?.() ?? new Date())) return { statusCode: 429 };
    countMetric('FramesRejected');
    return frameResult(describeUnroutableFrame(event.body));
  });
}

export const handler = makeHandler(connectionDeps());
