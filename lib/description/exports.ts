/**
 * Scheduled exports: schedules, runs now, previews, downloads, the worker and the DLQ's last handler (docs/exports.md).
 */
import { EXPORT_WORKER_MAX_CONCURRENCY, EXPORT_WORKER_TIMEOUT_SECONDS } from './resources';
import { claimSettings, deliverAccess, mergeAccess, type Access, type FunctionSpec } from './access';

/**
 * glibc raises its mmap threshold after the first large free, so the upload's 5 MiB parts and the
 * stream's 64 KB chunks, allocated and freed in turn, then come from the heap arena, which it gives
 * back only in part: RSS creeps. A fixed threshold (128 KiB) gives each such buffer its own mapping,
 * returned when freed: 186 -> 177 MB peak for a 100k-row CSV export under Lambda's heap, the same
 * CPU (paired, docs/exports.md "Third pass").
 */
const EXPORT_WORKER_ENVIRONMENT = { MALLOC_MMAP_THRESHOLD_: '131072' } as const;

/** Schedule writes touch the Scheduler schedule that fires them. */
const scheduleWriteSettings = [...claimSettings, 'exportScheduleGroup', 'exportSchedulerRoleArn', 'exportQueueArn', 'exportDeadLetterQueueArn'] as const;

/**
 * What checking a dataset before a schedule is accepted needs: the caller's topic (or records
 * scope) membership, whether a records table is configured, and which record collections are declared.
 */
const datasetCheckAccess: Access = { tables: { memberships: ['GetItem'] }, settings: ['exportRecords', 'recordCollections'] };

/** What reading an export's rows needs: each dataset's table (alerts by topic), and the deployer's records table. */
const datasetAccess = mergeAccess(datasetCheckAccess, {
  // Notifications by seq range, or unread ones on the sparse `unread` index; alerts by topic on byTopic;
  // a collection of Herald's Records table by its scope's item collection (the table itself, no index).
  tables: { notifications: ['Query', 'QueryIndex'], alerts: ['QueryIndex'], records: ['Query'] },
  readsExportRecords: true,
});

/**
 * Who may receive an export: the tenant's users by preference address (the preferences table's
 * byEmail index), and the deployer's allowed domains.
 */
const recipientCheckAccess: Access = { tables: { preferences: ['QueryIndex'] }, settings: ['exportRecipientDomains'] };

/** A run's records, kept beside its schedule: created once, then updated as it goes. */
const runRecordAccess: Access = { tables: { exports: ['GetItem', 'PutItem', 'UpdateItem'] } };

export const exportsFunctions = {
  createExportSchedule: {
    entry: 'functions/exports/handlers/create-schedule.ts',
    description: 'Creates an export schedule and its EventBridge Scheduler schedule',
    trigger: { kind: 'http', method: 'POST', path: '/exports/schedules', auth: 'jwt' },
    // The schedule item is put in one transaction with the owner's schedule count (UpdateItem), and
    // deleted again, giving its place back, when Scheduler refuses the schedule; a retried create
    // whose first answer was lost updates the schedule it made.
    ...mergeAccess(datasetCheckAccess, recipientCheckAccess, {
      // Query and PutItem make the schedule count of an owner who has none yet, from their schedules.
      tables: { exports: ['Query', 'PutItem', 'UpdateItem', 'DeleteItem'] },
      manageSchedules: ['CreateSchedule', 'UpdateSchedule'],
      settings: scheduleWriteSettings,
    }),
  },
  listExportSchedules: {
    entry: 'functions/exports/handlers/list-schedules.ts',
    description: 'Lists the caller export schedules with their last run and next run',
    trigger: { kind: 'http', method: 'GET', path: '/exports/schedules', auth: 'jwt' },
    tables: { exports: ['Query'] },
    settings: claimSettings,
  },
  getExportSchedule: {
    entry: 'functions/exports/handlers/get-schedule.ts',
    description: 'Returns one of the caller export schedules',
    trigger: { kind: 'http', method: 'GET', path: '/exports/schedules/{id}', auth: 'jwt' },
    tables: { exports: ['GetItem'] },
    settings: claimSettings,
  },
  updateExportSchedule: {
    entry: 'functions/exports/handlers/update-schedule.ts',
    description: 'Changes an export schedule and its EventBridge Scheduler schedule',
    trigger: { kind: 'http', method: 'PATCH', path: '/exports/schedules/{id}', auth: 'jwt' },
    ...mergeAccess(datasetCheckAccess, recipientCheckAccess, {
      tables: { exports: ['GetItem', 'UpdateItem'] },
      manageSchedules: ['UpdateSchedule'],
      settings: scheduleWriteSettings,
    }),
  },
  deleteExportSchedule: {
    entry: 'functions/exports/handlers/delete-schedule.ts',
    description: 'Deletes an export schedule and its EventBridge Scheduler schedule',
    trigger: { kind: 'http', method: 'DELETE', path: '/exports/schedules/{id}', auth: 'jwt' },
    // The delete gives its place back in the same transaction (UpdateItem of the schedule count);
    // Query and PutItem make the count of an owner who has none yet, from their schedules.
    tables: { exports: ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'] },
    manageSchedules: ['DeleteSchedule'],
    settings: scheduleWriteSettings,
  },
  runExportNow: {
    entry: 'functions/exports/handlers/run-now.ts',
    description: 'Queues a run of an export schedule now',
    trigger: { kind: 'http', method: 'POST', path: '/exports/schedules/{id}/run', auth: 'jwt' },
    // UpdateItem takes a run-now slot of the minute.
    tables: { exports: ['GetItem', 'PutItem', 'UpdateItem'] },
    queues: { exports: 'send' },
    // exportRecords: a records export needs its role here too.
    settings: [...claimSettings, 'exportRecords'],
  },
  previewExport: {
    entry: 'functions/exports/handlers/preview.ts',
    description: 'Returns the first rows an export of a dataset would contain',
    trigger: { kind: 'http', method: 'POST', path: '/exports/preview', auth: 'jwt' },
    ...mergeAccess(datasetAccess, { settings: claimSettings }),
  },
  listExportRuns: {
    entry: 'functions/exports/handlers/list-runs.ts',
    description: 'Lists the runs of one of the caller export schedules, newest first',
    trigger: { kind: 'http', method: 'GET', path: '/exports/schedules/{id}/runs', auth: 'jwt' },
    tables: { exports: ['GetItem', 'Query'] },
    settings: claimSettings,
  },
  getExportRun: {
    entry: 'functions/exports/handlers/get-run.ts',
    description: 'Returns the state of one of the caller export runs',
    trigger: { kind: 'http', method: 'GET', path: '/exports/runs/{id}', auth: 'jwt' },
    tables: { exports: ['GetItem'] },
    settings: claimSettings,
  },
  downloadExport: {
    entry: 'functions/exports/handlers/download.ts',
    description: 'Redirects a signed download link to a fresh five-minute pre-signed S3 URL',
    // The emailed link is opened by a mail client or browser without a JWT; the HMAC token is the credential.
    trigger: { kind: 'http', method: 'GET', path: '/exports/runs/{id}/download', auth: 'none' },
    tables: { exports: ['GetItem'] },
    buckets: { exports: 'read' },
    settings: ['exportLinkKey'],
  },
  exportWorker: {
    entry: 'functions/exports/handlers/worker.ts',
    description: 'Runs one export: run record, lease, streamed upload to S3, email and notification',
    // At most EXPORT_WORKER_MAX_CONCURRENCY runs at once; more firings wait in the queue (docs/exports.md, "Limits").
    trigger: { kind: 'queue', queue: 'exports', batchSize: 1, maxConcurrency: EXPORT_WORKER_MAX_CONCURRENCY },
    // The recipients are checked again at each run: a schedule may predate the limits, or a user may have left.
    ...mergeAccess(deliverAccess, datasetAccess, runRecordAccess, recipientCheckAccess, {
      buckets: { exports: 'write' },
      sendEmail: true,
      settings: ['emailSender', 'emailConfigurationSet', 'exportRetentionDays', 'exportLinkKey', 'httpApiUrl'],
    }),
    timeoutSeconds: EXPORT_WORKER_TIMEOUT_SECONDS,
    // Bounded by the upload's parts (5 MiB, 2 in flight), two Query pages, stream buffers and the SDK (docs/exports.md).
    memoryMb: 512,
    environment: EXPORT_WORKER_ENVIRONMENT,
  },
  exportFailed: {
    entry: 'functions/exports/handlers/failed.ts',
    description: 'Marks an export run failed after its last retry and tells the owner and the tenant admins',
    trigger: { kind: 'queue', queue: 'exports', batchSize: 1, from: 'deadLetter' },
    // The run record, the tenant's admins (members of its admin topic) and deliver().
    ...mergeAccess(deliverAccess, runRecordAccess, { tables: { memberships: ['Query'] } }),
  },
  rotateExportLinkKey: {
    entry: 'functions/exports/handlers/rotate-link-key.ts',
    description: 'Rotates the download-link key: Secrets Manager rotation steps create, test and finish a new key version',
    // The secret names itself in each event, so the function reads no setting; the grants name the link key only.
    trigger: { kind: 'secretRotation', secret: 'exportLinkKey' },
    // The new key comes from node:crypto, so no secretsmanager:GetRandomPassword (a grant on "*").
    secrets: { exportLinkKey: ['DescribeSecret', 'GetSecretValue', 'PutSecretValue', 'UpdateSecretVersionStage'] },
  },
} as const satisfies Record<string, FunctionSpec>;
