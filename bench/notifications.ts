/**
 * Durable notifications through Herald's local runtime, each figure beside a baseline from the
 * same run: publish-to-socket latency against a bare `ws` round trip; DynamoDB requests per
 * recipient of a fan-out against a single recipient; a hot user's contended commits against one
 * publisher; and catching up on a backlog after a reconnect (one frame per notification, batched
 * frames, and HeraldClient, which batches) against its floor, a reconnect with nothing missed,
 * with the posts that carried the backlog, batched beside one each.
 * Bounded: fixed counts, every wait with a timeout.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import type { DeliverDeps } from '../functions/notifications/deliver';
import type { DeliveryRequest, Recipient } from '../functions/notifications/model';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local';
import { localTableName } from '../lib/local/resources';
import { startLocalRuntime, type LocalUrls } from '../lib/local/runtime';
import { HeraldClient, memoryStore, type StoreFactory, type WebSocketConstructor } from '../web/client';
import { percentile, row } from './stats';
import { devToken, FrameSocket, open, roundTrips, startEcho, ticketUrl } from './wire';

const deliveryTables = {
  notifications: localTableName('notifications'),
  dedupe: localTableName('dedupe'),
  preferences: localTableName('preferences'),
  userConnections: localTableName('userConnections'),
};

const PUBLISHES = 200;
const WARM_UP_PUBLISHES = 5;
const FAN_OUT_SIZES = [1, 50, 1_000];
const HOT_PUBLISHERS = 20;
const HOT_ROUNDS = 5;
const MISSED = 1_000;
const CATCH_UP_RUNS = 3;
/** Unmeasured catch-ups first: the first replay through a fresh runtime runs cold (JIT, connection pools). */
const CATCH_UP_WARM_UPS = 1;

export async function benchNotifications(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0 });
  const stopping: Array<() => unknown> = [() => runtime.stop()];
  try {
    const echo = await startEcho();
    stopping.push(() => echo.close());
    const server = await loadServer();
    const deps = countedDeliverDeps(server, runtime.urls);
    stopping.push(() => deps.destroy());
    await endToEndLatency(runtime.urls, echo.url, deps);
    await fanOutRequests(server, deps);
    await hotUser(server, deps);
    await catchUp(runtime.urls.httpUrl, server, deps);
  } finally {
    for (const stop of stopping.reverse()) await stop();
  }
}

/**
 * Herald's server modules, imported only once the runtime has set the environment they read at
 * import (instrumentation's): imported earlier, they would be configured for AWS, not for local.
 */
export async function loadServer() {
  const [deliverModule, notificationStore, connectionStore, deliveryReads, connectionsApi] = await Promise.all([
    import('../functions/notifications/deliver'),
    import('../functions/adapters/dynamo-notification-store'),
    import('../functions/adapters/dynamo-connection-store'),
    import('../functions/adapters/dynamo-delivery-reads'),
    import('../functions/adapters/connections-api'),
  ]);
  return {
    deliver: deliverModule.deliver,
    maxPerUser: deliverModule.MAX_NOTIFICATIONS_PER_USER,
    dynamoNotificationStore: notificationStore.dynamoNotificationStore,
    dynamoConnectionStore: connectionStore.dynamoConnectionStore,
    dynamoDeliveryReads: deliveryReads.dynamoDeliveryReads,
    connectionsApiGateway: connectionsApi.connectionsApiGateway,
  };
}
export type Server = Awaited<ReturnType<typeof loadServer>>;
type CountedDeps = DeliverDeps & {
  /** Requests by command name, since the last `reset()`. */
  readonly requests: Map<string, number>;
  /** Time spent in those requests, summed (overlapping requests count each). */
  readonly requestMs: { total: number };
  reset(): void;
  destroy(): void;
};

/** deliver() with real stores on the runtime's DynamoDB Local, counting and timing its requests. */
export function countedDeliverDeps(server: Server, urls: LocalUrls): CountedDeps {
  const requests = new Map<string, number>();
  const requestMs = { total: 0 };
  const raw = new DynamoDBClient({ endpoint: urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  raw.middlewareStack.add(
    (next, context) => async (args) => {
      requests.set(context.commandName as string, (requests.get(context.commandName as string) ?? 0) + 1);
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        requestMs.total += performance.now() - started;
      }
    },
    { step: 'initialize', name: 'countRequests' },
  );
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  const gatewayClient = new ApiGatewayManagementApiClient({
    endpoint: urls.wsUrl.replace(/^ws/, 'http'),
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  return {
    requests,
    requestMs,
    reset: () => {
      requests.clear();
      requestMs.total = 0;
    },
    notifications: server.dynamoNotificationStore(client, { notifications: localTableName('notifications'), dedupe: localTableName('dedupe') }),
    reads: server.dynamoDeliveryReads(client, deliveryTables),
    connections: server.dynamoConnectionStore(client, { connections: localTableName('connections'), userConnections: localTableName('userConnections') }),
    gateway: server.connectionsApiGateway(gatewayClient),
    retentionDays: 30,
    destroy: () => {
      raw.destroy();
      gatewayClient.destroy();
    },
  };
}

const uniqueTenant = () => `bench-${randomUUID().slice(0, 8)}`;
const note = (recipient: Recipient, title: string): DeliveryRequest => ({ recipient, kind: 'note', title, priority: 'normal' });
const totalRequests = (requests: Map<string, number>) => [...requests.values()].reduce((sum, count) => sum + count, 0);

async function endToEndLatency(urls: LocalUrls, echoUrl: string, deps: DeliverDeps): Promise<void> {
  const publishes = await publishing(urls.httpUrl);
  const floors = await deliveryFloor(urls, deps);
  const toFrame: number[] = [];
  const toResponse: number[] = [];
  const floor: number[] = [];
  // Alternated, so that both see the same machine: on a shared one the load changes within a run.
  for (let seq = 1; seq <= WARM_UP_PUBLISHES + PUBLISHES; seq += 1) {
    const published = await publishes.once(seq);
    const floorMs = await floors.once(seq);
    if (seq <= WARM_UP_PUBLISHES) continue;
    toFrame.push(published.toFrame);
    toResponse.push(published.toResponse);
    floor.push(floorMs);
  }
  await publishes.close();
  await floors.close();
  const raw = await open(echoUrl);
  const echo = await roundTrips(raw, PUBLISHES);
  raw.close();

  console.log(
    `\n${PUBLISHES} sequential publishes (POST /notifications) to one open socket; baseline = the floor: what deliver() cannot avoid, ` +
      `one multi-table BatchGetItem + the item's conditional PutItem + the hint's UpdateItem + one @connections post to the frame's arrival, ${PUBLISHES} times, alternating with the publishes`,
  );
  console.log(row('publish -> notification frame p50', percentile(toFrame, 50), percentile(floor, 50)));
  console.log(row('publish -> notification frame p99', percentile(toFrame, 99), percentile(floor, 99)));
  console.log(row('publish -> 202 response p50 (for comparison)', percentile(toResponse, 50), percentile(floor, 50)));
  console.log(row('floor p50 (vs bare ws echo round trip)', percentile(floor, 50), percentile(echo, 50)));
}

/** Timed publishes to one open socket: `once(seq)` publishes the socket's seq-th notification and times its frame and its 202. */
export async function publishing(httpUrl: string): Promise<{ once(seq: number): Promise<{ toFrame: number; toResponse: number }>; close(): Promise<void> }> {
  const tenant = uniqueTenant();
  const publisher = await devToken(httpUrl, tenant, 'publisher-bot', ['publisher']);
  const socket = await FrameSocket.open(await ticketUrl(httpUrl, await devToken(httpUrl, tenant, 'reader')));
  return {
    async once(seq) {
      const started = performance.now();
      const response = await fetch(`${httpUrl}/notifications`, {
        method: 'POST',
        headers: { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'reader', kind: 'note', title: `n${seq}` }),
      });
      const answered = performance.now();
      if (response.status !== 202) throw new Error(`publish: ${response.status} ${await response.text()}`);
      // Stamped on arrival: the frame may come before the 202, since deliver() pushes before it returns.
      const { at } = await socket.waitFor((frame) => frame.type === 'notification' && frame.seq === seq);
      return { toFrame: at - started, toResponse: answered - started };
    },
    close: () => socket.close(),
  };
}

/**
 * The floor of one publish: the four requests deliver() cannot avoid, made by hand in sequence
 * (one BatchGetItem over the four tables deliver() reads, the conditional put of the item at its
 * seq, the hint update, one post) and timed to the frame's arrival on the socket. `once(seq)`
 * delivers the socket's seq-th notification so. (Until seqs were allocated without a transaction,
 * the floor was BatchGetItem + one TransactWriteItems + the post: a request fewer.)
 */
export async function deliveryFloor(urls: LocalUrls, deps: DeliverDeps): Promise<{ once(seq: number): Promise<number>; close(): Promise<void> }> {
  const raw = new DynamoDBClient({ endpoint: urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const client = DynamoDBDocumentClient.from(raw);
  const recipient = { tenant: uniqueTenant(), userId: 'floor' };
  const userKey = `${recipient.tenant}#${recipient.userId}`;
  const socket = await FrameSocket.open(await ticketUrl(urls.httpUrl, await devToken(urls.httpUrl, recipient.tenant, recipient.userId)));
  const [connectionId] = (await deps.connections.connectionIdsOf([recipient])).values().next().value ?? [];
  if (!connectionId) throw new Error('the open socket has no connection record');
  return {
    async once(seq) {
      const started = performance.now();
      await client.send(
        new BatchGetCommand({
          RequestItems: {
            [deliveryTables.preferences]: { Keys: [{ userKey }] },
            [deliveryTables.notifications]: { Keys: [{ userKey, seq: 0 }] },
            [deliveryTables.dedupe]: { Keys: [{ dedupeKey: `floor#${seq}` }] },
            [deliveryTables.userConnections]: { Keys: [{ userKey }] },
          },
        }),
      );
      const notification = {
        type: 'notification',
        kind: 'note',
        title: `f${seq}`,
        priority: 'normal',
        seq,
        id: randomUUID(),
        createdAt: new Date().toISOString(),
      };
      await client.send(
        new PutCommand({
          TableName: deliveryTables.notifications,
          Item: { userKey, ...notification, unreadSeq: seq },
          ConditionExpression: 'attribute_not_exists(seq)',
        }),
      );
      await client.send(
        new UpdateCommand({
          TableName: deliveryTables.notifications,
          Key: { userKey, seq: 0 },
          UpdateExpression: 'SET lastSeq = :seq',
          ConditionExpression: 'attribute_not_exists(lastSeq) OR lastSeq < :seq',
          ExpressionAttributeValues: { ':seq': seq },
        }),
      );
      if ((await deps.gateway.post(connectionId, JSON.stringify(notification))) !== 'sent') throw new Error('@connections post failed');
      const { at } = await socket.waitFor((frame) => frame.type === 'notification' && frame.seq === seq);
      return at - started;
    },
    async close() {
      await socket.close();
      raw.destroy();
    },
  };
}

async function fanOutRequests(server: Server, deps: CountedDeps): Promise<void> {
  console.log('\ndeliver() fan-out of one alert (with a dedupe key) to N users, none connected; baseline = 1 recipient');
  let single = NaN;
  for (const size of FAN_OUT_SIZES) {
    const tenant = uniqueTenant();
    const requests: DeliveryRequest[] = Array.from({ length: size }, (_, index) => ({
      recipient: { tenant, userId: `member-${index}` },
      kind: 'alert',
      title: 'Site closed',
      priority: 'high',
      dedupeKey: 'alert-1-v1',
    }));
    deps.reset();
    const outcomes = await server.deliver(deps, requests);
    if (!outcomes.every((outcome) => outcome.status === 'delivered' && outcome.seq === 1)) throw new Error(`fan-out to ${size}: not every recipient got seq 1`);
    const perRecipient = totalRequests(deps.requests) / size;
    if (size === 1) single = perRecipient;
    const byCommand = [...deps.requests].map(([command, count]) => `${command.replace(/Command$/, '')} ${count}`).join(', ');
    console.log(`${row(`requests per recipient, ${size} recipient(s)`, perRecipient, single, 'req')}   (${byCommand})`);
  }
}

async function hotUser(server: Server, deps: CountedDeps): Promise<void> {
  let backoffMs = 0;
  // deliver()'s own jittered backoff, summed to show how much of a contended call is waiting.
  const sleep = (ms: number) => {
    backoffMs += ms;
    return new Promise<void>((resume) => setTimeout(resume, ms));
  };
  const publisher = async (recipient: Recipient, title: string) => {
    const started = performance.now();
    const [outcome] = await server.deliver({ ...deps, sleep }, [note(recipient, title)]);
    return { ms: performance.now() - started, seq: outcome?.status === 'delivered' ? outcome.seq : undefined };
  };

  const alone = { tenant: uniqueTenant(), userId: 'calm' };
  deps.reset();
  const single: number[] = [];
  for (let index = 0; index < HOT_PUBLISHERS; index += 1) single.push((await publisher(alone, `n${index}`)).ms);
  const singleAttempts = (deps.requests.get('PutItemCommand') ?? 0) / HOT_PUBLISHERS;
  const singleRequests = totalRequests(deps.requests) / HOT_PUBLISHERS;
  const singleDynamoMs = deps.requestMs.total / HOT_PUBLISHERS;
  const singleMeanMs = single.reduce((sum, ms) => sum + ms, 0) / single.length;

  deps.reset();
  backoffMs = 0;
  const contended: number[] = [];
  const failures: string[] = [];
  for (let round = 0; round < HOT_ROUNDS; round += 1) {
    const hot = { tenant: uniqueTenant(), userId: 'hot' };
    const results = await Promise.allSettled(Array.from({ length: HOT_PUBLISHERS }, (_, index) => publisher(hot, `n${index}`)));
    const seqs: number[] = [];
    for (const result of results) {
      if (result.status === 'rejected') failures.push(`round ${round + 1}: ${String(result.reason)}`);
      else {
        contended.push(result.value.ms);
        if (result.value.seq !== undefined) seqs.push(result.value.seq);
      }
    }
    const stored = await deps.notifications.page(hot, 0, 100, Math.floor(Date.now() / 1000));
    const expected = Array.from({ length: HOT_PUBLISHERS }, (_, index) => index + 1).join(',');
    const answered = seqs.sort((a, b) => a - b).join(',');
    const kept = stored.items.map((item) => item.seq).join(',');
    if (answered !== expected || kept !== expected) failures.push(`round ${round + 1}: answered seqs [${answered}], stored seqs [${kept}]`);
  }
  const attempts = (deps.requests.get('PutItemCommand') ?? 0) / (HOT_ROUNDS * HOT_PUBLISHERS);
  const contendedRequests = totalRequests(deps.requests) / contended.length;
  const contendedDynamoMs = deps.requestMs.total / contended.length;
  const contendedMeanMs = contended.reduce((sum, ms) => sum + ms, 0) / contended.length;

  console.log(`\nhot user: ${HOT_ROUNDS} rounds of ${HOT_PUBLISHERS} concurrent deliver() calls to one user; baseline = ${HOT_PUBLISHERS} sequential calls`);
  console.log(row('item puts (PutItem) per notification', attempts, singleAttempts, 'put'));
  console.log(row(`deliver() p50, ${HOT_PUBLISHERS} concurrent`, percentile(contended, 50), percentile(single, 50)));
  console.log(row(`deliver() p99, ${HOT_PUBLISHERS} concurrent (vs p50 alone)`, percentile(contended, 99), percentile(single, 50)));
  console.log(
    `  where the time goes (means per call): alone ${singleMeanMs.toFixed(1)} ms, of which ${singleRequests.toFixed(1)} DynamoDB Local requests ${singleDynamoMs.toFixed(1)} ms; ` +
      `contended ${contendedMeanMs.toFixed(0)} ms, of which ${contendedRequests.toFixed(1)} DynamoDB Local requests ${contendedDynamoMs.toFixed(0)} ms ` +
      `and jittered backoff sleeps ${(backoffMs / contended.length).toFixed(0)} ms`,
  );
  console.log(
    failures.length === 0
      ? `seq check: every round answered and stored seqs 1..${HOT_PUBLISHERS}, no gap, no duplicate: ok`
      : `seq check FAILED:\n  ${failures.join('\n  ')}`,
  );
}

async function catchUp(httpUrl: string, server: Server, deps: CountedDeps): Promise<void> {
  const post = await postCost(httpUrl, deps);
  type Samples = Record<'none' | 'missed', number[]>;
  const samples = () => ({ none: [], missed: [] }) as Samples;
  const [single, batched, client] = [samples(), samples(), samples()];
  const posts = { single: [] as number[], batched: [] as number[] };
  for (let run = 0; run < CATCH_UP_WARM_UPS + CATCH_UP_RUNS; run += 1) {
    const keep = run >= CATCH_UP_WARM_UPS;
    const singleNone = await catchUpRawFrames(httpUrl, server, deps, 0, false);
    const singleMissed = await catchUpRawFrames(httpUrl, server, deps, MISSED, false);
    const batchedNone = await catchUpRawFrames(httpUrl, server, deps, 0, true);
    const batchedMissed = await catchUpRawFrames(httpUrl, server, deps, MISSED, true);
    const clientNone = await catchUpThroughClient(httpUrl, server, deps, 0);
    const clientMissed = await catchUpThroughClient(httpUrl, server, deps, MISSED);
    if (!keep) continue;
    single.none.push(singleNone.ms);
    single.missed.push(singleMissed.ms);
    batched.none.push(batchedNone.ms);
    batched.missed.push(batchedMissed.ms);
    client.none.push(clientNone);
    client.missed.push(clientMissed);
    posts.single.push(singleMissed.posts);
    posts.batched.push(batchedMissed.posts);
  }
  console.log(
    `\ncatch-up: reconnect (ticket + connect + resume pages until replayed more:false) with ${MISSED} missed, in order; ` +
      `floor = the same with 0 missed; median of ${CATCH_UP_RUNS} after ${CATCH_UP_WARM_UPS} unmeasured`,
  );
  const report = (label: string, samples: Samples) => {
    const [missed, none] = [percentile(samples.missed, 50), percentile(samples.none, 50)];
    console.log(row(`catch-up ${MISSED} missed, ${label}`, missed, none));
    return (missed - none) / MISSED;
  };
  const perSingle = report('one frame each', single);
  console.log(row(`  per missed notification (vs one post p50)`, perSingle, post));
  const perBatched = report('batched', batched);
  console.log(row(`  per missed notification (vs one post p50)`, perBatched, post));
  report('HeraldClient (batched)', client);
  console.log(row(`catch-up ${MISSED} missed, batched vs one frame each`, percentile(batched.missed, 50), percentile(single.missed, 50)));
  console.log(row(`posts for ${MISSED} missed, batched vs one each`, percentile(posts.batched, 50), percentile(posts.single, 50), 'posts'));
  console.log(
    `  per missed notification = (catch-up - floor) / ${MISSED}; "one post" = one @connections post of a notification frame ` +
      `to an open socket; a post is what API Gateway bills per 32 KB started, and batched frames fill up to 32 KB`,
  );
}

/** p50 of one @connections post of a notification-sized frame, as resume makes one per notification. */
async function postCost(httpUrl: string, deps: DeliverDeps): Promise<number> {
  const recipient = { tenant: uniqueTenant(), userId: 'listener' };
  const socket = await FrameSocket.open(await ticketUrl(httpUrl, await devToken(httpUrl, recipient.tenant, recipient.userId)));
  const [connectionId] = (await deps.connections.connectionIdsOf([recipient])).values().next().value ?? [];
  if (!connectionId) throw new Error('the open socket has no connection record');
  const frame = JSON.stringify({
    type: 'notification',
    kind: 'note',
    title: 'posted',
    priority: 'normal',
    seq: 1,
    id: randomUUID(),
    createdAt: new Date().toISOString(),
  });
  const samples: number[] = [];
  for (let index = 0; index < PUBLISHES; index += 1) {
    const started = performance.now();
    if ((await deps.gateway.post(connectionId, frame)) !== 'sent') throw new Error('@connections post failed');
    samples.push(performance.now() - started);
  }
  await socket.close();
  return percentile(samples, 50);
}

/** Delivers `count` notifications to one user in calls of at most deliver()'s per-user limit. */
async function deliverBacklog(server: Server, deps: DeliverDeps, recipient: Recipient, count: number): Promise<void> {
  for (let first = 0; first < count; first += server.maxPerUser) {
    const size = Math.min(server.maxPerUser, count - first);
    await server.deliver(
      deps,
      Array.from({ length: size }, (_, index) => note(recipient, `missed ${first + index}`)),
    );
  }
}

function assertInOrder(seqs: readonly number[], after: number, count: number, what: string): void {
  const expected = Array.from({ length: count }, (_, index) => after + index + 1);
  if (seqs.join(',') !== expected.join(','))
    throw new Error(`${what}: got seqs ${seqs.slice(0, 10).join(',')}… (${seqs.length}), expected ${after + 1}..${after + count}`);
}

/**
 * Online (one live notification, seq 1), offline while `missed` are delivered, then reconnect with
 * raw frames, resuming with or without `batch`. Returns the time and the posts that carried notifications.
 */
async function catchUpRawFrames(httpUrl: string, server: Server, deps: DeliverDeps, missed: number, batch: boolean): Promise<{ ms: number; posts: number }> {
  const recipient = { tenant: uniqueTenant(), userId: 'traveller' };
  const token = await devToken(httpUrl, recipient.tenant, recipient.userId);
  const online = await FrameSocket.open(await ticketUrl(httpUrl, token));
  await server.deliver(deps, [note(recipient, 'while online')]);
  await online.waitFor((frame) => frame.type === 'notification' && frame.seq === 1);
  await online.close();
  await deliverBacklog(server, deps, recipient, missed);

  const started = performance.now();
  const socket = await FrameSocket.open(await ticketUrl(httpUrl, token));
  let after = 1;
  for (let page = 1; ; page += 1) {
    socket.send({ action: 'resume', after, id: `resume-${page}`, ...(batch ? { batch } : {}) });
    const { frame } = await socket.waitFor((candidate) => candidate.type === 'replayed' && candidate.id === `resume-${page}`);
    after = frame.upTo;
    if (!frame.more) break;
  }
  const elapsed = performance.now() - started;
  assertInOrder(
    socket.notifications().map((frame) => frame.seq),
    1,
    missed,
    'raw catch-up',
  );
  const posts = socket.notificationPosts();
  await socket.close();
  return { ms: elapsed, posts };
}

/** The same procedure through HeraldClient: a second client on the first one's storage is the reconnect. */
async function catchUpThroughClient(httpUrl: string, server: Server, deps: DeliverDeps, missed: number): Promise<number> {
  const recipient = { tenant: uniqueTenant(), userId: 'traveller' };
  const token = await devToken(httpUrl, recipient.tenant, recipient.userId);
  const storage = memoryStore();
  const online = new WatchedClient(httpUrl, token, storage);
  await online.client.start();
  await online.until(() => online.caughtUp);
  await server.deliver(deps, [note(recipient, 'while online')]);
  await online.until(() => online.seqs.includes(1));
  await online.client.stop();
  await deliverBacklog(server, deps, recipient, missed);

  const back = new WatchedClient(httpUrl, token, storage);
  const started = performance.now();
  await back.client.start();
  await back.until(() => back.caughtUp && back.seqs.length >= missed);
  const elapsed = performance.now() - started;
  await back.client.stop();
  assertInOrder(back.seqs, 1, missed, 'client catch-up');
  return elapsed;
}

/**
 * HeraldClient in Node on the `ws` package, with what the benchmark watches: the seqs it emits and
 * whether its socket has had the final `replayed` (the client emits no event for that).
 */
class WatchedClient {
  readonly client: HeraldClient;
  readonly seqs: number[] = [];
  caughtUp = false;
  private wake: Array<() => void> = [];

  constructor(httpUrl: string, token: string, storage: StoreFactory) {
    const onFrame = (data: WebSocket.RawData) => {
      const frame = JSON.parse(data.toString()) as { type: string; more?: boolean };
      if (frame.type !== 'replayed' || frame.more) return;
      this.caughtUp = true;
      this.notify();
    };
    const ObservedWebSocket: WebSocketConstructor = class extends WebSocket {
      constructor(url: string) {
        super(url);
        this.on('message', onFrame);
      }
    };
    this.client = new HeraldClient({ httpUrl, getToken: async () => token, WebSocket: ObservedWebSocket, storage, shareAcrossTabs: false });
    this.client.on('notification', (notification) => {
      this.seqs.push(notification.seq);
      this.notify();
    });
  }

  async until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!condition()) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) throw new Error(`HeraldClient: timed out (state ${this.client.state}, ${this.seqs.length} seqs, caught up ${this.caughtUp})`);
      await new Promise<void>((resume) => {
        const timer = setTimeout(resume, remaining);
        this.wake.push(() => (clearTimeout(timer), resume()));
      });
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const resume of wake) resume();
  }
}
