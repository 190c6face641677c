/**
 * What AWS authorizes for one SDK call: the IAM action(s), the resource ARN(s) and the condition
 * keys the service sets. AWS derives these from the request on its side; locally this table does,
 * so the simulator (./simulator.ts) can decide as AWS would. An operation this table does not know
 * is refused rather than let through unchecked: add it here (docs/local-iam.md).
 */
import { arnInRegion } from '../aws-local';
import type { AuthorizationRequest } from './simulator';

/** Where a call goes and who signs it, as the middleware sees it. */
export interface CallTarget {
  readonly region: string;
  readonly account: string;
  /** The HTTP request after serialization (host and path name the @connections API and connection). */
  readonly host: string;
  readonly path: string;
}

export interface SdkCall {
  /** The SDK's client name, e.g. `DynamoDBClient`. */
  readonly clientName: string;
  /** The SDK's command name, e.g. `PutItemCommand`. */
  readonly commandName: string;
  readonly input: Record<string, any>;
  readonly target: CallTarget;
}

export interface RequestContext {
  /** The API id behind a local @connections endpoint (`host:port`); deployed it is the host's first label. */
  apiIdOfHost(host: string): string | undefined;
  /** The stream a shard iterator was issued for; DynamoDB names the stream only when issuing it. */
  streamOfIterator(iterator: string): string | undefined;
  /** The SES identity (an address or a domain) that a From address sends as. */
  sesIdentityOf(address: string): string;
}

export class UnmappedOperationError extends Error {
  override name = 'UnmappedOperationError';
}

type Mapper = (call: SdkCall, context: RequestContext) => AuthorizationRequest[];

const dynamoTableArn = (call: SdkCall, table: string, index?: string) =>
  `arn:aws:dynamodb:${call.target.region}:${call.target.account}:table/${table}${index ? `/index/${index}` : ''}`;

/** DynamoDB operations on one table (and, for Query and Scan, possibly one of its indexes). */
const dynamoSingle =
  (action: string): Mapper =>
  (call) => [{ action: `dynamodb:${action}`, resource: dynamoTableArn(call, call.input.TableName, call.input.IndexName) }];

/** Batch operations are authorized per table they name. */
const dynamoBatch =
  (action: string): Mapper =>
  (call) =>
    Object.keys(call.input.RequestItems ?? {}).map((table) => ({ action: `dynamodb:${action}`, resource: dynamoTableArn(call, table) }));

/** A transaction is authorized item by item, each as the single-item action it performs. */
const transactItemActions: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
  Get: 'GetItem',
};
const dynamoTransact: Mapper = (call) =>
  (call.input.TransactItems as Array<Record<string, { TableName: string }>>).flatMap((item) =>
    Object.entries(item).map(([kind, operation]) => {
      const action = transactItemActions[kind];
      if (!action) throw new UnmappedOperationError(`TransactItems entry ${kind} is not mapped`);
      return { action: `dynamodb:${action}`, resource: dynamoTableArn(call, operation.TableName) };
    }),
  );

const streamOperation =
  (action: string, streamArnOf: (call: SdkCall, context: RequestContext) => string | undefined): Mapper =>
  (call, context) => {
    const stream = streamArnOf(call, context);
    if (!stream) throw new UnmappedOperationError(`dynamodb:${action} names no stream this runtime issued an iterator for`);
    return [{ action: `dynamodb:${action}`, resource: arnInRegion(stream, call.target.region) }];
  };

const queueArn = (call: SdkCall, queueUrl: string) => {
  const name = new URL(queueUrl).pathname.split('/').filter(Boolean).at(-1);
  return `arn:aws:sqs:${call.target.region}:${call.target.account}:${name}`;
};
const sqs =
  (action: string): Mapper =>
  (call) => [{ action: `sqs:${action}`, resource: queueArn(call, call.input.QueueUrl) }];

const s3Object =
  (action: string): Mapper =>
  (call) => [{ action: `s3:${action}`, resource: `arn:aws:s3:::${call.input.Bucket}/${call.input.Key}` }];
const s3Bucket =
  (action: string): Mapper =>
  (call) => [{ action: `s3:${action}`, resource: `arn:aws:s3:::${call.input.Bucket}` }];

const scheduleArn = (call: SdkCall) =>
  `arn:aws:scheduler:${call.target.region}:${call.target.account}:schedule/${call.input.GroupName ?? 'default'}/${call.input.Name}`;
/** Writing a schedule with a target role also passes that role to Scheduler. */
const scheduleWrite =
  (action: string): Mapper =>
  (call) => [
    { action: `scheduler:${action}`, resource: scheduleArn(call) },
    ...(call.input.Target?.RoleArn
      ? [{ action: 'iam:PassRole', resource: call.input.Target.RoleArn as string, context: { 'iam:PassedToService': 'scheduler.amazonaws.com' } }]
      : []),
  ];

/** `Name <a@b.c>` or `a@b.c` to `a@b.c`. */
const bareAddress = (source: string) => /<([^>]+)>\s*$/.exec(source)?.[1] ?? source.trim();

/**
 * SES SendEmail: authorized against the identity the From address sends as, with its condition
 * keys, and, when the send names a configuration set, against that configuration set too (the
 * Service Authorization Reference lists `configuration-set` among SendEmail's resource types; AWS
 * refuses a send through a configuration set the caller may not use).
 */
const sesSend =
  (action: string): Mapper =>
  (call, context) => {
    const from = bareAddress(call.input.Source ?? call.input.FromEmailAddress ?? '');
    const destination = call.input.Destination ?? {};
    const recipients = [...(destination.ToAddresses ?? []), ...(destination.CcAddresses ?? []), ...(destination.BccAddresses ?? [])].map(bareAddress);
    const conditions = { 'ses:FromAddress': from, 'ses:Recipients': recipients, 'ses:ApiVersion': call.clientName === 'SESv2Client' ? '2' : '1' };
    const arn = (resource: string) => `arn:aws:ses:${call.target.region}:${call.target.account}:${resource}`;
    const configurationSet: string | undefined = call.input.ConfigurationSetName;
    return [
      { action: `ses:${action}`, resource: arn(`identity/${context.sesIdentityOf(from)}`), context: conditions },
      ...(configurationSet ? [{ action: `ses:${action}`, resource: arn(`configuration-set/${configurationSet}`), context: conditions }] : []),
    ];
  };

/** The @connections API: execute-api:ManageConnections on `<api>/<stage>/<METHOD>/@connections/<id>`. */
const manageConnection =
  (method: string): Mapper =>
  (call, context) => {
    const apiId = context.apiIdOfHost(call.target.host) ?? call.target.host.split('.')[0];
    const match = /^\/(?<stage>[^/]+)\/@connections\/(?<id>[^/]+)$/.exec(call.target.path);
    if (!apiId || !match?.groups) throw new UnmappedOperationError(`@connections call to ${call.target.host}${call.target.path} names no API and connection`);
    return [
      {
        action: 'execute-api:ManageConnections',
        resource: `arn:aws:execute-api:${call.target.region}:${call.target.account}:${apiId}/${match.groups.stage}/${method}/@connections/${decodeURIComponent(match.groups.id!)}`,
      },
    ];
  };

const mappers: Record<string, Record<string, Mapper>> = {
  DynamoDBClient: {
    GetItemCommand: dynamoSingle('GetItem'),
    PutItemCommand: dynamoSingle('PutItem'),
    UpdateItemCommand: dynamoSingle('UpdateItem'),
    DeleteItemCommand: dynamoSingle('DeleteItem'),
    QueryCommand: dynamoSingle('Query'),
    ScanCommand: dynamoSingle('Scan'),
    DescribeTableCommand: dynamoSingle('DescribeTable'),
    BatchGetItemCommand: dynamoBatch('BatchGetItem'),
    BatchWriteItemCommand: dynamoBatch('BatchWriteItem'),
    TransactWriteItemsCommand: dynamoTransact,
    TransactGetItemsCommand: dynamoTransact,
  },
  DynamoDBStreamsClient: {
    DescribeStreamCommand: streamOperation('DescribeStream', (call) => call.input.StreamArn),
    GetShardIteratorCommand: streamOperation('GetShardIterator', (call) => call.input.StreamArn),
    GetRecordsCommand: streamOperation('GetRecords', (call, context) => context.streamOfIterator(call.input.ShardIterator)),
    // ListStreams supports no resource-level permission.
    ListStreamsCommand: () => [{ action: 'dynamodb:ListStreams', resource: '*' }],
  },
  SQSClient: {
    SendMessageCommand: sqs('SendMessage'),
    SendMessageBatchCommand: sqs('SendMessage'),
    ReceiveMessageCommand: sqs('ReceiveMessage'),
    DeleteMessageCommand: sqs('DeleteMessage'),
    DeleteMessageBatchCommand: sqs('DeleteMessage'),
    ChangeMessageVisibilityCommand: sqs('ChangeMessageVisibility'),
    ChangeMessageVisibilityBatchCommand: sqs('ChangeMessageVisibility'),
    GetQueueAttributesCommand: sqs('GetQueueAttributes'),
  },
  S3Client: {
    GetObjectCommand: s3Object('GetObject'),
    HeadObjectCommand: s3Object('GetObject'),
    PutObjectCommand: s3Object('PutObject'),
    // Multipart uploads are authorized as the PutObject they build up to.
    CreateMultipartUploadCommand: s3Object('PutObject'),
    UploadPartCommand: s3Object('PutObject'),
    CompleteMultipartUploadCommand: s3Object('PutObject'),
    AbortMultipartUploadCommand: s3Object('AbortMultipartUpload'),
    DeleteObjectCommand: s3Object('DeleteObject'),
    ListObjectsV2Command: s3Bucket('ListBucket'),
  },
  SESClient: { SendEmailCommand: sesSend('SendEmail'), SendRawEmailCommand: sesSend('SendRawEmail') },
  SESv2Client: { SendEmailCommand: sesSend('SendEmail') },
  SchedulerClient: {
    CreateScheduleCommand: scheduleWrite('CreateSchedule'),
    UpdateScheduleCommand: scheduleWrite('UpdateSchedule'),
    DeleteScheduleCommand: (call) => [{ action: 'scheduler:DeleteSchedule', resource: scheduleArn(call) }],
    GetScheduleCommand: (call) => [{ action: 'scheduler:GetSchedule', resource: scheduleArn(call) }],
  },
  SecretsManagerClient: {
    GetSecretValueCommand: (call) => [{ action: 'secretsmanager:GetSecretValue', resource: call.input.SecretId }],
    // The link key's rotation function; no emulator answers these locally, but a call is still checked against its role.
    DescribeSecretCommand: (call) => [{ action: 'secretsmanager:DescribeSecret', resource: call.input.SecretId }],
    PutSecretValueCommand: (call) => [{ action: 'secretsmanager:PutSecretValue', resource: call.input.SecretId }],
    UpdateSecretVersionStageCommand: (call) => [{ action: 'secretsmanager:UpdateSecretVersionStage', resource: call.input.SecretId }],
  },
  ApiGatewayManagementApiClient: {
    PostToConnectionCommand: manageConnection('POST'),
    GetConnectionCommand: manageConnection('GET'),
    DeleteConnectionCommand: manageConnection('DELETE'),
  },
};

/** The requests AWS would authorize for `call`; throws UnmappedOperationError for an operation not in the table. */
export function authorizationRequests(call: SdkCall, context: RequestContext): AuthorizationRequest[] {
  const mapper = mappers[call.clientName]?.[call.commandName];
  if (!mapper) throw new UnmappedOperationError(`${call.clientName} ${call.commandName} has no IAM mapping in lib/local/iam/sdk-requests.ts`);
  return mapper(call, context);
}
