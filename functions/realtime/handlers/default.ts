import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { instrument, metrics } from '../../shared/instrumentation';
import { frameResult, type WebSocketEvent, type WebSocketResult } from '../../shared/websocket';
import { describeUnroutableFrame } from '../frames';

/** Every frame no route claims lands here; it gets an error frame and the socket stays open. */
export function makeHandler() {
  return instrument(async (event: WebSocketEvent): Promise<WebSocketResult> => {
    metrics.addMetric('FramesRejected', MetricUnit.Count, 1);
    return frameResult(describeUnroutableFrame(event.body));
  });
}

export const handler = makeHandler();
