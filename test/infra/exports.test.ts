import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '#lib/config';
import { buildHeraldApp } from '#lib/infra/herald-stack';
import { EXPORT_WORKER_MAX_CONCURRENCY, EXPORT_WORKER_TIMEOUT_SECONDS, functions, queues } from '#lib/description';
import { SKIP_BUNDLING, synthesize } from './synth';

type Resource = { Type: string; Properties: Record<string, any> };

let template: Template;

beforeAll(() => {
  ({ template } = synthesize({ ...SKIP_BUNDLING, exportRetentionDays: 14 }));
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
    const namers = Object.values(functions as Record<string, { settings?: readonly string[] }>).filter((spec) => spec.settings?.includes('exportLinkKey'));
    expect(namers.length).toBeGreaterThan(0);
    expect(readers).toHaveLength(namers.length);
  });
});
