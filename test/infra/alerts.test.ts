import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { functions } from '#lib/description';
import { SKIP_BUNDLING, synthesize } from './synth';

type Resource = { Type: string; Properties: Record<string, any> };

let template: Template;
const ALARM_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ops-pager';

beforeAll(() => {
  ({ template } = synthesize({
    ...SKIP_BUNDLING,
    alarmTopicArn: ALARM_TOPIC,
    alarmEmail: '',
    exportRecords: { table: 'WorkOrders', tenantKey: 'tenantId', sortKey: 'createdAt' },
  }));
}, 120_000);

const resourcesOf = (type: string) => Object.entries(template.findResources(type) as Record<string, Resource>);
const functionNamed = (description: string) => resourcesOf('AWS::Lambda::Function').find(([, fn]) => fn.Properties.Description === description)!;
const ref = (value: unknown) => JSON.stringify(value);

describe('alert fan-out infrastructure', () => {
  it('streams new and old images of the Alerts table, with the byTopic index', () => {
    const [, table] = resourcesOf('AWS::DynamoDB::Table').find(([id]) => id.includes('AlertsTable'))!;
    expect(table.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(table.Properties.GlobalSecondaryIndexes.map((index: { IndexName: string }) => index.IndexName)).toEqual(['byTopic']);
  });

  it('maps the stream to the fan-out with partial failures, bisection, bounded retries and age, a filter and a failure queue', () => {
    const [fanoutId] = functionNamed(functions.alertFanout.description);
    const [, mapping] = resourcesOf('AWS::Lambda::EventSourceMapping').find(([, m]) => ref(m.Properties.FunctionName).includes(fanoutId))!;
    const trigger = functions.alertFanout.trigger;
    expect(mapping.Properties).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: trigger.retryAttempts,
      MaximumRecordAgeInSeconds: trigger.maxRecordAgeSeconds,
      BatchSize: trigger.batchSize,
      StartingPosition: 'LATEST',
    });
    expect(JSON.parse(mapping.Properties.FilterCriteria.Filters[0].Pattern)).toEqual({
      eventName: ['INSERT', 'MODIFY'],
      dynamodb: { NewImage: { kind: { S: ['alert'] } } },
    });
    const [failureQueueId] = resourcesOf('AWS::SQS::Queue').find(([id]) => id.includes('AlertFanoutFailureQueue'))!;
    expect(ref(mapping.Properties.DestinationConfig.OnFailure.Destination)).toContain(failureQueueId);
  });

  it('alarms on every record that arrives in the failure queue, and tells the configured SNS topic', () => {
    const [failureQueueId] = resourcesOf('AWS::SQS::Queue').find(([id]) => id.includes('AlertFanoutFailureQueue'))!;
    const [, alarm] = resourcesOf('AWS::CloudWatch::Alarm').find(([, a]) => ref(a.Properties.Dimensions ?? []).includes(failureQueueId))!;
    expect(alarm.Properties).toMatchObject({
      // Arrivals: a visible count would stay up while nothing consumes the queue, and never fire again.
      MetricName: 'NumberOfMessagesSent',
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: [ALARM_TOPIC],
    });
  });

  it('lets the fan-out read memberships and send only from emailSender, and the routes write only the Alerts table', () => {
    const [, raise] = functionNamed(functions.raiseAlert.description);
    const [, fanout] = functionNamed(functions.alertFanout.description);
    expect(Object.keys(raise.Properties.Environment.Variables)).toEqual(expect.arrayContaining(['ALERTS_TABLE']));
    expect(Object.keys(raise.Properties.Environment.Variables)).not.toContain('MEMBERSHIPS_TABLE');
    expect(Object.keys(fanout.Properties.Environment.Variables)).toEqual(
      expect.arrayContaining(['MEMBERSHIPS_TABLE', 'NOTIFICATIONS_TABLE', 'DEDUPE_TABLE', 'SUBSCRIPTIONS_TABLE', 'EMAIL_SENDER']),
    );
  });

  it('grants Query alone on the deployer records table, to the functions that read datasets', () => {
    const statements = resourcesOf('AWS::IAM::Policy').flatMap(([, p]) =>
      (p.Properties.PolicyDocument.Statement as Array<Record<string, any>>).filter((s) => ref(s.Resource).includes(':table/WorkOrders')),
    );
    const readers = Object.values(functions as Record<string, { readsExportRecords?: boolean }>).filter((spec) => spec.readsExportRecords);
    expect(readers.length).toBeGreaterThan(0);
    expect(statements).toHaveLength(readers.length);
    for (const statement of statements) expect(statement.Action).toBe('dynamodb:Query');
  });
});
