import type { ConnectionIdentity, ConnectionRecord, ConnectionStore } from '../realtime/connections';
import pMap from 'p-map';
import { pushFrames, type ConnectionGateway } from '../realtime/push';
import { topicSchema } from '../protocol/frames';
import * as z from '../shared/validation';

/** Who belongs to a topic (a project, a site): they get its alerts and may subscribe to it. */
export interface MembershipStore {
  isMember(tenant: string, topic: string, userId: string): Promise<boolean>;
  /** `created` for a new member, `existing` when the user already was one. */
  put(tenant: string, topic: string, userId: string, addedBy: string): Promise<'created' | 'existing'>;
  /** False when the user was not a member. */
  remove(tenant: string, topic: string, userId: string): Promise<boolean>;
  /** Every member's user id: one Query, paged, however many members the topic has. */
  members(tenant: string, topic: string): Promise<string[]>;
}

export interface Subscription {
  readonly connectionId: string;
  readonly userId: string;
}

/** Live subscribers of a topic, one row per socket, expiring with the socket. */
export interface SubscriptionStore {
  add(tenant: string, topic: string, subscription: Subscription, expiresAt: number): Promise<void>;
  /** False when the socket was not subscribed. */
  remove(tenant: string, topic: string, connectionId: string): Promise<boolean>;
  list(tenant: string, topic: string): Promise<Subscription[]>;
}

/** Leaving topics and telling their subscribers: no membership is checked, so none is read. */
export interface TopicEventDeps {
  readonly subscriptions: SubscriptionStore;
  readonly connections: ConnectionStore;
  readonly gateway: ConnectionGateway;
}

export interface TopicDeps extends TopicEventDeps {
  readonly memberships: MembershipStore;
}

const EVENT_CONCURRENCY = 32;

/**
 * Subscribes a socket to a topic of the caller's own tenant, for members only. A topic of another
 * tenant cannot even be named: the key is always prefixed with the caller's tenant.
 */
export async function subscribe(
  deps: TopicDeps,
  identity: ConnectionIdentity,
  connectionId: string,
  topic: string,
  expiresAt: number,
): Promise<'subscribed' | 'forbidden' | 'gone'> {
  if (!(await deps.memberships.isMember(identity.tenant, topic, identity.userId))) return 'forbidden';
  if (!(await deps.connections.addTopic(connectionId, topic))) return 'gone';
  await deps.subscriptions.add(identity.tenant, topic, { connectionId, userId: identity.userId }, expiresAt);
  await publishTopicEvent(deps, identity.tenant, topic, 'join', { userId: identity.userId });
  return 'subscribed';
}

export async function unsubscribe(deps: TopicEventDeps, identity: ConnectionIdentity, connectionId: string, topic: string): Promise<void> {
  await leave(deps, identity, connectionId, topic);
  await deps.connections.removeTopic(connectionId, topic);
}

/** On $disconnect: leave every topic the socket had joined, telling the other subscribers. */
export async function leaveAll(deps: TopicEventDeps, connection: ConnectionRecord): Promise<void> {
  for (const topic of connection.topics ?? []) await leave(deps, connection, connection.connectionId, topic);
}

async function leave(deps: TopicEventDeps, identity: { tenant: string; userId: string }, connectionId: string, topic: string): Promise<void> {
  if (await deps.subscriptions.remove(identity.tenant, topic, connectionId)) {
    await publishTopicEvent(deps, identity.tenant, topic, 'leave', { userId: identity.userId });
  }
}

/**
 * Sends an ephemeral event to a topic's live subscribers: not persisted, so a socket that misses
 * it misses it (clients refetch state on reconnect). One Query finds the subscribers.
 */
export async function publishTopicEvent(deps: TopicEventDeps, tenant: string, topic: string, name: string, data: Record<string, unknown>): Promise<void> {
  const subscribers = await deps.subscriptions.list(tenant, topic);
  const frame = { type: 'event' as const, topic, name, data };
  await pMap(
    subscribers,
    async (subscriber) => {
      const outcome = await pushFrames(deps, { connectionId: subscriber.connectionId, owner: { tenant, userId: subscriber.userId } }, [frame]);
      if (outcome === 'gone') await deps.subscriptions.remove(tenant, topic, subscriber.connectionId);
    },
    { concurrency: EVENT_CONCURRENCY },
  );
}

/** `/topics/{topic}/members/{userId}`: user ids are restricted like topic names. */
export const memberPathSchema = z.object({ topic: topicSchema, userId: topicSchema });
