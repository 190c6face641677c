import { topicDeps } from '#functions/adapters/wiring';
import { positiveIntegerEnv, requireEnv } from '#functions/shared/config';
import { websocketAction, withId } from '#functions/realtime/action';
import { clientFrames } from '#functions/protocol/frames';
import { errorFrame } from '#functions/realtime/frames';
import { subscribe, type TopicDeps } from '../topics';
import { environment } from '#functions/shared/environment';

export interface SubscribeDeps extends TopicDeps {
  readonly connectionTtlSeconds: number;
  readonly now?: () => Date;
}

/** `subscribe {topic}`: members of the topic, in the caller's tenant, get its live events. */
export function makeHandler(deps: SubscribeDeps) {
  return websocketAction(clientFrames.subscribe, deps, async (frame, { identity, connectionId, now }) => {
    const expiresAt = Math.floor(now.getTime() / 1000) + deps.connectionTtlSeconds;
    const outcome = await subscribe(deps, identity, connectionId, frame.topic, expiresAt);
    if (outcome === 'forbidden') return errorFrame('forbidden', `Not a member of topic "${frame.topic}"`, frame.id);
    if (outcome === 'gone') return undefined;
    return withId({ type: 'subscribed', topic: frame.topic }, frame.id);
  });
}

const { connectionTtlSeconds } = environment.settings;
export const handler = makeHandler({
  ...topicDeps(),
  connectionTtlSeconds: positiveIntegerEnv(connectionTtlSeconds, requireEnv([connectionTtlSeconds])[connectionTtlSeconds]),
});
