import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { functions } from '#lib/description';
import { HeraldData } from '#lib/infra/herald-data';
import { RecordsSync } from '#lib/infra/records-sync';
import { SKIP_BUNDLING, synthesize } from './synth';

/** The records capability on its own: its table as described, and its props validated at synth (docs/sync.md). */
describe('RecordsSync', () => {
  const build = () => {
    const stack = new Stack(new App(), 'Probe');
    return { stack, data: new HeraldData(stack, 'Data') };
  };

  it('keys the Records table by scope and item, with consistent-readable indexes by seq and (sparse) open conflicts, and TTL', () => {
    const { stack } = build();
    const tables = Template.fromStack(stack).findResources('AWS::DynamoDB::Table');
    const records = Object.values(tables).find((table) =>
      (table.Properties.LocalSecondaryIndexes ?? []).some((index: { IndexName: string }) => index.IndexName === 'bySeq'),
    );
    expect(records?.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    const indexes = Object.fromEntries(
      records?.Properties.LocalSecondaryIndexes.map((index: { IndexName: string; KeySchema: Array<{ AttributeName: string }>; Projection: object }) => [
        index.IndexName,
        { sortKey: index.KeySchema[1]?.AttributeName, projection: index.Projection },
      ]),
    );
    expect(indexes.bySeq.sortKey).toBe('seq');
    expect(indexes.conflicts.sortKey).toBe('conflictSince');
    expect(indexes.bySeq.projection).toMatchObject({ ProjectionType: 'INCLUDE', NonKeyAttributes: expect.arrayContaining(['fields', 'meta', 'deleted']) });
  });

  it('defaults to no declarations and 30 days, and keeps valid declarations', () => {
    const { stack, data } = build();
    const defaults = new RecordsSync(stack, 'Defaults', { recordsTable: data.tables.records });
    expect([defaults.collections, defaults.retentionDays]).toEqual([{}, 30]);
    const declared = new RecordsSync(stack, 'Declared', {
      recordsTable: data.tables.records,
      collections: { jobs: { fields: { crew: 'merge-by-id' } } },
      retentionDays: 90,
    });
    expect(declared.collections).toEqual({ jobs: { fields: { crew: 'merge-by-id' } } });
  });

  it.each([
    [{ retentionDays: 0 }, 'prop "retentionDays" must be a whole number from 1 to 365'],
    [{ retentionDays: 400 }, 'prop "retentionDays"'],
    [{ collections: { jobs: { fields: { crew: 'newest-wins' } } } }, 'prop "collections" is not a valid declaration: jobs.fields.crew'],
    [{ collections: { jobs: { fields: { crew: 'merge-by-id' }, assigneeField: 'crew' } } }, 'jobs.assigneeField'],
  ])('refuses %j at synth, naming the prop', (props, message) => {
    const { stack, data } = build();
    expect(() => new RecordsSync(stack, 'Records', { recordsTable: data.tables.records, ...(props as object) })).toThrow(message);
  });
});

describe('record assignment notifications in the stack', () => {
  type Resource = { Type: string; Properties: Record<string, any> };
  let template: Template;
  const ALARM_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:ops-pager';
  beforeAll(() => {
    ({ template } = synthesize({ ...SKIP_BUNDLING, alarmTopicArn: ALARM_TOPIC, alarmEmail: '' }));
  }, 120_000);
  const resourcesOf = (type: string) => Object.entries(template.findResources(type) as Record<string, Resource>);
  const ref = (value: unknown) => JSON.stringify(value);

  it('streams new images of the Records table into the notifier, filtered to versions that assign, with a failure queue and its alarm', () => {
    const [, table] = resourcesOf('AWS::DynamoDB::Table').find(([id]) => id.includes('RecordsTable'))!;
    expect(table.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_IMAGE' });
    const [notifierId] = resourcesOf('AWS::Lambda::Function').find(([, fn]) => fn.Properties.Description === functions.notifyRecordAssignees.description)!;
    const [, mapping] = resourcesOf('AWS::Lambda::EventSourceMapping').find(([, m]) => ref(m.Properties.FunctionName).includes(notifierId))!;
    const trigger = functions.notifyRecordAssignees.trigger;
    expect(mapping.Properties).toMatchObject({
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: trigger.retryAttempts,
      MaximumRecordAgeInSeconds: trigger.maxRecordAgeSeconds,
      BatchSize: trigger.batchSize,
    });
    expect(ref(mapping.Properties.EventSourceArn)).toContain('RecordsTable');
    expect(JSON.parse(mapping.Properties.FilterCriteria.Filters[0].Pattern)).toEqual({
      eventName: ['INSERT', 'MODIFY'],
      dynamodb: { NewImage: { assignedTo: { S: [{ exists: true }] } } },
    });
    const [queueId] = resourcesOf('AWS::SQS::Queue').find(([id]) => id.includes('AssignmentFailureQueue'))!;
    expect(ref(mapping.Properties.DestinationConfig.OnFailure.Destination)).toContain(queueId);
    const [, alarm] = resourcesOf('AWS::CloudWatch::Alarm').find(([, a]) => ref(a.Properties.Dimensions ?? []).includes(queueId))!;
    expect(alarm.Properties).toMatchObject({ MetricName: 'NumberOfMessagesSent', Threshold: 1, AlarmActions: [ALARM_TOPIC] });
    expect(alarm.Properties.AlarmDescription).toContain('runbook.md#record-assignment-failure-queue');
  });

  it('fails synth when nothing reads the Records stream, and refuses a second notifier', () => {
    const app = new App();
    const stack = new Stack(app, 'Probe');
    const data = new HeraldData(stack, 'Data');
    const records = new RecordsSync(stack, 'Records', { recordsTable: data.tables.records });
    expect(() => app.synth()).toThrow('call notifyAssigneesWith(handler)');
    const handler = () =>
      new LambdaFunction(stack, `Fn${Math.random()}`, {
        runtime: Runtime.NODEJS_22_X,
        handler: 'index.handler',
        code: Code.fromInline('export const handler = async () => ({});'),
      });
    records.notifyAssigneesWith(handler());
    expect(() => records.notifyAssigneesWith(handler())).toThrow('the Records stream has one notifier');
  });
});
