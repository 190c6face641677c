import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SESClient } from '@aws-sdk/client-ses';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { environment } from '../shared/environment';
import type { DatasetSource } from '../exports/datasets';
import type { FailedDeps } from '../exports/failed';
import type { ExportRules, RunQueue, ScheduleGateway, ScheduleWriteDeps } from '../exports/service';
import type { RecordsTable } from '../exports/datasets';
import type { RecipientPolicy } from '../exports/recipients';
import type { ExportStore } from '../exports/store';
import { EXPORT_WORKER_TIMEOUT_SECONDS } from '../exports/limits';
import type { ExportFiles, ProgressSink, WorkerDeps } from '../exports/worker';
import type { RotatingSecret } from '../exports/link-key-rotation';
import { deliver, type DeliverDeps } from '../notifications/deliver';
import { pushFrames } from '../realtime/push';
import { invocationDeadline, tracer } from '../shared/instrumentation';
import type { ClaimNames } from '../shared/caller';
import { MissingConfigError, positiveIntegerEnv, requireEnv, stringListEnv } from '../shared/config';
import type { AssignmentDeps } from '../records/assignments';
import { parseCollectionDeclarations, type CollectionDeclarations } from '../records/collections';
import { liveChanges } from '../records/live';
import type { SyncDeps } from '../records/sync';
import { dynamoRecordStore } from './dynamo-record-store';
import { dynamoScopeMembers } from './dynamo-scope-members';
import type { ActionDeps } from '../realtime/action';
import { publishTopicEvent, type TopicDeps, type TopicEventDeps } from '../topics/topics';
import type { AlertDeps, AlertStore } from '../alerts/alerts';
import type { AlertDeliveryDeps, FanoutDeps } from '../alerts/fanout';
import { dynamoAlertStore } from './dynamo-alert-store';
import { dynamoEmailLedger } from './dynamo-email-ledger';
import { connectionsApiClient, documentClient } from './aws-clients';
import { connectionsApiGateway } from './connections-api';
import { dynamoConnectionStore } from './dynamo-connection-store';
import { dynamoDeliveryReads } from './dynamo-delivery-reads';
import { dynamoNotificationStore } from './dynamo-notification-store';
import { dynamoPreferenceStore, dynamoRecipientDirectory } from './dynamo-preference-store';
import { dynamoDatasetChecks, dynamoDatasets, exportRecordsSetting } from './dynamo-datasets';
import { dynamoExportStore, tenantAdmins } from './dynamo-export-store';
import { eventBridgeScheduleGateway } from './eventbridge-scheduler';
import { linkKeyRing, loadLinkKey, loadLinkKeys, type LinkKeyRing } from './link-key';
import { secretsManagerRotatingSecret } from './secrets-manager-rotation';
import { s3ExportFiles } from './s3-export-files';
import { sesMailer } from './ses-mailer';
import { sqsAlertChunks } from './sqs-alert-chunks';
import { dynamoMembershipStore, dynamoSubscriptionStore } from './dynamo-topic-stores';

/**
 * Real clients and stores for a handler's `handler` export, from the environment the description
 * gives it. Each reads only what it uses, so a function missing a grant fails at cold start with
 * the variable's name.
 */
export function connectionDeps(): ActionDeps {
  const env = requireEnv([environment.tables.connections, environment.connectionsEndpoint]);
  return {
    connections: dynamoConnectionStore(documentClient(), {
      connections: env[environment.tables.connections],
      userConnections: process.env[environment.tables.userConnections],
    }),
    gateway: connectionsApiGateway(connectionsApiClient(env[environment.connectionsEndpoint])),
  };
}

/** The inbox alone: reading, marking read and acking never touch dedupe records. */
export function notificationStoreFromEnv() {
  const env = requireEnv([environment.tables.notifications]);
  return dynamoNotificationStore(documentClient(), { notifications: env[environment.tables.notifications] });
}

export function preferenceStoreFromEnv() {
  const env = requireEnv([environment.tables.preferences]);
  return dynamoPreferenceStore(documentClient(), env[environment.tables.preferences]);
}

export function deliverDeps(): DeliverDeps {
  const env = requireEnv([
    environment.settings.notificationRetentionDays,
    environment.tables.notifications,
    environment.tables.dedupe,
    environment.tables.preferences,
    environment.tables.userConnections,
  ]);
  const tables = {
    notifications: env[environment.tables.notifications],
    dedupe: env[environment.tables.dedupe],
    preferences: env[environment.tables.preferences],
    userConnections: env[environment.tables.userConnections],
  };
  return {
    ...connectionDeps(),
    notifications: dynamoNotificationStore(documentClient(), tables),
    reads: dynamoDeliveryReads(documentClient(), tables),
    retentionDays: positiveIntegerEnv(environment.settings.notificationRetentionDays, env[environment.settings.notificationRetentionDays]),
    deadline: invocationDeadline,
  };
}

export function membershipStoreFromEnv() {
  const env = requireEnv([environment.tables.memberships]);
  return dynamoMembershipStore(documentClient(), env[environment.tables.memberships]);
}

/** `sockets`: the connection store and gateway to share with another dependency set (one client pool). */
export function topicEventDeps(sockets: ActionDeps = connectionDeps()): TopicEventDeps {
  const env = requireEnv([environment.tables.subscriptions]);
  return {
    connections: sockets.connections,
    gateway: sockets.gateway,
    subscriptions: dynamoSubscriptionStore(documentClient(), env[environment.tables.subscriptions]),
  };
}

/** Topic events and the memberships that decide who may subscribe. */
export function topicDeps(sockets: ActionDeps = connectionDeps()): TopicDeps {
  return { ...topicEventDeps(sockets), memberships: membershipStoreFromEnv() };
}

export function claimNamesFromEnv(): ClaimNames {
  const env = requireEnv([environment.settings.tenantClaim, environment.settings.rolesClaim]);
  return { tenantClaim: env[environment.settings.tenantClaim], rolesClaim: env[environment.settings.rolesClaim] };
}

// ---------------------------------------------------------------------------------------------
// Scheduled exports

export function exportStoreFromEnv(): ExportStore {
  const env = requireEnv([environment.tables.exports]);
  return dynamoExportStore(documentClient(), env[environment.tables.exports]);
}

export function scheduleGatewayFromEnv(): ScheduleGateway {
  const env = requireEnv([
    environment.settings.exportScheduleGroup,
    environment.settings.exportSchedulerRoleArn,
    environment.settings.exportQueueArn,
    environment.settings.exportDeadLetterQueueArn,
  ]);
  return eventBridgeScheduleGateway(tracer.captureAWSv3Client(new SchedulerClient({})), {
    groupName: env[environment.settings.exportScheduleGroup],
    roleArn: env[environment.settings.exportSchedulerRoleArn],
    queueArn: env[environment.settings.exportQueueArn],
    deadLetterQueueArn: env[environment.settings.exportDeadLetterQueueArn],
  });
}

export function runQueueFromEnv(): RunQueue {
  const env = requireEnv([environment.queues.exports]);
  // useQueueUrlAsEndpoint: false, as everywhere (docs/architecture.md: fauxqs queue URL hosts).
  const sqs = tracer.captureAWSv3Client(new SQSClient({ useQueueUrlAsEndpoint: false }));
  return {
    async send(message) {
      await sqs.send(new SendMessageCommand({ QueueUrl: env[environment.queues.exports], MessageBody: JSON.stringify(message) }));
    },
  };
}

export function datasetsFromEnv(): DatasetSource {
  const env = requireEnv([environment.tables.notifications, environment.tables.alerts, environment.tables.memberships, environment.tables.records]);
  const records = exportRecordsSetting(environment.settings.exportRecords, process.env[environment.settings.exportRecords]);
  return dynamoDatasets(
    documentClient(),
    {
      notifications: env[environment.tables.notifications],
      alerts: env[environment.tables.alerts],
      memberships: env[environment.tables.memberships],
      records: env[environment.tables.records],
      recordCollections: recordCollectionsFromEnv(),
    },
    // The plain client, not the document client: records keep every attribute type (exportValue).
    records && { client: tracer.captureAWSv3Client(new DynamoDBClient({})), table: records },
  );
}

/** What a schedule write checks before it is accepted: records configured, topic or scope membership, a declared collection. */
export function datasetChecksFromEnv(): Pick<DatasetSource, 'check'> {
  const env = requireEnv([environment.tables.memberships]);
  return dynamoDatasetChecks(
    documentClient(),
    env[environment.tables.memberships],
    exportRecordsSetting(environment.settings.exportRecords, process.env[environment.settings.exportRecords]),
    recordCollectionsFromEnv(),
  );
}

/** The deployment's record collection declarations (`RECORD_COLLECTIONS`), checked at cold start. */
function recordCollectionsFromEnv(): CollectionDeclarations {
  const env = requireEnv([environment.settings.recordCollections]);
  const declarations = parseCollectionDeclarations(env[environment.settings.recordCollections]);
  if (!declarations.ok) throw new MissingConfigError(`Environment variable ${environment.settings.recordCollections} ${declarations.problem}`);
  return declarations.value;
}

/** The deployer's records table (its `role` too), or undefined when none is configured. */
export function exportRecordsFromEnv(): RecordsTable | undefined {
  return exportRecordsSetting(environment.settings.exportRecords, process.env[environment.settings.exportRecords]);
}

/** Who may receive exports: the tenant's users by preference address (byEmail), and the deployer's domains. */
export function recipientPolicyFromEnv(): RecipientPolicy {
  const env = requireEnv([environment.tables.preferences, environment.settings.exportRecipientDomains]);
  return {
    directory: dynamoRecipientDirectory(documentClient(), env[environment.tables.preferences]),
    allowedDomains: stringListEnv(environment.settings.exportRecipientDomains, env[environment.settings.exportRecipientDomains]),
  };
}

export function exportRulesFromEnv(): ExportRules {
  return { recipients: recipientPolicyFromEnv(), records: exportRecordsFromEnv() };
}

/** What creating and changing a schedule need: the store, the Scheduler, the dataset checks and the rules. */
export function scheduleWriteDepsFromEnv(): ScheduleWriteDeps {
  return { store: exportStoreFromEnv(), scheduler: scheduleGatewayFromEnv(), datasets: datasetChecksFromEnv(), rules: exportRulesFromEnv() };
}

export function exportFilesFromEnv(): ExportFiles {
  const env = requireEnv([environment.buckets.exports]);
  return s3ExportFiles(tracer.captureAWSv3Client(new S3Client({})), env[environment.buckets.exports]);
}

export async function linkKeyFromEnv(): Promise<Buffer> {
  const env = requireEnv([environment.settings.exportLinkKey]);
  return loadLinkKey(env[environment.settings.exportLinkKey], environment.settings.exportLinkKey);
}

/** The current and previous link keys, read at cold start (so a bad setting fails then) and again on an unknown key id. */
export async function linkKeyRingFromEnv(): Promise<LinkKeyRing> {
  const env = requireEnv([environment.settings.exportLinkKey]);
  const ring = linkKeyRing(() => loadLinkKeys(env[environment.settings.exportLinkKey], environment.settings.exportLinkKey));
  await ring.keys();
  return ring;
}

/** The link key as its rotation function reaches it; the secret is named by each rotation event, so nothing is read from the environment. */
export function rotatingLinkKeyFromEnv(): RotatingSecret {
  return secretsManagerRotatingSecret(tracer.captureAWSv3Client(new SecretsManagerClient({})));
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
  const env = requireEnv([
    environment.settings.emailSender,
    environment.settings.emailConfigurationSet,
    environment.settings.exportRetentionDays,
    environment.settings.httpApiUrl,
  ]);
  const delivery = deliverDeps();
  return {
    store: exportStoreFromEnv(),
    datasets: datasetsFromEnv(),
    files: exportFilesFromEnv(),
    mailer: sesMailer(tracer.captureAWSv3Client(new SESClient({})), env[environment.settings.emailSender], env[environment.settings.emailConfigurationSet]),
    notify: (requests) => deliver(delivery, requests),
    progress: progressSink(delivery),
    linkKey: await linkKeyFromEnv(),
    recipients: recipientPolicyFromEnv(),
    httpApiUrl: env[environment.settings.httpApiUrl],
    retentionDays: positiveIntegerEnv(environment.settings.exportRetentionDays, env[environment.settings.exportRetentionDays]),
    leaseSeconds: EXPORT_WORKER_TIMEOUT_SECONDS,
  };
}

export function exportFailedDeps(): FailedDeps {
  const delivery = deliverDeps();
  const env = requireEnv([environment.tables.memberships]);
  return {
    store: exportStoreFromEnv(),
    notify: (requests) => deliver(delivery, requests),
    admins: tenantAdmins(documentClient(), env[environment.tables.memberships]),
  };
}

// ---------------------------------------------------------------------------------------------
// Alerts

export function alertStoreFromEnv(): AlertStore {
  const env = requireEnv([environment.tables.alerts]);
  return dynamoAlertStore(documentClient(), env[environment.tables.alerts]);
}

/** The alert routes that read: the store and the memberships that decide who may. */
export function alertDeps(): AlertDeps {
  return { alerts: alertStoreFromEnv(), memberships: membershipStoreFromEnv() };
}

/** deliver() to an alert's recipients, SES and its email claims: what a chunk of a large topic needs. */
export function alertDeliveryDeps(delivery: DeliverDeps = deliverDeps()): AlertDeliveryDeps {
  const env = requireEnv([environment.settings.emailSender, environment.settings.emailConfigurationSet, environment.tables.dedupe]);
  return {
    deliver: (requests, options) => deliver(delivery, requests, options),
    mailer: sesMailer(tracer.captureAWSv3Client(new SESClient({})), env[environment.settings.emailSender], env[environment.settings.emailConfigurationSet]),
    emails: dynamoEmailLedger(documentClient(), env[environment.tables.dedupe]),
  };
}

/** The fan-out: deliver(), the topic's members and live subscribers, SES and its email claims, the chunk queue. */
export function fanoutDeps(): FanoutDeps {
  const env = requireEnv([environment.queues.alertChunks]);
  const delivery = deliverDeps();
  const topics = topicDeps(delivery);
  return {
    ...alertDeliveryDeps(delivery),
    members: (tenant, topic) => topics.memberships.members(tenant, topic),
    connectionsOf: (recipients) => delivery.connections.connectionIdsOf(recipients),
    publishEvent: (tenant, topic, name, data) => publishTopicEvent(topics, tenant, topic, name, data),
    // useQueueUrlAsEndpoint: false, as everywhere (docs/architecture.md: fauxqs queue URL hosts).
    chunks: sqsAlertChunks(tracer.captureAWSv3Client(new SQSClient({ useQueueUrlAsEndpoint: false })), env[environment.queues.alertChunks]),
  };
}

// ---------------------------------------------------------------------------------------------
// Records

/** What every records route reads: the store, the memberships, the declarations and the retention. */
export function syncDeps(): SyncDeps {
  const env = requireEnv([environment.tables.records, environment.settings.recordRetentionDays]);
  return {
    records: dynamoRecordStore(documentClient(), env[environment.tables.records]),
    memberships: membershipStoreFromEnv(),
    collections: recordCollectionsFromEnv(),
    retentionDays: positiveIntegerEnv(environment.settings.recordRetentionDays, env[environment.settings.recordRetentionDays]),
  };
}

/** The routes that commit changes: they also push them to the scope's live subscribers. */
export function committingSyncDeps(): SyncDeps {
  const sync = syncDeps();
  return {
    ...sync,
    listeners: liveChanges({
      ...topicEventDeps(),
      membersAmong: dynamoScopeMembers(documentClient(), requireEnv([environment.tables.memberships])[environment.tables.memberships]),
    }),
  };
}

/** The Records stream's assignment notifier: the scope's memberships and deliver(). */
export function assignmentDeps(): AssignmentDeps {
  const delivery = deliverDeps();
  return { memberships: membershipStoreFromEnv(), deliver: (requests) => deliver(delivery, requests) };
}
