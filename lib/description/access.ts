/**
 * What a function is: its entry, trigger and what it may reach; how the access of several parts
 * combines; and the parts several features share (a socket's frame check, pushes, topic events,
 * deliver()).
 */
import type { BucketName, FailureQueueName, QueueName, TableName } from './resources';
import type { SettingName } from './settings';

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
      /**
       * At most this many invocations at once from this queue (Lambda's SQS ScalingConfig
       * MaximumConcurrency, 2 to 1000); the local poller runs at most as many batches at once.
       * @default unbounded deployed (Lambda scales the pollers); one batch at a time locally
       */
      readonly maxConcurrency?: number;
    }
  | {
      /**
       * Secrets Manager invokes the function to rotate `secret` (its four-step protocol), every
       * `rotationDays` days as the deployment configures it (docs/exports.md, "Download links").
       * Deployed only: the local runtime has no Secrets Manager, and loads the function without a trigger.
       */
      readonly kind: 'secretRotation';
      readonly secret: SecretName;
    };

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Herald's secrets: the key that signs download links (the `exportLinkKey` setting names it). */
export type SecretName = 'exportLinkKey';
/** Secrets Manager operations on one of Herald's secrets, each granted as the IAM action of the same name on that secret only. */
export type SecretOperation = 'DescribeSecret' | 'GetSecretValue' | 'PutSecretValue' | 'UpdateSecretVersionStage';

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
  /**
   * Secrets Manager operations on Herald's secrets, beyond reading the link key, which the
   * `exportLinkKey` setting grants (GetSecretValue) to the functions that sign or check links.
   */
  readonly secrets?: Partial<Record<SecretName, readonly SecretOperation[]>>;
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
  /**
   * Variables for the function's process itself rather than names of Herald's resources: what the
   * runtime reads at start, such as glibc's malloc tuning for the export worker (docs/exports.md).
   * Locally every function shares the runtime's process, which started before them, so a variable
   * read only at process start has no effect there.
   */
  readonly environment?: Readonly<Record<string, string>>;
}

/** Lambda's own defaults (3 s, 128 MB) are too tight for a cold start with the SDK and Powertools. */
export const functionDefaults = { timeoutSeconds: 10, memoryMb: 256 } as const;

/** The part of a FunctionSpec that says what the function may reach. */
export type Access = Pick<
  FunctionSpec,
  'tables' | 'queues' | 'buckets' | 'manageSchedules' | 'secrets' | 'sendEmail' | 'readsExportRecords' | 'manageConnections' | 'settings'
>;

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
  const secrets: Partial<Record<SecretName, readonly SecretOperation[]>> = {};
  for (const part of parts) {
    for (const [name, operations] of Object.entries(part.secrets ?? {}) as Array<[SecretName, readonly SecretOperation[]]>) {
      secrets[name] = [...new Set([...(secrets[name] ?? []), ...operations])];
    }
  }
  return {
    ...(Object.keys(tables).length > 0 ? { tables } : {}),
    ...(Object.keys(queues).length > 0 ? { queues } : {}),
    ...(Object.keys(buckets).length > 0 ? { buckets } : {}),
    ...(schedules.length > 0 ? { manageSchedules: schedules } : {}),
    ...(Object.keys(secrets).length > 0 ? { secrets } : {}),
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
export const frameAccess: Access = { tables: { connections: ['UpdateItem'] }, manageConnections: true };

/** Posting to known sockets; a 410 prunes the socket from its row and its user's set. */
export const pushAccess: Access = { tables: { connections: ['DeleteItem'], userConnections: ['UpdateItem'] }, manageConnections: true };

/** Telling a topic's live subscribers (presence, alert events). */
// A subscriber whose socket is gone (410) is removed from the topic.
export const topicEventAccess = mergeAccess(pushAccess, { tables: { subscriptions: ['Query', 'DeleteItem'] } });

/**
 * deliver(): preferences, dedupe claims and counter hints read in batches; a conditional put per
 * dedupe claim (PutItem again to take over a claim whose lease ran out) and per notification, the
 * newest item queried when a seq is found taken (Query), a claim's first result found by its id
 * (QueryIndex on `byId`), the hint raised (UpdateItem); then each recipient's sockets.
 * No transaction (docs/protocol.md, "How seqs are allocated").
 */
export const deliverAccess = mergeAccess(pushAccess, {
  tables: {
    notifications: ['BatchGetItem', 'PutItem', 'UpdateItem', 'Query', 'QueryIndex'],
    dedupe: ['BatchGetItem', 'PutItem'],
    preferences: ['BatchGetItem'],
    userConnections: ['BatchGetItem'],
  },
  settings: ['notificationRetentionDays'],
});

export const claimSettings = ['tenantClaim', 'rolesClaim'] as const;
