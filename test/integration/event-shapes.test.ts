import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { APIGatewayProxyEventV2Schema, APIGatewayProxyWebsocketEventSchema, DynamoDBStreamSchema, SqsSchema } from '@aws-lambda-powertools/parser/schemas';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { z } from 'zod';
import type { FunctionName, FunctionSpec } from '#lib/description';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { startHttpApi, type HttpApi } from '#lib/local/http-api';
import { createLocalIssuer } from '#lib/local/issuer';
import type { LocalFunction } from '#lib/local/lambda-host';
import { createQueueWithDlq, createTable } from '#lib/local/resources';
import { startSqsPoller, type SqsPoller } from '#lib/local/sqs-poller';
import { startStreamPoller, type StreamPoller } from '#lib/local/stream-poller';
import { startWebSocketGateway, type WebSocketGateway } from '#lib/local/websocket-gateway';
import { eventually, TestSocket } from '../support/local';

/**
 * A regression guard on the shape of every event the local runtime hands a function: each is
 * captured where the emulator builds it (gateway, HTTP API, pollers started here with capturing
 * functions) and parsed with Powertools' schema for that event. Where Powertools has none, the
 * documented fields are checked by a schema written here, built on Powertools' pieces.
 */

/** API Gateway's `requestTime` / `time`: `09/Apr/2015:12:34:56 +0000`. */
const REQUEST_TIME = /^\d{2}\/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/;
const TRACE_ID = /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/;
const silent = { warn: () => undefined, error: () => undefined };

/** The events each capturing function received, serialised as Lambda would hand them over. */
const captured = new Map<string, unknown[]>();
function capturing(name: string, answer: (event: any) => unknown = () => ({ statusCode: 200 })): LocalFunction {
  return {
    name: name as FunctionName,
    physicalName: `shapes-${name}`,
    spec: {} as FunctionSpec,
    async invoke(event) {
      const copy = JSON.parse(JSON.stringify(event)) as unknown;
      captured.set(name, [...(captured.get(name) ?? []), copy]);
      return answer(copy);
    },
  };
}
const eventsOf = (name: string): any[] => captured.get(name) ?? [];
const firstEventOf = (name: string) => eventually(async () => eventsOf(name)[0]);

/** Validates with a schema, failing with zod's account of every issue. */
function expectShape(schema: z.ZodType, event: unknown): void {
  const result = schema.safeParse(event);
  expect(result.success ? 'valid' : JSON.stringify(result.error.issues, null, 1)).toBe('valid');
}

describe('WebSocket API events', () => {
  let gateway: WebSocketGateway;
  let host: string;
  let connectionId: string;

  beforeAll(async () => {
    gateway = await startWebSocketGateway({
      port: 0,
      stage: 'live',
      apiId: 'shapes-ws',
      routes: new Map([
        ['$connect', { function: capturing('connect'), returnResponse: false }],
        ['$disconnect', { function: capturing('disconnect'), returnResponse: false }],
        ['$default', { function: capturing('default', () => ({ statusCode: 200, body: 'default' })), returnResponse: true }],
        ['echo', { function: capturing('echo', () => ({ statusCode: 200, body: 'echo' })), returnResponse: true }],
      ]),
      authorizer: {
        function: capturing('authorizer', () => ({
          principalId: 'ana',
          policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: '*' }] },
          context: { tenant: 'acme' },
        })),
        identitySource: ['route.request.querystring.ticket'],
      },
    });
    // By name, so the events' domainName shows the host the client used rather than the listening address.
    const url = new URL(gateway.url.replace('127.0.0.1', 'localhost'));
    host = url.host;
    const socket = await TestSocket.open(`${url.href}?ticket=t-1`, { 'user-agent': 'shapes/1.0', 'x-forwarded-for': '203.0.113.9' });
    socket.send({ action: 'echo' });
    await socket.waitFor((frame) => frame === 'echo');
    socket.send('not json');
    await socket.waitFor((frame) => frame === 'default');
    await socket.close();
    connectionId = (await firstEventOf('disconnect')).requestContext.connectionId;
  });
  afterAll(() => gateway?.stop());

  /** What every WebSocket event's requestContext carries, as Powertools reads it for the authorizer. */
  const requestContext = APIGatewayProxyWebsocketEventSchema.shape.requestContext;
  const headerRecord = z.record(z.string(), z.string());
  const multiValueHeaderRecord = z.record(z.string(), z.array(z.string()));

  function expectCommonContext(event: any, eventType: string, routeKey: string): void {
    expect(event.requestContext).toMatchObject({
      eventType,
      routeKey,
      connectionId,
      apiId: 'shapes-ws',
      stage: 'live',
      messageDirection: 'IN',
      // Locally the host the client connected to (docs/local.md), where AWS has <apiId>.execute-api.<region>.amazonaws.com.
      domainName: host,
      identity: { sourceIp: '127.0.0.1', userAgent: 'shapes/1.0' },
    });
    expect(event.requestContext.requestTime).toMatch(REQUEST_TIME);
    expect(typeof event.requestContext.requestTimeEpoch).toBe('number');
    // Same instant, in both of its forms (requestTime has whole seconds).
    expect(Math.floor(event.requestContext.requestTimeEpoch / 1000) * 1000).toBe(
      Date.parse(event.requestContext.requestTime.replace(/^(\d+)\/(\w+)\/(\d+):/, '$2 $1 $3 ').replace(' +0000', ' GMT')),
    );
  }

  function expectForwardingHeaders(event: any): void {
    const expected = {
      'X-Forwarded-For': '203.0.113.9, 127.0.0.1',
      'X-Forwarded-Port': host.split(':')[1],
      'X-Forwarded-Proto': 'http',
    };
    expect(event.headers).toMatchObject({ ...expected, Host: host, 'X-Amzn-Trace-Id': expect.stringMatching(TRACE_ID) });
    for (const [name, value] of Object.entries(expected)) expect(event.multiValueHeaders[name]).toEqual([value]);
    expect(event.multiValueHeaders['X-Amzn-Trace-Id']).toEqual([event.headers['X-Amzn-Trace-Id']]);
    // Replaced, not doubled: the client's own spelling is gone.
    expect(event.headers).not.toHaveProperty('x-forwarded-for');
  }

  it('REQUEST authorizer on $connect: APIGatewayProxyWebsocketEventSchema', async () => {
    const event = await firstEventOf('authorizer');
    expectShape(APIGatewayProxyWebsocketEventSchema, event);
    expect(event).toMatchObject({
      type: 'REQUEST',
      methodArn: `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT}:shapes-ws/live/$connect`,
      queryStringParameters: { ticket: 't-1' },
      multiValueQueryStringParameters: { ticket: ['t-1'] },
      isBase64Encoded: false,
    });
    expectCommonContext(event, 'CONNECT', '$connect');
    expectForwardingHeaders(event);
  });

  it('$connect: no Powertools schema (its WebSocket schema is the authorizer’s); the same request without type and methodArn', async () => {
    const event = await firstEventOf('connect');
    expectShape(APIGatewayProxyWebsocketEventSchema.omit({ type: true, methodArn: true }), event);
    expect(event).not.toHaveProperty('type');
    expect(event).toMatchObject({ isBase64Encoded: false, requestContext: { authorizer: { tenant: 'acme', principalId: 'ana' } } });
    expectCommonContext(event, 'CONNECT', '$connect');
    expectForwardingHeaders(event);
    expect(event.requestContext.connectedAt).toBe((await firstEventOf('authorizer')).requestContext.connectedAt);
  });

  it('message routes: no Powertools schema; a body and the requestContext with a messageId, no headers', async () => {
    const schema = z.object({
      requestContext: requestContext.extend({ messageId: z.string(), eventType: z.literal('MESSAGE'), authorizer: z.record(z.string(), z.unknown()) }),
      body: z.string(),
      isBase64Encoded: z.literal(false),
    });
    for (const [name, body] of [
      ['echo', '{"action":"echo"}'],
      ['default', 'not json'],
    ] as const) {
      const event = eventsOf(name)[0];
      expectShape(schema, event);
      expect(event).toMatchObject({ body, isBase64Encoded: false });
      expect(event).not.toHaveProperty('headers');
      expectCommonContext(event, 'MESSAGE', name === 'echo' ? 'echo' : '$default');
    }
  });

  it('$disconnect: no Powertools schema; API Gateway’s reduced header set, the close code and reason', async () => {
    const event = await firstEventOf('disconnect');
    const schema = z.object({
      headers: headerRecord,
      multiValueHeaders: multiValueHeaderRecord,
      requestContext: requestContext.extend({ eventType: z.literal('DISCONNECT'), disconnectStatusCode: z.number(), disconnectReason: z.string() }),
      isBase64Encoded: z.literal(false),
    });
    expectShape(schema, event);
    expect(event.headers).toEqual({ Host: host, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' });
    expect(event.multiValueHeaders).toEqual({ Host: [host], 'x-api-key': [''], 'X-Forwarded-For': [''], 'x-restapi': [''] });
    expect(event.requestContext).toMatchObject({ disconnectStatusCode: 1000, disconnectReason: 'done', authorizer: { tenant: 'acme' } });
    expectCommonContext(event, 'DISCONNECT', '$disconnect');
  });
});

describe('HTTP API events (payload format 2.0)', () => {
  let api: HttpApi;
  let token: string;

  beforeAll(async () => {
    const issuer = await createLocalIssuer('https://issuer.shapes.test', 'shapes');
    api = await startHttpApi({
      port: 0,
      apiId: 'shapes-http',
      issuer,
      allowedOrigins: [],
      routes: [
        { method: 'POST', path: '/things/{id}', auth: 'jwt', function: capturing('jwtRoute') },
        { method: 'GET', path: '/open', auth: 'none', function: capturing('openRoute') },
      ],
    });
    token = await issuer.sign({ tenant: 'acme', user: 'ana', roles: ['admin', 'publisher'] });
    const withJwt = await fetch(`${api.url}/things/t%201?verbose=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(withJwt.status).toBe(200);
    const open = await fetch(`${api.url.replace('127.0.0.1', 'localhost')}/open`, {
      headers: { 'x-amzn-trace-id': 'Root=1-00000000-000000000000000000000001' },
    });
    expect(open.status).toBe(200);
  });
  afterAll(() => api?.stop());

  function expectApiGatewayFields(event: any, host: string): void {
    expect(event.requestContext.time).toMatch(REQUEST_TIME);
    expect(typeof event.requestContext.timeEpoch).toBe('number');
    expect(event.requestContext.domainName).toBe(host);
    expect(event.requestContext.domainPrefix).toBe(host.split(/[.:]/)[0]);
    expect(event.headers).toMatchObject({
      host,
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-port': host.split(':')[1],
      'x-forwarded-proto': 'http',
      'x-amzn-trace-id': expect.stringMatching(TRACE_ID),
    });
  }

  it('with the JWT authorizer: APIGatewayProxyEventV2Schema, claims flattened to strings', async () => {
    const event = await firstEventOf('jwtRoute');
    expectShape(APIGatewayProxyEventV2Schema, event);
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /things/{id}',
      rawPath: '/things/t%201',
      rawQueryString: 'verbose=1',
      pathParameters: { id: 't 1' },
      queryStringParameters: { verbose: '1' },
      body: '{"a":1}',
      isBase64Encoded: false,
      requestContext: { apiId: 'shapes-http', stage: '$default', http: { method: 'POST', sourceIp: '127.0.0.1' } },
    });
    expect(event.requestContext.authorizer.jwt.claims).toMatchObject({ sub: 'ana', tenant: 'acme', roles: '[admin publisher]' });
    expectApiGatewayFields(event, new URL(api.url).host);
  });

  it('without an authorizer: APIGatewayProxyEventV2Schema, no authorizer, the client’s trace id kept', async () => {
    const event = await firstEventOf('openRoute');
    expectShape(APIGatewayProxyEventV2Schema, event);
    expect(event.requestContext).not.toHaveProperty('authorizer');
    expect(event.headers['x-amzn-trace-id']).toBe('Root=1-00000000-000000000000000000000001');
    expectApiGatewayFields(event, new URL(api.url).host.replace('127.0.0.1', 'localhost'));
    expect(event.requestContext.domainPrefix).toBe('localhost');
  });
});

describe('event-source mapping events', () => {
  let dynamodb: DynamoDBClient;
  let streams: DynamoDBStreamsClient;
  let sqs: SQSClient;
  const pollers: Array<StreamPoller | SqsPoller> = [];
  const suffix = Date.now().toString(36);

  beforeAll(() => {
    const { dynamodbUrl, sqsUrl } = inject('localUrls');
    const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
    dynamodb = new DynamoDBClient({ ...local, endpoint: dynamodbUrl });
    streams = new DynamoDBStreamsClient({ ...local, endpoint: dynamodbUrl });
    sqs = new SQSClient({ ...local, endpoint: sqsUrl, useQueueUrlAsEndpoint: false });
  });
  afterAll(async () => {
    await Promise.all(pollers.map((poller) => poller.stop()));
    for (const client of [dynamodb, streams, sqs]) client?.destroy();
  });

  it('DynamoDB Streams batch: DynamoDBStreamSchema, the stream ARN in the local region', async () => {
    const table = `shapes-${suffix}`;
    await createTable(dynamodb, table, { envVar: 'UNUSED', partitionKey: { name: 'pk', type: 'S' }, stream: 'NEW_AND_OLD_IMAGES' });
    const handler = capturing('stream');
    const poller = await startStreamPoller({ dynamodb, streams, tableName: table, handler: handler.invoke, logger: silent, pollIntervalMs: 50 });
    pollers.push(poller);
    await dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'a' }, n: { N: '1' }, blob: { B: new Uint8Array([1]) } } }));
    await dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'a' }, n: { N: '2' } } }));
    await poller.drain();

    const event = await firstEventOf('stream');
    expectShape(DynamoDBStreamSchema, event);
    const records = eventsOf('stream').flatMap((batch) => batch.Records);
    expect(records.map((record: any) => record.eventName)).toEqual(['INSERT', 'MODIFY']);
    for (const record of records) {
      expect(record).toMatchObject({ awsRegion: LOCAL_REGION, eventSource: 'aws:dynamodb' });
      expect(record.eventSourceARN).toMatch(new RegExp(`^arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${table}/stream/`));
    }
  });

  it('SQS batches from a queue and from its DLQ: SqsSchema, DeadLetterQueueSourceArn on the redriven message', async () => {
    const queue = await createQueueWithDlq(sqs, `shapes-${suffix}`, { envVar: 'UNUSED', visibilityTimeoutSeconds: 1, maxReceiveCount: 1 });
    const queueHandler = capturing('queue', () => {
      throw new Error('fails, so the message is redriven');
    });
    const dlqHandler = capturing('deadLetter');
    await sqs.send(
      new SendMessageCommand({ QueueUrl: queue.url, MessageBody: '{"run":"r-1"}', MessageAttributes: { kind: { DataType: 'String', StringValue: 'export' } } }),
    );
    const queuePoller = await startSqsPoller({ sqs, queueUrl: queue.url, handler: queueHandler.invoke, logger: silent, waitTimeSeconds: 1 });
    pollers.push(queuePoller);
    await queuePoller.drain();
    const dlqPoller = await startSqsPoller({ sqs, queueUrl: queue.dlqUrl, handler: dlqHandler.invoke, logger: silent, waitTimeSeconds: 1 });
    pollers.push(dlqPoller);
    await dlqPoller.drain();

    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    const fromQueue = await firstEventOf('queue');
    expectShape(SqsSchema, fromQueue);
    expect(fromQueue.Records[0]).toMatchObject({ eventSourceARN: queue.arn, awsRegion: LOCAL_REGION, messageAttributes: { kind: { stringValue: 'export' } } });
    expect(fromQueue.Records[0].attributes).not.toHaveProperty('DeadLetterQueueSourceArn');

    const fromDlq = await firstEventOf('deadLetter');
    expectShape(SqsSchema, fromDlq);
    expect(fromDlq.Records[0]).toMatchObject({ body: '{"run":"r-1"}', eventSourceARN: dlqArn, attributes: { DeadLetterQueueSourceArn: queue.arn } });
  });
});
