/**
 * What follows a committed change: a `change` frame to every live subscriber of the scope (the
 * topic), and a notification to a newly assigned person. Both come after the commit and neither
 * can undo it: a frame that does not arrive is a hint lost (devices pull), and deliver() records
 * the notification before pushing it.
 */
import pMap from 'p-map';
import type { WireRecord } from '../protocol/records';
import type { DeliveryRequest } from '../notifications/model';
import { pushFrames } from '../realtime/push';
import { logger } from '../shared/instrumentation';
import type { MembershipStore, TopicEventDeps } from '../topics/topics';
import { collectionRules, type CollectionDeclarations } from './collections';
import { recordKey, type ChangeListeners } from './sync';

const PUSH_CONCURRENCY = 32;

export interface LiveChangeDeps extends TopicEventDeps {
  readonly memberships: Pick<MembershipStore, 'isMember'>;
  readonly collections: CollectionDeclarations;
  readonly deliver: (requests: readonly DeliveryRequest[]) => Promise<unknown>;
  /** Which of these users are members of the topic now. */
  readonly membersAmong: (tenant: string, topic: string, userIds: readonly string[]) => Promise<Set<string>>;
}

export function liveChanges(deps: LiveChangeDeps): ChangeListeners {
  return {
    async changed(scope, records, previous, caller) {
      const subscribed = await deps.subscriptions.list(scope.tenant, scope.scope);
      // Membership is checked again at each change, not only at subscribe: a user removed from the scope hears no more.
      const members =
        subscribed.length === 0
          ? new Set<string>()
          : await deps.membersAmong(
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
      const assignments = await newAssignments(deps, scope, records, previous, caller.userId);
      if (assignments.length > 0) await deps.deliver(assignments);
    },
  };
}

/** A record whose assignee field now names someone other than before (and not the person who changed it), who is a member of the scope. */
async function newAssignments(
  deps: LiveChangeDeps,
  scope: { tenant: string; scope: string },
  records: readonly WireRecord[],
  previous: ReadonlyMap<string, WireRecord>,
  changedBy: string,
): Promise<DeliveryRequest[]> {
  const requests: DeliveryRequest[] = [];
  for (const record of records) {
    const field = collectionRules(deps.collections, record.collection).assigneeField;
    if (field === undefined || record.deleted) continue;
    const assignee = record.fields[field];
    const before = previous.get(recordKey(record.collection, record.id))?.fields[field];
    if (typeof assignee !== 'string' || assignee === before || assignee === changedBy) continue;
    // Only a member hears of it: an assignee outside the scope could not open the record anyway.
    if (!(await deps.memberships.isMember(scope.tenant, scope.scope, assignee))) {
      logger.info('Record assigned to a non-member; not notified', { scope: scope.scope, collection: record.collection, id: record.id });
      continue;
    }
    requests.push({
      recipient: { tenant: scope.tenant, userId: assignee },
      kind: 'record.assigned',
      title: `Assigned to you: ${record.collection} ${record.id}`,
      data: { scope: scope.scope, collection: record.collection, id: record.id, version: record.version },
      priority: 'normal',
      // A retried push commits nothing new, but a version is assigned once: the same key answers once.
      dedupeKey: `record-assigned#${scope.scope}#${record.collection}#${record.id}#${record.version}`,
    });
  }
  return requests;
}
