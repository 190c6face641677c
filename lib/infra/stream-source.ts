import { type CfnResource, Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { FilterCriteria, StartingPosition, type Function as LambdaFunction, type IEventSourceDlq } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { Trigger } from '../description';
import { alarmAtLeast, COUNT_EACH_MINUTE, type RunbookSection } from './alarms';
import { acknowledge } from './nag';
import { requireInteger } from './support';

/** How a table's stream is read into a function; the values of a `stream` trigger in lib/description/. */
export interface StreamReadOptions {
  readonly batchSize: number;
  /** Retries of a failing batch before its records go to the failure queue. */
  readonly retryAttempts: number;
  /** Records older than this go to the failure queue unprocessed. */
  readonly maxRecordAge: Duration;
  /** Split a failing batch until the failing record is alone (docs/architecture.md, "A poison record"). */
  readonly bisectBatchOnError: boolean;
  readonly startingPosition: StartingPosition;
  /** Lambda filter patterns; records matching none are skipped. */
  readonly filterPatterns: readonly object[];
}

/** The read options a `stream` trigger of lib/description/ declares: a stream consumer construct's defaults. */
export function describedStreamReadOptions(trigger: Extract<Trigger, { kind: 'stream' }>): StreamReadOptions {
  return {
    batchSize: trigger.batchSize,
    retryAttempts: trigger.retryAttempts,
    maxRecordAge: Duration.seconds(trigger.maxRecordAgeSeconds),
    bisectBatchOnError: trigger.bisectBatchOnError,
    startingPosition: StartingPosition[trigger.startingPosition],
    filterPatterns: trigger.filterPatterns ?? [],
  };
}

/**
 * A stream consumer's failure queue (where its event source describes the records it gave up on)
 * and the alarm on it. The alarm counts arrivals, not messages visible: nothing consumes the queue,
 * so a visible count would stay up for the retention and the alarm would never fire again for the
 * next record given up on.
 */
export function streamFailureQueue(
  scope: Construct,
  ids: { readonly queue: string; readonly alarm: string },
  props: { readonly consumer: string; readonly givenUp: string; readonly runbook: RunbookSection; readonly retention: Duration; readonly alarmTopic?: ITopic },
): { queue: Queue; alarm: Alarm } {
  const queue = new Queue(scope, ids.queue, { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: props.retention });
  acknowledge(
    queue.node.defaultChild as CfnResource,
    'SQS3',
    `This queue is where the ${props.consumer} stream event source records what it gave up on; nothing consumes it, so a DLQ of its own would never receive anything.`,
  );
  const alarm = alarmAtLeast(
    scope,
    ids.alarm,
    `The ${props.consumer} stream event source gave up on ${props.givenUp} and described them in its failure queue`,
    props.runbook,
    queue.metricNumberOfMessagesSent(COUNT_EACH_MINUTE),
    1,
    props.alarmTopic,
  );
  return { queue, alarm };
}

/**
 * Maps `table`'s stream to `handler` with partial batch responses, and `failureQueue` as the
 * on-failure destination: what every Herald stream consumer shares (alert fan-out, record assignments).
 */
export function readStreamInto(scope: Construct, table: Table, failureQueue: Queue, handler: LambdaFunction, options: StreamReadOptions): void {
  requireInteger(scope, 'batchSize', options.batchSize, 1, 10_000);
  requireInteger(scope, 'retryAttempts', options.retryAttempts, 0, 10_000);
  requireInteger(scope, 'maxRecordAge (seconds)', options.maxRecordAge.toSeconds(), 60, 604_800);
  handler.addEventSource(
    new DynamoEventSource(table, {
      startingPosition: options.startingPosition,
      batchSize: options.batchSize,
      retryAttempts: options.retryAttempts,
      maxRecordAge: options.maxRecordAge,
      bisectBatchOnError: options.bisectBatchOnError,
      reportBatchItemFailures: true,
      onFailure: sendOnlyDestination(failureQueue),
      filters: options.filterPatterns.map((pattern) => FilterCriteria.filter(pattern as Record<string, unknown>)),
    }),
  );
}

/**
 * An on-failure destination whose grant is SendMessage alone (SqsDlq grants GetQueueAttributes and
 * GetQueueUrl too, which Lambda does not call to send a record there).
 */
function sendOnlyDestination(queue: Queue): IEventSourceDlq {
  return {
    bind: (_, target) => {
      queue.grant(target, 'sqs:SendMessage');
      return { destination: queue.queueArn };
    },
  };
}
