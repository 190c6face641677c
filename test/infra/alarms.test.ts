import { readFileSync } from 'node:fs';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '#lib/config';
import { functionSpecs, tables } from '#lib/description';
import { RUNBOOK } from '#lib/infra/alarms';
import { buildHeraldApp, type HeraldStack } from '#lib/infra/herald-stack';
import { SKIP_BUNDLING, synthesize, TEST_CONTEXT, type ValidationReport } from './synth';

type Resource = { Type: string; Properties: Record<string, any> };

const PAGER = 'arn:aws:sns:eu-west-1:123456789012:ops-pager';

let template: Template;
let report: ValidationReport;
let stack: HeraldStack;

beforeAll(() => {
  // cdk-nag attached, as `cdk synth` runs it; bundling skipped: alarms do not depend on bundles.
  ({ template, report, stack } = synthesize(SKIP_BUNDLING));
}, 180_000);

const resourcesOf = (t: Template, type: string) => Object.entries(t.findResources(type) as Record<string, Resource>);
const alarmsOf = (t: Template): Array<Record<string, any> & { id: string }> =>
  resourcesOf(t, 'AWS::CloudWatch::Alarm').map(([id, alarm]) => ({ id, ...alarm.Properties }));
const logicalIdOf = (t: Template, type: string, match: (properties: Record<string, any>) => boolean) => {
  const found = resourcesOf(t, type).filter(([, resource]) => match(resource.Properties));
  expect(found).toHaveLength(1);
  return found[0]![0];
};
/** Every metric an alarm reads: its own, or each one its expression sums. */
const metricsOf = (alarm: Record<string, any>): Array<{ MetricName: string; Namespace: string; Dimensions: Array<{ Name: string; Value: unknown }> }> =>
  alarm.MetricName
    ? [{ MetricName: alarm.MetricName, Namespace: alarm.Namespace, Dimensions: alarm.Dimensions ?? [] }]
    : (alarm.Metrics as Array<Record<string, any>>)
        .filter((m) => m.MetricStat)
        .map((m) => ({ ...m.MetricStat.Metric, Dimensions: m.MetricStat.Metric.Dimensions ?? [] }));
const dimension = (metric: { Dimensions: Array<{ Name: string; Value: unknown }> }, name: string) =>
  JSON.stringify(metric.Dimensions.find((d) => d.Name === name)?.Value ?? null);
/** The alarms reading `metricName` of `namespace` whose dimension `name` refers to (or equals) `value`. */
const alarmsOn = (t: Template, namespace: string, metricName: string, name?: string, value?: string) =>
  alarmsOf(t).filter((alarm) =>
    metricsOf(alarm).some((m) => m.Namespace === namespace && m.MetricName === metricName && (name === undefined || dimension(m, name).includes(value!))),
  );

describe('every alarm reaches a person', () => {
  it('gives every alarm an action: the alarm topic the stack creates for alarmEmail, with that address subscribed', () => {
    const topicId = logicalIdOf(template, 'AWS::SNS::Topic', () => true);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: TEST_CONTEXT.alarmEmail, TopicArn: { Ref: topicId } });
    const alarms = alarmsOf(template);
    expect(alarms.length).toBeGreaterThan(50);
    for (const alarm of alarms) expect({ id: alarm.id, actions: alarm.AlarmActions }).toEqual({ id: alarm.id, actions: [{ Ref: topicId }] });
    template.hasOutput('AlarmTopicArn', { Value: { Ref: topicId } });
  });

  it('says at synth which target the alarms have', () => {
    const info = Annotations.fromStack(stack)
      .findInfo('*', Match.anyValue())
      .map((message) => String(message.entry.data));
    expect(info.some((message) => message.includes(`alarmEmail=${TEST_CONTEXT.alarmEmail}`) && message.includes('confirmation'))).toBe(true);
  });

  it('notifies an existing topic instead, and creates none, with alarmTopicArn', () => {
    const { app, stack: other } = buildHeraldApp({ ...TEST_CONTEXT, ...SKIP_BUNDLING, alarmEmail: '', alarmTopicArn: PAGER }, { nagChecks: false });
    const otherTemplate = Template.fromJSON(app.synth().getStackByName(other.stackName).template as Record<string, unknown>);
    otherTemplate.resourceCountIs('AWS::SNS::Topic', 0);
    otherTemplate.resourceCountIs('AWS::SNS::Subscription', 0);
    const alarms = alarmsOf(otherTemplate);
    expect(alarms.length).toBe(alarmsOf(template).length);
    for (const alarm of alarms) expect({ id: alarm.id, actions: alarm.AlarmActions }).toEqual({ id: alarm.id, actions: [PAGER] });
    const info = Annotations.fromStack(other)
      .findInfo('*', Match.anyValue())
      .map((message) => String(message.entry.data));
    expect(info.some((message) => message.includes(`alarmTopicArn=${PAGER}`))).toBe(true);
  }, 120_000);

  it('fails synth, naming both settings, when alarms would have no target or two', () => {
    const errorOf = (context: Record<string, unknown>) => {
      try {
        buildHeraldApp({ ...TEST_CONTEXT, ...SKIP_BUNDLING, ...context }, { nagChecks: false });
      } catch (error) {
        return error as Error;
      }
      throw new Error('synth did not fail');
    };
    const neither = errorOf({ alarmEmail: '' });
    expect(neither).toBeInstanceOf(ConfigError);
    expect(neither.message).toMatch(/"alarmEmail".*"alarmTopicArn".*every alarm must reach a person/);
    expect(errorOf({ alarmTopicArn: PAGER }).message).toMatch(/"alarmEmail" and "alarmTopicArn" are both set/);
    expect(errorOf({ alarmEmail: 'not an address' }).message).toContain('"alarmEmail"');
  });
});

describe('the alarms', () => {
  it("alarms on each function's errors and throttles", () => {
    for (const [name, spec] of functionSpecs()) {
      const fnId = logicalIdOf(template, 'AWS::Lambda::Function', (p) => p.Description === spec.description);
      expect(alarmsOn(template, 'AWS/Lambda', 'Errors', 'FunctionName', fnId), `${name} errors`).toHaveLength(1);
      expect(alarmsOn(template, 'AWS/Lambda', 'Throttles', 'FunctionName', fnId), `${name} throttles`).toHaveLength(1);
    }
  });

  it('alarms on arrivals in the failure queue and the DLQs, never on a count of messages visible', () => {
    for (const queue of ['AlertFanoutFailureQueue', 'ExportsDeadLetterQueue']) {
      const [queueId] = resourcesOf(template, 'AWS::SQS::Queue').find(([id]) => id.includes(queue))!;
      const [alarm] = alarmsOn(template, 'AWS/SQS', 'NumberOfMessagesSent', 'QueueName', queueId);
      expect(alarm, queue).toMatchObject({ Statistic: 'Sum', Period: 60, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
    }
    // The chunk DLQ is filled by a redrive policy, which SQS does not count as sent: its alarm
    // watches the visible count rise (DIFF), and no alarm reads a bare visible count.
    const [chunkDlqId] = resourcesOf(template, 'AWS::SQS::Queue').find(([id]) => id.includes('AlertChunkDeadLetterQueue'))!;
    const onVisible = alarmsOn(template, 'AWS/SQS', 'ApproximateNumberOfMessagesVisible');
    expect(onVisible.map((alarm) => alarm.id)).toEqual([expect.stringContaining('AlertChunkDeadLetterAlarm')]);
    expect(alarmsOn(template, 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', chunkDlqId)).toHaveLength(1);
    const expressions = (onVisible[0]!.Metrics as Array<Record<string, any>>).filter((m) => m.ReturnData !== false && m.Expression);
    expect(expressions).toEqual([expect.objectContaining({ Expression: 'DIFF(visible)' })]);
    expect(onVisible[0]).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  it("alarms on the exports queue's and its DLQ's oldest message, and on the stream consumers' iterator age", () => {
    const [queueId] = resourcesOf(template, 'AWS::SQS::Queue').find(([id]) => /ExportsQueue[0-9A-F]{8}$/.test(id))!;
    const [dlqId] = resourcesOf(template, 'AWS::SQS::Queue').find(([id]) => id.includes('ExportsDeadLetterQueue'))!;
    expect(alarmsOn(template, 'AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', queueId)).toEqual([
      expect.objectContaining({ Threshold: 3600, Statistic: 'Maximum' }),
    ]);
    expect(alarmsOn(template, 'AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', dlqId)).toEqual([expect.objectContaining({ Threshold: 600 })]);
    const fanoutId = logicalIdOf(
      template,
      'AWS::Lambda::Function',
      (p) => p.Description === functionSpecs().find(([n]) => n === 'alertFanout')![1].description,
    );
    expect(alarmsOn(template, 'AWS/Lambda', 'IteratorAge', 'FunctionName', fanoutId)).toEqual([
      expect.objectContaining({ Statistic: 'Maximum', EvaluationPeriods: 3 }),
    ]);
    const notifierId = logicalIdOf(
      template,
      'AWS::Lambda::Function',
      (p) => p.Description === functionSpecs().find(([n]) => n === 'notifyRecordAssignees')![1].description,
    );
    expect(alarmsOn(template, 'AWS/Lambda', 'IteratorAge', 'FunctionName', notifierId)).toEqual([
      expect.objectContaining({ Statistic: 'Maximum', EvaluationPeriods: 3, AlarmDescription: expect.stringContaining('record-stream-falling-behind') }),
    ]);
  });

  it('alarms on WebSocket integration and execution errors and on HTTP API 5xx', () => {
    const webSocketId = logicalIdOf(template, 'AWS::ApiGatewayV2::Api', (p) => p.ProtocolType === 'WEBSOCKET');
    const httpId = logicalIdOf(template, 'AWS::ApiGatewayV2::Api', (p) => p.ProtocolType === 'HTTP');
    expect(alarmsOn(template, 'AWS/ApiGateway', 'IntegrationError', 'ApiId', webSocketId)).toHaveLength(1);
    expect(alarmsOn(template, 'AWS/ApiGateway', 'ExecutionError', 'ApiId', webSocketId)).toHaveLength(1);
    expect(alarmsOn(template, 'AWS/ApiGateway', '5xx', 'ApiId', httpId)).toHaveLength(1);
  });

  it("alarms on every table's read and write throttles and on its system errors", () => {
    const tableIds = resourcesOf(template, 'AWS::DynamoDB::Table').map(([id]) => id);
    expect(tableIds).toHaveLength(Object.keys(tables).length);
    for (const tableId of tableIds) {
      const throttles = alarmsOn(template, 'AWS/DynamoDB', 'ReadThrottleEvents', 'TableName', tableId);
      expect(throttles, tableId).toHaveLength(1);
      expect(
        metricsOf(throttles[0]!)
          .map((m) => m.MetricName)
          .sort(),
      ).toEqual(['ReadThrottleEvents', 'WriteThrottleEvents']);
      const systemErrors = alarmsOn(template, 'AWS/DynamoDB', 'SystemErrors', 'TableName', tableId);
      expect(systemErrors, tableId).toHaveLength(1);
      // One metric per operation, at most CloudWatch's 10 in an alarm, and the ones Herald calls.
      const operations = metricsOf(systemErrors[0]!).map((m) => dimension(m, 'Operation'));
      expect(operations.length).toBeGreaterThan(0);
      expect(operations.length).toBeLessThanOrEqual(10);
    }
    const notifications = resourcesOf(template, 'AWS::DynamoDB::Table').find(([id]) => id.includes('NotificationsTable'))![0];
    const operations = metricsOf(alarmsOn(template, 'AWS/DynamoDB', 'SystemErrors', 'TableName', notifications)[0]!).map((m) => dimension(m, 'Operation'));
    expect(operations).toEqual(expect.arrayContaining(['"Query"', '"PutItem"', '"UpdateItem"', '"BatchGetItem"']));
  });

  it('alarms on the bounce and complaint rates of the configuration set every send names', () => {
    const configurationSet = resourcesOf(template, 'AWS::SES::ConfigurationSet')[0]![1].Properties.Name as string;
    expect(configurationSet).toBe('Herald-email');
    template.hasResourceProperties('AWS::SES::ConfigurationSetEventDestination', {
      EventDestination: Match.objectLike({
        Enabled: true,
        MatchingEventTypes: Match.arrayWith(['send', 'bounce', 'complaint']),
        CloudWatchDestination: {
          DimensionConfigurations: [{ DimensionName: 'ses:configuration-set', DimensionValueSource: 'messageTag', DefaultDimensionValue: configurationSet }],
        },
      }),
    });
    for (const event of ['Bounce', 'Complaint']) {
      const [alarm] = alarmsOn(template, 'AWS/SES', event, 'ses:configuration-set', configurationSet);
      expect(alarm, event).toBeDefined();
      expect(
        metricsOf(alarm!)
          .map((m) => m.MetricName)
          .sort(),
      ).toEqual([event, 'Send'].sort());
      expect(alarm!.Metrics.find((m: { Expression?: string }) => m.Expression).Expression).toMatch(/^IF\(sends >= 20, 100 \* \w+ \/ sends, 0\)$/);
    }
  });

  it("names the configuration set in every email function's environment, and grants SendEmail on it as AWS requires", () => {
    const senders = functionSpecs().filter(([, spec]) => spec.sendEmail);
    expect(senders.length).toBeGreaterThan(0);
    for (const [, spec] of senders) {
      const fnId = logicalIdOf(template, 'AWS::Lambda::Function', (p) => p.Description === spec.description);
      const fn = template.findResources('AWS::Lambda::Function')[fnId]!;
      expect(fn.Properties.Environment.Variables.EMAIL_CONFIGURATION_SET).toBe('Herald-email');
      const roleId = fn.Properties.Role['Fn::GetAtt'][0] as string;
      const [, policy] = resourcesOf(template, 'AWS::IAM::Policy').find(([, p]) => JSON.stringify(p.Properties.Roles).includes(roleId))!;
      const send = (policy.Properties.PolicyDocument.Statement as Array<Record<string, any>>).find((s) => s.Action === 'ses:SendEmail')!;
      expect(JSON.stringify(send.Resource)).toContain(':configuration-set/Herald-email');
      expect(send.Condition).toEqual({ StringEquals: { 'ses:FromAddress': TEST_CONTEXT.emailSender } });
    }
  });

  it("alarms on Herald's own metrics: failed pushes, delivery contention, failed exports", () => {
    for (const metric of ['PushesFailed', 'DeliveryContention', 'ExportRunsFailed']) {
      expect(alarmsOn(template, 'Herald', metric, 'service', 'herald'), metric).toHaveLength(1);
    }
  });

  it('points every alarm at a section of docs/runbook.md that exists', () => {
    const runbook = readFileSync(new URL('../../docs/runbook.md', import.meta.url), 'utf8');
    const anchors = new Set(
      [...runbook.matchAll(/^#{2,3} (.+)$/gm)].map(([, heading]) =>
        heading!
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      ),
    );
    for (const section of Object.values(RUNBOOK)) expect(anchors, section).toContain(section);
    for (const alarm of alarmsOf(template)) {
      const section = /Runbook: docs\/runbook\.md#([a-z0-9-]+)$/.exec(alarm.AlarmDescription)?.[1];
      expect(section, alarm.id).toBeDefined();
      expect(anchors, alarm.id).toContain(section);
    }
  });
});

describe('the dashboard', () => {
  it('charts deliveries and latency, connections, fan-out, exports and errors, beside every alarm', () => {
    const [, dashboard] = resourcesOf(template, 'AWS::CloudWatch::Dashboard')[0]!;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const title of ['Deliveries', 'Latency (p99, ms)', 'Connections', 'Alert fan-out', 'Exports', 'Errors', 'Alarms']) {
      expect(body, title).toContain(`\\"title\\":\\"${title}\\"`);
    }
    for (const alarm of alarmsOf(template)) expect(body, alarm.id).toContain(alarm.id);
  });
});

describe('cdk-nag', () => {
  it('stays clean with the alarm topic, the alarms, the dashboard and the configuration set, acknowledging nothing on them', () => {
    const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions')!;
    expect(nag.violations).toEqual([]);
    expect(nag.conclusion).toBe('success');
    const acknowledged = (nag.suppressedViolations ?? []).filter((finding) => /\/Observability\/|ConfigurationSet/.test(finding.acknowledgedAt));
    expect(acknowledged).toEqual([]);
  });
});
