import { topicEventDeps } from '#functions/adapters/wiring';
import { countMetric, instrument } from '#functions/shared/instrumentation';
import type { WebSocketEvent, WebSocketResult } from '#functions/shared/websocket';
import { leaveAll, type TopicEventDeps } from '#functions/topics/topics';
import { identityFromAuthorizerContext } from '../connections';

/** Removes a closed socket and leaves its topics, so the other subscribers see it go. */
export function makeHandler(deps: TopicEventDeps) {
  return instrument(async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { connectionId } = event.requestContext;
    const removed = await deps.connections.remove(connectionId, identityFromAuthorizerContext(event.requestContext.authorizer));
    if (removed) await leaveAll(deps, removed);
    countMetric('ConnectionsClosed');
    return { statusCode: 200 };
  });
}

export const handler = makeHandler(topicEventDeps());
