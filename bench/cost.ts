/**
 * `npm run cost`: runs Herald's scenarios against the local runtime, meters what AWS would bill
 * (bench/cost-meter.ts), prices it (bench/cost-prices.ts, bench/cost-model.ts) and writes
 * docs/cost.md. Nothing here knows how Herald does its work: re-run it after a change and the
 * figures follow. `COST_QUICK=1` runs smaller scenarios (for trying the script, not for the doc).
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import pMap from 'p-map';
import { functionDefaults, functionSpecs } from '../lib/description';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local';
import { localTableName } from '../lib/local/resources';
import { REPO_ROOT, startLocalRuntime } from '../lib/local/runtime';
import { Meter, installMeter, type FunctionTally } from './cost-meter';
import { addUsage, costLines, dynamoItemBytes, lambdaGbSeconds, scaleUsage, totalUsd, usageAbove, usageAt, type Usage } from './cost-model';
import { PRICES, PRICES_CHECKED, PRICES_REGION, type PriceName } from './cost-prices';
import { FrameSocket } from './wire';

const QUICK = process.env.COST_QUICK === '1';
const NOTIFICATIONS = QUICK ? 5 : 20;
const MISSED = QUICK ? 20 : 50;
const FAN_OUT_SIZES = QUICK ? [10] : [10, 100, 1_000];
/** Members of the critical alert, each with an email address. */
const CRITICAL_SIZE = 10;
const EXPORT_SIZES = QUICK ? [500, 2_000] : [10_000, 100_000];
const CONCURRENCY = 16;
/** The export link and file live this long (the local runtime's exportRetentionDays). */
const EXPORT_RETENTION_DAYS = 7;
const DAYS_PER_MONTH = 30.4;
/** A warm Lambda invocation that makes a few DynamoDB calls in-region, for the figure beside the measured one. */
const ASSUMED_LAMBDA_MS = 50;

/** The month the issue asks for, and what we assume about it. */
const MONTH = {
  users: 10_000,
  notificationsPerDay: 100_000,
  exports: 1_000,
  workdays: 22,
  connectedHoursPerWorkday: 8,
  /** API Gateway closes a WebSocket after 2 h, so 8 h connected is at least 4 connections a day. */
  connectionsPerWorkday: 4,
  /** HeraldClient pings every 5 minutes (web/client/transport.ts) to stay under the 10-minute idle timeout. */
  pingsPerHour: 12,
  /** Share of notifications that reach a user offline and come with the next resume instead. */
  missedShare: 0.25,
  /** Exports of this many rows each (CSV), downloaded once by one recipient. */
  rowsPerExport: 10_000,
  /** Notification items are kept this long (notificationRetentionDays). */
  retentionDays: 30,
} as const;

interface Scenario {
  readonly usage: Usage;
  /** The factor the counts were scaled by (1/runs), for the per-function table. */
  readonly scale: number;
  readonly tallies: Map<string, FunctionTally>;
  readonly units: Map<string, { read: number; write: number }>;
  readonly posts: Meter['posts'];
  readonly webSocket: Meter['webSocket'];
  readonly transactions: Meter['transactions'];
}

const meter = new Meter();
installMeter(meter);

// ---------------------------------------------------------------------------------------------
// Scenarios

/**
 * One notification published to a connected user (POST /notifications) and its frame. HeraldClient
 * sends no frame to ack it: the watermark rides on its next keep-alive ping (see sessionAndPing).
 */
async function oneNotification(): Promise<Scenario & { itemBytes: number }> {
  const tenant = uniqueTenant();
  const publisher = await devToken(tenant, 'dispatcher', ['publisher']);
  const socket = await meteredSocket(await ticketUrl(await devToken(tenant, 'reader')));
  const publish = async (seq: number) => {
    const response = await http('POST', '/notifications', publisher, {
      userId: 'reader',
      kind: 'work-order.assigned',
      title: `Work order WO-${1000 + seq} assigned to you`,
      body: 'Inspect pump station 12, valve 3; report before 17:00.',
      data: { workOrder: `WO-${1000 + seq}`, site: 'S-12' },
    });
    if (response.status !== 202) throw new Error(`publish: ${response.status} ${JSON.stringify(response.body)}`);
    await socket.waitFor((frame) => frame.type === 'notification' && frame.seq === seq, 30_000);
    await meter.idle();
  };
  const warmUps = 2;
  for (let seq = 1; seq <= warmUps; seq += 1) await publish(seq);
  meter.start();
  for (let seq = warmUps + 1; seq <= warmUps + NOTIFICATIONS; seq += 1) await publish(seq);
  meter.stop();
  // The meter finds invocations through the local IAM layer (bench/cost-meter.ts): if that ever
  // stops working, fail here rather than print a cost without Lambda in it.
  const invocations = [...meter.functions.values()].reduce((sum, tally) => sum + tally.invocations, 0);
  if (invocations < NOTIFICATIONS)
    throw new Error(`the meter saw ${invocations} invocations for ${NOTIFICATIONS} publishes: bench/cost-meter.ts no longer sees them`);
  const scenario = snapshot(1 / NOTIFICATIONS);
  const stored = await dynamo.send(
    new GetItemCommand({ TableName: localTableName('notifications'), Key: { userKey: { S: `${tenant}#reader` }, seq: { N: String(warmUps + 1) } } }),
  );
  await socket.close();
  await meter.idle();
  return { ...scenario, itemBytes: stored.Item ? dynamoItemBytes(stored.Item) : 0 };
}

/**
 * A connection's life (ticket, connect, the client's resume from the seq it has, disconnect), one
 * bare ping, one ping carrying the ack of a notification delivered since the last one, and one
 * `ack` frame (as clients of the earlier protocol ack each notification).
 */
async function sessionAndPing(): Promise<{ connection: Scenario; ping: Scenario; pingWithAck: Scenario; ackFrame: Scenario }> {
  const tenant = uniqueTenant();
  const token = await devToken(tenant, 'walker');
  const publisher = await devToken(tenant, 'dispatcher', ['publisher']);
  const runs = QUICK ? 3 : 10;
  const publishUnmetered = async () => {
    const response = await http('POST', '/notifications', publisher, { userId: 'walker', kind: 'note', title: 'Shift starts at 7' }, false);
    if (response.status !== 202) throw new Error(`publish: ${response.status}`);
    return response.body.seq as number;
  };
  // A user who has had notifications: the client resumes after the seq it has, which the server records as its ack.
  const had = await publishUnmetered();
  await meter.idle();
  meter.start();
  for (let run = 0; run < runs; run += 1) {
    const socket = await meteredSocket(await ticketUrl(token, true));
    socket.send({ action: 'resume', after: had, id: 'r' });
    await socket.waitFor((frame) => frame.type === 'replayed');
    await socket.close();
    await meter.idle();
  }
  meter.stop();
  const connection = snapshot(1 / runs);
  const socket = await meteredSocket(await ticketUrl(token));
  await meter.idle();
  meter.start();
  for (let run = 0; run < runs; run += 1) {
    socket.send({ action: 'ping', id: `p${run}` });
    await socket.waitFor((frame) => frame.type === 'pong' && socket.countOf('pong') > run);
    await meter.idle();
  }
  meter.stop();
  const ping = snapshot(1 / runs);
  // Each run: a notification delivered (unmetered), then its ack metered: on a ping (pong awaited) or as an `ack` frame (silent).
  const acking = async (send: (seq: number) => void, pongs: boolean) => {
    const seqs: number[] = [];
    for (let run = 0; run < runs; run += 1) seqs.push(await publishUnmetered());
    await socket.waitFor((candidate) => candidate.type === 'notification' && candidate.seq === seqs.at(-1));
    await meter.idle();
    const pongsBefore = socket.countOf('pong');
    meter.start();
    for (let run = 0; run < runs; run += 1) {
      send(seqs[run] as number);
      if (pongs) await socket.waitFor(() => socket.countOf('pong') > pongsBefore + run);
      await meter.idle();
    }
    meter.stop();
    return snapshot(1 / runs);
  };
  const pingWithAck = await acking((seq) => socket.send({ action: 'ping', ack: seq }), true);
  const ackFrame = await acking((seq) => socket.send({ action: 'ack', upTo: seq }), false);
  await socket.close();
  await meter.idle();
  return { connection, ping, pingWithAck, ackFrame };
}

/** `MISSED` notifications published while the user is offline, then a reconnect that resumes them all (each resume page's `after` is an ack). */
async function resumeCatchUp(): Promise<{ publishOffline: Scenario; catchUp: Scenario }> {
  const tenant = uniqueTenant();
  const publisher = await devToken(tenant, 'dispatcher', ['publisher']);
  const token = await devToken(tenant, 'traveller');
  meter.start();
  for (let index = 0; index < MISSED; index += 1) {
    const response = await http('POST', '/notifications', publisher, { userId: 'traveller', kind: 'note', title: `While you were away ${index}` });
    if (response.status !== 202) throw new Error(`publish: ${response.status}`);
  }
  await meter.idle();
  meter.stop();
  const publishOffline = snapshot(1 / MISSED);
  meter.start();
  const socket = await meteredSocket(await ticketUrl(token, true));
  let after = 0;
  for (let page = 1; ; page += 1) {
    // As HeraldClient resumes: batched, many notifications to a frame of up to 32 KB.
    socket.send({ action: 'resume', after, batch: true, id: `resume-${page}` });
    const { frame } = await socket.waitFor((candidate) => candidate.type === 'replayed' && candidate.id === `resume-${page}`, 30_000);
    after = frame.upTo as number;
    if (!frame.more) break;
  }
  const replayed = socket.notifications().length;
  if (replayed !== MISSED) throw new Error(`catch-up: ${replayed} notifications, expected ${MISSED}`);
  await meter.idle();
  await socket.close();
  await meter.idle();
  meter.stop();
  return { publishOffline, catchUp: snapshot(1) };
}

/**
 * An alert (POST /alerts) fanned out to `size` members, each connected and receiving its
 * notification (HeraldClient acks it on its next ping, priced in renderDoc); when critical, each
 * member has an email address in their preferences.
 */
async function alertFanOut(size: number, severity: 'high' | 'critical' = 'high'): Promise<Scenario> {
  const tenant = uniqueTenant();
  const topic = 'site-12';
  const admin = await devToken(tenant, 'admin', ['admin']);
  const publisher = await devToken(tenant, 'sensor', ['publisher']);
  const members = Array.from({ length: size }, (_, index) => `member-${index}`);
  await pMap(
    members,
    async (member) => {
      const response = await http('PUT', `/topics/${topic}/members/${member}`, admin);
      if (response.status !== 201) throw new Error(`membership: ${response.status}`);
    },
    { concurrency: CONCURRENCY },
  );
  const sockets = await pMap(
    members,
    async (member) => {
      const token = await devToken(tenant, member);
      if (severity === 'critical') {
        const response = await http('PUT', '/me/preferences', token, { kinds: {}, muted: false, email: `${member}@example.com` }, false);
        if (response.status !== 200) throw new Error(`preferences: ${response.status} ${JSON.stringify(response.body)}`);
      }
      return meteredSocket(await ticketUrl(token));
    },
    { concurrency: CONCURRENCY },
  );
  await meter.idle();
  meter.start();
  const raised = await http('POST', '/alerts', publisher, { topic, rule: 'gas-level', subject: 'bay-3', severity, title: 'Gas above limit' });
  if (raised.status !== 201) throw new Error(`raise: ${raised.status} ${JSON.stringify(raised.body)}`);
  await pMap(
    sockets,
    async (socket) => {
      await socket.waitFor((candidate) => candidate.type === 'notification', 180_000);
    },
    { concurrency: size },
  );
  await meter.idle(1_000);
  meter.stop();
  const scenario = snapshot(1);
  await pMap(sockets, (socket) => socket.close(), { concurrency: CONCURRENCY });
  await meter.idle();
  return scenario;
}

/** A scheduled CSV export of `rows` notifications: the Scheduler firing, the worker, the email, and one download of the file. */
async function scheduledExport(rows: number): Promise<{ bytes: number; scenario: Scenario }> {
  const tenant = uniqueTenant();
  const owner = 'planner';
  await seedNotifications(`${tenant}#${owner}`, rows);
  const token = await devToken(tenant, owner);
  const recipient = `${randomUUID().slice(0, 8)}@example.com`;
  const created = await http('POST', '/exports/schedules', token, {
    name: 'Daily inbox',
    dataset: 'notifications',
    format: 'csv',
    schedule: { preset: 'daily', at: '09:00' },
    timezone: 'UTC',
    recipients: [recipient],
  });
  if (created.status !== 201) throw new Error(`schedule: ${created.status} ${JSON.stringify(created.body)}`);
  await meter.idle();
  meter.start();
  // The manual clock starts at midnight UTC; each export moves it a day on, past one 09:00.
  schedulerNow = new Date(schedulerNow.getTime() + 86_400_000);
  const moved = await fetch(`${schedulerUrl}/_local/clock`, { method: 'POST', body: JSON.stringify({ now: schedulerNow.toISOString() }) });
  if (moved.status !== 200) throw new Error(`scheduler clock: ${moved.status}`);
  const email = await until(async () => (await emailsTo(recipient))[0], 600_000);
  await meter.idle(1_000, 600_000);
  const link = /Download: (\S+)/.exec(email.body?.text ?? '')?.[1];
  if (!link) throw new Error(`no download link in ${JSON.stringify(email.body)}`);
  const download = await fetch(link, { redirect: 'manual' });
  meter.httpRequest(0, 0);
  const location = download.headers.get('location');
  if (download.status !== 302 || !location) throw new Error(`download: ${download.status}`);
  const file = Buffer.from(await (await fetch(location)).arrayBuffer());
  await meter.idle();
  meter.stop();
  // The recipient's GET of the pre-signed URL, the file leaving AWS, and the file kept until it expires.
  meter.extra = {
    s3Tier2Requests: 1,
    dataTransferOutGb: file.byteLength / 1e9,
    s3StorageGbMonths: (file.byteLength / 1e9) * (EXPORT_RETENTION_DAYS / DAYS_PER_MONTH),
  };
  const scenario = snapshot(1);
  // So that the next export's clock move does not fire this schedule again.
  await http('DELETE', `/exports/schedules/${created.body.id}`, token, undefined, false);
  await meter.idle();
  return { bytes: file.byteLength, scenario };
}

/** What DynamoDB Local reports for the cases DynamoDB bills specially, on a scratch table, outside the meter. */
async function probeDynamoLocal(): Promise<Results['probe']> {
  const TableName = `cost-probe-${randomUUID().slice(0, 8)}`;
  await dynamo.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'k', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'k', KeyType: 'HASH' }],
    }),
  );
  try {
    const transaction = await dynamo.send(
      new TransactWriteItemsCommand({
        TransactItems: [{ Put: { TableName, Item: { k: { S: 'small' } } } }, { Put: { TableName, Item: { k: { S: 'large' }, v: { S: 'x'.repeat(1_500) } } } }],
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    let failedConditionalReported = false;
    try {
      await dynamo.send(
        new PutItemCommand({ TableName, Item: { k: { S: 'small' } }, ConditionExpression: 'attribute_not_exists(k)', ReturnConsumedCapacity: 'TOTAL' }),
      );
      throw new Error('probe: the conditional put did not fail');
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      failedConditionalReported = (error as { ConsumedCapacity?: unknown }).ConsumedCapacity !== undefined;
    }
    const query = await dynamo.send(
      new QueryCommand({ TableName, KeyConditionExpression: 'k = :k', ExpressionAttributeValues: { ':k': { S: 'none' } }, ReturnConsumedCapacity: 'TOTAL' }),
    );
    return {
      transactionUnits: (transaction.ConsumedCapacity ?? []).reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0),
      failedConditionalReported,
      emptyQueryUnits: query.ConsumedCapacity?.CapacityUnits ?? 0,
    };
  } finally {
    await dynamo.send(new DeleteTableCommand({ TableName }));
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** What the meter counted, scaled (e.g. 1/runs for one run's share). */
function snapshot(factor: number): Scenario {
  return {
    usage: scaleUsage(meter.usage(), factor),
    scale: factor,
    tallies: new Map(meter.functions),
    units: new Map(meter.units),
    posts: { ...meter.posts },
    webSocket: { ...meter.webSocket },
    transactions: { ...meter.transactions },
  };
}

async function seedNotifications(userKey: string, rows: number): Promise<void> {
  const expiresAt = Math.floor(Date.now() / 1000) + 86_400;
  const batches: number[][] = [];
  for (let first = 1; first <= rows; first += 25) batches.push(Array.from({ length: Math.min(25, rows - first + 1) }, (_, index) => first + index));
  await db.send(new BatchWriteCommand({ RequestItems: { [localTableName('notifications')]: [{ PutRequest: { Item: { userKey, seq: 0, lastSeq: rows } } }] } }));
  await pMap(
    batches,
    async (seqs) => {
      let pending: any[] = seqs.map((seq) => ({
        PutRequest: {
          Item: {
            userKey,
            seq,
            id: `01J${String(seq).padStart(23, '0')}`,
            createdAt: new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString(),
            kind: 'work-order.assigned',
            priority: seq % 10 === 0 ? 'high' : 'normal',
            title: `Work order ${seq} assigned to crew ${seq % 97}`,
            body: `Inspect pump station ${seq % 512}, valve ${seq % 13}; report before 17:00.`,
            data: { workOrder: `WO-${seq}`, site: `S-${seq % 512}` },
            expiresAt,
            ...(seq % 3 === 0 ? {} : { unreadSeq: seq }),
          },
        },
      }));
      for (let round = 0; pending.length > 0; round += 1) {
        if (round >= 10) throw new Error('seeding: BatchWrite left items unprocessed');
        const result = await db.send(new BatchWriteCommand({ RequestItems: { [localTableName('notifications')]: pending } }));
        pending = (result.UnprocessedItems?.[localTableName('notifications')] ?? []) as any[];
      }
    },
    { concurrency: 8 },
  );
}

async function emailsTo(address: string): Promise<Array<{ body?: { text?: string } }>> {
  const response = await fetch(`${mailUrl}/store`);
  const { emails } = (await response.json()) as { emails: Array<{ destination: { to: string[] }; body?: { text?: string } }> };
  return emails.filter((email) => email.destination.to.includes(address));
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((resume) => setTimeout(resume, 200));
  }
}

const uniqueTenant = () => `cost-${randomUUID().slice(0, 8)}`;

async function devToken(tenant: string, user: string, roles: string[] = []): Promise<string> {
  const response = await fetch(`${httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ tenant, user, roles }) });
  if (response.status !== 200) throw new Error(`dev token: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

/** A ticket's socket URL; `counted` when the ticket is part of what is measured. */
async function ticketUrl(token: string, counted = false): Promise<string> {
  const response = await http('POST', '/realtime/ticket', token, undefined, counted);
  if (response.status !== 200) throw new Error(`ticket: ${response.status}`);
  return (response.body as { url: string }).url;
}

/** One HTTP API request, counted by the meter when it runs. */
async function http(method: string, path: string, token: string, body?: unknown, counted = true): Promise<{ status: number; body: any }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const response = await fetch(`${httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(payload && { 'content-type': 'application/json' }) },
    body: payload,
  });
  const text = await response.text();
  if (counted) meter.httpRequest(Buffer.byteLength(payload ?? '') + Buffer.byteLength(token) + path.length, Buffer.byteLength(text));
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

/** A client socket whose every frame, each way, the meter counts as API Gateway would bill it. */
const meteredSocket = (url: string) =>
  FrameSocket.open(url, { sent: (bytes) => meter.frame('sent', bytes), received: (bytes) => meter.frame('received', bytes) });

// ---------------------------------------------------------------------------------------------
// The document

function perMillion(usage: Usage): number {
  return totalUsd(scaleUsage(usage, 1_000_000), PRICES);
}

function fmt(usd: number): string {
  if (usd === 0) return '$0';
  if (usd >= 100) return `$${usd.toFixed(0)}`;
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  if (usd >= 0.01) return `$${usd.toFixed(3)}`;
  return `$${usd.toPrecision(2)}`;
}

const qty = (quantity: number) => (quantity >= 100 ? quantity.toFixed(0) : quantity >= 1 ? quantity.toFixed(2) : quantity.toPrecision(2));

const SHORT: Record<PriceName, string> = {
  webSocketMessages: 'API Gateway WebSocket messages',
  webSocketConnectionMinutes: 'API Gateway connection minutes',
  httpApiRequests: 'API Gateway HTTP API requests',
  dynamoWriteRequestUnits: 'DynamoDB write request units',
  dynamoReadRequestUnits: 'DynamoDB read request units',
  dynamoStorageGbMonths: 'DynamoDB storage (GB-months)',
  lambdaRequests: 'Lambda requests',
  lambdaGbSeconds: 'Lambda GB-seconds',
  sesEmails: 'SES emails',
  s3Tier1Requests: 'S3 PUT/LIST requests',
  s3Tier2Requests: 'S3 GET requests',
  s3StorageGbMonths: 'S3 storage (GB-months)',
  dataTransferOutGb: 'data transfer out (GB)',
  schedulerInvocations: 'Scheduler invocations',
  sqsRequests: 'SQS requests',
};

/** A usage in words: each non-zero quantity and what it is, largest cost first. */
function describeUsage(usage: Usage): string {
  const lines = costLines(usage, PRICES);
  return lines.length === 0 ? 'nothing' : lines.map((line) => `${qty(line.quantity)} ${SHORT[line.price]}`).join(', ');
}

/** A table of the lines of `usage` scaled by `scale`, with each line's share of the total. */
function linesTable(usage: Usage, scale: number, unitLabel: string): string {
  const scaled = scaleUsage(usage, scale);
  const lines = costLines(scaled, PRICES);
  const total = lines.reduce((sum, line) => sum + line.usd, 0);
  const rows = lines.map((line) => `| ${SHORT[line.price]} | ${qty(line.quantity)} | ${fmt(line.usd)} | ${((line.usd / total) * 100).toFixed(0)}% |`);
  return [`| line | quantity ${unitLabel} | cost | share |`, '|---|---:|---:|---:|', ...rows, `| **total** | | **${fmt(total)}** | |`].join('\n');
}

/** Lambda's own reads of DynamoDB Streams are free; the event source's calls are left out of the tables. */
const FREE_COMMANDS = new Set(['GetRecordsCommand', 'GetShardIteratorCommand', 'DescribeStreamCommand', 'ListStreamsCommand']);

/** Per function: invocations, mean measured duration, DynamoDB units and requests, of one scenario (per run). */
function functionsTable(scenario: Scenario, costScale = 1, costLabel = 'a run'): string {
  const scale = scenario.scale;
  const rows = [...scenario.tallies.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([label, tally]) => {
      const billed = [...tally.requests.entries()].filter(([command]) => !FREE_COMMANDS.has(command));
      if (tally.invocations === 0 && billed.length === 0) return [];
      const requests = billed.map(([command, count]) => `${command.replace(/Command$/, '')} ${qty(count * scale)}`).join(', ');
      const memory = memoryOf(label);
      const duration = tally.invocations > 0 ? `${(tally.durationMs / tally.invocations).toFixed(0)} ms @ ${memory} MB` : '-';
      const failures = [
        tally.failedConditionalWrites ? `${qty(tally.failedConditionalWrites * scale)} failed conditional` : '',
        tally.canceledTransactions ? `${qty(tally.canceledTransactions * scale)} canceled tx` : '',
      ]
        .filter(Boolean)
        .join(', ');
      const who = tally.invocations > 0 ? label : `${label} (event source / service)`;
      const own: Usage = {
        lambdaRequests: tally.invocations * scale * costScale,
        lambdaGbSeconds: tally.gbSeconds * scale * costScale,
        dynamoReadRequestUnits: tally.readUnits * scale * costScale,
        dynamoWriteRequestUnits: tally.writeUnits * scale * costScale,
      };
      return [
        `| ${who} | ${qty(tally.invocations * scale)} | ${duration} | ${qty(tally.readUnits * scale)} | ${qty(tally.writeUnits * scale)} | ${fmt(totalUsd(own, PRICES))} | ${requests}${failures ? `; ${failures}` : ''} |`,
      ];
    });
  return [
    `| function | invocations | mean local duration | RRU | WRU | Lambda + DynamoDB ${costLabel} | AWS requests |`,
    '|---|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}

/** DynamoDB units by table and index as DynamoDB Local reports them (without failed conditional writes and reads raised to the minimum). */
function unitsTable(scenario: Scenario): string {
  const rows = [...scenario.units.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, units]) => `| ${key.replace(/^herald-/, '')} | ${qty(units.read * scenario.scale)} | ${qty(units.write * scenario.scale)} |`);
  return ['| table / index | RRU | WRU |', '|---|---:|---:|', ...rows].join('\n');
}

function memoryOf(label: string): number {
  return new Map(functionSpecs()).get(label as never)?.memoryMb ?? functionDefaults.memoryMb;
}

/** The scenario's usage with every invocation taking `ms` instead of its measured local duration. */
function atDuration(scenario: Scenario, ms: number): Usage {
  let gbSeconds = 0;
  for (const [label, tally] of scenario.tallies) gbSeconds += tally.invocations * scenario.scale * lambdaGbSeconds(ms, memoryOf(label));
  return { ...scenario.usage, lambdaGbSeconds: gbSeconds };
}

interface Results {
  notification: Scenario & { itemBytes: number };
  session: { connection: Scenario; ping: Scenario; pingWithAck: Scenario; ackFrame: Scenario };
  catchUp: { publishOffline: Scenario; catchUp: Scenario };
  fanOuts: Array<{ size: number; scenario: Scenario }>;
  critical: Scenario;
  probe: { transactionUnits: number; failedConditionalReported: boolean; emptyQueryUnits: number };
  exportRuns: Array<{ rows: number; bytes: number; scenario: Scenario }>;
  itemBytes: number;
  seconds: number;
}

function renderDoc(results: Results): string {
  const { notification, session, catchUp, exportRuns } = results;
  // HeraldClient's ack rides on its next keep-alive ping: what a ping carrying one costs beyond a
  // bare ping (the watermark's UpdateItem), charged once per notification (the dearer case: a
  // ping carries the watermark of every notification since the previous one).
  const ackOnPing = usageAbove(session.pingWithAck.usage, session.ping.usage);
  const acked = (scenario: Scenario, acks: number): Scenario => ({ ...scenario, usage: addUsage(scenario.usage, scaleUsage(ackOnPing, acks)) });
  const fanOuts = results.fanOuts.map(({ size, scenario }) => ({ size, scenario: acked(scenario, size) }));
  const critical = acked(results.critical, CRITICAL_SIZE);
  const perNotification = addUsage(notification.usage, ackOnPing);
  const perNotificationAckFrames = addUsage(notification.usage, session.ackFrame.usage);
  const millionCost = perMillion(perNotification);
  const topLine = costLines(scaleUsage(perNotification, 1_000_000), PRICES)[0];
  const catchUpPerMissed = addUsage(catchUp.publishOffline.usage, scaleUsage(addUsage(catchUp.catchUp.usage, ackOnPing), 1 / MISSED));
  const largest = results.fanOuts.at(-1);

  const [small, large] = exportRuns as [(typeof exportRuns)[0], (typeof exportRuns)[0]];
  const bytesPerRow = large.bytes / large.rows;
  const rowsPerGb = 1e9 / bytesPerRow;
  const exportAt = (rows: number) => usageAt(rows, { size: small.rows, usage: small.scenario.usage }, { size: large.rows, usage: large.scenario.usage });

  // The month.
  const monthNotifications = MONTH.notificationsPerDay * DAYS_PER_MONTH;
  const connections = MONTH.users * MONTH.workdays * MONTH.connectionsPerWorkday;
  const connectedMinutes = MONTH.users * MONTH.workdays * MONTH.connectedHoursPerWorkday * 60;
  const pings = MONTH.users * MONTH.workdays * MONTH.connectedHoursPerWorkday * MONTH.pingsPerHour;
  const storedItems = MONTH.notificationsPerDay * MONTH.retentionDays;
  const month = {
    'notifications delivered live, acked on pings': scaleUsage(perNotification, monthNotifications * (1 - MONTH.missedShare)),
    'notifications missed, then resumed': scaleUsage(catchUpPerMissed, monthNotifications * MONTH.missedShare),
    'connections (ticket, connect, resume, disconnect)': scaleUsage(session.connection.usage, connections),
    'connection minutes': { webSocketConnectionMinutes: connectedMinutes } as Usage,
    'keep-alive pings': scaleUsage(session.ping.usage, pings),
    'scheduled exports': scaleUsage(exportAt(MONTH.rowsPerExport), MONTH.exports),
    'notifications kept (storage)': { dynamoStorageGbMonths: (storedItems * results.itemBytes) / 1e9 } as Usage,
  };
  const monthTotal = Object.values(month).reduce((sum, usage) => sum + totalUsd(usage, PRICES), 0);
  const monthRows = Object.entries(month)
    .map(([part, usage]) => [part, totalUsd(usage, PRICES)] as const)
    .sort((a, b) => b[1] - a[1])
    .map(([part, usd]) => `| ${part} | ${fmt(usd)} | ${((usd / monthTotal) * 100).toFixed(0)}% |`);

  const duration = (scenario: Scenario) =>
    [...scenario.tallies.values()].reduce((sum, tally) => sum + tally.durationMs, 0) /
    Math.max(
      1,
      [...scenario.tallies.values()].reduce((sum, tally) => sum + tally.invocations, 0),
    );

  return `# Cost

Generated by \`npm run cost\` (bench/cost.ts) on ${new Date().toISOString().slice(0, 10)} in ${results.seconds.toFixed(0)} s${QUICK ? ' (COST_QUICK: small scenarios, not for decisions)' : ''}.
Do not edit by hand: change the scenarios or the prices and regenerate.

Every figure is **measured**: the scenarios below run against the local runtime (\`npm start\`'s
runtime, real emulators, real SDK clients, IAM enforced), and a meter (bench/cost-meter.ts) counts
what AWS bills for as Herald's functions make their calls. The counts are multiplied by the published
prices in bench/cost-prices.ts (${PRICES_REGION}, checked ${PRICES_CHECKED}; no free tier, no volume
discount). When Herald changes (fewer requests per frame, batched replays, fewer round trips in
\`deliver()\`), re-running the script updates every figure here.

## Summary

| what | cost (measured local durations) | cost with every invocation at ${ASSUMED_LAMBDA_MS} ms |
|---|---:|---:|
| 1M notifications delivered to connected users, acked on HeraldClient's keep-alive ping | **${fmt(millionCost)}** (target: at most $3) | ${fmt(perMillion(addUsage(atDuration(notification, ASSUMED_LAMBDA_MS), ackOnPing)))} |
| the same, each acked with its own \`ack\` frame (clients of the earlier protocol) | ${fmt(perMillion(perNotificationAckFrames))} | ${fmt(perMillion(addUsage(atDuration(notification, ASSUMED_LAMBDA_MS), atDuration(session.ackFrame, ASSUMED_LAMBDA_MS))))} |
| 1M notifications delivered while offline and caught up by resume | ${fmt(perMillion(catchUpPerMissed))} | ${fmt(perMillion(addUsage(atDuration(catchUp.publishOffline, ASSUMED_LAMBDA_MS), scaleUsage(addUsage(atDuration(catchUp.catchUp, ASSUMED_LAMBDA_MS), ackOnPing), 1 / MISSED))))} |
${fanOuts.map(({ size, scenario }) => `| one alert fanned out to ${size.toLocaleString('en-US')} connected members, each acking on its next ping | ${fmt(totalUsd(scenario.usage, PRICES))} (${fmt(totalUsd(scenario.usage, PRICES) / size)} a member) | ${fmt(totalUsd(atDuration(scenario, ASSUMED_LAMBDA_MS), PRICES))} (${fmt(totalUsd(atDuration(scenario, ASSUMED_LAMBDA_MS), PRICES) / size)} a member) |`).join('\n')}
| one critical alert to ${CRITICAL_SIZE} members, each also emailed | ${fmt(totalUsd(critical.usage, PRICES))} | ${fmt(totalUsd(atDuration(critical, ASSUMED_LAMBDA_MS), PRICES))} |
${exportRuns.map(({ rows, bytes, scenario }) => `| one scheduled CSV export of ${rows.toLocaleString('en-US')} rows (${(bytes / 1e6).toFixed(1)} MB), emailed, downloaded once | ${fmt(totalUsd(scenario.usage, PRICES))} | |`).join('\n')}
| one export of 1 GB of CSV (about ${Math.round(rowsPerGb).toLocaleString('en-US')} rows; extrapolated) | ${fmt(totalUsd(exportAt(rowsPerGb), PRICES))} | |
| **a month**: ${MONTH.users.toLocaleString('en-US')} users, ${MONTH.notificationsPerDay.toLocaleString('en-US')} notifications a day, ${MONTH.exports.toLocaleString('en-US')} exports | **${fmt(monthTotal)}** | |

Local durations are not Lambda's (see "How it is measured"): the first column is an upper
estimate, worst where many invocations run at once on this machine (a 1,000-member fan-out); the
second assumes every invocation, the fan-out's own included, takes ${ASSUMED_LAMBDA_MS} ms, a lower estimate.
An export's worker runs for as long as it streams, so its figure has one column.

Where the money for 1M delivered notifications goes: ${costLines(scaleUsage(perNotification, 1_000_000), PRICES)
    .slice(0, 4)
    .map((line) => `${SHORT[line.price]} ${fmt(line.usd)} (${((line.usd / millionCost) * 100).toFixed(0)}%)`)
    .join(', ')}; the largest line is **${topLine ? SHORT[topLine.price] : '-'}**.
The target of $3 per 1M is ${millionCost <= 3 ? '**met**' : `**not met** (${(millionCost / 3).toFixed(1)}x over)`}; see "What $3 would take".

## One notification to a connected user

\`POST /notifications\` (role publisher) to a user with one open socket and the \`notification\`
frame; the mean of ${NOTIFICATIONS} after 2 unmeasured. HeraldClient sends no frame to ack it: the
watermark rides on its next keep-alive \`ping\` (docs/protocol.md, "Acks"), which it sends anyway,
so the ack costs what a ping carrying \`ack\` costs beyond a bare one: ${describeUsage(ackOnPing)}
(${fmt(perMillion(ackOnPing))} per 1M; measured on ${session.pingWithAck.scale > 0 ? Math.round(1 / session.pingWithAck.scale) : 0} pings each way). A client that acks each
notification with its own \`ack\` frame pays ${describeUsage(session.ackFrame.usage)} instead (${fmt(perMillion(session.ackFrame.usage))} per 1M). Per 1M notifications:

${linesTable(perNotification, 1_000_000, 'per 1M')}

Where it comes from, per notification (cost column per 1M; the ack's share is in the lines above, on the ping):

${functionsTable(notification, 1_000_000, 'per 1M')}

DynamoDB units per notification by table and index (transactions billed from their items, other
requests as reported; without failed conditional writes, and reads raised to DynamoDB's minimum).
A write to a table with local secondary indexes also pays for each index the item is in, twice in
a transaction:

${unitsTable(notification)}

WebSocket frames per notification: ${qty(notification.webSocket.received * notification.scale)} received by the client, ${qty(notification.webSocket.sent * notification.scale)} sent by it; @connections posts: ${qty(notification.posts.count * notification.scale)} of ${(notification.posts.bytes / Math.max(1, notification.posts.count)).toFixed(0)} bytes on average (one 32 KB message each).

## Catch-up (resume)

${MISSED} notifications published while the user is offline, then a reconnect: a ticket, \`$connect\`,
\`resume\` with \`batch: true\` (as HeraldClient resumes: many notifications to a frame of up to 32 KB) pages until \`more: false\`
(each page's \`after\` recorded as the watermark), disconnect; the last watermark rides on the next ping (priced as above).
Per missed notification (its publish plus 1/${MISSED} of the catch-up and of that ack), per 1M:

${linesTable(catchUpPerMissed, 1_000_000, 'per 1M')}

The catch-up of ${MISSED} alone (${fmt(totalUsd(catchUp.catchUp.usage, PRICES))}):

${functionsTable(catchUp.catchUp)}

## Alert fan-out

\`POST /alerts\` (severity high: in-app only, no email) to a topic of N members, every member
connected with one socket. The stream fan-out, its \`deliver()\` and the pushes are measured; each
member's ack on its next ping (${describeUsage(ackOnPing)}, measured above) is added to the lines,
not to the per-function tables.

${fanOuts
  .map(
    ({ size, scenario }) => `### ${size.toLocaleString('en-US')} members

${linesTable(scenario.usage, 1, 'per alert')}

${functionsTable(scenario)}

${unitsTable(scenario)}
`,
  )
  .join('\n')}
### A critical alert, ${CRITICAL_SIZE} members with email addresses

The same, with \`severity: critical\`: each member is also emailed (SES, after a conditional put
that claims the email). ${fmt(totalUsd(critical.usage, PRICES))} an alert, against ${fmt(totalUsd(fanOuts.find(({ size }) => size === CRITICAL_SIZE)?.scenario.usage ?? {}, PRICES))} for the in-app-only one above.

${linesTable(critical.usage, 1, 'per alert')}

${functionsTable(critical)}

## Exports

A daily CSV schedule of the notifications dataset fired by the Scheduler emulator's clock: the
Scheduler sends to the exports queue, the worker streams the rows to S3 (multipart) and SES emails
the link; the recipient follows it once (\`GET /exports/runs/{id}/download\`, a 302 to a pre-signed
S3 URL, the file leaves AWS). The file is kept ${EXPORT_RETENTION_DAYS} days (S3 storage below).
Measured: ${exportRuns.map(({ rows, bytes }) => `${rows.toLocaleString('en-US')} rows = ${(bytes / 1e6).toFixed(2)} MB`).join(', ')} (${bytesPerRow.toFixed(0)} bytes a row).

${exportRuns
  .map(
    ({ rows, scenario }) => `### ${rows.toLocaleString('en-US')} rows

${linesTable(scenario.usage, 1, 'per export')}

${functionsTable(scenario)}
`,
  )
  .join('\n')}
### By GB

On the straight line through the two measured sizes (the fixed part of a run plus a part per row),
at ${Math.round(rowsPerGb).toLocaleString('en-US')} rows (1 GB of CSV):

${linesTable(exportAt(rowsPerGb), 1, 'per GB')}

## A month

${MONTH.users.toLocaleString('en-US')} users, ${MONTH.notificationsPerDay.toLocaleString('en-US')} notifications a day (${DAYS_PER_MONTH} days), ${MONTH.exports.toLocaleString('en-US')} exports a month. Assumptions:

- Each user is connected ${MONTH.connectedHoursPerWorkday} h on ${MONTH.workdays} workdays: ${(connectedMinutes / 1e6).toFixed(1)}M connection minutes.
  API Gateway closes a socket after 2 h, so that is ${MONTH.connectionsPerWorkday} connections a day each (ticket, \`$connect\`, the client's resume, \`$disconnect\`: measured as one "connection").
- HeraldClient pings every 5 minutes while connected (${MONTH.pingsPerHour} an hour): ${(pings / 1e6).toFixed(1)}M pings, each measured (frame, pong, the ping function).
- ${(MONTH.missedShare * 100).toFixed(0)}% of notifications reach their user offline and come with the next resume; the rest are delivered live, each acked on a ping of its own (a ping carries the watermark of all since the previous one, so this is the dearer case).
- Each export is a ${MONTH.rowsPerExport.toLocaleString('en-US')}-row CSV, downloaded once.
- Notifications are kept ${MONTH.retentionDays} days: ${(storedItems / 1e6).toFixed(1)}M items of ${results.itemBytes} bytes (measured, before index overhead) in DynamoDB.
- Alerts are among the notifications; Lambda cold starts, CloudWatch logs and metrics, and the free tiers are left out.

| part | cost a month | share |
|---|---:|---:|
${monthRows.join('\n')}
| **total** | **${fmt(monthTotal)}** | |

All lines of the month:

${linesTable(
  Object.values(month).reduce((sum, usage) => addUsage(sum, usage), {} as Usage),
  1,
  'a month',
)}

One connection (ticket, connect, resume, disconnect) costs ${fmt(totalUsd(session.connection.usage, PRICES))}; one ping ${fmt(totalUsd(session.ping.usage, PRICES))}.

${whatThreeDollarsWouldTake(perNotification, fanOuts.at(-1), session.ping.usage, ackOnPing)}

## How it is measured

- **Lambda**: invocations and their durations are taken where the local Lambda host runs each
  invocation; GB-seconds = the measured duration (rounded up to 1 ms) x the function's memory in the
  description (lib/description/), priced for arm64. Local durations are not Lambda's: they include
  DynamoDB Local and the local IAM check, on a shared machine (mean ${duration(notification).toFixed(0)} ms an
  invocation in the notification scenario; the meter's own reads of a transaction's items, below, are
  taken out). Treat the Lambda lines as an upper estimate; cold starts are not in them.
- **DynamoDB**: every request a function makes asks for \`ReturnConsumedCapacity: INDEXES\`, and the
  units DynamoDB Local reports are summed (and split by table and index in the tables above), except
  for transactions. A **committed TransactWriteItems** is billed from its items instead: the meter
  reads every item the transaction touches just before and just after it (outside any function, so
  neither counted nor checked by local IAM) and bills 2 units per started KB of each item (an update
  the larger of before and after), plus, for each secondary index the write adds an entry to,
  removes one from or changes, the same again at 2x (an index key that changed is a delete and a put)
  (\`transactionWriteUnits\` in bench/cost-model.ts, unit-tested). DynamoDB Local's own report
  undercounts transactions of several items: ${largest && largest.scenario.transactions.count > 0 ? `in the ${largest.size.toLocaleString('en-US')}-member fan-out it reported ${qty(largest.scenario.transactions.reportedUnits)} write units for ${largest.scenario.transactions.count} transactions, which are billed ${qty(largest.scenario.transactions.billedUnits)}` : 'when deliver() still committed many users in one transaction, a 1,000-member fan-out reported 366 write units for 37 transactions, which were billed 10,006'}
  (earlier versions of this page took the report, and showed 1,366 write units for a 1,000-member
  alert, about 9,600 too few). On a scratch table, a transaction of a small and a 1.5 KB item
  reported ${results.probe.transactionUnits} units (DynamoDB bills 2 x (1 + 2) = 6). deliver() writes no transaction now
  (docs/protocol.md, "How seqs are allocated"); raising an alert and the export worker still do. A failed
  conditional PutItem reported ${results.probe.failedConditionalReported ? 'units' : 'none'}, an empty Query ${results.probe.emptyQueryUnits} units. A **failed conditional write** is billed by DynamoDB by the existing item's size (at least 1 unit):
  the meter asks for the old item (\`ReturnValuesOnConditionCheckFailure: ALL_OLD\`, removed again
  from the error the function sees unless the function asked for it itself, as a dedupe claim does) and bills its size:
  deliver()'s puts at a seq found taken, its claims found taken and its hint updates another writer overtook. A canceled transaction is billed as if it had
  committed (2 units per action and KB of the item it puts), which is at most what DynamoDB bills.
  DynamoDB Local reports 0 for a read that finds nothing; DynamoDB bills the minimum (0.5 unit
  eventually consistent, 1 consistent, per item asked for), so the meter raises such reads to it.
- **API Gateway**: WebSocket messages are counted at the client sockets, both ways (pushes, route
  responses such as \`pong\` and \`replayed\`, and the client's own frames), each metered per 32 KB;
  HTTP API requests per 512 KB. \`/dev/token\` and the scenarios' setup (memberships, sockets of
  fan-out members, seeding) are not counted.
- **SES, S3, SQS, Scheduler**: SendEmail recipients; S3 requests by class (each multipart part is a
  PUT) plus the recipient's one GET and the file's bytes out; SQS requests that move a message (the
  event source's empty long polls depend on the local poller's cadence and are left out);
  Scheduler's sends to the exports queue.
- DynamoDB Streams reads by Lambda are free, and are not counted.

Regenerate: \`npm run cost\` (about ${Math.ceil(results.seconds / 60)} min here; \`npm run cost -- /tmp/cost.md\` writes elsewhere).
Prices: bench/cost-prices.ts, each with its source page. The arithmetic is unit-tested in
test/unit/cost-model.test.ts.
`;
}

/**
 * The transaction design that option b) replaced, as docs/cost.md measured it last (commit 173cfd1,
 * a quiet machine): write units per notification and per alert member, and a single publish's cost.
 */
const TRANSACTION_DESIGN = { plainUnits: 8, alertUnits: 10, singleUsdPerMillion: 8.21, singleDynamoUsdPerMillion: 5.87 } as const;

/**
 * The floor arithmetic behind the $3 target, from the measured figures: what a notification costs
 * besides its DynamoDB writes, hence how many write units the target leaves, against what each
 * way of storing a notification needs (docs/cost.md, "What $3 would take").
 */
function whatThreeDollarsWouldTake(single: Usage, fanOut: { size: number; scenario: Scenario } | undefined, ping: Usage, ack: Usage): string {
  const wru = PRICES.dynamoWriteRequestUnits.usd / PRICES.dynamoWriteRequestUnits.per;
  const perMillionUsd = (price: PriceName) => (PRICES[price].usd / PRICES[price].per) * 1_000_000;
  const withoutWrites = (usage: Usage) => perMillion({ ...usage, dynamoWriteRequestUnits: 0 });
  const singleRest = withoutWrites(single);
  const member = fanOut ? scaleUsage(fanOut.scenario.usage, 1 / fanOut.size) : undefined;
  const memberRest = member ? withoutWrites(member) : Number.NaN;
  const budget = (rest: number) => Math.max(0, (3 - rest) / (wru * 1_000_000));
  const floor = perMillionUsd('httpApiRequests') + perMillionUsd('webSocketMessages');
  // Every notification's ack is a write too (on a ping, as priced above), whichever way it is stored;
  // the measured usage includes it, so storing alone is the measured write units less the ack's.
  const ackUnits = ack.dynamoWriteRequestUnits ?? 0;
  const builtPlain = (single.dynamoWriteRequestUnits ?? 0) - ackUnits;
  const builtAlert = member ? (member.dynamoWriteRequestUnits ?? 0) - ackUnits : Number.NaN;
  const options: Array<[string, number, number, string]> = [
    [
      'before: one TransactWriteItems of the counter update and the item (and, for an alert, the dedupe record), into a table with LSIs `byId` and `unread`',
      TRANSACTION_DESIGN.plainUnits,
      TRANSACTION_DESIGN.alertUnits,
      'none, but every unit at 2x; replaced by b)',
    ],
    [
      'a) Notifications v2 table without `byId` (a notification id carries its seq, so read-by-id needs no index), the same transaction',
      6,
      8,
      "a new table and a migration: writes go to v2 from one release on (its counter taken over from v1 with a conditional write), reads merge v1 and v2 until v1's items have expired (the 30-day retention), then v1 is dropped",
    ],
    [
      "**b) built**: no transaction: a conditional PutItem of the item at seq = counter hint + 1 (`attribute_not_exists`), then the hint raised (`SET lastSeq` if lower); on today's table (LSIs at 1x); dedupe as a claim put before the item. WRU as measured above",
      Number(builtPlain.toFixed(2)),
      Number(builtAlert.toFixed(2)),
      'the hint can lag after a crash between the put and the hint update, so readers take the larger of the hint and the newest item and repair the hint before showing anything above it, and writers find the newest item when a put fails; a claim left without its item by a crash waits out a lease before a retry completes it (docs/protocol.md, "How seqs are allocated", which says why gap-free and no-duplicate still hold)',
    ],
    ['c) b) on a v2 table with only the sparse `unread` LSI (read-by-id through the seq in the id)', 1 + 1 + 1, 1 + 1 + 1 + 1, 'the risks of a) and b)'],
    [
      'd) c) without any LSI: the unread count kept on the counter item (`ADD unread 1` in the hint update), read-by-id through the seq in the id',
      1 + 1,
      1 + 1 + 1,
      'the exact unread count is no longer exact by construction: a crash between the put and the counter update, a mark-read (now a transaction of the item and the counter, 4 units instead of about 2) and every TTL expiry of an unread item (a stream consumer) must each adjust it, and drift needs a periodic recount',
    ],
  ];
  const meeting = member
    ? options
        .filter(([, , alert]) => memberRest + (alert + ackUnits) * wru * 1_000_000 <= 3)
        .map(([what]) => (what.startsWith('before') ? 'the transaction design' : what.startsWith('**b)') ? "today's design (b)" : `${what[0]})`))
    : [];
  const mark = (units: number, rest: number) => {
    const usd = rest + (units + ackUnits) * wru * 1_000_000;
    return `${fmt(usd)}${usd <= 3 ? ' ✓' : ''}`;
  };
  return `## What $3 would take

The floor first. A notification published alone over HTTP pays one HTTP API request
(${fmt(perMillionUsd('httpApiRequests'))} per 1M) and one WebSocket message to its user (${fmt(perMillionUsd('webSocketMessages'))} per 1M) before
anything is stored: ${fmt(floor)} of the $3. With its Lambda invocation and its reads as measured above,
everything but the DynamoDB writes comes to ${fmt(singleRest)} per 1M, which leaves ${budget(singleRest).toFixed(1)} write units
(${fmt(wru * 1_000_000)} per 1M each) per notification. A TransactWriteItems bills 2 units per item, so the
counter and the item alone would take 4: **a single HTTP publish cannot meet $3 with a transaction**, ${budget(singleRest) < 2 ? 'nor without one' : 'and barely without one'}. Batched and fan-out delivery share the HTTP request and the invocation among
many notifications: ${member ? `in the ${fanOut?.size.toLocaleString('en-US')}-member fan-out everything but the writes is ${fmt(memberRest)} per 1M members (the push, the reads of each member's counter, preferences and sockets, the shared invocations), which leaves ${budget(memberRest).toFixed(1)} write units per notification` : 'no fan-out was measured in this run'}.
Seqs are allocated without a transaction since option b) below was built: a notification now takes
${qty(builtPlain)} write units as measured (the item and its entry in each of the two LSIs, the hint update: 4,
plus the rare failed conditional write), an alert member's ${member ? qty(builtAlert) : '-'} (its dedupe claim too);
with the transaction they took ${TRANSACTION_DESIGN.plainUnits} and ${TRANSACTION_DESIGN.alertUnits} (the counter update, the item and its two LSI entries, and an alert's dedupe record, all at 2x),
and a notification cost ${fmt(TRANSACTION_DESIGN.singleUsdPerMillion)} per 1M against ${fmt(perMillion(single))} now; DynamoDB's part of it, which the machine's load does not move
(the Lambda lines do: local durations), ${fmt(TRANSACTION_DESIGN.singleDynamoUsdPerMillion)} against ${fmt(perMillion({ dynamoWriteRequestUnits: single.dynamoWriteRequestUnits ?? 0, dynamoReadRequestUnits: single.dynamoReadRequestUnits ?? 0 }))}. Its ack costs ${qty(ackUnits)} more (on a ping, as above;
a client acking less often, say only on resume, would make that a fraction).

LSIs cannot be dropped from a deployed table: CloudFormation's \`AWS::DynamoDB::Table\` does not
update \`LocalSecondaryIndexes\` ("Updates are not supported"; changing them replaces the table,
losing its items), so removing one means a second table and a migration. The options, with their
write units per notification for storing it (plain / alert member) and what each costs per 1M
notifications at today's other costs, the ack's write included (single publish / fan-out member;
✓ where at most $3):

| option | WRU | per 1M | risks |
|---|---:|---:|---|
${options.map(([what, plain, alert, risks]) => `| ${what} | ${plain} / ${alert} | ${mark(plain, singleRest)} / ${member ? mark(alert, memberRest) : '-'} | ${risks} |`).join('\n')}

${meeting.length > 0 ? `At today's other costs, ${meeting.join(' and ')} would meet $3 for fan-out delivery.` : `**No storage option alone meets $3 at today's other costs**: besides its writes, a fan-out member costs ${fmt(memberRest)} per 1M, of which ${fmt(perMillion({ dynamoReadRequestUnits: member?.dynamoReadRequestUnits ?? 0 }))} are ${qty(member?.dynamoReadRequestUnits ?? 0)} read units (each member's counter hint read consistently, its preferences, dedupe claim and socket set eventually, and its socket set again, consistently, after the writes) and ${fmt(perMillion({ lambdaGbSeconds: member?.lambdaGbSeconds ?? 0, lambdaRequests: member?.lambdaRequests ?? 0 }))} Lambda at local durations (an upper estimate); those must come down too.`}

**Recommended**: c), in two steps. The first, b) on today's table (no migration), is built and
measured above: ${qty(builtPlain)} write units a notification instead of ${TRANSACTION_DESIGN.plainUnits}, the guarantees kept at the price of the
hint's repair rule (docs/protocol.md, "How seqs are allocated"), and deliver()'s reads of
preferences, dedupe claims and sockets before the writes eventually consistent (counter hints stay
consistent, and the socket sets read after the writes are now consistent). The second, the v2 table of c),
waits for the next data-model change that needs a migration anyway. d) saves one more unit but trades
the exact unread count, which docs/protocol.md promises, for it: not worth it until that guarantee is
renegotiated.

Pings are the month's largest part (${fmt(totalUsd(ping, PRICES))} each: two WebSocket messages and a Lambda
invocation). API Gateway WebSocket routes can use a MOCK integration that answers from a mapping
template with no Lambda (\`WebSocketMockIntegration\` with \`returnResponse\`), which would save the
invocation (${fmt(perMillion({ lambdaRequests: ping.lambdaRequests ?? 0, lambdaGbSeconds: ping.lambdaGbSeconds ?? 0 }))} per 1M pings) but not the two messages (${fmt(perMillion({ webSocketMessages: ping.webSocketMessages ?? 0 }))}),
and would lose what the ping function does: count the frame against the socket's rate limit
(a MOCK route is limited only per stage), echo the ping's \`id\` exactly (a template would render a
missing id as an empty string, which the strict \`pong\` schema would not match without a change), and
record the ack a ping carries. The local gateway (lib/local/) runs Lambda integrations only and has no
VTL engine, so it could not emulate a MOCK route faithfully. Not built; keeping pings on Lambda is
what makes them free carriers of the ack.
`;
}

// Last, once every declaration above is initialised.
const startedAt = performance.now();
const schedulerStart = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate()));
let schedulerNow = schedulerStart;
const runtime = await startLocalRuntime({ portBase: 0, schedulerClock: schedulerStart });
if (!runtime.iam) throw new Error('npm run cost needs local IAM enforcement on (HERALD_IAM unset): the meter tells invocations apart through it');
const { httpUrl, mailUrl, dynamodbUrl, schedulerUrl } = runtime.urls;
const dynamo = new DynamoDBClient({ endpoint: dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
meter.inspector = dynamo;
const db = DynamoDBDocumentClient.from(dynamo);

try {
  const log = (line: string) => console.log(`[cost ${((performance.now() - startedAt) / 1000).toFixed(0)} s] ${line}`);
  log('runtime up; measuring');
  const probe = await probeDynamoLocal();
  const notification = await oneNotification();
  log(`one notification: ${fmt(perMillion(notification.usage))} per 1M`);
  const session = await sessionAndPing();
  log('session and ping measured');
  const catchUp = await resumeCatchUp();
  log('catch-up measured');
  const fanOuts: Array<{ size: number; scenario: Scenario }> = [];
  for (const size of FAN_OUT_SIZES) {
    fanOuts.push({ size, scenario: await alertFanOut(size) });
    log(`fan-out to ${size} measured`);
  }
  const critical = await alertFanOut(CRITICAL_SIZE, 'critical');
  log(`critical alert to ${CRITICAL_SIZE} measured`);
  const exportRuns: Array<{ rows: number; bytes: number; scenario: Scenario }> = [];
  for (const rows of EXPORT_SIZES) {
    exportRuns.push({ rows, ...(await scheduledExport(rows)) });
    log(`export of ${rows} rows measured`);
  }
  const itemBytes = notification.itemBytes;
  const markdown = renderDoc({
    notification,
    session,
    catchUp,
    fanOuts,
    critical,
    probe,
    exportRuns,
    itemBytes,
    seconds: (performance.now() - startedAt) / 1000,
  });
  const target = process.argv[2] ?? join(REPO_ROOT, 'docs', 'cost.md');
  writeFileSync(target, markdown);
  log(`wrote ${target}`);
} finally {
  dynamo.destroy();
  await runtime.stop();
}
process.exit(0);
