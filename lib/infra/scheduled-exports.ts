import { Annotations, Duration, RemovalPolicy, Stack, type CfnResource } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { Grant, Role, ServicePrincipal, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { CfnPermission, type Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { CfnRotationSchedule, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { LINK_KEY_ROTATION_MARGIN_DAYS, linkKeyRotationDefaultDays, type ExportRecordsConfig } from '../config';
import { DEAD_LETTER_VISIBILITY_SECONDS, queues, type BucketAccess, type ScheduleOperation, type SecretOperation } from '../description';
import { alarmAtLeast, COUNT_EACH_MINUTE, EACH_MINUTE, RUNBOOK } from './alarms';
import { acknowledge } from './nag';
import { InvalidPropsError, requireInteger, requireMatch, withDefaults } from './support';

const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** How a function consumes one of the construct's queues. */
export interface ConsumeOptions {
  /** @default 1 */
  readonly batchSize?: number;
  /** Invocations at once (SQS ScalingConfig.MaximumConcurrency, 2 to 1000). @default unbounded */
  readonly maxConcurrency?: number;
}

export interface ScheduledExportsProps {
  /**
   * Days an export file is kept (S3 lifecycle); its emailed download link lives as long.
   * @default 7
   */
  readonly fileRetentionDays?: number;
  /**
   * Delete the export files with the stack (S3 auto-delete custom resource) instead of retaining
   * the bucket. For throwaway stages only.
   * @default false
   */
  readonly autoDeleteFiles?: boolean;
  /**
   * The EventBridge Scheduler group that holds one schedule per export schedule.
   * @default `<stack name>-exports`
   */
  readonly scheduleGroupName?: string;
  /**
   * SNS topic the dead-letter alarm notifies.
   * @default none: the alarm only changes state
   */
  readonly alarmTopic?: ITopic;
  /**
   * The deployer's own table behind the `records` dataset; `grantQueryRecords` grants Query on it.
   * @default none: the dataset answers 400
   */
  readonly records?: ExportRecordsConfig;
  /**
   * Domains any address at which may receive export emails, besides the users of the owner's
   * tenant (docs/exports.md, "Limits").
   * @default none
   */
  readonly recipientDomains?: readonly string[];
  /**
   * Visibility timeout of the exports queue; `processRunsWith` checks it is at least 6x the
   * worker's timeout, as Lambda wants for a queue source.
   * @default 30 minutes (6x the export worker's 300 s, lib/description/)
   */
  readonly queueVisibilityTimeout?: Duration;
  /**
   * Receives after which SQS moves a run request to the dead-letter queue.
   * @default 3
   */
  readonly maxReceiveCount?: number;
  /**
   * Days between automatic rotations of the link key, once `rotateLinkKeyWith` names the rotation
   * function. A link signed with a key two rotations old is refused, so this must exceed the
   * file retention by at least LINK_KEY_ROTATION_MARGIN_DAYS (docs/exports.md, "Download links").
   * @default linkKeyRotationDefaultDays(fileRetentionDays): the larger of 30 and twice the retention
   */
  readonly linkKeyRotationDays?: number;
}

const DEFAULTS = {
  fileRetentionDays: 7,
  autoDeleteFiles: false,
  queueVisibilityTimeout: Duration.seconds(queues.exports.visibilityTimeoutSeconds),
  maxReceiveCount: queues.exports.maxReceiveCount,
} satisfies Partial<ScheduledExportsProps>;

const SCHEDULE_GROUP_NAME = /^[0-9A-Za-z._-]{1,64}$/;
const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;
/**
 * An hour: a run that fails waits the visibility timeout (30 min) before its next attempt, so one
 * retry is normal, and a request older than two attempts' worth means runs keep failing or wait.
 */
const QUEUE_AGE_ALARM_SECONDS = 3600;
/** SQS's longest visibility timeout. */
const MAX_VISIBILITY_SECONDS = 12 * 60 * 60;

/**
 * Scheduled exports, apart from the functions that run them: the queue of run requests (fed by
 * EventBridge Scheduler and by run-now) and its dead-letter queue with an alarm, the private
 * bucket the files are streamed to, the Scheduler group and the role its schedules send as, and
 * the key that signs download links. docs/exports.md describes the flow.
 */
export class ScheduledExports extends Construct {
  /** Run requests; one message is one export run. */
  public readonly queue: Queue;
  /** Where a run request rests after its last receive, or when Scheduler cannot deliver a firing. */
  public readonly deadLetterQueue: Queue;
  /** Fires when a dead letter has waited 10 minutes: its last handler is failing or absent. */
  public readonly deadLetterAlarm: Alarm;
  /** Fires in each minute something is sent to the DLQ (a firing Scheduler could not deliver). */
  public readonly deadLetterArrivalsAlarm: Alarm;
  /** Fires when the oldest run request has waited an hour for 5 minutes running. */
  public readonly queueAgeAlarm: Alarm;
  /** Export files, `<tenant>/<user>/<runId>.<ext>`, reached only through pre-signed URLs. */
  public readonly bucket: Bucket;
  /** The EventBridge Scheduler group holding one schedule per export schedule. */
  public readonly scheduleGroup: CfnScheduleGroup;
  /** The group's name, known at synth. */
  public readonly scheduleGroupName: string;
  /** The role EventBridge Scheduler assumes to send a firing to the queue (or its DLQ). */
  public readonly schedulerRole: Role;
  /** The HMAC key that signs download links, generated here and read by functions at cold start. */
  public readonly linkKey: Secret;
  public readonly fileRetentionDays: number;
  /** Days between rotations of the link key (when a rotation function is attached). */
  public readonly linkKeyRotationDays: number;
  /** The link key's rotation schedule, once `rotateLinkKeyWith` attached its function. */
  public linkKeyRotation?: CfnRotationSchedule;
  public readonly records?: ExportRecordsConfig;
  public readonly recipientDomains: readonly string[];
  private readonly queueVisibilitySeconds: number;

  constructor(scope: Construct, id: string, props: ScheduledExportsProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const merged = withDefaults({ ...DEFAULTS, scheduleGroupName: `${stack.stackName}-exports` }, props);
    requireInteger(this, 'fileRetentionDays', merged.fileRetentionDays, 1, 365);
    requireInteger(this, 'maxReceiveCount', merged.maxReceiveCount, 1, 1000);
    requireInteger(this, 'queueVisibilityTimeout (seconds)', merged.queueVisibilityTimeout.toSeconds(), 0, MAX_VISIBILITY_SECONDS);
    requireMatch(this, 'scheduleGroupName', merged.scheduleGroupName, SCHEDULE_GROUP_NAME, '1-64 letters, digits, . _ -');
    if (merged.records) {
      requireMatch(this, 'records.table', merged.records.table, TABLE_NAME, 'a DynamoDB table name (3-255 letters, digits, _ . -)');
      requireMatch(this, 'records.tenantKey', merged.records.tenantKey, ATTRIBUTE_NAME, 'an attribute name');
      if (merged.records.sortKey !== undefined) requireMatch(this, 'records.sortKey', merged.records.sortKey, ATTRIBUTE_NAME, 'an attribute name');
    }
    this.fileRetentionDays = merged.fileRetentionDays;
    this.linkKeyRotationDays = props.linkKeyRotationDays ?? linkKeyRotationDefaultDays(merged.fileRetentionDays);
    // Secrets Manager's longest interval is 1000 days.
    requireInteger(this, 'linkKeyRotationDays', this.linkKeyRotationDays, merged.fileRetentionDays + LINK_KEY_ROTATION_MARGIN_DAYS, 1000);
    this.records = merged.records;
    this.recipientDomains = (props.recipientDomains ?? []).map((domain) => domain.toLowerCase());
    for (const domain of this.recipientDomains) requireMatch(this, 'recipientDomains', domain, DOMAIN, 'a domain name such as example.com');
    this.scheduleGroupName = merged.scheduleGroupName;
    this.queueVisibilitySeconds = merged.queueVisibilityTimeout.toSeconds();

    // The construct ids below are the ones these resources have always had in the Herald stack.
    this.deadLetterQueue = new Queue(this, 'ExportsDeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      // A DLQ may feed a last handler (processFailedRunsWith), which Lambda wants 6x slower than its timeout.
      visibilityTimeout: Duration.seconds(DEAD_LETTER_VISIBILITY_SECONDS),
    });
    // No SQS3 finding to acknowledge: cdk-nag sees this queue is the exports queue's DLQ.
    this.queue = new Queue(this, 'ExportsQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: merged.queueVisibilityTimeout,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: merged.maxReceiveCount },
    });
    // A DLQ with a last handler empties as it works, so what matters is a message it leaves there.
    this.deadLetterAlarm = alarmAtLeast(
      this,
      'ExportsDeadLetterAlarm',
      'A message of the exports DLQ has waited 10 minutes: its last handler (exportFailed) is failing or absent',
      RUNBOOK.exportsDeadLetters,
      this.deadLetterQueue.metricApproximateAgeOfOldestMessage(EACH_MINUTE),
      600,
      merged.alarmTopic,
    );
    // SQS counts in NumberOfMessagesSent only what is sent to the DLQ (here: firings EventBridge
    // Scheduler could not deliver), not what its redrive moves there; runs that ran out of
    // receives are counted by exportFailed as ExportRunsFailed, which has an alarm of its own.
    this.deadLetterArrivalsAlarm = alarmAtLeast(
      this,
      'ExportsDeadLetterArrivalsAlarm',
      'EventBridge Scheduler could not deliver an export firing to the exports queue and sent it to the DLQ',
      RUNBOOK.exportsDeadLetters,
      this.deadLetterQueue.metricNumberOfMessagesSent(COUNT_EACH_MINUTE),
      1,
      merged.alarmTopic,
    );
    this.queueAgeAlarm = alarmAtLeast(
      this,
      'ExportsQueueAgeAlarm',
      'A run request has waited an hour in the exports queue: runs are failing and retrying, or the worker is not keeping up',
      RUNBOOK.exportsQueueAge,
      this.queue.metricApproximateAgeOfOldestMessage(EACH_MINUTE),
      QUEUE_AGE_ALARM_SECONDS,
      merged.alarmTopic,
      { evaluationPeriods: 5 },
    );

    this.bucket = new Bucket(this, 'ExportsBucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: BucketEncryption.S3_MANAGED,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      lifecycleRules: [
        { id: 'expire', expiration: Duration.days(merged.fileRetentionDays) },
        // A worker that dies mid-upload cannot abort its own upload; the next attempt aborts
        // the one it recorded, and this catches whatever is still left.
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      // The files are users' data until they expire, so the bucket outlives the stack unless a
      // throwaway stage opts in to deleting them with it (docs/deploy.md). Retained except when
      // the deploy that creates it rolls back: then it is still empty, and retaining it would
      // only leave an orphan per failed first deploy. The opt-in adds CDK's auto-delete provider
      // (a Lambda and role) as plain CfnResources, which cdk-nag's rules do not inspect;
      // test/infra/stateful.test.ts checks that it still synthesizes clean.
      removalPolicy: merged.autoDeleteFiles ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      autoDeleteObjects: merged.autoDeleteFiles,
    });
    acknowledge(
      this.bucket.node.defaultChild as CfnResource,
      'S1',
      'The exports bucket is written by the export worker and read only through pre-signed URLs the download function issues; every download request is in the HTTP API access log, and server access logs would need a second bucket that only duplicates them.',
    );
    Annotations.of(this).addInfo(
      merged.autoDeleteFiles
        ? 'exportsBucketAutoDelete=true: deleting the stack deletes the exports bucket and every export file in it.'
        : 'The exports bucket is retained when the stack is deleted (exportsBucketAutoDelete=false); see docs/deploy.md to remove it.',
    );

    this.linkKey = new Secret(this, 'ExportLinkKey', {
      description: 'HMAC key that signs Herald export download links',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    // No SMG4 acknowledgement: rotateLinkKeyWith gives the key its rotation schedule. A deployer who
    // builds this construct without Herald's functions attaches their own, or acknowledges SMG4.

    this.scheduleGroup = new CfnScheduleGroup(this, 'ExportScheduleGroup', { name: this.scheduleGroupName });
    this.schedulerRole = new Role(this, 'ExportSchedulerRole', {
      // Only Scheduler, for this account's schedules in Herald's own group (the confused-deputy guard).
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          // Scheduler sets the schedule group's ARN here, never a schedule's.
          ArnEquals: { 'aws:SourceArn': stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: this.scheduleGroupName }) },
        },
      }),
      description: 'EventBridge Scheduler sends export firings to the exports queue, or its DLQ when it cannot',
    });
    // SendMessage alone: grantSendMessages would add GetQueueAttributes and GetQueueUrl, which Scheduler never calls.
    this.queue.grant(this.schedulerRole, 'sqs:SendMessage');
    this.deadLetterQueue.grant(this.schedulerRole, 'sqs:SendMessage');
  }

  /** Lets `grantee` queue a run (run-now): SendMessage on the queue, nothing else. */
  public grantRequestRuns(grantee: IGrantable): Grant {
    return this.queue.grant(grantee, 'sqs:SendMessage');
  }

  /**
   * Object-level access to the export files only: no listing, no bucket configuration, no deletes.
   * `write` includes aborting a multipart upload; `read` (GetObject) is what pre-signing needs.
   * Returns the grant, whose `<bucket ARN>/*` cdk-nag reports, for the caller to acknowledge.
   */
  public grantFileAccess(grantee: IGrantable, access: BucketAccess): Grant {
    const actions = {
      read: ['s3:GetObject'],
      write: ['s3:PutObject', 's3:AbortMultipartUpload'],
      readWrite: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
    }[access];
    return Grant.addToPrincipal({ grantee, actions, resourceArns: [this.bucket.arnForObjects('*')] });
  }

  /**
   * Lets `grantee` perform `operations` on schedules in this group and no other; creating or
   * updating one names the scheduler role, so those also pass that role, to Scheduler only.
   * Returns the schedule grant, whose `<group>/*` cdk-nag reports, for the caller to acknowledge.
   */
  public grantManageSchedules(grantee: IGrantable, operations: readonly ScheduleOperation[]): Grant {
    if (operations.length === 0) throw new InvalidPropsError(this, 'operations', 'of grantManageSchedules must name at least one operation.');
    const grant = Grant.addToPrincipal({
      grantee,
      actions: operations.map((operation) => `scheduler:${operation}`),
      resourceArns: [Stack.of(this).formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${this.scheduleGroupName}/*` })],
    });
    if (operations.some((operation) => operation !== 'DeleteSchedule')) {
      Grant.addToPrincipal({
        grantee,
        actions: ['iam:PassRole'],
        resourceArns: [this.schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      });
    }
    return grant;
  }

  /** Lets `grantee` read the link key: GetSecretValue alone (grantRead would add DescribeSecret, which nothing calls). */
  public grantReadLinkKey(grantee: IGrantable): Grant {
    return this.grantLinkKey(grantee, ['GetSecretValue']);
  }

  /** Lets `grantee` perform `operations` on the link key and no other secret. */
  public grantLinkKey(grantee: IGrantable, operations: readonly SecretOperation[]): Grant {
    if (operations.length === 0) throw new InvalidPropsError(this, 'operations', 'of grantLinkKey must name at least one operation.');
    return Grant.addToPrincipal({ grantee, actions: operations.map((operation) => `secretsmanager:${operation}`), resourceArns: [this.linkKey.secretArn] });
  }

  /**
   * Makes `handler` the link key's rotation function, every `linkKeyRotationDays` days: Secrets
   * Manager may invoke it (for this secret, from this account), and the secret gets its rotation
   * schedule. The handler's role needs DescribeSecret, GetSecretValue, PutSecretValue and
   * UpdateSecretVersionStage on the key (`grantLinkKey`), which Herald's description grants; this
   * grants nothing to it, unlike Secret.addRotationSchedule, which adds GetRandomPassword on "*".
   */
  public rotateLinkKeyWith(handler: LambdaFunction): CfnRotationSchedule {
    if (this.linkKeyRotation) throw new InvalidPropsError(this, 'rotateLinkKeyWith', 'was already called: the link key has one rotation function.');
    const stack = Stack.of(this);
    const permission = new CfnPermission(this, 'ExportLinkKeyRotationPermission', {
      action: 'lambda:InvokeFunction',
      functionName: handler.functionArn,
      principal: 'secretsmanager.amazonaws.com',
      // The confused-deputy guard: Secrets Manager may invoke it only to rotate this secret of this account.
      sourceAccount: stack.account,
      sourceArn: this.linkKey.secretArn,
    });
    this.linkKeyRotation = new CfnRotationSchedule(this, 'ExportLinkKeyRotation', {
      secretId: this.linkKey.secretArn,
      rotationLambdaArn: handler.functionArn,
      rotationRules: { scheduleExpression: `rate(${this.linkKeyRotationDays} days)` },
      // A deploy never rotates: changing the interval twice in a week would otherwise retire the
      // key that signed the week's links. The first rotation is due an interval after the last one.
      rotateImmediatelyOnUpdate: false,
    });
    // Secrets Manager checks it may invoke the function when the schedule is created.
    this.linkKeyRotation.node.addDependency(permission);
    return this.linkKeyRotation;
  }

  /**
   * Lets `grantee` Query the deployer's records table (the dataset reads one tenant's partition,
   * never scans or reads an index). Grants nothing when no records table is configured.
   */
  public grantQueryRecords(grantee: IGrantable): Grant | undefined {
    if (this.records === undefined) return undefined;
    return Grant.addToPrincipal({
      grantee,
      actions: ['dynamodb:Query'],
      resourceArns: [Stack.of(this).formatArn({ service: 'dynamodb', resource: 'table', resourceName: this.records.table })],
    });
  }

  /**
   * Makes `handler` the export worker: it receives each run request, `batchSize` at a time (default
   * 1), at most `maxConcurrency` invocations at once (default: as many as Lambda scales to).
   */
  public processRunsWith(handler: LambdaFunction, options: ConsumeOptions = {}): void {
    this.consume(this.queue, 'the exports queue', this.queueVisibilitySeconds, handler, 'ExportWorkerSource', options);
  }

  /** Makes `handler` the last handler of run requests that ran out of receives (it marks the run failed). */
  public processFailedRunsWith(handler: LambdaFunction, options: ConsumeOptions = {}): void {
    this.consume(this.deadLetterQueue, "the exports queue's DLQ", DEAD_LETTER_VISIBILITY_SECONDS, handler, 'ExportFailedSource', options);
  }

  private consume(queue: Queue, what: string, visibilitySeconds: number, handler: LambdaFunction, mappingId: string, options: ConsumeOptions): void {
    const batchSize = options.batchSize ?? 1;
    requireInteger(this, 'batchSize', batchSize, 1, 10);
    // Lambda's ScalingConfig.MaximumConcurrency range.
    if (options.maxConcurrency !== undefined) requireInteger(this, 'maxConcurrency', options.maxConcurrency, 2, 1000);
    // Lambda's default timeout is 3 s.
    const timeout = handler.timeout?.toSeconds() ?? 3;
    if (visibilitySeconds < 6 * timeout) {
      throw new InvalidPropsError(
        this,
        'queueVisibilityTimeout',
        `makes ${what} (${visibilitySeconds} s) visible again before 6x the ${timeout} s timeout of ${handler.node.path}, which consumes it; Lambda wants at least 6x.`,
      );
    }
    // A mapping rather than SqsEventSource, whose automatic grantConsumeMessages adds GetQueueUrl and
    // ChangeMessageVisibility: the role gets what Lambda's SQS mapping calls, and no more.
    queue.grant(handler, 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes');
    handler.addEventSourceMapping(mappingId, {
      eventSourceArn: queue.queueArn,
      batchSize,
      reportBatchItemFailures: true,
      ...(options.maxConcurrency !== undefined && { maxConcurrency: options.maxConcurrency }),
    });
  }
}
