import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Table, AttributeType } from 'aws-cdk-lib/aws-dynamodb';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { tables, type TableSpec } from '#lib/description';
import {
  acknowledge,
  acknowledgeWildcardResources,
  AlertFanout,
  EmailSender,
  HeraldData,
  HttpApiAndIdentity,
  InvalidPropsError,
  RealtimeApi,
  ScheduledExports,
} from '#lib/infra/index';
import type { ValidationReport } from './synth';

type Resource = { Type: string; Properties: Record<string, any> };

/** A deployer's function: plain Lambda, code inline, nothing of Herald's. */
const ownFunction = (stack: Stack, id: string, timeout: Duration) =>
  new LambdaFunction(stack, id, {
    runtime: Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: Code.fromInline('exports.handler = async () => {};'),
    timeout,
  });

/**
 * A deployer's own CDK app, as docs/constructs.md shows it: Herald's tables and scheduled exports
 * in a stack of theirs, with their own export worker. cdk-nag runs over it as over Herald's stack.
 */
describe("a deployer's own app with HeraldData and ScheduledExports", () => {
  let template: Template;
  let report: ValidationReport;
  let stack: Stack;

  beforeAll(() => {
    const app = new App();
    stack = new Stack(app, 'FieldOps');
    const data = new HeraldData(stack, 'Data');
    const exports = new ScheduledExports(stack, 'Exports', {
      fileRetentionDays: 14,
      alarmTopic: new Topic(stack, 'Pager', { enforceSSL: true }),
    });
    const worker = ownFunction(stack, 'ExportWorker', Duration.minutes(5));
    exports.processRunsWith(worker);
    // Without Herald's functions, the deployer brings the link key's rotation function too (or acknowledges SMG4).
    const rotator = ownFunction(stack, 'LinkKeyRotator', Duration.seconds(30));
    exports.rotateLinkKeyWith(rotator);
    exports.grantLinkKey(rotator, ['DescribeSecret', 'GetSecretValue', 'PutSecretValue', 'UpdateSecretVersionStage']);
    acknowledge(rotator.node.defaultChild as CfnResource, 'L1', 'The rotator pins nodejs22.x, the Node version its tests run on.');
    acknowledge(
      rotator.role!.node.defaultChild as CfnResource,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "The deployer's rotator keeps Lambda's default logging role in this example.",
    );
    data.grantTableAccess('exports', worker, ['GetItem', 'PutItem', 'UpdateItem']);
    // The deployer acknowledges the findings on their own function, as Herald does on its own.
    const policy = worker.role!.node.findChild('DefaultPolicy').node.defaultChild as CfnResource;
    acknowledgeWildcardResources(
      policy,
      exports.grantFileAccess(worker, 'write'),
      'Export files are named at run time; object actions only, on the exports bucket only.',
    );
    acknowledge(worker.node.defaultChild as CfnResource, 'L1', 'The worker pins nodejs22.x, the Node version its tests run on, until they move together.');
    acknowledge(
      worker.role!.node.defaultChild as CfnResource,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      "The deployer's worker keeps Lambda's default logging role in this example; Herald's own functions write only to their own log group.",
    );
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const assembly = app.synth();
    report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as ValidationReport;
    template = Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template as Record<string, unknown>);
  });

  const resourcesOf = (type: string) => Object.entries(template.findResources(type) as Record<string, Resource>);

  it('builds every described table, and the exports queue, DLQ, bucket, group, role and key with their defaults', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', Object.keys(tables).length);
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'FieldOps-exports' });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ ExpirationInDays: 14 })]) },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 1800, RedrivePolicy: Match.objectLike({ maxReceiveCount: 3 }) });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [{ Ref: Match.stringLikeRegexp('^Pager') }] });
  });

  it('gives the logical ids CDK gives any construct; only HeraldStack keeps its former ones', () => {
    const ids = Object.keys(template.toJSON().Resources as object);
    expect(ids.filter((id) => id.startsWith('Realtime'))).toEqual([]);
    expect(ids).toEqual(
      expect.arrayContaining([expect.stringMatching(/^DataConnectionsTable[0-9A-F]{8}$/), expect.stringMatching(/^ExportsExportsQueue[0-9A-F]{8}$/)]),
    );
  });

  it("rotates the link key with the deployer's function, which holds only the grant it was given", () => {
    const [rotatorId, rotator] = resourcesOf('AWS::Lambda::Function').find(([id]) => id.startsWith('LinkKeyRotator'))!;
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationLambdaARN: { 'Fn::GetAtt': [rotatorId, 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      RotateImmediatelyOnUpdate: false,
    });
    const statements = resourcesOf('AWS::IAM::Policy')
      .filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(rotator.Properties.Role['Fn::GetAtt'][0]))
      .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
    expect(statements.flatMap((statement) => [statement.Action].flat()).sort()).toEqual([
      'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue',
      'secretsmanager:PutSecretValue',
      'secretsmanager:UpdateSecretVersionStage',
    ]);
    expect(JSON.stringify(statements)).not.toContain('GetRandomPassword');
  });

  it("feeds the deployer's worker from the queue, granting only what it asked for", () => {
    const [workerId] = resourcesOf('AWS::Lambda::Function').find(([id]) => id.startsWith('ExportWorker'))!;
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: workerId },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    const actions = resourcesOf('AWS::IAM::Policy')
      .filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes('ExportWorker'))
      .flatMap(([, policy]) => (policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>).flatMap((s) => [s.Action].flat()))
      .sort();
    expect(actions).toEqual(
      [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        's3:AbortMultipartUpload',
        's3:PutObject',
        'sqs:DeleteMessage',
        'sqs:GetQueueAttributes',
        'sqs:ReceiveMessage',
      ].sort(),
    );
  });

  it("passes cdk-nag: Herald's constructs acknowledge their own findings, each on its own resource", () => {
    const plugin = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions')!;
    expect(plugin.conclusion).toBe('success');
    expect(plugin.violations).toEqual([]);
    const herald = (plugin.suppressedViolations ?? []).filter((finding) => !/^FieldOps\/(ExportWorker|LinkKeyRotator)\//.test(finding.acknowledgedAt));
    // No SMG4: the key has a rotation schedule once rotateLinkKeyWith names its function.
    expect(herald.map((finding) => `${finding.ruleName} ${finding.acknowledgedAt}`).sort()).toEqual([
      'AwsSolutions-S1 FieldOps/Exports/ExportsBucket/Resource',
    ]);
  });
});

describe('construct props', () => {
  const stack = () => new Stack(new App(), 'Probe');
  const invalid = (build: () => unknown, ...named: string[]) => {
    let error: unknown;
    try {
      build();
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InvalidPropsError);
    for (const text of named) expect((error as Error).message).toContain(text);
  };

  it('merges the defaults first: a prop left undefined keeps its default', () => {
    const probe = stack();
    const exports = new ScheduledExports(probe, 'Exports', { fileRetentionDays: undefined, scheduleGroupName: 'ops-exports' });
    expect(exports.fileRetentionDays).toBe(7);
    expect(exports.scheduleGroupName).toBe('ops-exports');
  });

  it('names the construct and the prop of a value it cannot be built with', () => {
    invalid(() => new ScheduledExports(stack(), 'Exports', { fileRetentionDays: 0 }), 'Probe/Exports', '"fileRetentionDays"');
    invalid(() => new ScheduledExports(stack(), 'Exports', { fileRetentionDays: 30, linkKeyRotationDays: 31 }), '"linkKeyRotationDays"');
    invalid(() => new ScheduledExports(stack(), 'Exports', { scheduleGroupName: 'has spaces' }), '"scheduleGroupName"');
    invalid(() => new ScheduledExports(stack(), 'Exports', { records: { table: 'x', tenantKey: 'tenantId' } }), '"records.table"');
    invalid(() => new EmailSender(stack(), 'Email', { sender: 'herald@example.org', identityDomain: 'example.com' }), '"identityDomain"', 'herald@example.org');
    invalid(() => new EmailSender(stack(), 'Email', { sender: 'a@b.example\r\nBcc: x@y.example' }), '"sender"');
    invalid(() => new RealtimeApi(stack(), 'Realtime', { throttle: { rateLimit: -1, burstLimit: 10 } }), '"throttle.rateLimit"');
    invalid(() => new HttpApiAndIdentity(stack(), 'Http', { allowedOrigins: ['https://app.example.com/'] }), '"allowedOrigins"');
    invalid(() => new HttpApiAndIdentity(stack(), 'Http', { jwt: { issuer: 'http://login.example.com', audience: 'web' } }), '"jwt.issuer"');
    const localWithoutSortKey: TableSpec = {
      envVar: 'X',
      partitionKey: { name: 'pk', type: 'S' },
      localIndexes: [{ name: 'byDate', sortKey: { name: 'd', type: 'S' } }],
    };
    invalid(() => new HeraldData(stack(), 'Data', { tables: { ...tables, connections: localWithoutSortKey } }), '"tables.connections"', 'sort key');
  });

  it('refuses a worker whose timeout the queue would outlast less than 6x', () => {
    const probe = stack();
    const exports = new ScheduledExports(probe, 'Exports');
    invalid(() => exports.processRunsWith(ownFunction(probe, 'Slow', Duration.minutes(10))), '"queueVisibilityTimeout"', '6x');
  });

  it('refuses an alerts table without a stream', () => {
    const probe = stack();
    const table = new Table(probe, 'Plain', { partitionKey: { name: 'id', type: AttributeType.STRING } });
    invalid(() => new AlertFanout(probe, 'Fanout', { alertsTable: table }), '"alertsTable"', 'no stream');
  });

  it('fails synth for a WebSocket API without $connect, which would accept every connection', () => {
    const probe = stack();
    const api = new RealtimeApi(probe, 'Realtime');
    api.addRoute('ping', ownFunction(probe, 'Ping', Duration.seconds(3)), { returnResponse: true });
    expect(() => Template.fromStack(probe)).toThrow(/\$connect/);
  });
});
