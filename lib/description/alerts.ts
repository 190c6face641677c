/**
 * Alerts: raising, reading and updating them over HTTP, and the stream fan-out (docs/architecture.md).
 */
import { ALERT_CHUNK_CONCURRENCY, ALERT_CHUNK_TIMEOUT_SECONDS } from '#functions/alerts/chunks';
import { claimSettings, deliverAccess, mergeAccess, topicEventAccess, type Access, type FunctionSpec } from './access';

/** The alert fan-out's timeout: a 1,000-member topic with critical email fits well inside it. */
export const ALERT_FANOUT_TIMEOUT_SECONDS = 60;

/** Whether the caller may see an alert's topic. */
/** deliver() to an alert's recipients and email the critical ones, each email claimed once in the Dedupe table. */
const alertDeliveryAccess = mergeAccess(deliverAccess, {
  // Email claims are put, and given back when a send fails.
  tables: { dedupe: ['PutItem', 'DeleteItem'] },
  sendEmail: true,
  settings: ['emailSender', 'emailConfigurationSet'],
});

const alertReadAccess: Access = {
  tables: { memberships: ['GetItem'] },
  settings: claimSettings,
};

export const alertsFunctions = {
  raiseAlert: {
    entry: 'functions/alerts/handlers/raise.ts',
    description: 'Raises an alert (publisher); while one is open for the same rule and subject, returns it instead',
    trigger: { kind: 'http', method: 'POST', path: '/alerts', auth: 'jwt' },
    // One transaction of conditional puts; when the rule and subject are taken, the open alert is read.
    tables: { alerts: ['PutItem', 'GetItem'] },
    settings: claimSettings,
  },
  listAlerts: {
    entry: 'functions/alerts/handlers/list.ts',
    description: 'Lists the alerts of a topic the caller belongs to, newest first',
    trigger: { kind: 'http', method: 'GET', path: '/alerts', auth: 'jwt' },
    ...mergeAccess(alertReadAccess, { tables: { alerts: ['QueryIndex'] } }),
  },
  getAlert: {
    entry: 'functions/alerts/handlers/get.ts',
    description: 'Returns one alert of a topic the caller belongs to, with its version as ETag',
    trigger: { kind: 'http', method: 'GET', path: '/alerts/{id}', auth: 'jwt' },
    ...mergeAccess(alertReadAccess, { tables: { alerts: ['GetItem'] } }),
  },
  updateAlert: {
    entry: 'functions/alerts/handlers/update.ts',
    description: 'Acknowledges, resolves or reassigns an alert, guarded by If-Match on its version',
    trigger: { kind: 'http', method: 'PATCH', path: '/alerts/{id}', auth: 'jwt' },
    // The alert is replaced in a transaction with its open item: put on reopen, deleted on resolve.
    ...mergeAccess(alertReadAccess, { tables: { alerts: ['GetItem', 'PutItem', 'DeleteItem'] } }),
  },
  alertFanout: {
    entry: 'functions/alerts/handlers/fanout.ts',
    description: 'Notifies an alert assignee and topic members of each alert change, emails critical ones, and updates live boards',
    trigger: {
      kind: 'stream',
      table: 'alerts',
      batchSize: 10,
      retryAttempts: 5,
      maxRecordAgeSeconds: 3_600,
      bisectBatchOnError: true,
      startingPosition: 'LATEST',
      onFailure: 'alertFanout',
      // Alert items only (not the open-alert items), and not their TTL or manual deletions.
      filterPatterns: [{ eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { kind: { S: ['alert'] } } } }],
    },
    ...mergeAccess(alertDeliveryAccess, topicEventAccess, {
      // Members of the topic; a large topic's recipients go to the chunk queue.
      tables: { memberships: ['Query'] },
      queues: { alertChunks: 'send' },
    }),
    timeoutSeconds: ALERT_FANOUT_TIMEOUT_SECONDS,
    memoryMb: 512,
  },
  alertChunks: {
    entry: 'functions/alerts/handlers/chunks.ts',
    description: 'Delivers one chunk of a large topic recipients of an alert change, and emails the critical ones',
    // One chunk an invocation, one per message group at once (never two of one group: FIFO).
    trigger: { kind: 'queue', queue: 'alertChunks', batchSize: 1, maxConcurrency: ALERT_CHUNK_CONCURRENCY },
    ...alertDeliveryAccess,
    timeoutSeconds: ALERT_CHUNK_TIMEOUT_SECONDS,
    memoryMb: 512,
  },
} as const satisfies Record<string, FunctionSpec>;
