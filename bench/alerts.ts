/**
 * Alert fan-out through Herald's local runtime: the time from an alert's write (POST /alerts) to
 * the last member's notification frame, for topics of 10, 100 and 1,000 members each holding an
 * open socket on loopback and of 10,000 members of whom 1,000 do (past 200 recipients the fan-out
 * goes through the chunk queue), and the DynamoDB requests per recipient of one fan-out. The baselines
 * are the single-recipient floor, measured in the same run as in the notifications benchmark: one
 * POST /notifications to one open socket, and one deliver() to one user.
 * The stream poller reads like Lambda's (an empty read waits 200 ms), so the write-to-receipt time
 * includes the stream hop. Past 200 recipients the fan-out also reports the time until every
 * member's notification is stored (the chunk queue empty: each chunk deleted once delivered); each
 * raise waits for that before the next, so no raise queues behind another's chunks.
 * Beside the 1,000-member topic, after each raise, the floor of its delivery (fanOutFloor: one
 * conditional put and one post per member, straight through the SDK to the same emulators and
 * sockets), and the CPU of this process and DynamoDB Local's JVM for each (docs/operations.md,
 * "The 1,000-member tail, and its floor").
 * Bounded: fixed counts, every wait with a timeout.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SESClient } from '@aws-sdk/client-ses';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import pMap from 'p-map';
import { ulid } from 'ulid';
import { randomFraction } from '../functions/shared/random';
import type { Alert } from '../functions/alerts/model';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local';
import { localQueueName, localTableName } from '../lib/local/resources';
import { ALERT_INLINE_RECIPIENTS } from '../functions/alerts/chunks';
import { startLocalRuntime, type LocalUrls } from '../lib/local/runtime';
import { cpuMsOf, javaPid, measureCpu } from './process-cpu';
import { percentile, row } from './stats';
import { devToken, FrameSocket, ticketUrl } from './wire';

const deliveryTables = {
  notifications: localTableName('notifications'),
  dedupe: localTableName('dedupe'),
  preferences: localTableName('preferences'),
  userConnections: localTableName('userConnections'),
};

const ALL_TOPIC_SIZES = [10, 100, 1_000, 10_000];
/** `npm run bench -- alerts 1000` measures only the topic sizes named (each of ALL_TOPIC_SIZES). */
const TOPIC_SIZES = ((named) => (named.length > 0 ? ALL_TOPIC_SIZES.filter((size) => named.includes(size)) : ALL_TOPIC_SIZES))(
  process.argv.slice(3).map(Number).filter(Number.isFinite),
);
/** Alerts raised per topic size; the median is reported. Fewer for the largest, which takes longest. */
const RAISES: Record<number, number> = { 10: 7, 100: 5, 1000: 3, 10000: 3 };
/** Members with an open socket, spread evenly over the topic: all of them, but 1,000 of the 10,000. */
const CONNECTED: Record<number, number> = { 10: 10, 100: 100, 1000: 1_000, 10000: 1_000 };
/** Request counts are taken up to this size (seeding and counting 10,000 more adds minutes, not information). */
const MAX_COUNTED_SIZE = 1_000;
const FLOOR_PUBLISHES = 30;
const WARM_UPS = 2;
const CONNECT_CONCURRENCY = 20;
const RECEIPT_TIMEOUT_MS = 60_000;
const ID_ROUNDS = 21;
/** The topic the floor is measured beside, and the members put and posted at once in it: one chunk invocation's worth each, and all 16 chunks' deliver() at full stretch (8 writes each). */
const FLOOR_SIZE = 1_000;
const FLOOR_CONCURRENCIES = [16, 128];

export async function benchAlerts(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0 });
  const stopping: Array<() => unknown> = [() => runtime.stop()];
  try {
    const server = await loadServer();
    const counted = countedClients(runtime.urls);
    stopping.push(() => counted.destroy());
    const floor = await singleRecipientFloor(runtime.urls.httpUrl);
    const floorRequests = await singleRecipientRequests(server, counted);

    console.log(
      `\nalert write (POST /alerts) -> notification frame on the last member's socket, median of ${Object.values(RAISES).join('/')} raises; ` +
        `baseline = POST /notifications -> frame, 1 recipient (p50 of ${FLOOR_PUBLISHES})`,
    );
    const requestRows: string[] = [];
    const floorRows: string[] = [];
    let lowestFloor = Number.POSITIVE_INFINITY;
    let lastOfFloorSize = NaN;
    const lastBySize = new Map<number, number>();
    const storedBySize = new Map<number, number>();
    for (const size of TOPIC_SIZES) {
      const latency = await writeToLastReceipt(runtime.urls, size, stopping);
      const label = CONNECTED[size] === size ? `${size} members` : `${size} members (${CONNECTED[size]} on)`;
      lastBySize.set(size, percentile(latency.last, 50));
      console.log(row(`${label}: write -> last receipt p50`, percentile(latency.last, 50), floor));
      console.log(row(`${label}: write -> first receipt p50`, percentile(latency.first, 50), floor));
      for (const [concurrency, figures] of latency.floor) {
        floorRows.push(row(`floor, ${concurrency} at once: last receipt p50`, percentile(figures.last, 50), floor));
        floorRows.push(row(`floor, ${concurrency} at once: first receipt p50`, percentile(figures.first, 50), floor));
        floorRows.push(row(`  its CPU, runtime process p50`, percentile(figures.nodeCpu, 50), percentile(latency.cpu.node, 50)));
        floorRows.push(row(`  its CPU, DynamoDB Local's JVM p50`, percentile(figures.javaCpu, 50), percentile(latency.cpu.java, 50)));
        lowestFloor = Math.min(lowestFloor, percentile(figures.last, 50));
      }
      if (size === FLOOR_SIZE) lastOfFloorSize = percentile(latency.last, 50);
      if (latency.stored.length > 0) {
        storedBySize.set(size, percentile(latency.stored, 50));
        console.log(row(`${label}: write -> all stored p50`, percentile(latency.stored, 50), floor));
      }
      if (size > MAX_COUNTED_SIZE) continue;
      const requests = await fanOutRequests(server, counted, size);
      requestRows.push(`${row(`${size} members: DynamoDB requests per recipient`, requests.perRecipient, floorRequests, 'req')}   (${requests.byCommand})`);
    }
    console.log(
      `\nthe floor of a ${FLOOR_SIZE}-member fan-out on this machine: per member one conditional put of a notification-sized item and one post to its socket, ` +
        `straight through the SDK to the same DynamoDB Local and local gateway, after each raise (median of ${RAISES[FLOOR_SIZE]}); baseline = POST /notifications -> frame, 1 recipient, as above; then the alert's last receipt against the lower floor`,
    );
    console.log(`(CPU rows: baseline = the same process's CPU from the alert's write to its last receipt; this machine has ${availableParallelism()} cores)`);
    for (const line of floorRows) console.log(line);
    console.log(row(`${FLOOR_SIZE} members: last receipt vs the lowest floor`, lastOfFloorSize, lowestFloor));
    console.log(`\nlarge topics in chunks: write -> last receipt p50 of 10,000 members (1,000 on) against 1,000 members (all on); target at most 3x`);
    console.log(row('10000 members vs 1000 members: last receipt', lastBySize.get(10_000) ?? NaN, lastBySize.get(1_000) ?? NaN));
    console.log(row('10000 members vs 1000 members: all stored', storedBySize.get(10_000) ?? NaN, storedBySize.get(1_000) ?? NaN));
    const ids = idCost();
    console.log(
      `\nthe 1,000 notification ids of a 1,000-member fan-out (deliver() makes one ULID per notification), median of ${ID_ROUNDS}; baseline = ulid() with its own generator`,
    );
    console.log(row('ulid() with the pooled generator', ids.pooled, ids.own));
    console.log(`\nDynamoDB requests of one alert fan-out (members query, deliver(), live event), per recipient; baseline = deliver() to 1 recipient`);
    for (const line of requestRows) console.log(line);
  } finally {
    for (const stop of stopping.reverse()) await stop();
  }
}

/** CPU time of 1,000 ULIDs, as deliver() made them before (ulid's own generator: one CSPRNG call per character) and makes them now. */
function idCost(): { own: number; pooled: number } {
  const time = (make: () => string) => {
    const samples: number[] = [];
    for (let round = 0; round < ID_ROUNDS; round++) {
      const started = performance.now();
      for (let index = 0; index < 1_000; index++) make();
      samples.push(performance.now() - started);
    }
    return percentile(samples, 50);
  };
  const now = Date.now();
  return { own: time(() => ulid(now)), pooled: time(() => ulid(now, randomFraction)) };
}

/** Imported once the runtime has set the environment the modules read at import (instrumentation). */
async function loadServer() {
  const [fanout, deliverModule, notificationStore, connectionStore, deliveryReads, topicStores, connectionsApi, emailLedger, sesMailer, topics] =
    await Promise.all([
      import('../functions/alerts/fanout'),
      import('../functions/notifications/deliver'),
      import('../functions/adapters/dynamo-notification-store'),
      import('../functions/adapters/dynamo-connection-store'),
      import('../functions/adapters/dynamo-delivery-reads'),
      import('../functions/adapters/dynamo-topic-stores'),
      import('../functions/adapters/connections-api'),
      import('../functions/adapters/dynamo-email-ledger'),
      import('../functions/adapters/ses-mailer'),
      import('../functions/topics/topics'),
    ]);
  return {
    ...fanout,
    ...deliverModule,
    ...notificationStore,
    ...connectionStore,
    ...deliveryReads,
    ...topicStores,
    ...connectionsApi,
    ...emailLedger,
    ...sesMailer,
    ...topics,
  };
}
type Server = Awaited<ReturnType<typeof loadServer>>;

/** One DynamoDB client counting its requests by command, and the other clients a fan-out needs. */
function countedClients(urls: LocalUrls) {
  const requests = new Map<string, number>();
  const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const raw = new DynamoDBClient({ endpoint: urls.dynamodbUrl, ...local });
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      requests.set(context.commandName as string, (requests.get(context.commandName as string) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  const gateway = new ApiGatewayManagementApiClient({ endpoint: urls.wsUrl.replace(/^ws/, 'http'), ...local });
  const ses = new SESClient({ endpoint: urls.mailUrl, ...local });
  return {
    requests,
    db: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }),
    gateway,
    ses,
    destroy: () => {
      for (const client of [raw, gateway, ses]) client.destroy();
    },
  };
}
type Counted = ReturnType<typeof countedClients>;

const uniqueTenant = () => `bench-${randomUUID().slice(0, 8)}`;
const total = (requests: Map<string, number>) => [...requests.values()].reduce((sum, count) => sum + count, 0);

function deliverDeps(server: Server, counted: Counted) {
  const connections = server.dynamoConnectionStore(counted.db, {
    connections: localTableName('connections'),
    userConnections: localTableName('userConnections'),
  });
  return {
    notifications: server.dynamoNotificationStore(counted.db, { notifications: localTableName('notifications'), dedupe: localTableName('dedupe') }),
    reads: server.dynamoDeliveryReads(counted.db, deliveryTables),
    connections,
    gateway: server.connectionsApiGateway(counted.gateway),
    retentionDays: 30,
  };
}

async function singleRecipientFloor(httpUrl: string): Promise<number> {
  const tenant = uniqueTenant();
  const publisher = await devToken(httpUrl, tenant, 'publisher-bot', ['publisher']);
  const socket = await FrameSocket.open(await ticketUrl(httpUrl, await devToken(httpUrl, tenant, 'reader')));
  const samples: number[] = [];
  for (let seq = 1; seq <= WARM_UPS + FLOOR_PUBLISHES; seq += 1) {
    const started = performance.now();
    const response = await fetch(`${httpUrl}/notifications`, {
      method: 'POST',
      headers: { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'reader', kind: 'note', title: `n${seq}` }),
    });
    if (response.status !== 202) throw new Error(`publish: ${response.status} ${await response.text()}`);
    const { at } = await socket.waitFor((frame) => frame.type === 'notification' && frame.seq === seq);
    if (seq > WARM_UPS) samples.push(at - started);
  }
  await socket.close();
  return percentile(samples, 50);
}

async function singleRecipientRequests(server: Server, counted: Counted): Promise<number> {
  counted.requests.clear();
  await server.deliver(deliverDeps(server, counted), [
    { recipient: { tenant: uniqueTenant(), userId: 'solo' }, kind: 'alert.raised', title: 'Floor', priority: 'high', dedupeKey: 'floor-v1' },
  ]);
  return total(counted.requests);
}

/** Members written straight into the Memberships table, as PUT /topics/{topic}/members/{id} would. */
export async function seedMembers(db: DynamoDBDocumentClient, tenant: string, topic: string, size: number): Promise<string[]> {
  const members = Array.from({ length: size }, (_, index) => `member-${index}`);
  for (let start = 0; start < members.length; start += 25) {
    let pending: Array<Record<string, unknown>> = members.slice(start, start + 25).map((userId) => ({
      PutRequest: { Item: { topicKey: `${tenant}#${topic}`, userId, tenant, topic, addedBy: 'bench', addedAt: new Date().toISOString() } },
    }));
    while (pending.length > 0) {
      const result = await db.send(new BatchWriteCommand({ RequestItems: { [localTableName('memberships')]: pending as never } }));
      pending = (result.UnprocessedItems?.[localTableName('memberships')] ?? []) as Array<Record<string, unknown>>;
    }
  }
  return members;
}

/** Resolves once the alert chunk queue holds nothing (every chunk delivered and deleted); the time it did. */
async function chunkQueueEmpty(sqs: SQSClient, queueUrl: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const counts = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;
  for (;;) {
    const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: [...counts] }));
    if (counts.every((name) => Number(Attributes[name] ?? 0) === 0)) return performance.now();
    if (performance.now() > deadline) throw new Error(`the alert chunk queue did not empty within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function writeToLastReceipt(
  urls: LocalUrls,
  size: number,
  stopping: Array<() => unknown>,
): Promise<{
  first: number[];
  last: number[];
  stored: number[];
  cpu: { node: number[]; java: number[] };
  floor: Map<number, { first: number[]; last: number[]; nodeCpu: number[]; javaCpu: number[] }>;
}> {
  const tenant = uniqueTenant();
  const topic = 'site';
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
  const members = await seedMembers(db, tenant, topic, size);
  db.destroy();
  const stride = size / (CONNECTED[size] ?? size);
  const connected = members.filter((_, index) => index % stride === 0);
  const sockets = await connectMembers(urls.httpUrl, tenant, connected);
  const closeAll = () => Promise.all(sockets.map((socket) => socket.close()));
  stopping.push(closeAll);

  const publisher = await devToken(urls.httpUrl, tenant, 'monitor', ['publisher']);
  const sqs = new SQSClient({ endpoint: urls.sqsUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
  stopping.push(() => sqs.destroy());
  const chunkQueueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: localQueueName('alertChunks') }))).QueueUrl as string;
  const first: number[] = [];
  const last: number[] = [];
  const stored: number[] = [];
  // The floor beside the 1,000-member topic, one round of it after each raise, on the same sockets.
  const floor = new Map(
    FLOOR_CONCURRENCIES.map((concurrency) => [concurrency, { first: [] as number[], last: [] as number[], nodeCpu: [] as number[], javaCpu: [] as number[] }]),
  );
  const ids = size === FLOOR_SIZE ? await socketIds(urls, tenant, connected) : undefined;
  const floorMembers = connected.map((userId, index) => ({ userId, socket: sockets[index] as FrameSocket, connectionId: ids?.get(userId) as string }));
  const java = javaPid();
  const cpu = { node: [] as number[], java: [] as number[] };
  for (let raise = 0; raise < WARM_UPS + RAISES[size]!; raise += 1) {
    const cpuBefore = { node: process.cpuUsage(), java: cpuMsOf(java) };
    const started = performance.now();
    const response = await fetch(`${urls.httpUrl}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' },
      body: JSON.stringify({ topic, rule: 'pressure-high', subject: `pump-${raise}`, severity: 'high', title: `Pressure high at pump ${raise}` }),
    });
    if (response.status !== 201) throw new Error(`raise: ${response.status} ${await response.text()}`);
    const { id } = (await response.json()) as { id: string };
    const arrivals = await Promise.all(
      sockets.map(async (socket) => (await socket.waitFor((frame) => frame.type === 'notification' && frame.data?.alertId === id, RECEIPT_TIMEOUT_MS)).at),
    );
    const nodeUsed = process.cpuUsage(cpuBefore.node);
    const javaUsed = cpuMsOf(java) - cpuBefore.java;
    // Past the inline limit the chunks may still be storing offline members' notifications.
    const drained = size > ALERT_INLINE_RECIPIENTS ? (await chunkQueueEmpty(sqs, chunkQueueUrl, RECEIPT_TIMEOUT_MS)) - started : undefined;
    if (ids !== undefined) {
      for (const [concurrency, figures] of floor) {
        const {
          result: round,
          nodeMs,
          javaMs,
        } = await measureCpu(java, () => fanOutFloor(urls, tenant, floorMembers, raise * 1_000 + concurrency, concurrency));
        if (raise < WARM_UPS) continue;
        figures.first.push(round.first);
        figures.last.push(round.last);
        figures.nodeCpu.push(nodeMs);
        figures.javaCpu.push(javaMs);
      }
    }
    if (raise < WARM_UPS) continue;
    first.push(Math.min(...arrivals) - started);
    last.push(Math.max(...arrivals) - started);
    if (drained !== undefined) stored.push(drained);
    cpu.node.push((nodeUsed.user + nodeUsed.system) / 1000);
    cpu.java.push(javaUsed);
  }
  await closeAll();
  sqs.destroy();
  stopping.splice(stopping.length - 2, 2);
  return { first, last, stored, cpu, floor: ids === undefined ? new Map() : floor };
}

/** One open socket per user, CONNECT_CONCURRENCY at a time. */
export async function connectMembers(httpUrl: string, tenant: string, userIds: readonly string[]): Promise<FrameSocket[]> {
  const sockets: FrameSocket[] = [];
  for (let start = 0; start < userIds.length; start += CONNECT_CONCURRENCY) {
    const batch = userIds.slice(start, start + CONNECT_CONCURRENCY);
    sockets.push(...(await Promise.all(batch.map(async (userId) => FrameSocket.open(await ticketUrl(httpUrl, await devToken(httpUrl, tenant, userId)))))));
  }
  return sockets;
}

async function fanOutRequests(server: Server, counted: Counted, size: number): Promise<{ perRecipient: number; byCommand: string }> {
  const tenant = uniqueTenant();
  const topic = 'site';
  await seedMembers(counted.db, tenant, topic, size);
  const delivery = deliverDeps(server, counted);
  const topicDeps = {
    memberships: server.dynamoMembershipStore(counted.db, localTableName('memberships')),
    subscriptions: server.dynamoSubscriptionStore(counted.db, localTableName('subscriptions')),
    connections: delivery.connections,
    gateway: delivery.gateway,
  };
  const now = new Date().toISOString();
  const alert: Alert = {
    tenant,
    id: ulid(),
    topic,
    rule: 'pressure-high',
    subject: 'pump-1',
    severity: 'high',
    title: 'Pressure high',
    status: 'active',
    version: 1,
    change: 'raised',
    raisedAt: now,
    raisedBy: 'monitor',
    updatedAt: now,
    updatedBy: 'monitor',
  };
  counted.requests.clear();
  let deliveredInChunks = 0;
  const result = await server.fanOutAlertChange(
    {
      deliver: (requests) => server.deliver(delivery, requests),
      members: (t, name) => topicDeps.memberships.members(t, name),
      connectionsOf: (recipients) => delivery.connections.connectionIdsOf(recipients),
      publishEvent: (t, name, event, data) => server.publishTopicEvent(topicDeps, t, name, event, data),
      mailer: server.sesMailer(counted.ses, 'exports@herald.local', 'herald-email'),
      emails: server.dynamoEmailLedger(counted.db, localTableName('dedupe')),
      // A large topic's chunks delivered here, one after another, so their requests are counted too.
      chunks: {
        send: async (chunks) => {
          for (const chunk of chunks) {
            const delivered = await server.deliverAlertChunk(
              {
                deliver: (requests, options) => server.deliver(delivery, requests, options),
                mailer: server.sesMailer(counted.ses, 'exports@herald.local', 'herald-email'),
                emails: server.dynamoEmailLedger(counted.db, localTableName('dedupe')),
              },
              chunk,
            );
            deliveredInChunks += delivered.delivered;
          }
        },
      },
    },
    alert,
  );
  if (result.delivered + deliveredInChunks !== size) throw new Error(`fan-out to ${size} members delivered ${result.delivered + deliveredInChunks}`);
  const byCommand = [...counted.requests].map(([command, count]) => `${command.replace(/Command$/, '')} ${count}`).join(', ');
  return { perRecipient: total(counted.requests) / size, byCommand };
}

/**
 * The floor of a fan-out to `sockets` (one member each): the work delivering to them cannot avoid
 * on this machine, done directly through the SDK against the same DynamoDB Local and local
 * gateway: per member one conditional put of a notification-sized item into the Notifications
 * table, then one post of a notification-sized frame to its socket, `concurrency` members at
 * once. Nothing else: no reads, no counter, no dedupe record, no Lambda host, queue or IAM.
 * The ms from the start to the first and the last frame received.
 */
export async function fanOutFloor(
  urls: LocalUrls,
  tenant: string,
  members: ReadonlyArray<{ userId: string; socket: FrameSocket; connectionId: string }>,
  round: number,
  concurrency: number,
): Promise<{ first: number; last: number }> {
  // Sockets enough for every request at once: the floor does not queue in the SDK's client.
  const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, requestHandler: { httpAgent: { keepAlive: true, maxSockets: concurrency } } };
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: urls.dynamodbUrl, ...local }));
  const gateway = new ApiGatewayManagementApiClient({ endpoint: urls.wsUrl.replace(/^ws/, 'http'), ...local });
  try {
    const id = ulid();
    const createdAt = new Date().toISOString();
    const expiresAt = Math.floor(Date.now() / 1000) + 30 * 86_400;
    const data = { alertId: id, topic: 'site', rule: 'pressure-high', subject: `pump-${round}`, severity: 'high', status: 'active', version: 1 };
    const started = performance.now();
    await pMap(
      members,
      async ({ userId, connectionId }) => {
        const seq = 1_000_000 + round;
        const notification = {
          id: ulid(),
          seq,
          kind: 'alert.raised',
          title: `High: floor ${round}`,
          body: `pump-${round} (pressure-high)`,
          data,
          priority: 'high',
          groupKey: id,
          createdAt,
        };
        await db.send(
          new PutCommand({
            TableName: localTableName('notifications'),
            Item: { userKey: `${tenant}#${userId}`, ...notification, unreadSeq: seq, expiresAt },
            ConditionExpression: 'attribute_not_exists(seq)',
          }),
        );
        await gateway.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify({ type: 'notification', ...notification }) }));
      },
      { concurrency },
    );
    const arrivals = await Promise.all(
      members.map(
        async ({ socket }) => (await socket.waitFor((frame) => frame.type === 'notification' && frame.title === `High: floor ${round}`, RECEIPT_TIMEOUT_MS)).at,
      ),
    );
    return { first: Math.min(...arrivals) - started, last: Math.max(...arrivals) - started };
  } finally {
    db.destroy();
    gateway.destroy();
  }
}

/** Each member's one socket id, read from UserConnections (outside any timing). */
export async function socketIds(urls: LocalUrls, tenant: string, userIds: readonly string[]): Promise<Map<string, string>> {
  const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
  const ids = new Map<string, string>();
  try {
    for (const userId of userIds) {
      const { Item } = await db.send(new GetCommand({ TableName: localTableName('userConnections'), Key: { userKey: `${tenant}#${userId}` } }));
      const [connectionId] = [...((Item?.connectionIds as Set<string> | undefined) ?? [])];
      if (connectionId === undefined) throw new Error(`${userId} has no socket recorded`);
      ids.set(userId, connectionId);
    }
  } finally {
    db.destroy();
  }
  return ids;
}
