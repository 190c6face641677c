import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '#lib/config';
import { buildHeraldApp } from '#lib/infra/herald-stack';
import { EXPORT_WORKER_MAX_CONCURRENCY, EXPORT_WORKER_TIMEOUT_SECONDS, functions, queues } from '#lib/description';
import { SKIP_BUNDLING, synthesize, TEST_CONTEXT, type ValidationReport } from './synth';

type Resource = { Type: string; Properties: Record<string, any> };

let template: Template;
let report: ValidationReport;

beforeAll(() => {
  ({ template, report } = synthesize({ ...SKIP_BUNDLING, exportRetentionDays: 14 }));
}, 120_000);

const resourcesOf = (type: string) => Object.entries(template.findResources(type) as Record<string, Resource>);
const functionNamed = (description: string) => resourcesOf('AWS::Lambda::Function').find(([, fn]) => fn.Properties.Description === description)!;
const policyOf = (roleLogicalId: string) =>
  resourcesOf('AWS::IAM::Policy').find(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(roleLogicalId))![1].Properties.PolicyDocument
    .Statement as Array<Record<string, any>>;

describe('scheduled exports infrastructure', () => {
  it('fails synth with a clear message when no emailSender is configured', () => {
    expect(() => buildHeraldApp({ emailSender: '' })).toThrow(ConfigError);
    expect(() => buildHeraldApp({ emailSender: '' })).toThrow(/emailSender.*cdk\.json/);
    expect(() => buildHeraldApp({ emailSender: 'a@b.example\r\nBcc: x@y.example' })).toThrow(/emailSender/);
  });

  it('keeps export files in a private, encrypted, TLS-only bucket that expires them', () => {
    const [[, bucket]] = resourcesOf('AWS::S3::Bucket') as [[string, Resource]];
    expect(bucket.Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LifecycleConfiguration: {
        Rules: expect.arrayContaining([
          expect.objectContaining({ ExpirationInDays: 14, Status: 'Enabled' }),
          expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('feeds the worker from the exports queue one message at a time, at most EXPORT_WORKER_MAX_CONCURRENCY at once, with a DLQ and a visibility timeout of 6x its timeout', () => {
    const [workerId, worker] = functionNamed(functions.exportWorker.description);
    expect(worker.Properties.Timeout).toBe(EXPORT_WORKER_TIMEOUT_SECONDS);
    const mapping = resourcesOf('AWS::Lambda::EventSourceMapping').find(([, m]) => m.Properties.FunctionName.Ref === workerId)![1];
    expect(mapping.Properties).toMatchObject({
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: EXPORT_WORKER_MAX_CONCURRENCY },
    });
    const queue = resourcesOf('AWS::SQS::Queue').find(([id]) => mapping.Properties.EventSourceArn['Fn::GetAtt'][0] === id)![1];
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * EXPORT_WORKER_TIMEOUT_SECONDS);
    expect(queue.Properties.RedrivePolicy.maxReceiveCount).toBe(queues.exports.maxReceiveCount);

    const [failedId] = functionNamed(functions.exportFailed.description);
    const dlqMapping = resourcesOf('AWS::Lambda::EventSourceMapping').find(([, m]) => m.Properties.FunctionName.Ref === failedId)![1];
    expect(dlqMapping.Properties.EventSourceArn).toEqual(queue.Properties.RedrivePolicy.deadLetterTargetArn);
  });

  it("sets the worker's described process environment (glibc's fixed mmap threshold) beside its resource names, and no other function's", () => {
    const [, worker] = functionNamed(functions.exportWorker.description);
    expect(worker.Properties.Environment.Variables).toMatchObject({ MALLOC_MMAP_THRESHOLD_: '131072', EXPORTS_BUCKET: expect.anything() });
    const others = resourcesOf('AWS::Lambda::Function').filter(([, fn]) => fn.Properties.Description !== functions.exportWorker.description);
    expect(others.length).toBeGreaterThan(5);
    for (const [, fn] of others) expect(fn.Properties.Environment?.Variables?.MALLOC_MMAP_THRESHOLD_).toBeUndefined();
  });

  it('gives Scheduler a group and a role that may send to the exports queue and its DLQ only', () => {
    template.hasResourceProperties('AWS::Scheduler::ScheduleGroup', { Name: 'Herald-exports' });
    const role = resourcesOf('AWS::IAM::Role').find(([, r]) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('scheduler.amazonaws.com'))!;
    const statements = policyOf(role[0]);
    expect(statements.flatMap((s) => [s.Action].flat())).toEqual(expect.arrayContaining(['sqs:SendMessage']));
    expect(statements.every((s) => [s.Action].flat().every((action: string) => action.startsWith('sqs:')))).toBe(true);
  });

  it('lets only the sendEmail functions send email, from emailSender only, and the schedule functions pass only the scheduler role', () => {
    const sesStatements = resourcesOf('AWS::IAM::Policy').flatMap(([, p]) =>
      (p.Properties.PolicyDocument.Statement as Array<Record<string, any>>).filter((s) => [s.Action].flat().some((a: string) => a.startsWith('ses:'))),
    );
    const senders = Object.values(functions as Record<string, { sendEmail?: boolean }>).filter((spec) => spec.sendEmail);
    expect(senders).toHaveLength(3); // the export worker, the alert fan-out and the alert chunk function
    expect(sesStatements).toHaveLength(senders.length);
    for (const statement of sesStatements) expect(statement.Condition).toEqual({ StringEquals: { 'ses:FromAddress': 'exports@herald.example' } });
    const passRoles = resourcesOf('AWS::IAM::Policy').flatMap(([, p]) =>
      (p.Properties.PolicyDocument.Statement as Array<Record<string, any>>).filter((s) => [s.Action].flat().includes('iam:PassRole')),
    );
    expect(passRoles).toHaveLength(2); // create and update; deleting a schedule passes no role
    for (const statement of passRoles) expect(statement.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } });
  });

  it('reads the link key from a generated secret, and only where the description names it', () => {
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const readers = resourcesOf('AWS::IAM::Policy').filter(([, p]) => JSON.stringify(p.Properties.PolicyDocument).includes('secretsmanager:GetSecretValue'));
    const namers = Object.values(functions as Record<string, { settings?: readonly string[]; secrets?: { exportLinkKey?: readonly string[] } }>).filter(
      (spec) => spec.settings?.includes('exportLinkKey') || spec.secrets?.exportLinkKey?.includes('GetSecretValue'),
    );
    expect(namers.length).toBeGreaterThan(1);
    expect(readers).toHaveLength(namers.length);
  });

  it('rotates the link key with the described function every max(30, 2 x retention) days, never on a deploy', () => {
    const [[secretId]] = resourcesOf('AWS::SecretsManager::Secret') as [[string, Resource]];
    const [rotatorId] = functionNamed(functions.rotateExportLinkKey.description);
    const schedules = resourcesOf('AWS::SecretsManager::RotationSchedule');
    expect(schedules).toHaveLength(1);
    // exportRetentionDays 14 here: twice that is 28, so the 30-day floor applies.
    expect(schedules[0]![1].Properties).toEqual({
      SecretId: { Ref: secretId },
      RotationLambdaARN: { 'Fn::GetAtt': [rotatorId, 'Arn'] },
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
      RotateImmediatelyOnUpdate: false,
    });
    // Secrets Manager may invoke it, for this secret and account only; the schedule waits for that permission.
    const permissions = resourcesOf('AWS::Lambda::Permission').filter(([, p]) => p.Properties.Principal === 'secretsmanager.amazonaws.com');
    expect(permissions).toHaveLength(1);
    expect(permissions[0]![1].Properties).toMatchObject({
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [rotatorId, 'Arn'] },
      SourceArn: { Ref: secretId },
      SourceAccount: { Ref: 'AWS::AccountId' },
    });
    const schedule = template.toJSON().Resources[schedules[0]![0]] as { DependsOn?: string[] };
    expect(schedule.DependsOn).toContain(permissions[0]![0]);
  });

  it('gives the rotation function the four rotation operations on the link key only, and no GetRandomPassword', () => {
    const [, rotator] = functionNamed(functions.rotateExportLinkKey.description);
    const [[secretId]] = resourcesOf('AWS::SecretsManager::Secret') as [[string, Resource]];
    const statements = policyOf(rotator.Properties.Role['Fn::GetAtt'][0]);
    const secretStatements = statements.filter((statement) => JSON.stringify(statement.Action).includes('secretsmanager:'));
    expect(secretStatements).toEqual([
      {
        Effect: 'Allow',
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
        Resource: { Ref: secretId },
      },
    ]);
    // Nothing else but its logs and tracing: no table, queue, bucket or wildcard secret grant.
    const others = statements.filter((statement) => !secretStatements.includes(statement)).flatMap((statement) => [statement.Action].flat());
    expect(others.sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents', 'xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
    // And no setting: the secret is named by each rotation event.
    expect(Object.keys(rotator.Properties.Environment.Variables).sort()).toEqual(['NODE_OPTIONS', 'POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME']);
  });

  it('passes cdk-nag with the link key rotated: no SMG4 finding, and no acknowledgement of one', () => {
    const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions')!;
    expect(nag.conclusion).toBe('success');
    expect([...nag.violations, ...(nag.suppressedViolations ?? [])].filter((finding) => finding.ruleName === 'AwsSolutions-SMG4')).toEqual([]);
  });

  it('takes the rotation interval from exportLinkKeyRotationDays, refusing one a link could outlive', () => {
    const interval = (context: Record<string, unknown>) => {
      const { app, stack } = buildHeraldApp({ ...TEST_CONTEXT, ...SKIP_BUNDLING, ...context }, { nagChecks: false });
      const resources = (app.synth().getStackByName(stack.stackName).template as { Resources: Record<string, Resource> }).Resources;
      return Object.values(resources).find((resource) => resource.Type === 'AWS::SecretsManager::RotationSchedule')!.Properties.RotationRules
        .ScheduleExpression;
    };
    expect(interval({ exportRetentionDays: 20 })).toBe('rate(40 days)');
    expect(interval({ exportLinkKeyRotationDays: 90 })).toBe('rate(90 days)');
    expect(() => buildHeraldApp({ ...TEST_CONTEXT, exportRetentionDays: 7, exportLinkKeyRotationDays: 8 })).toThrow(
      /exportLinkKeyRotationDays" must be from exportRetentionDays \+ 2 \(9\) to 1000, got 8/,
    );
    expect(() => buildHeraldApp({ ...TEST_CONTEXT, exportLinkKeyRotationDays: 1001 })).toThrow(ConfigError);
  });
});
