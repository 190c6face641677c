import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BatchWriteItemCommand, DescribeTableCommand, DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import { CreateScheduleGroupCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { CONNECTION_TTL_SECONDS, TICKET_TTL_SECONDS } from '../config';
import {
  encodeSettings,
  functionEnvironment,
  REALTIME_LIMIT_DEFAULTS,
  tables as tableSpecs,
  webSocketStageName,
  type CollectionDeclarations,
  type QueueName,
  type TableName,
  type TableSpec,
} from '../description';
import { arnInRegion, LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from './aws-local';
import { assertJavaAvailable, reservePort, startDynamoDbLocal, startFauxqsEmulator, startSesEmulator, type RunningEmulator } from './emulators';
import { startHttpApi, type HttpRoute } from './http-api';
import { createLocalIssuer } from './issuer';
import { IamEnforcement } from './iam/enforcement';
import { synthesizeLocalStackCached, type SynthesizedStack } from './iam/synthesized-stack';
import { templateIam, type LocalResources, type RoleIam } from './iam/template-iam';
import { loadFunctions, localFunctionName, type LocalFunction } from './lambda-host';
import { createBuckets, createFailureQueues, createQueues, createTable, createTables, queueArn } from './resources';
import { startLocalScheduler } from './scheduler';
import { startSqsPoller } from './sqs-poller';
import { startStreamPoller } from './stream-poller';
import { startWebServer } from './web-server';
import { startWebSocketGateway, type WebSocketRoute } from './websocket-gateway';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** What `npm start` writes to .herald/local.json and prints; tests and scripts find the system here. */
export interface LocalUrls {
  readonly httpUrl: string;
  readonly wsUrl: string;
  readonly webUrl: string;
  readonly mailUrl: string;
  readonly dynamodbUrl: string;
  readonly s3Url: string;
  readonly sqsUrl: string;
  /** The EventBridge Scheduler emulator (lib/local/scheduler.ts); `POST /_local/clock` moves a manual clock. */
  readonly schedulerUrl: string;
}

export interface LocalRuntimeOptions {
  /**
   * The download links' keys, current first, then the previous one (as after a rotation).
   * @default one key made for this run
   */
  readonly exportLinkKeys?: readonly Buffer[];
  /** First of seven consecutive ports; 0 lets the OS pick each one (tests). @default 4100 */
  readonly portBase?: number;
  /** Where DynamoDB Local and fauxqs keep their data; undefined keeps everything in memory. */
  readonly stateDir?: string;
  /** @default 10 minutes */
  readonly idleTimeoutMs?: number;
  /** @default 2 hours */
  readonly maxDurationMs?: number;
  /**
   * The Scheduler emulator's clock: real, or manual from a start date (tests move it with
   * `POST /_local/clock {now}` on schedulerUrl). @default 'real'
   */
  readonly schedulerClock?: 'real' | Date;
  /**
   * Authorize every AWS call a function makes against its role in the synthesized template
   * (lib/local/iam/). Off only for debugging: `HERALD_IAM=off`. @default true unless HERALD_IAM=off
   */
  readonly enforceIam?: boolean;
  /** Keep writing every call functions make, with their roles, to this file (the least-privilege test reads it). */
  readonly iamUsageFile?: string;
  readonly log?: (message: string) => void;
}

/** The From address of export emails locally; aws-ses-v2-local accepts any. */
export const LOCAL_EMAIL_SENDER = 'exports@herald.local';

/**
 * The deployer's own table behind the `records` export dataset, as cdk.json's `exportRecords`
 * names one when deployed: locally a table made for it, keyed like a typical field-ops table.
 */
/**
 * The record collections `npm start` declares (docs/sync.md): `inspections` with one field of each
 * strategy and an assignee, `handovers` whose owner is decided by a person (manual); any other
 * collection gets the default.
 */
export const LOCAL_RECORD_COLLECTIONS = {
  inspections: {
    fields: { status: 'server-wins', notes: 'last-writer-wins', items: 'merge-by-id', verdict: 'manual', assigneeId: 'last-writer-wins' },
    otherFields: 'last-writer-wins',
    assigneeField: 'assigneeId',
  },
  handovers: { fields: { owner: 'manual' }, assigneeField: 'owner' },
} as const satisfies CollectionDeclarations;
export const LOCAL_RECORD_RETENTION_DAYS = 30;

export const LOCAL_EXPORT_RECORDS = { table: 'herald-local-records', tenantKey: 'tenantId', sortKey: 'recordedAt', role: 'records-export' } as const;
/**
 * The domain any address at which may receive exports locally, as cdk.json's
 * `exportRecipientDomains` allows some when deployed: the examples' and tests' `example.com`.
 * Addresses elsewhere must be a tenant user's preference address (docs/exports.md, "Limits").
 */
export const LOCAL_EXPORT_RECIPIENT_DOMAINS = ['example.com'] as const;
/** The stack name the local runtime synthesizes, so local physical names read like a deployment's. */
const LOCAL_STACK_NAME = 'herald';
/** The Scheduler group of export schedules, `<stack>-exports` as the stack names it. */
export const LOCAL_EXPORT_SCHEDULE_GROUP = `${LOCAL_STACK_NAME}-exports`;
/** The SES configuration set the local stack names (EmailSender's default), so the grant on it is checked. */
export const LOCAL_EMAIL_CONFIGURATION_SET = `${LOCAL_STACK_NAME}-email`;

/** The demo's tenant (web/demo, the banner's token example). */
const SAMPLE_TENANT = 'acme';

/**
 * A few work orders for the demo tenant, so `records` has something to export on a fresh start.
 * Only when the tenant has none: a persisted table keeps whatever the developer made of it.
 */
async function seedSampleRecords(client: DynamoDBClient): Promise<void> {
  const { tenantKey, sortKey, table } = LOCAL_EXPORT_RECORDS;
  const existing = await client.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: '#tenant = :tenant',
      ExpressionAttributeNames: { '#tenant': tenantKey },
      ExpressionAttributeValues: { ':tenant': { S: SAMPLE_TENANT } },
      Limit: 1,
    }),
  );
  if ((existing.Count ?? 0) > 0) return;
  const today = new Date(new Date().toISOString().slice(0, 10));
  const samples = [
    ['Harbour pier 3', 'north', 'done', 6.5],
    ['Harbour pier 3', 'north', 'done', 4],
    ['Ring road bridge', 'south', 'open', 2],
    ['Depot roof', 'north', 'open', 3.25],
    ['Ring road bridge', 'south', 'blocked', 1.5],
  ] as const;
  await client.send(
    new BatchWriteItemCommand({
      RequestItems: {
        [table]: samples.map(([site, crew, status, hours], index) => ({
          PutRequest: {
            Item: {
              [tenantKey]: { S: SAMPLE_TENANT },
              // One a day, the latest yesterday at 08:00 UTC, so date-range filters have something to cut.
              [sortKey]: { S: new Date(today.getTime() - (samples.length - index) * 86_400_000 + 8 * 3_600_000).toISOString() },
              site: { S: site },
              crew: { S: crew },
              status: { S: status },
              hours: { N: String(hours) },
            },
          },
        })),
      },
    }),
  );
}

/**
 * One event-source poller as the runtime started it: what it reads, which function it feeds, and
 * the settings it was given, for the parity test against the template's event-source mappings.
 */
export interface ServedEventSource {
  /** `stream:<table>`, `queue:<queue>` or `queue:<queue>:deadLetter`. */
  readonly source: string;
  readonly function: string;
  /** The ARN the poller reads: the table's stream, or the queue. */
  readonly reads: string;
  readonly batchSize: number;
  readonly reportBatchItemFailures: boolean;
  readonly filterPatterns?: readonly object[];
  /** Queue pollers only: batches invoked at once, at most (the mapping's ScalingConfig.MaximumConcurrency). */
  readonly maxConcurrency?: number;
  /** Stream pollers only, as Lambda has them for streams only. */
  readonly retryAttempts?: number;
  readonly maxRecordAgeSeconds?: number;
  readonly bisectBatchOnError?: boolean;
  readonly startingPosition?: 'LATEST' | 'TRIM_HORIZON';
  /** The queue URL the poller sends on-failure records to. */
  readonly onFailureQueueUrl?: string;
}

export interface LocalRuntime {
  readonly urls: LocalUrls;
  /** Every route and event source served, routes in the shape of the CDK template, for the parity test. */
  readonly served: { readonly webSocketRoutes: readonly string[]; readonly httpRoutes: readonly string[]; readonly eventSources: readonly ServedEventSource[] };
  /** The IAM enforcement layer, absent when turned off; it records every call for the least-privilege check. */
  readonly iam?: IamEnforcement;
  stop(): Promise<void>;
}

export const DEFAULT_PORT_BASE = 4100;
const LOCAL_AUDIENCE = 'herald-local';
/** The API ids the local gateway and HTTP API report in their events and @connections ARNs. */
const LOCAL_WEBSOCKET_API_ID = 'local-ws';
const LOCAL_HTTP_API_ID = 'local-http';

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const log = options.log ?? (() => undefined);
  const base = options.portBase ?? DEFAULT_PORT_BASE;
  const port = (offset: number) => (base === 0 ? 0 : base + offset);
  const stopping: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stopping.reverse()) await stop().catch((error: unknown) => log(`stop failed: ${String(error)}`));
  };

  try {
    // A missing prerequisite first: it is the lasting problem, a busy port may be a passing one.
    assertJavaAvailable();
    const [httpPort, wsPort, webPort, schedulerPort] = [
      await reservePort(port(0), 'HTTP API'),
      await reservePort(port(1), 'WebSocket API'),
      await reservePort(port(2), 'web demo'),
      await reservePort(port(6), 'EventBridge Scheduler'),
    ];
    const emulatorsStarting = Promise.allSettled([
      startDynamoDbLocal({ port: port(4), dataDir: options.stateDir && join(options.stateDir, 'dynamodb') }),
      startFauxqsEmulator({ port: port(5), dataDir: options.stateDir && join(options.stateDir, 'fauxqs') }),
      startSesEmulator({ port: port(3) }),
    ]);
    // Synthesis takes a couple of seconds of CPU; DynamoDB Local boots in its own process meanwhile.
    const enforceIam = options.enforceIam ?? process.env.HERALD_IAM !== 'off';
    const synthesized = enforceIam ? await synthesizeLocalStackCached(REPO_ROOT, join(tmpdir(), 'herald-local-stack'), localStackContext()) : undefined;
    if (!enforceIam) log('IAM enforcement is OFF (HERALD_IAM=off): calls no deployed role would allow will pass here. Debugging only.');
    const emulators = await emulatorsStarting;
    for (const started of emulators) if (started.status === 'fulfilled') stopping.push(() => started.value.stop());
    const failed = emulators.find((started) => started.status === 'rejected');
    if (failed) throw failed.reason;
    const [dynamodb, fauxqs, ses] = emulators.map((started) => (started as PromiseFulfilledResult<RunningEmulator>).value) as [
      RunningEmulator,
      RunningEmulator,
      RunningEmulator,
    ];

    // The SDK reads these itself; handler code never names an endpoint.
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.url,
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: dynamodb.url,
      AWS_ENDPOINT_URL_SQS: fauxqs.url,
      AWS_ENDPOINT_URL_S3: fauxqs.url,
      AWS_ENDPOINT_URL_SES: ses.url,
      POWERTOOLS_SERVICE_NAME: 'herald',
      POWERTOOLS_METRICS_NAMESPACE: 'Herald',
      POWERTOOLS_TRACE_ENABLED: 'false',
      // The X-Ray SDK the tracer imports starts in automatic mode unless told otherwise: an async
      // hook on every promise of this process (the whole runtime, tests and benchmarks included),
      // which with tracing off records nothing. Deployed, tracing is on and keeps automatic mode.
      AWS_XRAY_MANUAL_MODE: 'true',
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    });

    const dynamoClient = new DynamoDBClient({ endpoint: dynamodb.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const sqsClient = new SQSClient({ endpoint: fauxqs.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
    const streamsClient = new DynamoDBStreamsClient({ endpoint: dynamodb.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const s3Client = new S3Client({ endpoint: fauxqs.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
    stopping.push(async () => {
      for (const client of [dynamoClient, sqsClient, streamsClient, s3Client]) client.destroy();
    });
    const tableNames = await createTables(dynamoClient);
    const queues = await createQueues(sqsClient);
    const failureQueueUrls = await createFailureQueues(sqsClient);
    await createTable(dynamoClient, LOCAL_EXPORT_RECORDS.table, {
      envVar: 'UNUSED',
      partitionKey: { name: LOCAL_EXPORT_RECORDS.tenantKey, type: 'S' },
      sortKey: { name: LOCAL_EXPORT_RECORDS.sortKey, type: 'S' },
    });
    await seedSampleRecords(dynamoClient);
    const exportRetentionDays = 7;
    const bucketNames = await createBuckets(s3Client, () => exportRetentionDays);
    const iam =
      synthesized &&
      (await startIamEnforcement(synthesized, {
        dynamodb: dynamoClient,
        sqs: sqsClient,
        tableNames,
        queues,
        failureQueueUrls,
        bucketNames,
        connectionsHost: `127.0.0.1:${wsPort}`,
        usageFile: options.iamUsageFile,
        log,
      }));
    if (iam) stopping.push(async () => iam.enforcement.flushUsage());

    // Scheduler assumes the role a schedule names and sends the firing as it. Herald's schedules
    // all name the stack's scheduler role, which is the one checked here.
    const schedulerSqs = iam
      ? iam.enforcement.clientActingAs(sqsClient, 'scheduler', iam.schedulerRole, {
          assumedBy: {
            service: 'scheduler.amazonaws.com',
            context: {
              'aws:SourceAccount': LOCAL_ACCOUNT,
              'aws:SourceArn': `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule-group/${LOCAL_EXPORT_SCHEDULE_GROUP}`,
            },
          },
        })
      : sqsClient;
    const scheduler = await startLocalScheduler({ port: schedulerPort, sqs: schedulerSqs, clock: options.schedulerClock, log });
    stopping.push(() => scheduler.stop());
    process.env.AWS_ENDPOINT_URL_SCHEDULER = scheduler.url;
    const schedulerClient = new SchedulerClient({ endpoint: scheduler.url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    await schedulerClient.send(new CreateScheduleGroupCommand({ Name: LOCAL_EXPORT_SCHEDULE_GROUP }));
    schedulerClient.destroy();

    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const webUrl = `http://127.0.0.1:${webPort}`;
    const wsUrl = `ws://127.0.0.1:${wsPort}/${webSocketStageName}`;
    const allowedOrigins = [webUrl, `http://localhost:${webPort}`];
    const issuer = await createLocalIssuer(httpUrl, LOCAL_AUDIENCE);
    const settings = encodeSettings({
      allowedOrigins,
      ticketTtlSeconds: TICKET_TTL_SECONDS,
      connectionTtlSeconds: CONNECTION_TTL_SECONDS,
      tenantClaim: 'tenant',
      rolesClaim: 'roles',
      webSocketUrl: wsUrl,
      notificationRetentionDays: 30,
      emailSender: LOCAL_EMAIL_SENDER,
      emailConfigurationSet: LOCAL_EMAIL_CONFIGURATION_SET,
      exportRetentionDays,
      exportRecords: LOCAL_EXPORT_RECORDS,
      exportRecipientDomains: LOCAL_EXPORT_RECIPIENT_DOMAINS,
      exportScheduleGroup: LOCAL_EXPORT_SCHEDULE_GROUP,
      // The stack's scheduler role as the template names it, so iam:PassRole is checked against it.
      exportSchedulerRoleArn: iam?.schedulerRole.roleArn ?? `arn:aws:iam::${LOCAL_ACCOUNT}:role/herald-local-scheduler`,
      exportQueueArn: queues.exports.arn,
      exportDeadLetterQueueArn: queues.exports.dlqArn,
      // Deployed, a Secrets Manager secret the stack generates; locally a key made for this run,
      // so links from an earlier run stop working, as they would after a key change.
      exportLinkKey: `key:${(options.exportLinkKeys ?? [randomBytes(32)]).map((key) => key.toString('base64')).join(',')}`,
      httpApiUrl: httpUrl,
      ...REALTIME_LIMIT_DEFAULTS,
      recordCollections: LOCAL_RECORD_COLLECTIONS,
      recordRetentionDays: LOCAL_RECORD_RETENTION_DAYS,
    });
    const queueUrls = Object.fromEntries(Object.entries(queues as Record<string, { url: string }>).map(([name, queue]) => [name, queue.url])) as Record<
      QueueName,
      string
    >;
    const functions = await loadFunctions(
      REPO_ROOT,
      (spec) =>
        functionEnvironment(spec, { tableNames, queueUrls, bucketNames, connectionsEndpoint: `http://127.0.0.1:${wsPort}/${webSocketStageName}`, settings }),
      iam?.enforcement,
    );
    // Lambda's event-source mappings read streams and queues, and send on-failure records, as the function's role.
    const asEventSource = <C extends object>(client: C, fn: LocalFunction, operations: readonly string[]): C =>
      iam ? iam.enforcement.clientActingAs(client, fn.name, iam.enforcement.functionRole(fn.name), { operations }) : client;

    // Each function joins its trigger: a route, the $connect authorizer, or an event-source poller
    // (Lambda's event-source mappings: the same handler fed by a stream or a queue).
    const webSocketRoutes = new Map<string, WebSocketRoute>();
    const httpRoutes: HttpRoute[] = [];
    const eventSources: ServedEventSource[] = [];
    let authorizer: { function: LocalFunction; identitySource: readonly string[] } | undefined;
    const pollerLogger = { warn: (...parts: unknown[]) => log(parts.map(String).join(' ')), error: (...parts: unknown[]) => log(parts.map(String).join(' ')) };
    for (const fn of functions.values()) {
      const trigger = fn.spec.trigger;
      switch (trigger.kind) {
        case 'websocket':
          webSocketRoutes.set(trigger.route, { function: fn, returnResponse: trigger.returnResponse ?? false });
          break;
        case 'websocket-authorizer':
          authorizer = { function: fn, identitySource: trigger.identitySource };
          break;
        case 'http':
          httpRoutes.push({ method: trigger.method, path: trigger.path, auth: trigger.auth, function: fn });
          break;
        case 'stream': {
          const settings = {
            batchSize: trigger.batchSize,
            retryAttempts: trigger.retryAttempts,
            maxRecordAgeSeconds: trigger.maxRecordAgeSeconds,
            bisectBatchOnError: trigger.bisectBatchOnError,
            filterPatterns: trigger.filterPatterns,
            startingPosition: trigger.startingPosition,
            reportBatchItemFailures: true,
          };
          const onFailureQueueUrl = failureQueueUrls[trigger.onFailure];
          const poller = await startStreamPoller({
            dynamodb: dynamoClient,
            streams: asEventSource(streamsClient, fn, STREAM_MAPPING_OPERATIONS),
            tableName: tableNames[trigger.table],
            handler: fn.invoke,
            functionName: fn.physicalName,
            ...settings,
            onFailure: { sqs: asEventSource(sqsClient, fn, ['SendMessageCommand']), queueUrl: onFailureQueueUrl },
            logger: pollerLogger,
          });
          stopping.push(() => poller.stop());
          eventSources.push({ source: `stream:${trigger.table}`, function: fn.name, reads: poller.streamArn, ...settings, onFailureQueueUrl });
          break;
        }
        case 'queue': {
          const deadLetter = trigger.from === 'deadLetter';
          const settings = {
            batchSize: trigger.batchSize,
            reportBatchItemFailures: true,
            ...(trigger.maxConcurrency !== undefined && { maxConcurrency: trigger.maxConcurrency }),
          };
          const poller = await startSqsPoller({
            sqs: asEventSource(sqsClient, fn, QUEUE_MAPPING_OPERATIONS),
            queueUrl: deadLetter ? queues[trigger.queue].dlqUrl : queueUrls[trigger.queue],
            handler: fn.invoke,
            functionName: fn.physicalName,
            ...settings,
            logger: pollerLogger,
          });
          stopping.push(() => poller.stop());
          eventSources.push({ source: `queue:${trigger.queue}${deadLetter ? ':deadLetter' : ''}`, function: fn.name, reads: poller.queueArn, ...settings });
          break;
        }
        case 'secretRotation':
          // No Secrets Manager here (the link key is a key:<base64> setting): the function is loaded
          // but nothing invokes it; its steps are tested against an in-memory Secrets Manager
          // (test/unit/link-key-rotation.test.ts, docs/exports.md "Download links").
          break;
      }
    }

    const gateway = await startWebSocketGateway({
      port: wsPort,
      stage: webSocketStageName,
      apiId: LOCAL_WEBSOCKET_API_ID,
      routes: webSocketRoutes,
      authorizer,
      idleTimeoutMs: options.idleTimeoutMs,
      maxDurationMs: options.maxDurationMs,
      log,
    });
    stopping.push(() => gateway.stop());
    const httpApi = await startHttpApi({ port: httpPort, apiId: LOCAL_HTTP_API_ID, routes: httpRoutes, issuer, allowedOrigins, log });
    stopping.push(() => httpApi.stop());
    const web = await startWebServer({ port: webPort, root: join(REPO_ROOT, 'web'), config: { httpUrl, wsUrl } });
    stopping.push(() => web.stop());

    return {
      urls: {
        httpUrl,
        wsUrl,
        webUrl: web.url,
        mailUrl: ses.url,
        dynamodbUrl: dynamodb.url,
        s3Url: fauxqs.url,
        sqsUrl: fauxqs.url,
        schedulerUrl: scheduler.url,
      },
      served: { webSocketRoutes: gateway.routeKeys, httpRoutes: httpApi.routeKeys, eventSources },
      iam: iam?.enforcement,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** What Lambda's stream event-source mapping calls as the function's role (the poller's other lookups are the emulator's own). */
const STREAM_MAPPING_OPERATIONS = ['DescribeStreamCommand', 'GetShardIteratorCommand', 'GetRecordsCommand', 'ListStreamsCommand'];
/** What Lambda's SQS event-source mapping calls as the function's role. */
const QUEUE_MAPPING_OPERATIONS = [
  'ReceiveMessageCommand',
  'DeleteMessageBatchCommand',
  'DeleteMessageCommand',
  'ChangeMessageVisibilityCommand',
  'ChangeMessageVisibilityBatchCommand',
];

/**
 * The settings the local stack is synthesized with: the local runtime's own, so the roles match
 * what runs here. cdk.json's deploy-only choices (the account's API Gateway role, the sender's
 * domain identity, bucket auto-delete) are set back to their defaults: they add no function
 * permission, and a deployer's values for them must not stop `npm start`.
 */
function localStackContext(): Record<string, unknown> {
  return {
    stackName: LOCAL_STACK_NAME,
    emailSender: LOCAL_EMAIL_SENDER,
    // Alarms grant no function anything; the stack needs a target to synthesize at all.
    alarmEmail: 'alarms@herald.local',
    alarmTopicArn: '',
    exportRecords: LOCAL_EXPORT_RECORDS,
    exportRecipientDomains: LOCAL_EXPORT_RECIPIENT_DOMAINS,
    recordCollections: LOCAL_RECORD_COLLECTIONS,
    recordRetentionDays: LOCAL_RECORD_RETENTION_DAYS,
    createApiGatewayAccountRole: false,
    emailIdentityDomain: '',
    createEmailIdentity: true,
    exportsBucketAutoDelete: false,
  };
}

/**
 * Resolves the synthesized template's roles against the resources just created, and starts
 * authorizing every call functions make (lib/local/iam/).
 */
async function startIamEnforcement(
  synthesized: SynthesizedStack,
  local: {
    dynamodb: DynamoDBClient;
    sqs: SQSClient;
    tableNames: Record<TableName, string>;
    queues: Awaited<ReturnType<typeof createQueues>>;
    failureQueueUrls: Awaited<ReturnType<typeof createFailureQueues>>;
    bucketNames: Record<string, string>;
    connectionsHost: string;
    usageFile: string | undefined;
    log: (message: string) => void;
  },
): Promise<{ enforcement: IamEnforcement; schedulerRole: RoleIam }> {
  if (synthesized.exportScheduleGroup !== LOCAL_EXPORT_SCHEDULE_GROUP) {
    throw new Error(
      `The synthesized schedule group is ${synthesized.exportScheduleGroup}, not ${LOCAL_EXPORT_SCHEDULE_GROUP}: lib/local/runtime.ts and the stack disagree on names`,
    );
  }
  const tables: Record<string, { name: string; streamArn?: string }> = {};
  for (const [table, name] of Object.entries(local.tableNames) as Array<[TableName, string]>) {
    const spec: TableSpec = tableSpecs[table];
    const streamArn = spec.stream
      ? arnInRegion((await local.dynamodb.send(new DescribeTableCommand({ TableName: name }))).Table?.LatestStreamArn ?? '')
      : undefined;
    tables[table] = { name, streamArn };
  }
  const failureQueues: Record<string, { url: string; arn: string }> = {};
  for (const [name, url] of Object.entries(local.failureQueueUrls)) failureQueues[name] = { url, arn: await queueArn(local.sqs, url) };
  const resources: LocalResources = {
    region: LOCAL_REGION,
    account: LOCAL_ACCOUNT,
    tables,
    queues: Object.fromEntries(Object.entries(local.queues).map(([name, queue]) => [name, { url: queue.url, arn: queue.arn }])),
    deadLetterQueues: Object.fromEntries(Object.entries(local.queues).map(([name, queue]) => [name, { url: queue.dlqUrl, arn: queue.dlqArn }])),
    failureQueues,
    buckets: local.bucketNames,
    webSocketApiId: LOCAL_WEBSOCKET_API_ID,
    httpApiId: LOCAL_HTTP_API_ID,
    functionName: localFunctionName,
  };
  const iam = templateIam(synthesized, resources);
  const enforcement = new IamEnforcement({
    iam,
    region: LOCAL_REGION,
    account: LOCAL_ACCOUNT,
    apiIdsByHost: { [local.connectionsHost]: LOCAL_WEBSOCKET_API_ID },
    usageFile: local.usageFile,
    log: local.log,
  });
  return { enforcement, schedulerRole: iam.exportSchedulerRole };
}
