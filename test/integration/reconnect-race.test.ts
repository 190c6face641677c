import { randomUUID } from 'node:crypto';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connectionsApiGateway } from '#functions/adapters/connections-api';
import { dynamoConnectionStore } from '#functions/adapters/dynamo-connection-store';
import { dynamoNotificationStore } from '#functions/adapters/dynamo-notification-store';
import { dynamoTicketStore } from '#functions/adapters/dynamo-ticket-store';
import { deliver, type DeliverDeps } from '#functions/notifications/deliver';
import { recipientKey } from '#functions/notifications/model';
import { functions, type FunctionName } from '#lib/description';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import type { LocalFunction } from '#lib/local/lambda-host';
import { startWebSocketGateway, type WebSocketGateway } from '#lib/local/websocket-gateway';
import { HeraldClient, memoryStore, type Notification } from '#web/client';
import { localDeliverDeps } from '../support/delivery';
import { importAsLambda } from '../support/lambda-module';
import { api, devToken, getItem, tableName, urls } from '../support/local';

/**
 * The reconnect race behind a rare failure of notifications-property.test.ts (docs/protocol.md,
 * "Reconnects and the $connect window"): a socket is in its user's set from the moment its $connect
 * writes it there, but API Gateway answers 410 to a post until $connect has returned. A delivery
 * that pushed in that window used to take the 410 for "gone" and prune the socket from the set, so
 * every later notification skipped it: the client showed what its resume replayed, then nothing.
 *
 * The window is a few milliseconds in a normal run. Here it is held open deterministically: the
 * real gateway code and the real $connect, authorizer and resume handlers run in this process, and
 * SDK middleware on the $connect's DynamoDB client publishes a burst right after the $connect has
 * written the socket into the set and before it returns. Everything else is real: DynamoDB Local,
 * deliver() with its real adapters, the @connections API, the browser client library over `ws`.
 */

const dynamodb = new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
const db = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
/** The $connect handler's own client: its middleware runs `duringConnect` once the socket is in its user's set. */
const connectDynamodb = new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
let duringConnect: ((connectionId: string) => Promise<void>) | undefined;
connectDynamodb.middlewareStack.add(
  (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
    const result = await next(args);
    const hook = duringConnect;
    if (hook && context.commandName === 'UpdateItemCommand' && args.input?.TableName === tableName('userConnections')) {
      duringConnect = undefined;
      // The document client's input (a Set), or the marshalled one, depending on where this step sees it.
      const added = args.input.ExpressionAttributeValues[':id'];
      await hook(String(added.SS?.[0] ?? [...added][0]));
    }
    return result;
  },
  { step: 'initialize', name: 'publishDuringConnect' },
);
const connectDb = DynamoDBDocumentClient.from(connectDynamodb, { marshallOptions: { removeUndefinedValues: true } });

let gateway: WebSocketGateway;
let managementApi: ApiGatewayManagementApiClient;
let delivery: DeliverDeps;

/** A handler module imported the way Lambda cold-starts it: with the environment its description gives it. */
const handlerModule = <T>(name: FunctionName, load: () => Promise<T>): Promise<T> =>
  importAsLambda(
    name,
    { settings: { allowedOrigins: '[]', connectionTtlSeconds: '7800', socketsPerUser: '10' }, connectionsEndpoint: 'http://127.0.0.1:1/unused' },
    load,
  );

const lambdaContext = (name: string) => ({ functionName: name, awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 10_000 }) as unknown as Context;

function localFunction(name: FunctionName, handler: (event: any, context: Context) => Promise<unknown>): LocalFunction {
  return {
    name,
    physicalName: `race-${name}`,
    spec: functions[name],
    // Serialised both ways, as Lambda does.
    invoke: async (event) => JSON.parse(JSON.stringify((await handler(JSON.parse(JSON.stringify(event)), lambdaContext(name))) ?? null)),
  };
}

beforeAll(async () => {
  // One at a time: each import runs with its own environment.
  const authorizer = await handlerModule('wsAuthorizer', () => import('#functions/realtime/handlers/authorize-connect'));
  const connect = await handlerModule('wsConnect', () => import('#functions/realtime/handlers/connect'));
  const resume = await handlerModule('wsResume', () => import('#functions/notifications/handlers/resume'));
  // The gateway's port is known once it listens; handlers reach it through this client, made then.
  const lazyGateway = connectionsApiGateway({ send: (command: any) => managementApi.send(command) } as ApiGatewayManagementApiClient);
  const connectionsOf = (client: DynamoDBDocumentClient) =>
    dynamoConnectionStore(client, { connections: tableName('connections'), userConnections: tableName('userConnections') });
  gateway = await startWebSocketGateway({
    port: 0,
    stage: 'live',
    apiId: 'reconnect-race',
    log: (message) => process.env.RACE_DEBUG && console.error(`[gateway] ${message}`),
    authorizer: {
      function: localFunction('wsAuthorizer', authorizer.makeHandler({ tickets: dynamoTicketStore(db, tableName('tickets')), allowedOrigins: [] })),
      identitySource: ['route.request.querystring.ticket'],
    },
    routes: new Map([
      [
        '$connect',
        {
          function: localFunction(
            'wsConnect',
            connect.makeHandler({ connections: connectionsOf(connectDb), gateway: lazyGateway, connectionTtlSeconds: 7800, limits: { socketsPerUser: 10 } }),
          ),
          returnResponse: false,
        },
      ],
      [
        'resume',
        {
          function: localFunction(
            'wsResume',
            resume.makeHandler({
              connections: connectionsOf(db),
              gateway: lazyGateway,
              notifications: dynamoNotificationStore(db, { notifications: tableName('notifications') }),
            }),
          ),
          returnResponse: true,
        },
      ],
    ]),
  });
  managementApi = new ApiGatewayManagementApiClient({ endpoint: gateway.connectionsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  delivery = localDeliverDeps(db, managementApi);
});

afterAll(async () => {
  await gateway?.stop();
  managementApi?.destroy();
  dynamodb.destroy();
  connectDynamodb.destroy();
});

/**
 * Rounds of the loop through the running runtime, about 0.4 s each. The window is a few milliseconds
 * there, so the loop is a probe rather than the regression guard (the test above is): before the fix,
 * 2 of 4 runs of 40 rounds failed; set RACE_ROUNDS for a longer run.
 */
const ROUNDS = Number(process.env.RACE_ROUNDS ?? 10);

async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((wait) => setTimeout(wait, 20));
  }
}

describe('reconnect: a push during the new socket’s $connect', () => {
  it('does not hide the socket from later pushes: all 7 of (drop, 3 while it connects, 4 after) are shown once, in order', async () => {
    const user = `race-${randomUUID().slice(0, 8)}`;
    const recipient = { tenant: 'acme', userId: user };
    const publish = (count: number, first: number) =>
      deliver(
        delivery,
        Array.from({ length: count }, (_, index) => ({ recipient, kind: 'race', title: `n${first + index}`, priority: 'normal' as const })),
      );
    const token = await devToken('acme', user);
    // Tickets come from the runtime's HTTP API (same Tickets table); sockets go to this file's gateway.
    const sockets: WebSocket[] = [];
    const gatewayUrl = new URL(gateway.url);
    class ToThisGateway extends WebSocket {
      constructor(url: string) {
        const target = new URL(url);
        target.host = gatewayUrl.host;
        super(target.href);
        sockets.push(this);
      }
    }
    const shown: Notification[] = [];
    const client = new HeraldClient({
      httpUrl: urls().httpUrl,
      getToken: async () => token,
      WebSocket: ToThisGateway,
      storage: memoryStore(),
      backoffBaseMs: 20,
      backoffCapMs: 200,
      pollAfterFailures: 1_000,
    });
    client.on('notification', (notification) => shown.push(notification));
    if (process.env.RACE_DEBUG) client.on('error', (error) => console.error('client error', error.message));
    if (process.env.RACE_DEBUG) client.on('state', (state) => console.error('state', state));
    try {
      await client.start();
      await until(() => client.state === 'open' && sockets.length === 1, 'the first socket');
      let connecting: string | undefined;
      duringConnect = async (connectionId) => {
        connecting = connectionId;
        // deliver() reads the set (the new socket is in it), commits, and posts: API Gateway says 410.
        await publish(3, 1);
      };
      sockets[0]?.terminate();
      await until(() => shown.length === 3, `the 3 published while the new socket connected (shown ${shown.length})`);
      expect(connecting).toBeDefined();
      expect(sockets).toHaveLength(2);
      await publish(4, 4);
      await until(() => shown.length >= 7, `all 7 (shown ${shown.length}: ${shown.map((n) => n.seq).join(',')})`);
      await new Promise((wait) => setTimeout(wait, 200));
      expect(shown.map((notification) => notification.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(shown.map((notification) => notification.title)).toEqual(['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7']);
      // That 410 meant "not open yet", not "gone": the socket is still in its user's set.
      const set = await getItem('userConnections', { userKey: recipientKey(recipient) });
      expect([...((set?.connectionIds as Set<string> | undefined) ?? [])]).toContain(connecting);
    } finally {
      duringConnect = undefined;
      await client.stop();
    }
  }, 20_000);

  it(
    'through the running local runtime: drops with a burst published as each new socket connects, then one more, lose nothing',
    async () => {
      const user = `race-${randomUUID().slice(0, 8)}`;
      const [token, publisherToken] = [await devToken('acme', user), await devToken('acme', 'publisher-bot', ['publisher'])];
      let published = 0;
      const publish = async () => {
        const response = await api('POST', '/notifications', publisherToken, { userId: user, kind: 'race', title: `n${++published}` });
        if (response.status !== 202) throw new Error(`publish: ${response.status} ${JSON.stringify(response.body)}`);
      };
      const bursts: Array<Promise<unknown>> = [];
      let burstOnConnect = false;
      const sockets: WebSocket[] = [];
      class Tracked extends WebSocket {
        constructor(url: string) {
          super(url);
          sockets.push(this);
          // Spread over the handshake (authorizer, $connect, open): one of them lands in the $connect window.
          if (burstOnConnect) bursts.push(...[0, 5, 10, 20].map((ms) => new Promise((wait) => setTimeout(wait, ms)).then(publish)));
        }
      }
      const shown: Notification[] = [];
      const client = new HeraldClient({
        httpUrl: urls().httpUrl,
        getToken: async () => token,
        WebSocket: Tracked,
        storage: memoryStore(),
        backoffBaseMs: 5,
        backoffCapMs: 20,
        pollAfterFailures: 1_000,
      });
      client.on('notification', (notification) => shown.push(notification));
      try {
        await client.start();
        for (let round = 1; round <= ROUNDS; round++) {
          await until(() => client.state === 'open', `round ${round}: open`);
          burstOnConnect = true;
          sockets.at(-1)?.terminate();
          await until(() => bursts.length > 0, `round ${round}: the reconnect`);
          burstOnConnect = false;
          await Promise.all(bursts.splice(0));
          await until(() => client.state === 'open', `round ${round}: open again`);
          // Only a push reveals a socket missing from its user's set: the client cannot tell otherwise.
          await publish();
          await until(() => shown.length === published, `round ${round}: ${published} shown (shown ${shown.length})`, 3_000);
        }
        expect(shown.map((notification) => notification.seq)).toEqual(Array.from({ length: published }, (_, index) => index + 1));
      } finally {
        await client.stop();
      }
    },
    Math.max(30_000, ROUNDS * 1_500),
  );
});
