import { Duration } from 'aws-cdk-lib';
import { MathExpression, type Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { StartingPosition, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { DeduplicationScope, FifoThroughputLimit, Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { DEAD_LETTER_VISIBILITY_SECONDS, functions, queues } from '../description';
import { alarmAtLeast, EACH_MINUTE, RUNBOOK } from './alarms';
import { describedStreamReadOptions, readStreamInto, streamFailureQueue } from './stream-source';
import { InvalidPropsError, requireInteger, withDefaults } from './support';

export interface AlertFanoutProps {
  /** The table alerts are written to; its stream (new and old images) feeds the fan-out. */
  readonly alertsTable: Table;
  /**
   * SNS topic the failure alarm notifies.
   * @default none: the alarm only changes state
   */
  readonly alarmTopic?: ITopic;
  /**
   * How long the failure queue keeps the description of a record the fan-out gave up on.
   * @default 14 days, SQS's longest
   */
  readonly failureRetention?: Duration;
}

/** How the Alerts stream is read; the defaults are the alertFanout trigger of lib/description/. */
export interface FanoutOptions {
  /** @default 10 */
  readonly batchSize?: number;
  /** Retries of a failing batch before its records go to the failure queue. @default 5 */
  readonly retryAttempts?: number;
  /** Records older than this go to the failure queue unprocessed. @default 1 hour */
  readonly maxRecordAge?: Duration;
  /** Split a failing batch until the failing record is alone (docs/architecture.md, "A poison record"). @default true */
  readonly bisectBatchOnError?: boolean;
  /** Where a new mapping starts reading. @default LATEST */
  readonly startingPosition?: StartingPosition;
  /** Lambda filter patterns; records matching none are skipped. @default alert items, INSERT or MODIFY */
  readonly filterPatterns?: readonly object[];
}

const DEFAULTS = { failureRetention: Duration.days(14) } satisfies Partial<AlertFanoutProps>;
const FANOUT_DEFAULTS: Required<FanoutOptions> = describedStreamReadOptions(functions.alertFanout.trigger);

/**
 * Alert fan-out, apart from the functions that do it: the Alerts table's stream mapped to the
 * fan-out function with partial batch failures, bisection and bounded retries, the queue where the
 * mapping records what it gave up on, and an alarm on every message that arrives there; and the FIFO
 * queue (with its DLQ) of a large topic's recipient chunks, mapped to the chunk function.
 */
export class AlertFanout extends Construct {
  /** Descriptions of stream records the fan-out gave up on (Lambda's on-failure records). Nothing consumes it. */
  public readonly failureQueue: Queue;
  /** A large topic's recipients in chunks (FIFO, lib/description/ `alertChunks`). */
  public readonly chunkQueue: Queue;
  /** Chunks that ran out of receives. Nothing consumes it: an operator redrives it (docs/operations.md). */
  public readonly chunkDeadLetterQueue: Queue;
  /** Fires in each minute a record description arrives in the failure queue. */
  public readonly failureAlarm: Alarm;
  /** Fires in each minute a chunk arrives in the chunk DLQ. */
  public readonly chunkDeadLetterAlarm: Alarm;
  public readonly alertsTable: Table;
  private handler?: LambdaFunction;
  private chunkHandler?: LambdaFunction;

  constructor(scope: Construct, id: string, props: AlertFanoutProps) {
    super(scope, id);
    const merged = withDefaults(DEFAULTS, props);
    if (merged.alertsTable.tableStreamArn === undefined) {
      throw new InvalidPropsError(this, 'alertsTable', `is ${merged.alertsTable.node.path}, which has no stream; the fan-out reads the stream.`);
    }
    requireInteger(this, 'failureRetention (seconds)', merged.failureRetention.toSeconds(), 60, 14 * 24 * 3600);
    this.alertsTable = merged.alertsTable;

    // The construct ids below are the ones these resources have always had in the Herald stack.
    ({ queue: this.failureQueue, alarm: this.failureAlarm } = streamFailureQueue(
      this,
      { queue: 'AlertFanoutFailureQueue', alarm: 'AlertFanoutFailureAlarm' },
      { consumer: 'alertFanout', givenUp: 'records', runbook: RUNBOOK.failureQueue, retention: merged.failureRetention, alarmTopic: merged.alarmTopic },
    ));
    this.chunkDeadLetterQueue = new Queue(this, 'AlertChunkDeadLetterQueue', {
      fifo: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      visibilityTimeout: Duration.seconds(DEAD_LETTER_VISIBILITY_SECONDS),
    });
    // No SQS3 finding to acknowledge: cdk-nag sees this queue is the chunk queue's DLQ.
    // SQS does not count what a redrive policy moves here in NumberOfMessagesSent, and nothing
    // consumes this queue, so a visible count would stay up: the alarm watches that count rise.
    this.chunkDeadLetterAlarm = alarmAtLeast(
      this,
      'AlertChunkDeadLetterAlarm',
      'A chunk of a large topic ran out of receives and was moved to the alert chunk DLQ',
      RUNBOOK.alertChunkDeadLetters,
      new MathExpression({
        expression: 'DIFF(visible)',
        usingMetrics: { visible: this.chunkDeadLetterQueue.metricApproximateNumberOfMessagesVisible(EACH_MINUTE) },
        period: Duration.minutes(1),
        label: 'Chunks arrived in the DLQ',
      }),
      1,
      merged.alarmTopic,
    );
    this.chunkQueue = new Queue(this, 'AlertChunkQueue', {
      fifo: true,
      // Ordered per message group (a user's chunks) rather than per queue, so groups scale out.
      deduplicationScope: DeduplicationScope.MESSAGE_GROUP,
      fifoThroughputLimit: FifoThroughputLimit.PER_MESSAGE_GROUP_ID,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(queues.alertChunks.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: this.chunkDeadLetterQueue, maxReceiveCount: queues.alertChunks.maxReceiveCount },
    });
    this.node.addValidation({ validate: () => (this.handler ? [] : ['AlertFanout has no handler: call fanOutWith(handler) so the Alerts stream is read.']) });
    this.node.addValidation({
      validate: () => (this.chunkHandler ? [] : ['AlertFanout has no chunk handler: call deliverChunksWith(handler) so large topics are delivered.']),
    });
  }

  /** Lets `grantee` queue chunks: SendMessage on the chunk queue, nothing else. */
  public grantSendChunks(grantee: IGrantable) {
    return this.chunkQueue.grant(grantee, 'sqs:SendMessage');
  }

  /** Makes `handler` the chunk function: it receives `batchSize` chunks an invocation, at most `maxConcurrency` invocations at once. */
  public deliverChunksWith(handler: LambdaFunction, options: { readonly batchSize: number; readonly maxConcurrency?: number }): void {
    if (this.chunkHandler) throw new InvalidPropsError(this, 'chunkHandler', `is ${this.chunkHandler.node.path} already; the chunk queue has one consumer.`);
    requireInteger(this, 'batchSize', options.batchSize, 1, 10);
    if (options.maxConcurrency !== undefined) requireInteger(this, 'maxConcurrency', options.maxConcurrency, 2, 1000);
    const timeout = handler.timeout?.toSeconds() ?? 3;
    const visibility = queues.alertChunks.visibilityTimeoutSeconds;
    if (visibility < 6 * timeout) {
      throw new InvalidPropsError(
        this,
        'chunkHandler',
        `has a ${timeout} s timeout; the chunk queue's visibility timeout (${visibility} s) must be at least 6x it, as Lambda wants.`,
      );
    }
    this.chunkHandler = handler;
    // A mapping rather than SqsEventSource, whose grantConsumeMessages adds GetQueueUrl and
    // ChangeMessageVisibility: the role gets what Lambda's SQS mapping calls, and no more.
    this.chunkQueue.grant(handler, 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes');
    handler.addEventSourceMapping('AlertChunkSource', {
      eventSourceArn: this.chunkQueue.queueArn,
      batchSize: options.batchSize,
      reportBatchItemFailures: true,
      ...(options.maxConcurrency !== undefined && { maxConcurrency: options.maxConcurrency }),
    });
  }

  /** Maps the Alerts stream to `handler`, with partial batch responses and the failure queue as on-failure destination. */
  public fanOutWith(handler: LambdaFunction, options: FanoutOptions = {}): void {
    if (this.handler) throw new InvalidPropsError(this, 'handler', `is ${this.handler.node.path} already; the Alerts stream has one fan-out.`);
    this.handler = handler;
    readStreamInto(this, this.alertsTable, this.failureQueue, handler, withDefaults(FANOUT_DEFAULTS, options));
  }
}
