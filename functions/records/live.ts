/**
 * What follows a committed change in the function that committed it: a `change` frame to every
 * live subscriber of the scope (the topic). A frame that does not arrive is a hint lost (devices
 * pull). A new assignee's notification does not go from here but from the Records stream
 * (assignments.ts), so it survives this function dying after the commit.
 */
import pMap from 'p-map';
import { pushFrames } from '../realtime/push';
import type { TopicEventDeps } from '../topics/topics';
import type { ChangeListeners } from './sync';

const PUSH_CONCURRENCY = 32;

export interface LiveChangeDeps extends TopicEventDeps {
  /** Which of these users are members of the topic now. */
  readonly membersAmong: (tenant: string, topic: string, userIds: readonly string[]) => Promise<Set<string>>;
}

export function liveChanges(deps: LiveChangeDeps): ChangeListeners {
  return {
    async changed(scope, records) {
      const subscribed = await deps.subscriptions.list(scope.tenant, scope.scope);
      if (subscribed.length === 0) return;
      // Membership is checked again at each change, not only at subscribe: a user removed from the scope hears no more.
      const members = await deps.membersAmong(
        scope.tenant,
        scope.scope,
        subscribed.map((s) => s.userId),
      );
      const subscribers = subscribed.filter((subscriber) => members.has(subscriber.userId));
      const frames = records.map((record) => ({ type: 'change' as const, scope: scope.scope, record }));
      await pMap(
        subscribers,
        async (subscriber) => {
          const outcome = await pushFrames(deps, { connectionId: subscriber.connectionId, owner: { tenant: scope.tenant, userId: subscriber.userId } }, frames);
          if (outcome === 'gone') await deps.subscriptions.remove(scope.tenant, scope.scope, subscriber.connectionId);
        },
        { concurrency: PUSH_CONCURRENCY },
      );
    },
  };
}
