import { countMetric, instrument } from '../../shared/instrumentation';
import { frameResult, type WebSocketEvent, type WebSocketResult } from '../../shared/websocket';
import { describeUnroutableFrame } from '../frames';

/** Every frame no route claims lands here; it gets an error frame and the socket stays open. */
export function makeHandler() {
  return instrument(async (event: WebSocketEvent): Promise<WebSocketResult> => {
    countMetric('FramesRejected');
    return frameResult(describeUnroutableFrame(event.body));
  });
}

export const handler = makeHandler();
