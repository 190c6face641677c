/**
 * The one description of Herald's tables, queues and functions.
 *
 * Both the CDK constructs (lib/realtime.ts and friends) and the local runtime (lib/local/) read
 * this file, so a route, stream or queue that exists in one exists in the other. The test
 * test/integration/description-parity.test.ts proves it against the synthesized template.
 */

import type { ExportRecordsConfig } from './config';

export type AttributeType = 'S' | 'N';

export interface KeySpec {
  readonly name: string;
  readonly type: AttributeType;
}

export interface IndexSpec {
  readonly name: string;
  readonly partitionKey: KeySpec;
  readonly sortKey?: KeySpec;
}

/**
 * A local secondary index: the table's partition key with another sort key. Unlike a GSI it can
 * be read with ConsistentRead, which the exact unread count and read-by-id need.
 */
export interface LocalIndexSpec {
  readonly name: string;
  readonly sortKey: KeySpec;
  /** Non-key attributes copied into the index; the keys are always there. */
  readonly include?: readonly string[];
}

export interface TableSpec {
  /** Environment variable that carries the table's physical name into a function. */
  readonly envVar: string;
  readonly partitionKey: KeySpec;
  readonly sortKey?: KeySpec;
  readonly indexes?: readonly IndexSpec[];
  readonly localIndexes?: readonly LocalIndexSpec[];
  /** Attribute holding an epoch-seconds expiry that DynamoDB TTL deletes on. */
  readonly ttlAttribute?: string;
  readonly stream?: 'NEW_IMAGE' | 'OLD_IMAGE' | 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY';
}

export interface QueueSpec {
  readonly envVar: string;
  /** Visibility timeout; for a Lambda source it must be at least 6x the function timeout. */
  readonly visibilityTimeoutSeconds: number;
  /** Receives after which SQS moves a message to the queue's DLQ. */
  readonly maxReceiveCount: number;
}

/**
 * An S3 bucket. Every Herald bucket is private (public access blocked, no ACLs), encrypted, TLS
 * only, and its objects expire: they are files made for someone, not records.
 */
export interface BucketSpec {
  readonly envVar: string;
  /** Setting whose value is the days after which objects expire (lifecycle rule). */
  readonly expirySetting: SettingName;
}

/**
 * Where a stream event source sends the description of records whose retries ran out. Nothing
 * consumes it: an alarm fires on its first message and an operator decides (docs/operations.md).
 */
export interface FailureQueueSpec {
  readonly envVar: string;
}

export type TableName = keyof typeof tables;
export type QueueName = keyof typeof queues;
export type FailureQueueName = keyof typeof failureQueues;
export type BucketName = keyof typeof buckets;

export type Trigger =
  | { readonly kind: 'websocket-authorizer'; readonly identitySource: readonly string[] }
  | { readonly kind: 'websocket'; readonly route: string; readonly returnResponse?: boolean }
  | { readonly kind: 'http'; readonly method: HttpMethod; readonly path: string; readonly auth: 'jwt' | 'none' }
  | {
      readonly kind: 'stream';
      readonly table: TableName;
      readonly batchSize: number;
      readonly retryAttempts: number;
      readonly maxRecordAgeSeconds: number;
      readonly bisectBatchOnError: boolean;
      /** Where a new mapping starts reading; the local poller starts there at each start-up. */
      readonly startingPosition: 'LATEST' | 'TRIM_HORIZON';
      /** Queue that receives a description of records whose retries ran out. */
      readonly onFailure: FailureQueueName;
      /** Lambda filter patterns (the same JSON AWS takes); records matching none are skipped. */
      readonly filterPatterns?: readonly object[];
    }
  | {
      readonly kind: 'queue';
      readonly queue: QueueName;
      readonly batchSize: number;
      /**
       * `deadLetter` consumes the queue's DLQ instead: what ran out of retries (or what EventBridge
       * Scheduler could not deliver) gets a last handler that records and reports the failure.
       * @default 'queue'
       */
      readonly from?: 'queue' | 'deadLetter';
    };

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export type ScheduleOperation = 'CreateSchedule' | 'UpdateSchedule' | 'DeleteSchedule';

/**
 * DynamoDB operations on a table's items, each granted as the IAM action of the same name on the
 * table; `QueryIndex` is dynamodb:Query on the table's secondary indexes.
 */
export type TableOperation = 'GetItem' | 'BatchGetItem' | 'Query' | 'QueryIndex' | 'PutItem' | 'UpdateItem' | 'DeleteItem';
/**
 * A level (`read`: GetItem, BatchGetItem, Query and QueryIndex; `write`: PutItem, UpdateItem,
 * DeleteItem), or the exact operations where a level would grant more than the handler calls.
 * Nothing Herald runs scans or batch-writes a multi-tenant table, so neither is an operation here.
 */
export type TableAccess = 'read' | 'write' | 'readWrite' | readonly TableOperation[];
/** `write` is PutObject and multipart (AbortMultipartUpload included); `read` is GetObject, which presigning needs. */
export type BucketAccess = 'read' | 'write' | 'readWrite';
type AccessLevel = 'read' | 'write' | 'readWrite';

const levelOperations = {
  read: ['GetItem', 'BatchGetItem', 'Query', 'QueryIndex'],
  write: ['PutItem', 'UpdateItem', 'DeleteItem'],
  readWrite: ['GetItem', 'BatchGetItem', 'Query', 'QueryIndex', 'PutItem', 'UpdateItem', 'DeleteItem'],
} as const satisfies Record<AccessLevel, readonly TableOperation[]>;

/** The DynamoDB operations `access` grants on a table. */
export function tableOperations(access: TableAccess): readonly TableOperation[] {
  return typeof access === 'string' ? levelOperations[access] : access;
}

export interface FunctionSpec {
  /** Path of the entry file from the repository root; it exports `handler`. */
  readonly entry: string;
  readonly description: string;
  readonly trigger: Trigger;
  readonly tables?: Partial<Record<TableName, TableAccess>>;
  /** Queues the function sends to; a queue trigger's consuming is granted with its trigger. */
  readonly queues?: Partial<Record<QueueName, 'send'>>;
  readonly buckets?: Partial<Record<BucketName, BucketAccess>>;
  /**
   * The EventBridge Scheduler operations the function performs on schedules in Herald's group;
   * creating or updating one also passes the scheduler role to Scheduler.
   */
  readonly manageSchedules?: readonly ScheduleOperation[];
  /** Whether the function sends email through SES, from the `emailSender` address only. */
  readonly sendEmail?: boolean;
  /** Whether the function reads (Query only) the deployer's table behind the `records` export dataset. */
  readonly readsExportRecords?: boolean;
  /** Whether the function posts to or deletes WebSocket connections (the @connections API). */
  readonly manageConnections?: boolean;
  /** Names of the settings (see settingEnvVars) this function reads. */
  readonly settings?: readonly SettingName[];
  /** @default functionDefaults.timeoutSeconds */
  readonly timeoutSeconds?: number;
  /** @default functionDefaults.memoryMb */
  readonly memoryMb?: number;
}

/** Lambda's own defaults (3 s, 128 MB) are too tight for a cold start with the SDK and Powertools. */
export const functionDefaults = { timeoutSeconds: 10, memoryMb: 256 } as const;

/** The WebSocket API's stage: clients connect to wss://…/live, functions post to …/live/@connections. */
export const webSocketStageName = 'live';

/** CORS of the HTTP API for the allowed origins, the same deployed and local. */
export const corsPolicy = {
  allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
  allowHeaders: ['authorization', 'content-type', 'if-match'],
  exposeHeaders: ['etag'],
  maxAgeSeconds: 3600,
} as const;

/**
 * Settings passed to functions as environment variables. The value of each comes from
 * lib/config.ts (cdk.json context when deployed, the local runtime's own values locally).
 */
export const settingEnvVars = {
  allowedOrigins: 'ALLOWED_ORIGINS',
  ticketTtlSeconds: 'TICKET_TTL_SECONDS',
  connectionTtlSeconds: 'CONNECTION_TTL_SECONDS',
  tenantClaim: 'TENANT_CLAIM',
  rolesClaim: 'ROLES_CLAIM',
  webSocketUrl: 'WEBSOCKET_URL',
  notificationRetentionDays: 'NOTIFICATION_RETENTION_DAYS',
  emailSender: 'EMAIL_SENDER',
  exportRetentionDays: 'EXPORT_RETENTION_DAYS',
  /** JSON `{table, tenantKey, sortKey?}` of the records dataset's table, or empty when none is configured. */
  exportRecords: 'EXPORT_RECORDS',
  exportScheduleGroup: 'EXPORT_SCHEDULE_GROUP',
  exportSchedulerRoleArn: 'EXPORT_SCHEDULER_ROLE_ARN',
  exportQueueArn: 'EXPORT_QUEUE_ARN',
  exportDeadLetterQueueArn: 'EXPORT_DEAD_LETTER_QUEUE_ARN',
  /** `secret:<ARN>` (deployed: read from Secrets Manager at cold start) or `key:<base64>` (local). */
  exportLinkKey: 'EXPORT_LINK_KEY',
  httpApiUrl: 'HTTP_API_URL',
} as const;
export type SettingName = keyof typeof settingEnvVars;

export interface SettingValues {
  readonly allowedOrigins: readonly string[];
  readonly ticketTtlSeconds: number;
  readonly connectionTtlSeconds: number;
  readonly tenantClaim: string;
  readonly rolesClaim: string;
  readonly webSocketUrl: string;
  readonly notificationRetentionDays: number;
  readonly emailSender: string;
  readonly exportRetentionDays: number;
  readonly exportRecords: ExportRecordsConfig | undefined;
  readonly exportScheduleGroup: string;
  readonly exportSchedulerRoleArn: string;
  readonly exportQueueArn: string;
  readonly exportDeadLetterQueueArn: string;
  readonly exportLinkKey: string;
  readonly httpApiUrl: string;
}

/** The one encoding of settings into environment strings, used by the CDK and the local runtime. */
export function encodeSettings(values: SettingValues): Record<SettingName, string> {
  return {
    // JSON, so that an empty allowlist is a value rather than a missing variable.
    allowedOrigins: JSON.stringify(values.allowedOrigins),
    ticketTtlSeconds: String(values.ticketTtlSeconds),
    connectionTtlSeconds: String(values.connectionTtlSeconds),
    tenantClaim: values.tenantClaim,
    rolesClaim: values.rolesClaim,
    webSocketUrl: values.webSocketUrl,
    notificationRetentionDays: String(values.notificationRetentionDays),
    emailSender: values.emailSender,
    exportRetentionDays: String(values.exportRetentionDays),
    exportRecords: values.exportRecords === undefined ? '' : JSON.stringify(values.exportRecords),
    exportScheduleGroup: values.exportScheduleGroup,
    exportSchedulerRoleArn: values.exportSchedulerRoleArn,
    exportQueueArn: values.exportQueueArn,
    exportDeadLetterQueueArn: values.exportDeadLetterQueueArn,
    exportLinkKey: values.exportLinkKey,
    // No trailing slash, so `${url}/exports/...` is one slash whatever the stage URL ends with.
    httpApiUrl: values.httpApiUrl.replace(/\/+$/, ''),
  };
}

/** Environment variable carrying the @connections endpoint to functions that manage connections. */
export const connectionsEndpointEnvVar = 'CONNECTIONS_ENDPOINT';

export const tables = {
  connections: {
    envVar: 'CONNECTIONS_TABLE',
    partitionKey: { name: 'connectionId', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /**
   * Each user's open connection ids in one item (`connectionIds`, a string set), so a fan-out to N
   * users finds every socket with N/100 BatchGetItem calls instead of N index queries.
   */
  userConnections: {
    envVar: 'USER_CONNECTIONS_TABLE',
    partitionKey: { name: 'userKey', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  tickets: {
    envVar: 'TICKETS_TABLE',
    partitionKey: { name: 'ticketHash', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /** The inbox: `userKey` (tenant#user) + `seq`; the item at seq 0 holds the counter and watermarks. */
  notifications: {
    envVar: 'NOTIFICATIONS_TABLE',
    partitionKey: { name: 'userKey', type: 'S' },
    sortKey: { name: 'seq', type: 'N' },
    localIndexes: [
      { name: 'byId', sortKey: { name: 'id', type: 'S' } },
      // Sparse: only unread notifications carry unreadSeq, so counting them reads nothing else.
      { name: 'unread', sortKey: { name: 'unreadSeq', type: 'N' }, include: ['expiresAt'] },
    ],
    ttlAttribute: 'expiresAt',
  },
  /** Idempotency records: a caller's dedupe key and the result it produced the first time. */
  dedupe: {
    envVar: 'DEDUPE_TABLE',
    partitionKey: { name: 'dedupeKey', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  preferences: {
    envVar: 'PREFERENCES_TABLE',
    partitionKey: { name: 'userKey', type: 'S' },
  },
  /** Who belongs to a topic: `topicKey` (tenant#topic) + `userId`. */
  memberships: {
    envVar: 'MEMBERSHIPS_TABLE',
    partitionKey: { name: 'topicKey', type: 'S' },
    sortKey: { name: 'userId', type: 'S' },
  },
  /** Live topic subscribers: `topicKey` + `connectionId`, expiring with the connection. */
  subscriptions: {
    envVar: 'SUBSCRIPTIONS_TABLE',
    partitionKey: { name: 'topicKey', type: 'S' },
    sortKey: { name: 'connectionId', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /**
   * Scheduled exports, one item collection per owner (`pk` = tenant#user): the schedules
   * (`schedule#<id>`, holding the run lease) and their runs (`run#<scheduleId>#<scheduledAt>`, the
   * idempotency record of one firing). See docs/exports.md.
   */
  exports: {
    envVar: 'EXPORTS_TABLE',
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /**
   * Alerts, `tenant` + `id`. An alert's id is its ULID; while it is open (not resolved) a second
   * item, `open#<rule>#<subject>`, names it, so a transaction can keep it the only open alert for
   * that rule and subject. The stream feeds the fan-out (its filter passes alert items only);
   * `byTopic` is sparse, as only alerts carry `topicKey`.
   */
  alerts: {
    envVar: 'ALERTS_TABLE',
    partitionKey: { name: 'tenant', type: 'S' },
    sortKey: { name: 'id', type: 'S' },
    indexes: [{ name: 'byTopic', partitionKey: { name: 'topicKey', type: 'S' }, sortKey: { name: 'raisedAt', type: 'S' } }],
    stream: 'NEW_AND_OLD_IMAGES',
  },
} as const satisfies Record<string, TableSpec>;

/** Export worker timeout: a 1M-row export streams in a few minutes; Lambda allows 15. */
export const EXPORT_WORKER_TIMEOUT_SECONDS = 300;

/**
 * Visibility timeout of every DLQ: a DLQ may feed a last handler (`from: 'deadLetter'`), which
 * Lambda wants at least 6x slower than its timeout.
 */
export const DEAD_LETTER_VISIBILITY_SECONDS = 60;

export const queues = {
  /** Scheduler firings and run-now requests; one message is one export run. */
  exports: {
    envVar: 'EXPORTS_QUEUE_URL',
    visibilityTimeoutSeconds: 6 * EXPORT_WORKER_TIMEOUT_SECONDS,
    maxReceiveCount: 3,
  },
} as const satisfies Record<string, QueueSpec>;

export const failureQueues = {
  /** Alert changes the fan-out could not deliver after its retries (Lambda's on-failure records). */
  alertFanout: { envVar: 'ALERT_FANOUT_FAILURES_QUEUE_URL' },
} as const satisfies Record<string, FailureQueueSpec>;

/** The alert fan-out's timeout: a 1,000-member topic with critical email fits well inside it. */
export const ALERT_FANOUT_TIMEOUT_SECONDS = 60;

export const buckets = {
  /** Export files, `<tenant>/<user>/<runId>.<ext>`, reached only through the download route. */
  exports: { envVar: 'EXPORTS_BUCKET', expirySetting: 'exportRetentionDays' },
} as const satisfies Record<string, BucketSpec>;

/** The part of a FunctionSpec that says what the function may reach. */
export type Access = Pick<FunctionSpec, 'tables' | 'queues' | 'buckets' | 'manageSchedules' | 'sendEmail' | 'readsExportRecords' | 'manageConnections' | 'settings'>;

/** The stronger of two levels: read and write together are readWrite. */
function strongerLevel(a: AccessLevel, b: AccessLevel): AccessLevel {
  return a === b ? a : 'readWrite';
}

/** Two table accesses together: the stronger level, or the union of operations when either names operations. */
export function mergeTableAccess(a: TableAccess, b: TableAccess): TableAccess {
  if (typeof a === 'string' && typeof b === 'string') return strongerLevel(a, b);
  return [...new Set([...tableOperations(a), ...tableOperations(b)])];
}

/**
 * What a function needs when it does the work of several parts (deliver(), a dataset, its own
 * table): each resource at the strongest access any part asks for. An object spread would keep
 * only the last part's access to a shared table, and a read would silently replace a readWrite.
 */
export function mergeAccess(...parts: readonly Access[]): Access {
  const tables: Partial<Record<TableName, TableAccess>> = {};
  const queues: Partial<Record<QueueName, 'send'>> = {};
  const buckets: Partial<Record<BucketName, BucketAccess>> = {};
  for (const part of parts) {
    for (const [name, access] of Object.entries(part.tables ?? {}) as Array<[TableName, TableAccess]>) {
      const existing = tables[name];
      tables[name] = existing === undefined ? access : mergeTableAccess(existing, access);
    }
    for (const name of Object.keys(part.queues ?? {}) as QueueName[]) queues[name] = 'send';
    for (const [name, access] of Object.entries(part.buckets ?? {}) as Array<[BucketName, BucketAccess]>) {
      const existing = buckets[name];
      buckets[name] = existing === undefined ? access : strongerLevel(existing, access);
    }
  }
  const flag = (key: 'sendEmail' | 'readsExportRecords' | 'manageConnections') => (parts.some((part) => part[key]) ? { [key]: true } : {});
  const settings = [...new Set(parts.flatMap((part) => part.settings ?? []))];
  const schedules = [...new Set(parts.flatMap((part) => part.manageSchedules ?? []))];
  return {
    ...(Object.keys(tables).length > 0 ? { tables } : {}),
    ...(Object.keys(queues).length > 0 ? { queues } : {}),
    ...(Object.keys(buckets).length > 0 ? { buckets } : {}),
    ...(schedules.length > 0 ? { manageSchedules: schedules } : {}),
    ...flag('sendEmail'),
    ...flag('readsExportRecords'),
    ...flag('manageConnections'),
    ...(settings.length > 0 ? { settings } : {}),
  };
}

/*
 * Access, part by part. Each names the operations its code performs (functions/adapters/), so a
 * role holds what its handler calls and nothing more; test/integration/least-privilege.test.ts
 * checks every grant against the calls the integration suite made (docs/local-iam.md).
 */

/** Counting a client frame against the socket's rate (functions/realtime/action.ts); past it, an error frame and a close. */
const frameAccess: Access = { tables: { connections: ['UpdateItem'] }, manageConnections: true };

/** Posting to known sockets; a 410 prunes the socket from its row and its user's set. */
const pushAccess: Access = { tables: { connections: ['DeleteItem'], userConnections: ['UpdateItem'] }, manageConnections: true };

/** Telling a topic's live subscribers (presence, alert events). */
// A subscriber whose socket is gone (410) is removed from the topic.
const topicEventAccess = mergeAccess(pushAccess, { tables: { subscriptions: ['Query', 'DeleteItem'] } });

/**
 * deliver(): preferences, dedupe records and counters read in batches, one transaction of counter
 * updates and puts, then each recipient's sockets.
 */
const deliverAccess = mergeAccess(pushAccess, {
  tables: {
    notifications: ['BatchGetItem', 'UpdateItem', 'PutItem'],
    dedupe: ['BatchGetItem', 'PutItem'],
    preferences: ['BatchGetItem'],
    userConnections: ['BatchGetItem'],
  },
  settings: ['notificationRetentionDays'],
});

const claimSettings = ['tenantClaim', 'rolesClaim'] as const;

/** Schedule writes touch the Scheduler schedule that fires them. */
const scheduleWriteSettings = [...claimSettings, 'exportScheduleGroup', 'exportSchedulerRoleArn', 'exportQueueArn', 'exportDeadLetterQueueArn'] as const;

/** Whether the caller may see an alert's topic. */
const alertReadAccess: Access = {
  tables: { memberships: ['GetItem'] },
  settings: claimSettings,
};

/**
 * What checking a dataset before a schedule is accepted needs: the caller's topic membership and
 * whether a records table is configured.
 */
const datasetCheckAccess: Access = { tables: { memberships: ['GetItem'] }, settings: ['exportRecords'] };

/** What reading an export's rows needs: each dataset's table (alerts by topic), and the deployer's records table. */
const datasetAccess = mergeAccess(datasetCheckAccess, {
  // Notifications by seq range, or unread ones on the sparse `unread` index; alerts by topic on byTopic.
  tables: { notifications: ['Query', 'QueryIndex'], alerts: ['QueryIndex'] },
  readsExportRecords: true,
});

/** A run's records, kept beside its schedule: created once, then updated as it goes. */
const runRecordAccess: Access = { tables: { exports: ['GetItem', 'PutItem', 'UpdateItem'] } };

export const functions = {
  wsAuthorizer: {
    entry: 'functions/realtime/handlers/authorize-connect.ts',
    description: 'Redeems a single-use ticket and checks Origin before a WebSocket connects',
    trigger: { kind: 'websocket-authorizer', identitySource: ['route.request.querystring.ticket'] },
    // Redeeming is one conditional DeleteItem returning the old item: it consumes, never writes.
    tables: { tickets: ['DeleteItem'] },
    settings: ['allowedOrigins'],
  },
  wsConnect: {
    entry: 'functions/realtime/handlers/connect.ts',
    description: 'Records an authorized WebSocket connection',
    trigger: { kind: 'websocket', route: '$connect' },
    tables: { connections: ['PutItem'], userConnections: ['UpdateItem'] },
    settings: ['connectionTtlSeconds'],
  },
  wsDisconnect: {
    entry: 'functions/realtime/handlers/disconnect.ts',
    description: 'Removes a closed WebSocket connection and leaves its topics',
    trigger: { kind: 'websocket', route: '$disconnect' },
    ...mergeAccess(topicEventAccess, { tables: { connections: ['DeleteItem'], userConnections: ['UpdateItem'], subscriptions: ['DeleteItem'] } }),
  },
  wsPing: {
    entry: 'functions/realtime/handlers/ping.ts',
    description: 'Answers ping with pong, keeping the socket inside the idle timeout',
    trigger: { kind: 'websocket', route: 'ping', returnResponse: true },
    ...frameAccess,
  },
  wsDefault: {
    entry: 'functions/realtime/handlers/default.ts',
    description: 'Answers unknown or malformed frames with an error frame',
    trigger: { kind: 'websocket', route: '$default', returnResponse: true },
    ...frameAccess,
  },
  wsResume: {
    entry: 'functions/notifications/handlers/resume.ts',
    description: 'Replays the notifications after a seq on the socket, then answers replayed',
    trigger: { kind: 'websocket', route: 'resume', returnResponse: true },
    ...mergeAccess(frameAccess, pushAccess, { tables: { notifications: ['GetItem', 'Query', 'QueryIndex'] } }),
  },
  wsAck: {
    entry: 'functions/notifications/handlers/ack.ts',
    description: 'Records the delivered watermark a client acknowledges',
    trigger: { kind: 'websocket', route: 'ack', returnResponse: true },
    ...mergeAccess(frameAccess, { tables: { notifications: ['UpdateItem'] } }),
  },
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
  issueTicket: {
    entry: 'functions/realtime/handlers/issue-ticket.ts',
    description: 'Issues a single-use 30-second WebSocket ticket to an authenticated user',
    trigger: { kind: 'http', method: 'POST', path: '/realtime/ticket', auth: 'jwt' },
    tables: { tickets: ['PutItem'] },
    settings: ['ticketTtlSeconds', ...claimSettings, 'webSocketUrl'],
  },
  listNotifications: {
    entry: 'functions/notifications/handlers/list-notifications.ts',
    description: 'Pages the caller inbox after a seq, with the unread count (polling fallback)',
    trigger: { kind: 'http', method: 'GET', path: '/notifications', auth: 'jwt' },
    tables: { notifications: ['GetItem', 'Query', 'QueryIndex'] },
    settings: claimSettings,
  },
  readNotifications: {
    entry: 'functions/notifications/handlers/read-notifications.ts',
    description: 'Marks the caller notifications read, up to a seq or by id',
    trigger: { kind: 'http', method: 'POST', path: '/notifications/read', auth: 'jwt' },
    tables: { notifications: ['QueryIndex', 'UpdateItem'] },
    settings: claimSettings,
  },
  publishNotification: {
    entry: 'functions/notifications/handlers/publish-notification.ts',
    description: 'Delivers a notification from a publisher to one user',
    trigger: { kind: 'http', method: 'POST', path: '/notifications', auth: 'jwt' },
    ...mergeAccess(deliverAccess, { settings: claimSettings }),
  },
  getPreferences: {
    entry: 'functions/notifications/handlers/get-preferences.ts',
    description: 'Returns the caller notification preferences',
    trigger: { kind: 'http', method: 'GET', path: '/me/preferences', auth: 'jwt' },
    tables: { preferences: ['BatchGetItem'] },
    settings: claimSettings,
  },
  putPreferences: {
    entry: 'functions/notifications/handlers/put-preferences.ts',
    description: 'Replaces the caller notification preferences',
    trigger: { kind: 'http', method: 'PUT', path: '/me/preferences', auth: 'jwt' },
    tables: { preferences: ['PutItem'] },
    settings: claimSettings,
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
    ...mergeAccess(deliverAccess, topicEventAccess, {
      // Members of the topic; email claims are put, and given back when a send fails.
      tables: { memberships: ['Query'], dedupe: ['PutItem', 'DeleteItem'] },
      sendEmail: true,
      settings: ['emailSender'],
    }),
    timeoutSeconds: ALERT_FANOUT_TIMEOUT_SECONDS,
    memoryMb: 512,
  },
  createExportSchedule: {
    entry: 'functions/exports/handlers/create-schedule.ts',
    description: 'Creates an export schedule and its EventBridge Scheduler schedule',
    trigger: { kind: 'http', method: 'POST', path: '/exports/schedules', auth: 'jwt' },
    // The schedule item is written first and deleted again when Scheduler refuses the schedule; a
    // retried create whose first answer was lost updates the schedule it made.
    ...mergeAccess(datasetCheckAccess, {
      tables: { exports: ['UpdateItem', 'DeleteItem'] },
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
    ...mergeAccess(datasetCheckAccess, { tables: { exports: ['GetItem', 'UpdateItem'] }, manageSchedules: ['UpdateSchedule'], settings: scheduleWriteSettings }),
  },
  deleteExportSchedule: {
    entry: 'functions/exports/handlers/delete-schedule.ts',
    description: 'Deletes an export schedule and its EventBridge Scheduler schedule',
    trigger: { kind: 'http', method: 'DELETE', path: '/exports/schedules/{id}', auth: 'jwt' },
    tables: { exports: ['GetItem', 'DeleteItem'] },
    manageSchedules: ['DeleteSchedule'],
    settings: scheduleWriteSettings,
  },
  runExportNow: {
    entry: 'functions/exports/handlers/run-now.ts',
    description: 'Queues a run of an export schedule now',
    trigger: { kind: 'http', method: 'POST', path: '/exports/schedules/{id}/run', auth: 'jwt' },
    tables: { exports: ['GetItem', 'PutItem'] },
    queues: { exports: 'send' },
    settings: claimSettings,
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
    trigger: { kind: 'queue', queue: 'exports', batchSize: 1 },
    ...mergeAccess(deliverAccess, datasetAccess, runRecordAccess, {
      buckets: { exports: 'write' },
      sendEmail: true,
      settings: ['emailSender', 'exportRetentionDays', 'exportLinkKey', 'httpApiUrl'],
    }),
    timeoutSeconds: EXPORT_WORKER_TIMEOUT_SECONDS,
    // Bounded by the upload's part size x queue size (4 x 8 MB), stream buffers and the SDK.
    memoryMb: 512,
  },
  exportFailed: {
    entry: 'functions/exports/handlers/failed.ts',
    description: 'Marks an export run failed after its last retry and tells the owner and the tenant admins',
    trigger: { kind: 'queue', queue: 'exports', batchSize: 1, from: 'deadLetter' },
    // The run record, the tenant's admins (members of its admin topic) and deliver().
    ...mergeAccess(deliverAccess, runRecordAccess, { tables: { memberships: ['Query'] } }),
  },
} as const satisfies Record<string, FunctionSpec>;

export type FunctionName = keyof typeof functions;

/** WebSocket route selection: API Gateway evaluates this against each frame's JSON body. */
export const routeSelectionExpression = '$request.body.action';

export function functionSpecs(): Array<[FunctionName, FunctionSpec]> {
  return Object.entries(functions) as Array<[FunctionName, FunctionSpec]>;
}

/** The environment a function receives, given the physical names and settings of this deployment. */
export function functionEnvironment(
  spec: FunctionSpec,
  physical: {
    tableNames: Record<TableName, string>;
    queueUrls: Record<QueueName, string>;
    bucketNames: Record<BucketName, string>;
    connectionsEndpoint: string;
    settings: Record<SettingName, string>;
  },
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const table of Object.keys(spec.tables ?? {}) as TableName[]) {
    env[tables[table].envVar] = physical.tableNames[table];
  }
  for (const queue of Object.keys(spec.queues ?? {}) as QueueName[]) {
    const queueSpec: QueueSpec = queues[queue];
    env[queueSpec.envVar] = physical.queueUrls[queue];
  }
  for (const bucket of Object.keys(spec.buckets ?? {}) as BucketName[]) {
    env[buckets[bucket].envVar] = physical.bucketNames[bucket];
  }
  if (spec.manageConnections) env[connectionsEndpointEnvVar] = physical.connectionsEndpoint;
  for (const setting of spec.settings ?? []) env[settingEnvVars[setting]] = physical.settings[setting];
  return env;
}
