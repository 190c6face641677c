import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData, type Metric, type MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';

/** A queue metric's worst value over each minute, the period Herald's alarms look at. */
export const EACH_MINUTE: MetricOptions = { period: Duration.minutes(1), statistic: 'Maximum' };

/**
 * An alarm that fires the first minute `metric` reaches `threshold`, whose description sends the
 * operator to docs/operations.md, and that notifies `topic` when one is given.
 */
export function alarmAtLeast(scope: Construct, id: string, what: string, metric: Metric, threshold: number, topic: ITopic | undefined): Alarm {
  const alarm = new Alarm(scope, id, {
    alarmDescription: `${what}: see docs/operations.md, "Failures and alarms".`,
    metric,
    threshold,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 1,
    treatMissingData: TreatMissingData.NOT_BREACHING,
  });
  if (topic) alarm.addAlarmAction(new SnsAction(topic));
  return alarm;
}
