import { describe, expect, it } from 'vitest';
import { authorizationRequests, UnmappedOperationError, type RequestContext, type SdkCall } from '#lib/local/iam/sdk-requests';

const target = { region: 'us-east-1', account: '000000000000', host: 'dynamodb.local', path: '/' };
const context: RequestContext = {
  apiIdOfHost: (host) => (host === '127.0.0.1:4101' ? 'local-ws' : undefined),
  streamOfIterator: (iterator) =>
    iterator === 'it-1' ? 'arn:aws:dynamodb:ddblocal:000000000000:table/herald-alerts/stream/2026-12-01T00:00:00.000' : undefined,
  sesIdentityOf: (address) => (address.endsWith('@example.com') ? 'example.com' : address),
};
const call = (clientName: string, commandName: string, input: Record<string, unknown>, overrides: Partial<SdkCall['target']> = {}): SdkCall => ({
  clientName,
  commandName,
  input,
  target: { ...target, ...overrides },
});
const table = (name: string) => `arn:aws:dynamodb:us-east-1:000000000000:table/${name}`;

describe('what AWS authorizes for an SDK call', () => {
  it('authorizes each item of a transaction as its own action on its own table', () => {
    const requests = authorizationRequests(
      call('DynamoDBClient', 'TransactWriteItemsCommand', {
        TransactItems: [
          { Update: { TableName: 'counters' } },
          { Put: { TableName: 'inbox' } },
          { ConditionCheck: { TableName: 'open' } },
          { Delete: { TableName: 'open' } },
        ],
      }),
      context,
    );
    expect(requests).toEqual([
      { action: 'dynamodb:UpdateItem', resource: table('counters') },
      { action: 'dynamodb:PutItem', resource: table('inbox') },
      { action: 'dynamodb:ConditionCheckItem', resource: table('open') },
      { action: 'dynamodb:DeleteItem', resource: table('open') },
    ]);
  });

  it('authorizes batch reads and writes per table, and a Query on an index against the index ARN', () => {
    expect(authorizationRequests(call('DynamoDBClient', 'BatchGetItemCommand', { RequestItems: { a: {}, b: {} } }), context)).toEqual([
      { action: 'dynamodb:BatchGetItem', resource: table('a') },
      { action: 'dynamodb:BatchGetItem', resource: table('b') },
    ]);
    expect(authorizationRequests(call('DynamoDBClient', 'BatchWriteItemCommand', { RequestItems: { a: [] } }), context)).toEqual([
      { action: 'dynamodb:BatchWriteItem', resource: table('a') },
    ]);
    expect(authorizationRequests(call('DynamoDBClient', 'QueryCommand', { TableName: 'alerts', IndexName: 'byTopic' }), context)).toEqual([
      { action: 'dynamodb:Query', resource: `${table('alerts')}/index/byTopic` },
    ]);
  });

  it('names a stream read by its iterator, in the region AWS would use', () => {
    expect(authorizationRequests(call('DynamoDBStreamsClient', 'GetRecordsCommand', { ShardIterator: 'it-1' }), context)).toEqual([
      { action: 'dynamodb:GetRecords', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/herald-alerts/stream/2026-12-01T00:00:00.000' },
    ]);
    expect(() => authorizationRequests(call('DynamoDBStreamsClient', 'GetRecordsCommand', { ShardIterator: 'unknown' }), context)).toThrow(
      UnmappedOperationError,
    );
  });

  it('authorizes S3 object calls on the object key, multipart parts as PutObject', () => {
    for (const command of ['PutObjectCommand', 'CreateMultipartUploadCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand']) {
      expect(authorizationRequests(call('S3Client', command, { Bucket: 'files', Key: 'acme/ana/run.csv' }), context)).toEqual([
        { action: 's3:PutObject', resource: 'arn:aws:s3:::files/acme/ana/run.csv' },
      ]);
    }
    expect(authorizationRequests(call('S3Client', 'AbortMultipartUploadCommand', { Bucket: 'files', Key: 'k' }), context)[0]!.action).toBe(
      's3:AbortMultipartUpload',
    );
    expect(authorizationRequests(call('S3Client', 'GetObjectCommand', { Bucket: 'files', Key: 'k' }), context)[0]!.action).toBe('s3:GetObject');
  });

  it('authorizes queue calls on the queue ARN named by its URL', () => {
    expect(authorizationRequests(call('SQSClient', 'SendMessageCommand', { QueueUrl: 'http://127.0.0.1:4105/000000000000/herald-exports' }), context)).toEqual([
      { action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:herald-exports' },
    ]);
    expect(authorizationRequests(call('SQSClient', 'DeleteMessageBatchCommand', { QueueUrl: 'http://h/000000000000/q' }), context)[0]!.action).toBe(
      'sqs:DeleteMessage',
    );
  });

  it('authorizes a schedule write on the schedule and passing its role to Scheduler', () => {
    expect(
      authorizationRequests(
        call('SchedulerClient', 'CreateScheduleCommand', {
          Name: 's1',
          GroupName: 'herald-exports',
          Target: { RoleArn: 'arn:aws:iam::000000000000:role/scheduler' },
        }),
        context,
      ),
    ).toEqual([
      { action: 'scheduler:CreateSchedule', resource: 'arn:aws:scheduler:us-east-1:000000000000:schedule/herald-exports/s1' },
      { action: 'iam:PassRole', resource: 'arn:aws:iam::000000000000:role/scheduler', context: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
    ]);
    expect(authorizationRequests(call('SchedulerClient', 'DeleteScheduleCommand', { Name: 's1' }), context)).toEqual([
      { action: 'scheduler:DeleteSchedule', resource: 'arn:aws:scheduler:us-east-1:000000000000:schedule/default/s1' },
    ]);
  });

  it('authorizes SES against the identity the From address sends as, with the From address and every recipient as condition keys', () => {
    expect(
      authorizationRequests(
        call('SESClient', 'SendEmailCommand', {
          Source: 'Herald <herald@example.com>',
          Destination: { ToAddresses: ['a@x.io', 'b@y.io'], BccAddresses: ['c@z.io'] },
        }),
        context,
      ),
    ).toEqual([
      {
        action: 'ses:SendEmail',
        resource: 'arn:aws:ses:us-east-1:000000000000:identity/example.com',
        context: { 'ses:FromAddress': 'herald@example.com', 'ses:Recipients': ['a@x.io', 'b@y.io', 'c@z.io'], 'ses:ApiVersion': '1' },
      },
    ]);
  });

  it('authorizes a send through a configuration set against the configuration set too, with the same condition keys', () => {
    const conditions = { 'ses:FromAddress': 'herald@example.com', 'ses:Recipients': ['a@x.io'], 'ses:ApiVersion': '1' };
    expect(
      authorizationRequests(
        call('SESClient', 'SendEmailCommand', { Source: 'herald@example.com', Destination: { ToAddresses: ['a@x.io'] }, ConfigurationSetName: 'Herald-email' }),
        context,
      ),
    ).toEqual([
      { action: 'ses:SendEmail', resource: 'arn:aws:ses:us-east-1:000000000000:identity/example.com', context: conditions },
      { action: 'ses:SendEmail', resource: 'arn:aws:ses:us-east-1:000000000000:configuration-set/Herald-email', context: conditions },
    ]);
  });

  it('authorizes @connections calls on the API, stage, method and connection', () => {
    expect(
      authorizationRequests(
        call('ApiGatewayManagementApiClient', 'PostToConnectionCommand', {}, { host: '127.0.0.1:4101', path: '/live/@connections/abc%3D' }),
        context,
      ),
    ).toEqual([{ action: 'execute-api:ManageConnections', resource: 'arn:aws:execute-api:us-east-1:000000000000:local-ws/live/POST/@connections/abc=' }]);
    expect(
      authorizationRequests(
        call(
          'ApiGatewayManagementApiClient',
          'DeleteConnectionCommand',
          {},
          { host: 'x1y2.execute-api.us-east-1.amazonaws.com', path: '/live/@connections/c' },
        ),
        context,
      )[0]!.resource,
    ).toBe('arn:aws:execute-api:us-east-1:000000000000:x1y2/live/DELETE/@connections/c');
  });

  it('refuses an operation it has no mapping for, rather than let it through unchecked', () => {
    expect(() => authorizationRequests(call('DynamoDBClient', 'ExecuteStatementCommand', {}), context)).toThrow(/no IAM mapping/);
    expect(() => authorizationRequests(call('KinesisClient', 'PutRecordCommand', {}), context)).toThrow(UnmappedOperationError);
  });
});
