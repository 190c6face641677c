import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData, type IMetric, type MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

/** A queue metric's worst value over each minute, the period Herald's queue-age alarms look at. */
export const EACH_MINUTE: MetricOptions = { period: Duration.minutes(1), statistic: 'Maximum' };
/** How many of something happened in each minute: arrivals in a queue, say. */
export const COUNT_EACH_MINUTE: MetricOptions = { period: Duration.minutes(1), statistic: 'Sum' };
/** How many of something happened in each 5 minutes: errors, throttles. */
export const COUNT_EACH_5_MINUTES: MetricOptions = { period: Duration.minutes(5), statistic: 'Sum' };

/**
 * The sections of docs/runbook.md, one per kind of alarm: each alarm's description names its
 * section, so the person it reaches knows where to look. test/infra/alarms.test.ts checks that
 * every section named here is a heading of the runbook.
 */
export const RUNBOOK = {
  failureQueue: 'alert-fan-out-failure-queue',
  alertChunkDeadLetters: 'alert-chunk-dead-letter-queue',
  exportsDeadLetters: 'exports-dead-letter-queue',
  lambdaErrors: 'function-errors',
  lambdaThrottles: 'function-throttles',
  streamIteratorAge: 'alert-stream-falling-behind',
  exportsQueueAge: 'exports-queue-age',
  webSocketErrors: 'websocket-api-errors',
  httpErrors: 'http-api-5xx',
  tableThrottles: 'dynamodb-throttles',
  tableSystemErrors: 'dynamodb-system-errors',
  emailBounces: 'email-bounce-rate',
  emailComplaints: 'email-complaint-rate',
  pushesFailed: 'pushes-failed',
  deliveryContention: 'delivery-contention',
  exportRunsFailed: 'export-runs-failed',
  linkKeyRotationFailed: 'link-key-rotation-failed',
  recordAssignmentFailures: 'record-assignment-failure-queue',
  recordStreamIteratorAge: 'record-stream-falling-behind',
} as const;
export type RunbookSection = (typeof RUNBOOK)[keyof typeof RUNBOOK];

export interface AlarmOptions {
  /** Consecutive periods the metric must reach the threshold in. @default 1 */
  readonly evaluationPeriods?: number;
}

/**
 * An alarm that fires when `metric` reaches `threshold` (for `evaluationPeriods` periods in a
 * row), whose description says what happened and points at its section of docs/runbook.md, and
 * that notifies `topic` when one is given (HeraldStack always gives one).
 */
export function alarmAtLeast(
  scope: Construct,
  id: string,
  what: string,
  runbook: RunbookSection,
  metric: IMetric,
  threshold: number,
  topic: ITopic | undefined,
  options: AlarmOptions = {},
): Alarm {
  const alarm = new Alarm(scope, id, {
    alarmDescription: `${what}. Runbook: docs/runbook.md#${runbook}`,
    metric,
    threshold,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: options.evaluationPeriods ?? 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  if (topic) alarm.addAlarmAction(new SnsAction(topic));
  return alarm;
}
