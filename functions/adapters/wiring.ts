import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SESClient } from '@aws-sdk/client-ses';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buckets, connectionsEndpointEnvVar, EXPORT_WORKER_TIMEOUT_SECONDS, queues, settingEnvVars, tables } from '../../lib/description';
import type { DatasetSource } from '../exports/datasets';
import type { FailedDeps } from '../exports/failed';
import type { RunQueue, ScheduleGateway } from '../exports/service';
import type { ExportStore } from '../exports/store';
import type { ExportFiles, ProgressSink, WorkerDeps } from '../exports/worker';
import { deliver, type DeliverDeps } from '../notifications/deliver';
import { pushFrames } from '../realtime/push';
import { tracer } from '../shared/instrumentation';
import type { ClaimNames } from '../shared/caller';
import { positiveIntegerEnv, requireEnv } from '../shared/config';
import type { ActionDeps } from '../realtime/action';
import { publishTopicEvent, type TopicDeps, type TopicEventDeps } from '../topics/topics';
import type { AlertDeps, AlertStore } from '../alerts/alerts';
import type { FanoutDeps } from '../alerts/fanout';
import { dynamoAlertStore } from './dynamo-alert-store';
import { dynamoEmailLedger } from './dynamo-email-ledger';
import { connectionsApiClient, documentClient } from './aws-clients';
import { connectionsApiGateway } from './connections-api';
import { dynamoConnectionStore } from './dynamo-connection-store';
import { dynamoNotificationStore } from './dynamo-notification-store';
import { dynamoPreferenceStore } from './dynamo-preference-store';
import { dynamoDatasetChecks, dynamoDatasets, exportRecordsSetting } from './dynamo-datasets';
import { dynamoExportStore, tenantAdmins } from './dynamo-export-store';
import { eventBridgeScheduleGateway } from './eventbridge-scheduler';
import { loadLinkKey } from './link-key';
import { s3ExportFiles } from './s3-export-files';
import { sesMailer } from './ses-mailer';
import { dynamoMembershipStore, dynamoSubscriptionStore } from './dynamo-topic-stores';

/**
 * Real clients and stores for a handler's `handler` export, from the environment the description
 * gives it. Each reads only what it uses, so a function missing a grant fails at cold start with
 * the variable's name.
 */
export function connectionDeps(): ActionDeps {
  const env = requireEnv([tables.connections.envVar, connectionsEndpointEnvVar]);
  return {
    connections: dynamoConnectionStore(documentClient(), {
      connections: env[tables.connections.envVar],
      userConnections: process.env[tables.userConnections.envVar],
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

/** `sockets`: the connection store and gateway to share with another dependency set (one client pool). */
export function topicEventDeps(sockets: ActionDeps = connectionDeps()): TopicEventDeps {
  const env = requireEnv([tables.subscriptions.envVar]);
  return {
    connections: sockets.connections,
    gateway: sockets.gateway,
    subscriptions: dynamoSubscriptionStore(documentClient(), env[tables.subscriptions.envVar]),
  };
}

/** Topic events and the memberships that decide who may subscribe. */
export function topicDeps(sockets: ActionDeps = connectionDeps()): TopicDeps {
  return { ...topicEventDeps(sockets), memberships: membershipStoreFromEnv() };
}

export function claimNamesFromEnv(): ClaimNames {
  const env = requireEnv([settingEnvVars.tenantClaim, settingEnvVars.rolesClaim]);
  return { tenantClaim: env[settingEnvVars.tenantClaim], rolesClaim: env[settingEnvVars.rolesClaim] };
}

// ---------------------------------------------------------------------------------------------
// Scheduled exports

export function exportStoreFromEnv(): ExportStore {
  const env = requireEnv([tables.exports.envVar]);
  return dynamoExportStore(documentClient(), env[tables.exports.envVar]);
}

export function scheduleGatewayFromEnv(): ScheduleGateway {
  const env = requireEnv([
    settingEnvVars.exportScheduleGroup,
    settingEnvVars.exportSchedulerRoleArn,
    settingEnvVars.exportQueueArn,
    settingEnvVars.exportDeadLetterQueueArn,
  ]);
  return eventBridgeScheduleGateway(tracer.captureAWSv3Client(new SchedulerClient({})), {
    groupName: env[settingEnvVars.exportScheduleGroup],
    roleArn: env[settingEnvVars.exportSchedulerRoleArn],
    queueArn: env[settingEnvVars.exportQueueArn],
    deadLetterQueueArn: env[settingEnvVars.exportDeadLetterQueueArn],
  });
}

export function runQueueFromEnv(): RunQueue {
  const env = requireEnv([queues.exports.envVar]);
  // useQueueUrlAsEndpoint: false, as everywhere (docs/architecture.md: fauxqs queue URL hosts).
  const sqs = tracer.captureAWSv3Client(new SQSClient({ useQueueUrlAsEndpoint: false }));
  return {
    async send(message) {
      await sqs.send(new SendMessageCommand({ QueueUrl: env[queues.exports.envVar], MessageBody: JSON.stringify(message) }));
    },
  };
}

export function datasetsFromEnv(): DatasetSource {
  const env = requireEnv([tables.notifications.envVar, tables.alerts.envVar, tables.memberships.envVar]);
  const records = exportRecordsSetting(settingEnvVars.exportRecords, process.env[settingEnvVars.exportRecords]);
  return dynamoDatasets(
    documentClient(),
    { notifications: env[tables.notifications.envVar], alerts: env[tables.alerts.envVar], memberships: env[tables.memberships.envVar] },
    // The plain client, not the document client: records keep every attribute type (exportValue).
    records && { client: tracer.captureAWSv3Client(new DynamoDBClient({})), table: records },
  );
}

/** What a schedule write checks before it is accepted: records configured, topic membership. */
export function datasetChecksFromEnv(): Pick<DatasetSource, 'check'> {
  const env = requireEnv([tables.memberships.envVar]);
  return dynamoDatasetChecks(documentClient(), env[tables.memberships.envVar], exportRecordsSetting(settingEnvVars.exportRecords, process.env[settingEnvVars.exportRecords]));
}

export function exportFilesFromEnv(): ExportFiles {
  const env = requireEnv([buckets.exports.envVar]);
  return s3ExportFiles(tracer.captureAWSv3Client(new S3Client({})), env[buckets.exports.envVar]);
}

export async function linkKeyFromEnv(): Promise<Buffer> {
  const env = requireEnv([settingEnvVars.exportLinkKey]);
  return loadLinkKey(env[settingEnvVars.exportLinkKey], settingEnvVars.exportLinkKey);
}

/** `progress` frames to every socket of the owner, through the same push path as notifications. */
export function progressSink(deps: ActionDeps): ProgressSink {
  return {
    async send(owner, frame) {
      const ids = (await deps.connections.connectionIdsOf([owner])).get(`${owner.tenant}#${owner.userId}`) ?? [];
      await Promise.all(ids.map((connectionId) => pushFrames(deps, { connectionId, owner }, [{ type: 'progress', ...frame }])));
    },
  };
}

/** Everything the export worker needs; checked at cold start, so a missing setting fails loudly. */
export async function exportWorkerDeps(): Promise<WorkerDeps> {
  const env = requireEnv([settingEnvVars.emailSender, settingEnvVars.exportRetentionDays, settingEnvVars.httpApiUrl]);
  const delivery = deliverDeps();
  return {
    store: exportStoreFromEnv(),
    datasets: datasetsFromEnv(),
    files: exportFilesFromEnv(),
    mailer: sesMailer(tracer.captureAWSv3Client(new SESClient({})), env[settingEnvVars.emailSender]),
    notify: (requests) => deliver(delivery, requests),
    progress: progressSink(delivery),
    linkKey: await linkKeyFromEnv(),
    httpApiUrl: env[settingEnvVars.httpApiUrl],
    retentionDays: positiveIntegerEnv(settingEnvVars.exportRetentionDays, env[settingEnvVars.exportRetentionDays]),
    leaseSeconds: EXPORT_WORKER_TIMEOUT_SECONDS,
  };
}

export function exportFailedDeps(): FailedDeps {
  const delivery = deliverDeps();
  const env = requireEnv([tables.memberships.envVar]);
  return {
    store: exportStoreFromEnv(),
    notify: (requests) => deliver(delivery, requests),
    admins: tenantAdmins(documentClient(), env[tables.memberships.envVar]),
  };
}

// ---------------------------------------------------------------------------------------------
// Alerts

export function alertStoreFromEnv(): AlertStore {
  const env = requireEnv([tables.alerts.envVar]);
  return dynamoAlertStore(documentClient(), env[tables.alerts.envVar]);
}

/** The alert routes that read: the store and the memberships that decide who may. */
export function alertDeps(): AlertDeps {
  return { alerts: alertStoreFromEnv(), memberships: membershipStoreFromEnv() };
}

/** The fan-out: deliver(), the topic's members and live subscribers, SES and its email claims. */
export function fanoutDeps(): FanoutDeps {
  const env = requireEnv([settingEnvVars.emailSender, tables.dedupe.envVar]);
  const delivery = deliverDeps();
  const topics = topicDeps(delivery);
  return {
    deliver: (requests) => deliver(delivery, requests),
    members: (tenant, topic) => topics.memberships.members(tenant, topic),
    publishEvent: (tenant, topic, name, data) => publishTopicEvent(topics, tenant, topic, name, data),
    mailer: sesMailer(tracer.captureAWSv3Client(new SESClient({})), env[settingEnvVars.emailSender]),
    emails: dynamoEmailLedger(documentClient(), env[tables.dedupe.envVar]),
  };
}
