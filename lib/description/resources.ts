/**
 * Herald's tables, queues, failure queues and buckets: keys, indexes, TTL, streams, timeouts.
 */
import { ALERT_CHUNK_TIMEOUT_SECONDS } from '#functions/alerts/chunks';
import { EXPORT_WORKER_MAX_CONCURRENCY, EXPORT_WORKER_TIMEOUT_SECONDS } from '#functions/exports/limits';
import { environment } from '#functions/shared/environment';
import type { SettingName } from './settings';

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
  /**
   * A FIFO queue (and DLQ): messages of one MessageGroupId are received in order, one batch at a
   * time, and a MessageDeduplicationId repeated within five minutes is dropped.
   * @default false
   */
  readonly fifo?: boolean;
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

/** What a pull or a conflict list reads of a record: all of it but its keys. */
const RECORD_ATTRIBUTES = ['collection', 'id', 'version', 'fields', 'meta', 'conflicts', 'deleted', 'updatedAt', 'updatedBy'] as const;

export const tables = {
  connections: {
    envVar: environment.tables.connections,
    partitionKey: { name: 'connectionId', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /**
   * Each user's open connection ids in one item (`connectionIds`, a string set), so a fan-out to N
   * users finds every socket with N/100 BatchGetItem calls instead of N index queries.
   */
  userConnections: {
    envVar: environment.tables.userConnections,
    partitionKey: { name: 'userKey', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  tickets: {
    envVar: environment.tables.tickets,
    partitionKey: { name: 'ticketHash', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /** The inbox: `userKey` (tenant#user) + `seq`; the item at seq 0 holds the counter and watermarks. */
  notifications: {
    envVar: environment.tables.notifications,
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
    envVar: environment.tables.dedupe,
    partitionKey: { name: 'dedupeKey', type: 'S' },
    ttlAttribute: 'expiresAt',
  },
  /**
   * `byEmail` finds the users of a tenant who set an address (export recipients, docs/exports.md
   * "Limits"): `email` = the address and `userKey` begins with `tenant#`, both key conditions, so
   * the lookup reads one tenant's entries only. Sparse: only preferences with an email are in it.
   */
  preferences: {
    envVar: environment.tables.preferences,
    partitionKey: { name: 'userKey', type: 'S' },
    indexes: [{ name: 'byEmail', partitionKey: { name: 'email', type: 'S' }, sortKey: { name: 'userKey', type: 'S' } }],
  },
  /** Who belongs to a topic: `topicKey` (tenant#topic) + `userId`. */
  memberships: {
    envVar: environment.tables.memberships,
    partitionKey: { name: 'topicKey', type: 'S' },
    sortKey: { name: 'userId', type: 'S' },
  },
  /** Live topic subscribers: `topicKey` + `connectionId`, expiring with the connection. */
  subscriptions: {
    envVar: environment.tables.subscriptions,
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
    envVar: environment.tables.exports,
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
    envVar: environment.tables.alerts,
    partitionKey: { name: 'tenant', type: 'S' },
    sortKey: { name: 'id', type: 'S' },
    indexes: [{ name: 'byTopic', partitionKey: { name: 'topicKey', type: 'S' }, sortKey: { name: 'raisedAt', type: 'S' } }],
    stream: 'NEW_AND_OLD_IMAGES',
  },
  /**
   * Offline-first records, one item collection per scope (`pk` = tenant#scope): the records
   * (`rec#<collection>#<id>`), the scope's change counter, the answer to each op id, and each
   * device's sync status (docs/sync.md, "Data"). `bySeq` orders records by their latest change seq
   * for pulls; `conflicts` is sparse, only records with an open conflict carry `conflictSince`.
   * Tombstones, op answers and device rows expire after the retention. The stream (new images)
   * carries versions that newly assign someone (`assignedTo`) to the assignment notifier.
   */
  records: {
    envVar: environment.tables.records,
    partitionKey: { name: 'pk', type: 'S' },
    sortKey: { name: 'sk', type: 'S' },
    localIndexes: [
      { name: 'bySeq', sortKey: { name: 'seq', type: 'N' }, include: RECORD_ATTRIBUTES },
      { name: 'conflicts', sortKey: { name: 'conflictSince', type: 'S' }, include: RECORD_ATTRIBUTES },
    ],
    ttlAttribute: 'expiresAt',
    stream: 'NEW_IMAGE',
  },
} as const satisfies Record<string, TableSpec>;

export { EXPORT_WORKER_MAX_CONCURRENCY, EXPORT_WORKER_TIMEOUT_SECONDS };

/**
 * Visibility timeout of every DLQ: a DLQ may feed a last handler (`from: 'deadLetter'`), which
 * Lambda wants at least 6x slower than its timeout.
 */
export const DEAD_LETTER_VISIBILITY_SECONDS = 60;

export const queues = {
  /** Scheduler firings and run-now requests; one message is one export run. */
  exports: {
    envVar: environment.queues.exports,
    visibilityTimeoutSeconds: 6 * EXPORT_WORKER_TIMEOUT_SECONDS,
    maxReceiveCount: 3,
  },
  /**
   * A large topic's recipients in chunks, delivered in parallel by alertChunks (docs/architecture.md,
   * "Large topics"). FIFO: a user's chunks share a message group, so one user's alert changes
   * arrive in stream order; a chunk sent twice (a retried stream record) is dropped by its id.
   */
  alertChunks: {
    envVar: environment.queues.alertChunks,
    visibilityTimeoutSeconds: 6 * ALERT_CHUNK_TIMEOUT_SECONDS,
    maxReceiveCount: 5,
    fifo: true,
  },
} as const satisfies Record<string, QueueSpec>;

export const failureQueues = {
  /** Alert changes the fan-out could not deliver after its retries (Lambda's on-failure records). */
  alertFanout: { envVar: 'ALERT_FANOUT_FAILURES_QUEUE_URL' },
  /** Record assignments the notifier could not deliver after its retries. */
  recordAssignments: { envVar: 'RECORD_ASSIGNMENT_FAILURES_QUEUE_URL' },
} as const satisfies Record<string, FailureQueueSpec>;

export const buckets = {
  /** Export files, `<tenant>/<user>/<runId>.<ext>`, reached only through the download route. */
  exports: { envVar: environment.buckets.exports, expirySetting: 'exportRetentionDays' },
} as const satisfies Record<string, BucketSpec>;
