import { readFileSync } from 'node:fs';
import { Annotations, App, CfnOutput, Stack, Validations, type CfnElement, type StackProps } from 'aws-cdk-lib';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { readConfig, requireAlarmTarget, requireEmailSender, type HeraldConfig } from '../config';
import type { BucketName, FailureQueueName, FunctionName, QueueName, TableName } from '../description';
import { AlertFanout } from './alert-fanout';
import { ApiGatewayLogging } from './api-gateway-logging';
import { EmailSender } from './email-sender';
import { FormerLogicalIds } from './former-logical-ids';
import { HeraldData } from './herald-data';
import type { HeraldFunction } from './herald-function';
import { HeraldFunctions } from './herald-functions';
import { HttpApiAndIdentity } from './http-api-and-identity';
import { Observability } from './observability';
import { RealtimeApi } from './realtime-api';
import { RecordsSync } from './records-sync';
import { ScheduledExports } from './scheduled-exports';

export interface DescribedResources {
  readonly tables: Readonly<Record<TableName, Table>>;
  readonly queues: Readonly<Record<QueueName, Queue>>;
  /** The dead-letter queue of each queue in `queues`. */
  readonly deadLetterQueues: Readonly<Record<QueueName, Queue>>;
  /** Where stream event sources put what they gave up on. */
  readonly failureQueues: Readonly<Record<FailureQueueName, Queue>>;
  readonly buckets: Readonly<Record<BucketName, Bucket>>;
  readonly functions: Readonly<Record<FunctionName, HeraldFunction>>;
}

export interface HeraldStackProps extends StackProps {
  /** Validated deployment settings (lib/config.ts). */
  readonly config: HeraldConfig;
}

/**
 * Herald's one stack: one construct per capability, composed from the deployment settings, and
 * the outputs a deployer needs. Every resource keeps the logical id it had before the stack was
 * split into these constructs (lib/infra/former-logical-ids.ts).
 */
export class HeraldStack extends Stack {
  /** The tables. */
  public readonly data: HeraldData;
  /** The From address of every email, and its SES identity. */
  public readonly email: EmailSender;
  /** The exports queue and DLQ, bucket, Scheduler group and role, and link key. */
  public readonly exports: ScheduledExports;
  /** The Alerts stream's failure queue and alarm. */
  public readonly alertFanout: AlertFanout;
  /** The record collections and their retention (offline-first sync), and the assignment notifier's failure queue and alarm. */
  public readonly records: RecordsSync;
  /** The WebSocket API and its stage `live`. */
  public readonly realtimeApi: RealtimeApi;
  /** The HTTP API, its JWT authorizer and, without jwtIssuer, the Cognito pool. */
  public readonly httpApi: HttpApiAndIdentity;
  /** Every function of lib/description/, attached to its trigger. */
  public readonly functions: HeraldFunctions;
  /** The alarm topic, every alarm and the dashboard. */
  public readonly observability: Observability;
  /** API Gateway's account-level CloudWatch role; present only with createApiGatewayAccountRole. */
  public readonly apiGatewayLogging?: ApiGatewayLogging;
  private readonly formerIds: FormerLogicalIds;

  constructor(scope: Construct, id: string, props: HeraldStackProps) {
    super(scope, id, props);
    const { config } = props;
    // Every capability below keeps the logical ids its resources had under the construct `Realtime`.
    this.formerIds = new FormerLogicalIds(this, 'Realtime');
    const kept = (capabilityId: string) => this.formerIds.keep(capabilityId);
    // The settings without a default, checked in the order docs/deploy.md introduces them.
    const sender = requireEmailSender(config);
    // Every alarm reaches a person: a topic created for alarmEmail, or the deployer's own.
    const alarmTarget = requireAlarmTarget(config);
    this.observability = new Observability(
      this,
      'Observability',
      'email' in alarmTarget ? { alarmEmail: alarmTarget.email } : { alarmTopic: Topic.fromTopicArn(this, 'AlarmTopic', alarmTarget.topicArn) },
    );
    const { alarmTopic } = this.observability;
    Annotations.of(this).addInfo(
      'email' in alarmTarget
        ? `alarmEmail=${alarmTarget.email}: the stack creates an alarm topic subscribed to that address; SNS emails it a confirmation link, and no alarm reaches it until the link is clicked (docs/deploy.md).`
        : `alarmTopicArn=${alarmTarget.topicArn}: every alarm notifies this existing topic; its access policy must let CloudWatch publish to it (docs/deploy.md).`,
    );
    const throttle = { rateLimit: config.throttleRateLimit, burstLimit: config.throttleBurstLimit };
    // readConfig accepts only CloudWatch's retention values, which are RetentionDays' values.
    const logRetention = config.logRetentionDays as RetentionDays;

    this.data = new HeraldData(this, kept('Data'));
    this.email = new EmailSender(this, kept('Email'), {
      sender,
      identityDomain: config.emailIdentityDomain,
      createIdentity: config.createEmailIdentity,
    });
    this.exports = new ScheduledExports(this, kept('Exports'), {
      fileRetentionDays: config.exportRetentionDays,
      linkKeyRotationDays: config.exportLinkKeyRotationDays,
      autoDeleteFiles: config.exportsBucketAutoDelete,
      alarmTopic,
      records: config.exportRecords,
      recipientDomains: config.exportRecipientDomains,
    });
    this.alertFanout = new AlertFanout(this, kept('AlertFanout'), { alertsTable: this.data.tables.alerts, alarmTopic });
    this.records = new RecordsSync(this, 'Records', {
      recordsTable: this.data.tables.records,
      collections: config.recordCollections,
      retentionDays: config.recordRetentionDays,
      alarmTopic,
    });
    this.realtimeApi = new RealtimeApi(this, kept('RealtimeApi'), { throttle, accessLogRetention: logRetention });
    this.httpApi = new HttpApiAndIdentity(this, kept('HttpApiAndIdentity'), {
      jwt: config.jwtIssuer !== undefined && config.jwtAudience !== undefined ? { issuer: config.jwtIssuer, audience: config.jwtAudience } : undefined,
      allowedOrigins: config.allowedOrigins,
      throttle,
      accessLogRetention: logRetention,
    });
    if (config.createApiGatewayAccountRole) {
      this.apiGatewayLogging = new ApiGatewayLogging(this, kept('ApiGatewayLogging'));
      this.apiGatewayLogging.precede(this.realtimeApi.stage, this.httpApi.stage);
    } else {
      Annotations.of(this).addInfo(
        "createApiGatewayAccountRole=false: this account and region must already have API Gateway's CloudWatch role (aws apigateway get-account shows cloudwatchRoleArn), or the WebSocket stage fails to create. See docs/deploy.md.",
      );
    }
    this.functions = new HeraldFunctions(this, kept('Functions'), {
      data: this.data,
      exports: this.exports,
      email: this.email,
      realtimeApi: this.realtimeApi,
      httpApi: this.httpApi,
      alertFanout: this.alertFanout,
      records: this.records,
      allowedOrigins: config.allowedOrigins,
      tenantClaim: config.tenantClaim,
      rolesClaim: config.rolesClaim,
      notificationRetentionDays: config.notificationRetentionDays,
      realtimeLimits: { socketsPerUser: config.socketsPerUser, ticketsPerMinute: config.ticketsPerMinute },
      logRetention,
    });

    this.observability.watch({
      data: this.data,
      functions: this.functions.functions,
      alertFanout: this.alertFanout,
      exports: this.exports,
      realtimeApi: this.realtimeApi,
      httpApi: this.httpApi,
      email: this.email,
    });

    new CfnOutput(this, 'WebSocketUrl', { value: this.realtimeApi.stage.url });
    new CfnOutput(this, 'HttpApiUrl', { value: this.httpApi.stage.url });
    new CfnOutput(this, 'AlarmTopicArn', { value: alarmTopic.topicArn, description: 'Every Herald alarm notifies this topic' });
    const { userPool, userPoolClient } = this.httpApi;
    if (userPool && userPoolClient) {
      new CfnOutput(this, 'UserPoolId', { value: userPool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: userPoolClient.userPoolClientId });
    }
    // Easy DKIM: SES verifies the domain once these three CNAME records resolve.
    this.email.dkimRecords.forEach((record, index) => {
      new CfnOutput(this, `DkimRecord${index + 1}`, { value: record, description: 'Publish in DNS: SES verifies the sender domain by it' });
    });
  }

  /**
   * The resources lib/description/ names, keyed by its names (the local runtime creates each as
   * `herald-<name>`): what lib/local/iam/synthesized-stack.ts and the parity test look up.
   */
  public get described(): DescribedResources {
    return {
      tables: this.data.tables,
      queues: { exports: this.exports.queue, alertChunks: this.alertFanout.chunkQueue },
      deadLetterQueues: { exports: this.exports.deadLetterQueue, alertChunks: this.alertFanout.chunkDeadLetterQueue },
      failureQueues: { alertFanout: this.alertFanout.failureQueue, recordAssignments: this.records.assignmentFailureQueue },
      buckets: { exports: this.exports.bucket },
      functions: this.functions.functions,
    };
  }

  /** The former id under a kept capability (see FormerLogicalIds), CDK's own everywhere else. */
  protected override allocateLogicalId(element: CfnElement): string {
    // An element allocated before the constructor sets formerIds (none today) gets CDK's own id.
    return this.formerIds?.allocate(element) ?? super.allocateLogicalId(element);
  }
}

export interface HeraldApp {
  readonly app: App;
  readonly stack: HeraldStack;
  readonly config: HeraldConfig;
}

/**
 * The app as `cdk synth` builds it, with cdk-nag attached so synth fails on any unacknowledged
 * finding. bin/app.ts and the infra tests share it, so tests check what ops deploy.
 *
 * @param context extra context on top of cdk.json's (the CLI's `-c` values win over both)
 * @param options.nagChecks attach cdk-nag (default true; only the local runtime's role reading turns it off)
 * @throws ConfigError when a context value is invalid
 */
export function buildHeraldApp(context: Record<string, unknown> = {}, options: { readonly nagChecks?: boolean } = {}): HeraldApp {
  // The CLI passes cdk.json's context itself; reading it here gives tests the same feature flags.
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const app = new App({ context: { ...cdkJson.context, ...context } });
  const config = readConfig((key) => app.node.tryGetContext(key));
  // The construct id is the stack name, so `cdk deploy`, `cdk diff` and `cdk destroy` name it.
  const stack = new HeraldStack(app, config.stackName, {
    description: 'Herald: realtime notifications, alert fan-out, scheduled exports and offline-first records',
    config,
  });
  // The local runtime reads only the roles, and the checks are most of synthesis time.
  if (options.nagChecks ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, config };
}
