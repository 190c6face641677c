/**
 * Topics: live subscriptions on the socket and the memberships that allow them.
 */
import { claimSettings, frameAccess, mergeAccess, topicEventAccess, type FunctionSpec } from './access';

export const topicsFunctions = {
  wsSubscribe: {
    entry: 'functions/topics/handlers/subscribe.ts',
    description: 'Subscribes a member socket to a topic and announces it',
    trigger: { kind: 'websocket', route: 'subscribe', returnResponse: true },
    ...mergeAccess(frameAccess, topicEventAccess, {
      tables: { memberships: ['GetItem'], subscriptions: ['PutItem'] },
      settings: ['connectionTtlSeconds'],
    }),
  },
  wsUnsubscribe: {
    entry: 'functions/topics/handlers/unsubscribe.ts',
    description: 'Unsubscribes a socket from a topic and announces it',
    trigger: { kind: 'websocket', route: 'unsubscribe', returnResponse: true },
    ...mergeAccess(frameAccess, topicEventAccess, { tables: { subscriptions: ['DeleteItem'] } }),
  },
  putTopicMember: {
    entry: 'functions/topics/handlers/put-member.ts',
    description: 'Adds a user to a topic (admin)',
    trigger: { kind: 'http', method: 'PUT', path: '/topics/{topic}/members/{userId}', auth: 'jwt' },
    tables: { memberships: ['PutItem'] },
    settings: claimSettings,
  },
  deleteTopicMember: {
    entry: 'functions/topics/handlers/delete-member.ts',
    description: 'Removes a user from a topic (admin)',
    trigger: { kind: 'http', method: 'DELETE', path: '/topics/{topic}/members/{userId}', auth: 'jwt' },
    tables: { memberships: ['DeleteItem'] },
    settings: claimSettings,
  },
} as const satisfies Record<string, FunctionSpec>;
