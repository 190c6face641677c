import { topicEventDeps } from '#functions/adapters/wiring';
import { websocketAction, withId } from '#functions/realtime/action';
import { clientFrames } from '#functions/protocol/frames';
import { unsubscribe, type TopicEventDeps } from '../topics';

export function makeHandler(deps: TopicEventDeps) {
  return websocketAction(clientFrames.unsubscribe, deps, async (frame, { identity, connectionId }) => {
    await unsubscribe(deps, identity, connectionId, frame.topic);
    return withId({ type: 'unsubscribed', topic: frame.topic }, frame.id);
  });
}

export const handler = makeHandler(topicEventDeps());
