import { connectionsEndpointEnvVar, settingEnvVars, tables } from '../../lib/description';
import type { DeliverDeps } from '../notifications/deliver';
import type { ClaimNames } from '../shared/caller';
import { positiveIntegerEnv, requireEnv } from '../shared/config';
import type { ActionDeps } from '../realtime/action';
import type { TopicDeps } from '../topics/topics';
import { connectionsApiClient, documentClient } from './aws-clients';
import { connectionsApiGateway } from './connections-api';
import { dynamoConnectionStore } from './dynamo-connection-store';
import { dynamoNotificationStore } from './dynamo-notification-store';
import { dynamoPreferenceStore } from './dynamo-preference-store';
import { dynamoMembershipStore, dynamoSubscriptionStore } from './dynamo-topic-stores';

/**
 * Real clients and stores for a handler's `handler` export, from the environment the description
 * gives it. Each reads only what it uses, so a function missing a grant fails at cold start with
 * the variable's name.
 */
export function connectionDeps(): ActionDeps {
  const env = requireEnv([tables.connections.envVar, tables.userConnections.envVar, connectionsEndpointEnvVar]);
  return {
    connections: dynamoConnectionStore(documentClient(), {
      connections: env[tables.connections.envVar],
      userConnections: env[tables.userConnections.envVar],
    }),
    gateway: connectionsApiGateway(connectionsApiClient(env[connectionsEndpointEnvVar])),
  };
}

/** The inbox alone: reading, marking read and acking never touch dedupe records. */
export function notificationStoreFromEnv() {
  const env = requireEnv([tables.notifications.envVar]);
  return dynamoNotificationStore(documentClient(), { notifications: env[tables.notifications.envVar] });
}

export function preferenceStoreFromEnv() {
  const env = requireEnv([tables.preferences.envVar]);
  return dynamoPreferenceStore(documentClient(), env[tables.preferences.envVar]);
}

export function deliverDeps(): DeliverDeps {
  const env = requireEnv([settingEnvVars.notificationRetentionDays]);
  return {
    ...connectionDeps(),
    notifications: dynamoNotificationStore(documentClient(), {
      notifications: requireEnv([tables.notifications.envVar])[tables.notifications.envVar],
      dedupe: requireEnv([tables.dedupe.envVar])[tables.dedupe.envVar],
    }),
    preferences: preferenceStoreFromEnv(),
    retentionDays: positiveIntegerEnv(settingEnvVars.notificationRetentionDays, env[settingEnvVars.notificationRetentionDays]),
  };
}

export function membershipStoreFromEnv() {
  const env = requireEnv([tables.memberships.envVar]);
  return dynamoMembershipStore(documentClient(), env[tables.memberships.envVar]);
}

export function topicDeps(): TopicDeps {
  const env = requireEnv([tables.subscriptions.envVar]);
  return {
    ...connectionDeps(),
    memberships: membershipStoreFromEnv(),
    subscriptions: dynamoSubscriptionStore(documentClient(), env[tables.subscriptions.envVar]),
  };
}

export function claimNamesFromEnv(): ClaimNames {
  const env = requireEnv([settingEnvVars.tenantClaim, settingEnvVars.rolesClaim]);
  return { tenantClaim: env[settingEnvVars.tenantClaim], rolesClaim: env[settingEnvVars.rolesClaim] };
}
