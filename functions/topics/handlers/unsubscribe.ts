import { topicDeps } from '../../adapters/wiring';
import { websocketAction, withId } from '../../realtime/action';
import { unsubscribeFrame } from '../../realtime/frames';
import { unsubscribe, type TopicDeps } from '../topics';

export function makeHandler(deps: TopicDeps) {
  return websocketAction(unsubscribeFrame, deps, async (frame, { identity, connectionId }) => {
    await unsubscribe(deps, identity, connectionId, frame.topic);
    return withId({ type: 'unsubscribed', topic: frame.topic }, frame.id);
  });
}

export const handler = makeHandler(topicDeps());
