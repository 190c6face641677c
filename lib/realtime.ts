import { Annotations, Duration, RemovalPolicy, Stack, type CfnResource } from 'aws-cdk-lib';
import { AccessLogFormat, CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  WebSocketApi,
  WebSocketStage,
  type IHttpRouteAuthorizer,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer, WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration, WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import {
  AccountRecovery,
  ClientAttributes,
  FeaturePlan,
  Mfa,
  StringAttribute,
  UserPool,
  type UserPoolClient,
} from 'aws-cdk-lib/aws-cognito';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, Role, ServicePrincipal, type Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { CfnScheduleGroup } from 'aws-cdk-lib/aws-scheduler';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { EmailIdentity, Identity } from 'aws-cdk-lib/aws-ses';
import { FilterCriteria, StartingPosition, type IEventSourceDlq } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Alarm, ComparisonOperator, TreatMissingData, type Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  CONNECTION_TTL_SECONDS,
  readConfig,
  requireEmailSender,
  TICKET_TTL_SECONDS,
  type HeraldConfig,
} from './config';
import {
  corsPolicy,
  DEAD_LETTER_VISIBILITY_SECONDS,
  functionDefaults,
  functionSpecs,
  webSocketStageName,
  queues as queueSpecs,
  routeSelectionExpression,
  tables as tableSpecs,
  buckets as bucketSpecs,
  type BucketName,
  failureQueues as failureQueueSpecs,
  type FailureQueueName,
  type FunctionName,
  type FunctionSpec,
  type QueueName,
  type QueueSpec,
  encodeSettings,
  type TableName,
  type TableSpec,
} from './description';
import { HeraldFunction, mapRecord } from './herald-function';
import { acknowledge } from './nag';
import { createTable } from './tables';

/**
 * Deployment settings of the realtime capability; each is validated exactly as cdk.json context
 * is (lib/config.ts), and each documents its default there.
 */
export type RealtimeProps = Partial<HeraldConfig>;

/**
 * The realtime capability, built entirely from lib/description.ts: its tables and queues, one
 * Lambda per function, the WebSocket API (ticket-authorized $connect) and the JWT-authorized
 * HTTP API, with each function wired to its trigger.
 */
export class Realtime extends Construct {
  public readonly config: HeraldConfig;
  public readonly tables: Record<TableName, Table>;
  public readonly queues: Record<QueueName, Queue>;
  /** The dead-letter queue of each queue in `queues`. */
  public readonly deadLetterQueues: Record<QueueName, Queue>;
  /** Where stream event sources put what they gave up on (see failureQueues in the description). */
  public readonly failureQueues: Record<FailureQueueName, Queue>;
  public readonly functions: Record<FunctionName, HeraldFunction>;
  public readonly buckets: Record<BucketName, Bucket>;
  /** The EventBridge Scheduler group holding one schedule per export schedule. */
  public readonly exportScheduleGroup: CfnScheduleGroup;
  /** The role EventBridge Scheduler assumes to send a firing to the exports queue (or its DLQ). */
  public readonly exportSchedulerRole: Role;
  /** The HMAC key that signs download links, generated here and read by functions at cold start. */
  public readonly exportLinkKey: Secret;
  public readonly webSocketApi: WebSocketApi;
  public readonly webSocketStage: WebSocketStage;
  public readonly httpApi: HttpApi;
  public readonly httpStage: HttpStage;
  /** Present only when no jwtIssuer is configured. */
  public readonly userPool?: UserPool;
  /** Present only when no jwtIssuer is configured. */
  public readonly userPoolClient?: UserPoolClient;
  /** API Gateway's account-level CloudWatch role setting; present only with createApiGatewayAccountRole. */
  public readonly apiGatewayAccount?: CfnAccount;
  /** The sender's SES identity (address, or domain with DKIM); absent with createEmailIdentity false. */
  public readonly emailIdentity?: EmailIdentity;

  constructor(scope: Construct, id: string, props: RealtimeProps = {}) {
    super(scope, id);
    this.config = readConfig((key) => props[key as keyof RealtimeProps]);
    const specs = functionSpecs();
    const connectAuthorizer = validateDescription(specs);
    const { config } = this;
    const throttle = { rateLimit: config.throttleRateLimit, burstLimit: config.throttleBurstLimit };
    const retention = config.logRetentionDays as RetentionDays;
    const emailSender = requireEmailSender(config);

    this.tables = mapRecord(tableSpecs, (spec, name) => createTable(this, `${pascal(name)}Table`, spec));
    this.deadLetterQueues = mapRecord(queueSpecs, (_, name) => {
      const dlq = new Queue(this, `${pascal(name)}DeadLetterQueue`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
        visibilityTimeout: Duration.seconds(DEAD_LETTER_VISIBILITY_SECONDS),
      });
      acknowledge(
        dlq.node.defaultChild as CfnResource,
        'SQS3',
        `This is the dead-letter queue of the ${name} queue, where failed messages come to rest; a DLQ of its own would only move them once more.`,
      );
      return dlq;
    });
    this.queues = mapRecord(queueSpecs, (spec: QueueSpec, name) =>
      new Queue(this, `${pascal(name)}Queue`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
        deadLetterQueue: { queue: this.deadLetterQueues[name], maxReceiveCount: spec.maxReceiveCount },
      }),
    );

    this.failureQueues = mapRecord(failureQueueSpecs, (_, name) => {
      const queue = new Queue(this, `${pascal(name)}FailureQueue`, {
        encryption: QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      acknowledge(
        queue.node.defaultChild as CfnResource,
        'SQS3',
        `This queue is where the ${name} stream event source records what it gave up on; nothing consumes it, so a DLQ of its own would never receive anything.`,
      );
      return queue;
    });
    const alarmTopic = config.alarmTopicArn === undefined ? undefined : Topic.fromTopicArn(this, 'AlarmTopic', config.alarmTopicArn);
    const alarmOn = (id: string, what: string, metric: Metric, threshold: number) => {
      const alarm = new Alarm(this, id, {
        alarmDescription: `${what}: see docs/operations.md, "Failures and alarms".`,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      if (alarmTopic) alarm.addAlarmAction(new SnsAction(alarmTopic));
    };
    const minute = { period: Duration.minutes(1), statistic: 'Maximum' };
    for (const [name, queue] of Object.entries(this.failureQueues)) {
      alarmOn(`${pascal(name)}FailureAlarm`, `The ${name} stream event source gave up on records`, queue.metricApproximateNumberOfMessagesVisible(minute), 1);
    }
    // A DLQ with a last handler empties as it works, so what matters is a message it leaves there.
    for (const [name, queue] of Object.entries(this.deadLetterQueues)) {
      alarmOn(
        `${pascal(name)}DeadLetterAlarm`,
        `A message of the ${name} DLQ has waited 10 minutes: its last handler is failing or absent`,
        queue.metricApproximateAgeOfOldestMessage(minute),
        600,
      );
    }

    const stackName = Stack.of(this).stackName;
    this.buckets = mapRecord(bucketSpecs, (_, name) => {
      const bucket = new Bucket(this, `${pascal(name)}Bucket`, {
        blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
        encryption: BucketEncryption.S3_MANAGED,
        objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
        versioned: false,
        lifecycleRules: [
          { id: 'expire', expiration: Duration.days(config.exportRetentionDays) },
          // A worker that dies mid-upload cannot abort its own upload; the next attempt aborts
          // the one it recorded, and this catches whatever is still left.
          { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ],
        // The files are users' data until they expire, so the bucket outlives the stack unless a
        // throwaway stage opts in to deleting them with it (docs/deploy.md). Retained except when
        // the deploy that creates it rolls back: then it is still empty, and retaining it would
        // only leave an orphan per failed first deploy. The opt-in adds CDK's auto-delete provider
        // (a Lambda and role) as plain CfnResources, which cdk-nag's rules do not inspect;
        // test/infra/stateful.test.ts checks that it still synthesizes clean.
        removalPolicy: config.exportsBucketAutoDelete ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        autoDeleteObjects: config.exportsBucketAutoDelete,
      });
      acknowledge(
        bucket.node.defaultChild as CfnResource,
        'S1',
        `The ${name} bucket is written by the export worker and read only through pre-signed URLs the download function issues; every download request is in the HTTP API access log, and server access logs would need a second bucket that only duplicates them.`,
      );
      return bucket;
    });
    Annotations.of(this).addInfo(
      config.exportsBucketAutoDelete
        ? 'exportsBucketAutoDelete=true: deleting the stack deletes the exports bucket and every export file in it.'
        : 'The exports bucket is retained when the stack is deleted (exportsBucketAutoDelete=false); see docs/deploy.md to remove it.',
    );
    this.emailIdentity = this.createEmailIdentity(emailSender);
    this.exportLinkKey = new Secret(this, 'ExportLinkKey', {
      description: 'HMAC key that signs Herald export download links',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    acknowledge(
      this.exportLinkKey.node.defaultChild as CfnResource,
      'SMG4',
      'Rotating the link key would invalidate every download link already emailed; links expire with their files (exportRetentionDays), and the key never leaves AWS.',
    );
    this.exportScheduleGroup = new CfnScheduleGroup(this, 'ExportScheduleGroup', { name: `${stackName}-exports` });
    this.exportSchedulerRole = new Role(this, 'ExportSchedulerRole', {
      // Only Scheduler, for this account's schedules in Herald's own group (the confused-deputy guard).
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          // Scheduler sets the schedule group's ARN here, never a schedule's.
          ArnEquals: { 'aws:SourceArn': Stack.of(this).formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: this.exportScheduleGroup.name }) },
        },
      }),
      description: 'EventBridge Scheduler sends export firings to the exports queue, or its DLQ when it cannot',
    });
    // SendMessage alone: grantSendMessages would add GetQueueAttributes and GetQueueUrl, which Scheduler never calls.
    this.queues.exports.grant(this.exportSchedulerRole, 'sqs:SendMessage');
    this.deadLetterQueues.exports.grant(this.exportSchedulerRole, 'sqs:SendMessage');

    this.apiGatewayAccount = this.createApiGatewayAccount();
    this.webSocketApi = new WebSocketApi(this, 'WebSocketApi', {
      apiName: `${stackName}-websocket`,
      description: 'Herald realtime notifications',
      routeSelectionExpression,
    });
    this.webSocketStage = new WebSocketStage(this, 'WebSocketStage', {
      webSocketApi: this.webSocketApi,
      stageName: webSocketStageName,
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(new LogGroup(this, 'WebSocketAccessLogs', { retention })),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            connectionId: '$context.connectionId',
            routeKey: '$context.routeKey',
            eventType: '$context.eventType',
            status: '$context.status',
            requestTime: '$context.requestTimeEpoch',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });

    const identity = this.createIdentity();
    this.userPool = identity.userPool;
    this.userPoolClient = identity.userPoolClient;
    this.httpApi = new HttpApi(this, 'HttpApi', {
      apiName: `${stackName}-http`,
      description: 'Herald HTTP API',
      createDefaultStage: false,
      corsPreflight:
        config.allowedOrigins.length === 0
          ? undefined
          : {
              allowOrigins: [...config.allowedOrigins],
              allowMethods: corsPolicy.allowMethods.map((method) => CorsHttpMethod[method]),
              allowHeaders: [...corsPolicy.allowHeaders],
              exposeHeaders: [...corsPolicy.exposeHeaders],
              maxAge: Duration.seconds(corsPolicy.maxAgeSeconds),
            },
    });
    this.httpStage = new HttpStage(this, 'HttpStage', {
      httpApi: this.httpApi,
      autoDeploy: true,
      throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(new LogGroup(this, 'HttpAccessLogs', { retention })),
        // The route key rather than the path: a download link carries its token in the query string.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTimeEpoch',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });

    // A stage with access logging fails to create while the account has no CloudWatch role.
    if (this.apiGatewayAccount) {
      this.webSocketStage.node.addDependency(this.apiGatewayAccount);
      this.httpStage.node.addDependency(this.apiGatewayAccount);
    }

    const settings = encodeSettings({
      allowedOrigins: config.allowedOrigins,
      ticketTtlSeconds: TICKET_TTL_SECONDS,
      connectionTtlSeconds: CONNECTION_TTL_SECONDS,
      tenantClaim: config.tenantClaim,
      rolesClaim: config.rolesClaim,
      webSocketUrl: this.webSocketStage.url,
      notificationRetentionDays: config.notificationRetentionDays,
      emailSender,
      exportRetentionDays: config.exportRetentionDays,
      exportRecords: config.exportRecords,
      exportScheduleGroup: this.exportScheduleGroup.name as string,
      exportSchedulerRoleArn: this.exportSchedulerRole.roleArn,
      exportQueueArn: this.queues.exports.queueArn,
      exportDeadLetterQueueArn: this.deadLetterQueues.exports.queueArn,
      exportLinkKey: `secret:${this.exportLinkKey.secretArn}`,
      httpApiUrl: this.httpStage.url,
    });
    this.functions = Object.fromEntries(
      specs.map(([name, spec]) => [
        name,
        new HeraldFunction(this, pascal(name), {
          spec,
          tables: this.tables,
          queues: this.queues,
          buckets: this.buckets,
          exports: {
            scheduleGroupName: this.exportScheduleGroup.name as string,
            schedulerRole: this.exportSchedulerRole,
            linkKey: this.exportLinkKey,
            sender: emailSender,
            recordsTableName: config.exportRecords?.table,
          },
          webSocketStage: this.webSocketStage,
          settings,
          logRetentionDays: config.logRetentionDays,
        }),
      ]),
    ) as Record<FunctionName, HeraldFunction>;

    const authorizers = {
      jwt: identity.authorizer,
      connect: new WebSocketLambdaAuthorizer('ConnectAuthorizer', this.functions[connectAuthorizer.name].function, {
        identitySource: [...connectAuthorizer.identitySource],
      }),
    };
    for (const [name, spec] of specs) this.connectTrigger(name, spec, authorizers);
  }

  /** Lets `grantee` post to, read and close this stage's WebSocket connections, and nothing else. */
  public grantManageConnections(grantee: IGrantable): Grant {
    return this.webSocketStage.grantManagementApiAccess(grantee);
  }

  /** Who may call the HTTP API: the configured OIDC provider, or else a Cognito pool made here. */
  private createIdentity(): { authorizer: HttpJwtAuthorizer; userPool?: UserPool; userPoolClient?: UserPoolClient } {
    const { jwtIssuer, jwtAudience } = this.config;
    if (jwtIssuer !== undefined && jwtAudience !== undefined) {
      return { authorizer: new HttpJwtAuthorizer('JwtAuthorizer', jwtIssuer, { jwtAudience: [jwtAudience] }) };
    }
    const pool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      // TOTP only: SMS would need an SNS role and per-message cost for no gain in a browser app.
      mfa: Mfa.OPTIONAL,
      mfaSecondFactor: { sms: false, otp: true },
      featurePlan: FeaturePlan.ESSENTIALS,
      // Users and their tenants live only here: a stack deletion retains the pool (CDK's default
      // for pools), and deletion protection stops a stray DeleteUserPool (docs/deploy.md).
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      // Immutable, and admins set it when they create a user (self sign-up is off), so a user
      // can never move themselves into another tenant.
      customAttributes: { tenant: new StringAttribute({ minLen: 1, maxLen: 64, mutable: false }) },
    });
    const cfnPool = pool.node.defaultChild as CfnResource;
    acknowledge(
      cfnPool,
      'COG2',
      'MFA is optional: every user can enrol TOTP, and a deployment that must enforce MFA brings its own OIDC provider through jwtIssuer/jwtAudience.',
    );
    acknowledge(
      cfnPool,
      'COG8',
      'The Plus tier (threat protection) is billed per monthly active user; this pool is the zero-config default, and a deployment that needs threat protection brings its own OIDC provider through jwtIssuer/jwtAudience.',
    );
    const client = pool.addClient('WebClient', {
      authFlows: { userSrp: true },
      disableOAuth: true,
      generateSecret: false,
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      readAttributes: new ClientAttributes()
        .withStandardAttributes({ email: true, emailVerified: true, fullname: true })
        .withCustomAttributes('tenant'),
      writeAttributes: new ClientAttributes().withStandardAttributes({ fullname: true }),
    });
    // ID tokens carry custom:tenant and aud = the client id; API Gateway checks both issuer and aud.
    const authorizer = new HttpJwtAuthorizer('JwtAuthorizer', `https://${pool.userPoolProviderUrl}`, {
      jwtAudience: [client.userPoolClientId],
    });
    return { authorizer, userPool: pool, userPoolClient: client };
  }

  /**
   * API Gateway writes access logs with one CloudWatch role per account and region, set outside any
   * API. With createApiGatewayAccountRole the stack sets it: a role with AWS's managed policy and
   * the AWS::ApiGateway::Account that names it. Both are retained on deletion, as CDK's RestApi
   * does: the setting is the account's, and other APIs may log through it by then.
   */
  private createApiGatewayAccount(): CfnAccount | undefined {
    if (!this.config.createApiGatewayAccountRole) {
      Annotations.of(this).addInfo(
        "createApiGatewayAccountRole=false: this account and region must already have API Gateway's CloudWatch role (aws apigateway get-account shows cloudwatchRoleArn), or the WebSocket stage fails to create. See docs/deploy.md.",
      );
      return undefined;
    }
    const role = new Role(this, 'ApiGatewayCloudWatchRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      description: "API Gateway's account-level role for writing access and execution logs to CloudWatch",
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    acknowledge(
      role.node.defaultChild as CfnResource,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      "This is API Gateway's account-wide logging role: it writes the log groups of every API in the account and region, so its resources are not Herald's to enumerate, and AWS maintains this policy for exactly this role (docs/deploy.md).",
    );
    const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
    account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Annotations.of(this).addInfo(
      "createApiGatewayAccountRole=true: this stack sets API Gateway's CloudWatch role for the whole account and region (replacing any role set before) and retains it on deletion.",
    );
    return account;
  }

  /**
   * The sender's SES identity: the address itself (SES emails it a verification link), or with
   * emailIdentityDomain the domain, verified by Easy DKIM's three CNAME records (stack outputs).
   * Deleting the stack deletes it, so a failed first deploy can simply be retried.
   */
  private createEmailIdentity(sender: string): EmailIdentity | undefined {
    const { createEmailIdentity, emailIdentityDomain } = this.config;
    if (!createEmailIdentity) {
      Annotations.of(this).addInfo(
        `createEmailIdentity=false: the stack creates no SES identity; ${sender} (or its domain) must already be verified in SES in this account and region.`,
      );
      return undefined;
    }
    const identity = new EmailIdentity(this, 'EmailIdentity', {
      identity: emailIdentityDomain === undefined ? Identity.email(sender) : Identity.domain(emailIdentityDomain),
    });
    Annotations.of(this).addInfo(
      emailIdentityDomain === undefined
        ? `SES identity: the address ${sender}. SES emails it a verification link after deploy; nothing is sent until it is clicked (docs/deploy.md).`
        : `SES identity: the domain ${emailIdentityDomain} with DKIM. Publish the three DkimRecord outputs as CNAME records; nothing is sent until SES sees them (docs/deploy.md).`,
    );
    return identity;
  }

  private connectTrigger(
    name: FunctionName,
    spec: FunctionSpec,
    authorizers: { jwt: IHttpRouteAuthorizer; connect: WebSocketLambdaAuthorizer },
  ): void {
    const fn = this.functions[name].function;
    const id = pascal(name);
    const trigger = spec.trigger;
    switch (trigger.kind) {
      case 'websocket-authorizer':
        return; // attached to $connect, the only route API Gateway lets an authorizer guard
      case 'websocket': {
        const isConnect = trigger.route === '$connect';
        const route = this.webSocketApi.addRoute(trigger.route, {
          integration: new WebSocketLambdaIntegration(`${id}Integration`, fn),
          returnResponse: trigger.returnResponse,
          authorizer: isConnect ? authorizers.connect : undefined,
        });
        if (!isConnect) {
          acknowledge(
            route.node.defaultChild as CfnResource,
            'APIG4',
            'API Gateway allows a WebSocket authorizer only on $connect; every frame on this route arrives on a connection $connect already authorized.',
          );
        }
        return;
      }
      case 'http': {
        const [route] = this.httpApi.addRoutes({
          path: trigger.path,
          methods: [HttpMethod[trigger.method]],
          integration: new HttpLambdaIntegration(`${id}Integration`, fn),
          authorizer: trigger.auth === 'jwt' ? authorizers.jwt : undefined,
        });
        if (trigger.auth === 'none' && route) {
          acknowledge(
            route.node.defaultChild as CfnResource,
            'APIG4',
            `lib/description.ts declares ${trigger.method} ${trigger.path} with auth 'none': its callers hold no JWT (an emailed link, say), so the handler authenticates the request itself.`,
          );
        }
        return;
      }
      case 'stream':
        fn.addEventSource(
          new DynamoEventSource(this.tables[trigger.table], {
            startingPosition: StartingPosition[trigger.startingPosition],
            batchSize: trigger.batchSize,
            retryAttempts: trigger.retryAttempts,
            maxRecordAge: Duration.seconds(trigger.maxRecordAgeSeconds),
            bisectBatchOnError: trigger.bisectBatchOnError,
            reportBatchItemFailures: true,
            onFailure: sendOnlyDestination(this.failureQueues[trigger.onFailure]),
            filters: trigger.filterPatterns?.map((pattern) => FilterCriteria.filter(pattern as Record<string, unknown>)),
          }),
        );
        return;
      case 'queue': {
        const queue = trigger.from === 'deadLetter' ? this.deadLetterQueues[trigger.queue] : this.queues[trigger.queue];
        // A mapping rather than SqsEventSource, whose automatic grantConsumeMessages adds GetQueueUrl and
        // ChangeMessageVisibility: the role gets what Lambda's SQS mapping calls, and no more.
        queue.grant(fn, 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes');
        fn.addEventSourceMapping(`${id}Source`, { eventSourceArn: queue.queueArn, batchSize: trigger.batchSize, reportBatchItemFailures: true });
        return;
      }
    }
  }
}

/**
 * Catches description mistakes at synth that would otherwise surface only after a deploy, and
 * returns the one function that authorizes $connect.
 */
function validateDescription(specs: Array<[FunctionName, FunctionSpec]>): {
  name: FunctionName;
  identitySource: readonly string[];
} {
  const authorizers = specs.flatMap(([name, { trigger }]) =>
    trigger.kind === 'websocket-authorizer' ? [{ name, identitySource: trigger.identitySource }] : [],
  );
  const [connectAuthorizer] = authorizers;
  if (authorizers.length !== 1 || connectAuthorizer === undefined) {
    throw new Error('lib/description.ts must have exactly one function with a websocket-authorizer trigger.');
  }
  if (!specs.some(([, spec]) => spec.trigger.kind === 'websocket' && spec.trigger.route === '$connect')) {
    throw new Error('lib/description.ts must have a function on the websocket route $connect.');
  }
  for (const [name, spec] of specs) {
    const { trigger } = spec;
    if (trigger.kind === 'stream') {
      const table: TableSpec = tableSpecs[trigger.table];
      if (table.stream === undefined) {
        throw new Error(`Function ${name} is triggered by the stream of table ${trigger.table}, which has no stream.`);
      }
    }
    if (trigger.kind === 'queue') {
      const queue: QueueSpec = queueSpecs[trigger.queue];
      const timeout = spec.timeoutSeconds ?? functionDefaults.timeoutSeconds;
      const visibility = trigger.from === 'deadLetter' ? DEAD_LETTER_VISIBILITY_SECONDS : queue.visibilityTimeoutSeconds;
      if (visibility < 6 * timeout) {
        throw new Error(
          `Queue ${trigger.queue}${trigger.from === 'deadLetter' ? "'s DLQ" : ''} needs a visibility timeout of at least 6x the ${timeout} s timeout of ${name}, which consumes it.`,
        );
      }
    }
  }
  return connectAuthorizer;
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

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
