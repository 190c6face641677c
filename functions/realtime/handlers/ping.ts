import { countMetric, instrument } from '../../shared/instrumentation';
import { frameResult, type WebSocketEvent, type WebSocketResult } from '../../shared/websocket';
import { parseFrame, pingFrame } from '../frames';

export function makeHandler() {
  return instrument(async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const parsed = parseFrame(event.body, pingFrame);
    if (!parsed.ok) {
      countMetric('FramesRejected');
      return frameResult(parsed.error);
    }
    countMetric('Pings');
    return frameResult(parsed.frame.id === undefined ? { type: 'pong' } : { type: 'pong', id: parsed.frame.id });
  });
}

export const handler = makeHandler();
