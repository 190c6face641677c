import { randomUUID } from 'node:crypto';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { MessageRejected, SESClient } from '@aws-sdk/client-ses';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchGetCommand, BatchWriteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent, SQSRecord } from 'aws-lambda';
import { ulid } from 'ulid';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ALERT_CHUNK_GROUPS, ALERT_CHUNK_RECIPIENTS, ALERT_CHUNK_SOCKETS, ALERT_INLINE_RECIPIENTS } from '#functions/alerts/chunks';
import { fanOutAlertChange, recipientChunks, type FanoutDeps } from '#functions/alerts/fanout';
import type { Alert } from '#functions/alerts/model';
import { connectionsApiGateway } from '#functions/adapters/connections-api';
import { dynamoConnectionStore } from '#functions/adapters/dynamo-connection-store';
import { dynamoEmailLedger } from '#functions/adapters/dynamo-email-ledger';
import { dynamoDeliveryReads } from '#functions/adapters/dynamo-delivery-reads';
import { dynamoNotificationStore } from '#functions/adapters/dynamo-notification-store';
import { dynamoMembershipStore, dynamoSubscriptionStore } from '#functions/adapters/dynamo-topic-stores';
import { sesMailer } from '#functions/adapters/ses-mailer';
import { sqsAlertChunks } from '#functions/adapters/sqs-alert-chunks';
import { deliver } from '#functions/notifications/deliver';
import { logger, metrics } from '#functions/shared/instrumentation';
import { publishTopicEvent } from '#functions/topics/topics';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { localQueueName } from '#lib/local/resources';
import { importAsLambda } from '../support/lambda-module';
import { api, devToken, emailsTo, eventually, sandboxedSes, tableName, TestSocket, ticketFor, urls } from '../support/local';

const deliveryTables = {
  notifications: tableName('notifications'),
  dedupe: tableName('dedupe'),
  preferences: tableName('preferences'),
  userConnections: tableName('userConnections'),
};

const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
const db = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
const sqs = new SQSClient({ endpoint: urls().sqsUrl, ...local, useQueueUrlAsEndpoint: false });
const ses = new SESClient({ endpoint: urls().mailUrl, ...local });
const chunkQueueUrl = (await sqs.send(new GetQueueUrlCommand({ QueueName: localQueueName('alertChunks') }))).QueueUrl as string;
const connectionsApi = new ApiGatewayManagementApiClient({ endpoint: urls().wsUrl.replace(/^ws/, 'http'), ...local });
afterAll(() => {
  for (const client of [raw, sqs, ses, connectionsApi]) client.destroy();
});

const opened: TestSocket[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((socket) => (socket.closed ? undefined : socket.close())));
});

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

async function connect(tenant: string, user: string): Promise<TestSocket> {
  const socket = await TestSocket.open((await ticketFor(tenant, user)).url);
  opened.push(socket);
  return socket;
}

/** A tenant with a topic whose members are `members`; returns tokens for an admin and a publisher. */
async function topicWith(members: string[]): Promise<{ tenant: string; topic: string; publisher: string; admin: string }> {
  const tenant = unique('t');
  const topic = unique('site');
  const admin = await devToken(tenant, 'admin-ann', ['admin']);
  for (const userId of members) expect((await api('PUT', `/topics/${topic}/members/${userId}`, admin)).status).toBe(201);
  return { tenant, topic, admin, publisher: await devToken(tenant, 'monitor', ['publisher']) };
}

function raiseBody(topic: string, fields: Record<string, unknown> = {}) {
  return { topic, rule: 'pressure-high', subject: 'pump-7', severity: 'high', title: 'Pressure above 9 bar', ...fields };
}

/** A user's inbox as GET /notifications returns it. */
async function inbox(tenant: string, user: string): Promise<any[]> {
  const { status, body } = await api('GET', '/notifications?after=0&limit=100', await devToken(tenant, user));
  expect(status).toBe(200);
  return body.items;
}

const alertNotifications = (items: any[], alertId: string) => items.filter((item) => item.data?.alertId === alertId);

/** The fan-out's domain function with its real adapters, for replaying a stream record by hand. */
function fanoutDeps(sesClient: SESClient = ses, client: DynamoDBDocumentClient = db): FanoutDeps {
  const connections = dynamoConnectionStore(client, { connections: tableName('connections'), userConnections: tableName('userConnections') });
  const gateway = connectionsApiGateway(connectionsApi);
  const delivery = {
    notifications: dynamoNotificationStore(client, { notifications: tableName('notifications'), dedupe: tableName('dedupe') }),
    reads: dynamoDeliveryReads(client, deliveryTables),
    connections,
    gateway,
    retentionDays: 30,
  };
  const topics = {
    memberships: dynamoMembershipStore(client, tableName('memberships')),
    subscriptions: dynamoSubscriptionStore(client, tableName('subscriptions')),
    connections,
    gateway,
  };
  return {
    deliver: (requests, options) => deliver(delivery, requests, options),
    members: (tenant, topic) => topics.memberships.members(tenant, topic),
    connectionsOf: (recipients) => connections.connectionIdsOf(recipients),
    publishEvent: (tenant, topic, name, data) => publishTopicEvent(topics, tenant, topic, name, data),
    mailer: sesMailer(sesClient, 'exports@herald.local', 'herald-email'),
    emails: dynamoEmailLedger(client, tableName('dedupe')),
    chunks: sqsAlertChunks(sqs, chunkQueueUrl),
  };
}

/** A function's module as Lambda cold-starts it, for its makeHandler with the deps a test chooses. */
const handlerModule = <T>(name: 'alertFanout' | 'alertChunks', load: () => Promise<T>): Promise<T> =>
  importAsLambda(name, { settings: { notificationRetentionDays: '30', emailSender: 'exports@herald.local' }, queueUrls: { alertChunks: chunkQueueUrl } }, load);

const fanoutHandlerModule = () => handlerModule('alertFanout', () => import('#functions/alerts/handlers/fanout'));

const lambdaContext = { functionName: 'alertFanout', awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 60_000 } as unknown as Context;

/** A chunk queue message as the FIFO trigger hands it to the chunk function. */
function chunkRecord(body: string, group: string): SQSRecord {
  return {
    messageId: randomUUID(),
    receiptHandle: randomUUID(),
    body,
    attributes: { MessageGroupId: group, ApproximateReceiveCount: '1' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:herald-alertChunks.fifo',
    awsRegion: 'us-east-1',
  } as unknown as SQSRecord;
}

/** An INSERT of a critical alert as the Alerts stream carries it, never written to the table (so the running fan-out does not see it). */
/** A just-raised alert, as the Alerts table holds it. */
function raisedAlert(tenant: string, topic: string, fields: Partial<Alert> = {}): Alert {
  const now = new Date().toISOString();
  return {
    tenant,
    id: ulid(),
    topic,
    rule: unique('gas'),
    subject: 'bay-3',
    severity: 'critical',
    title: 'Gas above limit',
    status: 'active',
    version: 1,
    change: 'raised',
    raisedAt: now,
    raisedBy: 'monitor',
    updatedAt: now,
    updatedBy: 'monitor',
    ...fields,
  } as Alert;
}

function raisedRecord(tenant: string, topic: string, sequenceNumber: string, fields: Partial<Alert> = {}): { alert: Alert; record: DynamoDBRecord } {
  const alert = raisedAlert(tenant, topic, fields);
  const image = marshall({ ...alert, kind: 'alert', topicKey: `${tenant}#${topic}` }, { removeUndefinedValues: true });
  return { alert, record: { eventName: 'INSERT', dynamodb: { SequenceNumber: sequenceNumber, NewImage: image as never } } };
}

describe('alerts: raise, fan-out and lifecycle', () => {
  it('reaches every device of every member and the assignee once each, and offline members on resume', async () => {
    const { tenant, topic, publisher } = await topicWith(['ana', 'bob', 'cy']);
    const [ana1, ana2, bob] = await Promise.all([connect(tenant, 'ana'), connect(tenant, 'ana'), connect(tenant, 'bob')]);
    const dee = await connect(tenant, 'dee'); // the assignee, not a member

    const { status, body: alert, headers } = await api('POST', '/alerts', publisher, raiseBody(topic, { assigneeId: 'dee' }));
    expect(status).toBe(201);
    expect(headers.get('etag')).toBe('"1"');
    for (const socket of [ana1, ana2, bob, dee]) {
      const frame = await socket.waitFor((f) => f.type === 'notification' && f.data?.alertId === alert.id, 10_000);
      expect(frame).toMatchObject({ kind: 'alert.raised', groupKey: alert.id, priority: 'high', data: { version: 1, status: 'active' } });
    }

    // cy was offline: the notification waits in the inbox, and a resume replays it.
    const cy = await connect(tenant, 'cy');
    cy.send({ action: 'resume', after: 0 });
    await cy.waitFor((f) => f.type === 'notification' && f.data?.alertId === alert.id);
    await cy.waitFor((f) => f.type === 'replayed');
    for (const user of ['ana', 'bob', 'cy', 'dee']) expect(alertNotifications(await inbox(tenant, user), alert.id)).toHaveLength(1);
  });

  it('notifies the same people of acknowledge, reassign and resolve, and the old assignee of the reassignment', async () => {
    const { tenant, topic, publisher } = await topicWith(['ana']);
    const { body: raised } = await api('POST', '/alerts', publisher, raiseBody(topic, { assigneeId: 'ana' }));
    const ana = await devToken(tenant, 'ana');
    const ack = await api('PATCH', `/alerts/${raised.id}`, ana, { status: 'acknowledged' }, { 'if-match': '"1"' });
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({ status: 'acknowledged', version: 2, change: 'acknowledged', updatedBy: 'ana' });
    const moved = await api('PATCH', `/alerts/${raised.id}`, ana, { assigneeId: 'eve' }, { 'if-match': '2' });
    expect(moved.body).toMatchObject({ assigneeId: 'eve', version: 3, change: 'reassigned' });
    const resolved = await api('PATCH', `/alerts/${raised.id}`, ana, { status: 'resolved' }, { 'if-match': 'W/"3"' });
    expect(resolved.body).toMatchObject({ status: 'resolved', version: 4 });

    const kinds = await eventually(async () => {
      const items = alertNotifications(await inbox(tenant, 'ana'), raised.id);
      return items.length === 4 ? items.map((item) => item.kind) : undefined;
    }, 10_000);
    expect(kinds).toEqual(['alert.raised', 'alert.acknowledged', 'alert.reassigned', 'alert.resolved']);
    // eve became the assignee at version 3 and is told of 3 and 4; she was never told of 1 and 2.
    const eve = await eventually(async () => {
      const items = alertNotifications(await inbox(tenant, 'eve'), raised.id);
      return items.length === 2 ? items : undefined;
    }, 10_000);
    expect(eve.map((item) => item.data.version)).toEqual([3, 4]);
  });

  it('keeps one open alert per rule and subject under concurrent raises: one 201, one notification per member', async () => {
    const { tenant, topic, publisher } = await topicWith(['ana', 'bob']);
    const responses = await Promise.all(Array.from({ length: 8 }, () => api('POST', '/alerts', publisher, raiseBody(topic))));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    const ids = new Set(responses.map((r) => r.body.id));
    expect(ids.size).toBe(1);
    const [id] = [...ids] as [string];
    await eventually(async () => ((await inbox(tenant, 'bob')).length > 0 ? true : undefined), 10_000);
    // Let any straggling fan-out land before counting.
    await new Promise((wait) => setTimeout(wait, 1_000));
    for (const user of ['ana', 'bob']) expect(alertNotifications(await inbox(tenant, user), id)).toHaveLength(1);
    const { body: list } = await api('GET', `/alerts?topic=${topic}`, publisher);
    expect(list.alerts).toHaveLength(1);

    // Once resolved, the same rule and subject can open a new alert.
    await api('PATCH', `/alerts/${id}`, publisher, { status: 'resolved' }, { 'if-match': '1' });
    const again = await api('POST', '/alerts', publisher, raiseBody(topic));
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(id);
    // ...and the resolved one cannot be reopened while the new one is open.
    const reopen = await api('PATCH', `/alerts/${id}`, publisher, { status: 'active' }, { 'if-match': '2' });
    expect(reopen.status).toBe(409);
    expect(reopen.body).toMatchObject({ error: { code: 'alert_already_open' }, openAlertId: again.body.id });
  });

  it('answers a stale If-Match with 409 and the current version, and a missing one with 428', async () => {
    const { topic, publisher } = await topicWith(['ana']);
    const { body: alert } = await api('POST', '/alerts', publisher, raiseBody(topic));
    await api('PATCH', `/alerts/${alert.id}`, publisher, { status: 'acknowledged' }, { 'if-match': '1' });
    const stale = await api('PATCH', `/alerts/${alert.id}`, publisher, { status: 'resolved' }, { 'if-match': '1' });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ error: { code: 'version_conflict' }, version: 2, alert: { status: 'acknowledged' } });
    expect((await api('PATCH', `/alerts/${alert.id}`, publisher, { status: 'resolved' })).status).toBe(428);
    const bad = await api('PATCH', `/alerts/${alert.id}`, publisher, { status: 'resolved' }, { 'if-match': 'yesterday' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('If-Match');
    const empty = await api('PATCH', `/alerts/${alert.id}`, publisher, {}, { 'if-match': '2' });
    expect(empty.status).toBe(400);
    const wrongStatus = await api('PATCH', `/alerts/${alert.id}`, publisher, { status: 'closed' }, { 'if-match': '2' });
    expect(wrongStatus.body.error.message).toContain('status');
  });

  it('sends each live subscriber of the topic an event per change', async () => {
    const { tenant, topic, publisher } = await topicWith(['ana']);
    const board = await connect(tenant, 'ana');
    board.send({ action: 'subscribe', topic, id: 's1' });
    await board.waitFor((f) => f.type === 'subscribed' || f.id === 's1');
    const { body: alert } = await api('POST', '/alerts', publisher, raiseBody(topic));
    const event = await board.waitFor((f) => f.type === 'event' && f.name === 'alert', 10_000);
    expect(event).toMatchObject({ topic, data: { id: alert.id, version: 1, status: 'active' } });
    expect(event.data.tenant).toBeUndefined();
  });
});

describe('alerts: duplicates, poison records and email', () => {
  it('makes no duplicate notification or email when a stream record is delivered again', async () => {
    const { tenant, topic, publisher } = await topicWith(['ana', 'bob']);
    const address = `${unique('ana')}@example.com`;
    expect((await api('PUT', '/me/preferences', await devToken(tenant, 'ana'), { email: address })).status).toBe(200);
    const { body: raised } = await api('POST', '/alerts', publisher, raiseBody(topic, { severity: 'critical' }));
    await eventually(async () => ((await emailsTo(address)).length === 1 ? true : undefined), 10_000);

    // The record the poller already handled, handled twice more (Lambda delivers at least once).
    const alert: Alert = { ...raised, tenant };
    const deps = fanoutDeps();
    const replays = [await fanOutAlertChange(deps, alert), await fanOutAlertChange(deps, alert)];
    expect(replays.map((result) => [result.recipients, result.delivered, result.emailed])).toEqual([
      [2, 0, 0],
      [2, 0, 0],
    ]);
    for (const user of ['ana', 'bob']) expect(alertNotifications(await inbox(tenant, user), raised.id)).toHaveLength(1);
    expect(await emailsTo(address)).toHaveLength(1);
  });

  it('emails a critical alert once per recipient, in text and HTML, with no way into the headers', async () => {
    const { tenant, topic, publisher } = await topicWith(['ana', 'bob', 'cy']);
    const addresses = { ana: `${unique('ana')}@example.com`, bob: `${unique('bob')}@example.com` };
    for (const [user, email] of Object.entries(addresses)) {
      expect((await api('PUT', '/me/preferences', await devToken(tenant, user), { email })).status).toBe(200);
    }
    // cy gave no address; bob's address cannot smuggle a header either (validated on the way in).
    const injected = await api('PUT', '/me/preferences', await devToken(tenant, 'cy'), { email: 'cy@example.com\r\nBcc: x@evil.example' });
    expect(injected.status).toBe(400);
    expect(injected.body.error.message).toContain('email');

    const title = 'Gas leak\r\nBcc: spy@evil.example';
    const { body: alert } = await api('POST', '/alerts', publisher, raiseBody(topic, { severity: 'critical', title, message: '<b>Evacuate</b> bay 3' }));
    for (const address of Object.values(addresses)) {
      const [email, ...more] = await eventually(async () => {
        const emails = await emailsTo(address);
        return emails.length > 0 ? emails : undefined;
      }, 10_000);
      expect(more).toHaveLength(0);
      expect(email!.from).toBe('exports@herald.local');
      expect(email!.destination.to).toEqual([address]);
      expect(email!.destination.bcc ?? []).toEqual([]);
      expect(email!.subject).toBe('[CRITICAL] Alert raised: Gas leak Bcc: spy@evil.example');
      expect(email!.body.text).toContain(`Alert ${alert.id}, version 1.`);
      expect(email!.body.html).toContain('&lt;b&gt;Evacuate&lt;/b&gt; bay 3');
    }
    // A non-critical alert emails no one.
    const { body: quiet } = await api('POST', '/alerts', publisher, raiseBody(topic, { rule: 'door-open', severity: 'high' }));
    await eventually(async () => (alertNotifications(await inbox(tenant, 'ana'), quiet.id).length === 1 ? true : undefined), 10_000);
    expect(await emailsTo(addresses.ana)).toHaveLength(1);
  });

  it("applies each recipient's preferences: a kind turned off, a mute that only critical passes, email off", async () => {
    const { tenant, topic, publisher } = await topicWith(['quiet', 'muted', 'no-mail']);
    const put = async (user: string, preferences: unknown) =>
      expect((await api('PUT', '/me/preferences', await devToken(tenant, user), preferences)).status).toBe(200);
    const noMail = `${unique('no-mail')}@example.com`;
    await put('quiet', { kinds: { 'alert.raised': { inApp: false } } });
    await put('muted', { muted: true });
    await put('no-mail', { email: noMail, kinds: { 'alert.raised': { email: false } } });

    const { body: high } = await api('POST', '/alerts', publisher, raiseBody(topic, { severity: 'high' }));
    const { body: critical } = await api('POST', '/alerts', publisher, raiseBody(topic, { rule: 'gas', severity: 'critical' }));
    await eventually(async () => (alertNotifications(await inbox(tenant, 'no-mail'), critical.id).length === 1 ? true : undefined), 10_000);
    await eventually(async () => (alertNotifications(await inbox(tenant, 'muted'), critical.id).length === 1 ? true : undefined), 10_000);
    expect(alertNotifications(await inbox(tenant, 'muted'), high.id)).toHaveLength(0);
    const quiet = await inbox(tenant, 'quiet');
    expect(alertNotifications(quiet, high.id)).toHaveLength(0);
    expect(alertNotifications(quiet, critical.id)).toHaveLength(0);
    expect(alertNotifications(await inbox(tenant, 'no-mail'), high.id)).toHaveLength(1);
    expect(await emailsTo(noMail)).toHaveLength(0);

    // Acknowledging is another kind, which 'quiet' did not turn off.
    await api('PATCH', `/alerts/${high.id}`, publisher, { status: 'acknowledged' }, { 'if-match': '1' });
    await eventually(async () => (alertNotifications(await inbox(tenant, 'quiet'), high.id).length === 1 ? true : undefined), 10_000);
  });

  it('records a recipient SES refuses and goes on: no record fails, everyone else is emailed, each refusal is counted', async () => {
    const { tenant, topic } = await topicWith(['ana', 'bob', 'cy']);
    const addresses: Record<string, string> = {};
    for (const user of ['ana', 'bob', 'cy']) {
      addresses[user] = `${unique(user)}@example.com`;
      expect((await api('PUT', '/me/preferences', await devToken(tenant, user), { email: addresses[user] })).status).toBe(200);
    }
    const sandbox = sandboxedSes([addresses.cy!]);
    const added = vi.spyOn(metrics, 'addMetric');
    try {
      const { makeHandler } = await fanoutHandlerModule();
      const handler = makeHandler(fanoutDeps(sandbox.client));
      const first = raisedRecord(tenant, topic, '100');
      const second = raisedRecord(tenant, topic, '101');
      const event: DynamoDBStreamEvent = { Records: [first.record, second.record] };

      expect(await handler(event, lambdaContext)).toEqual({ batchItemFailures: [] });
      for (const user of ['ana', 'bob']) {
        const emails = await emailsTo(addresses[user]!);
        expect(emails.map((email) => email.body.text?.match(/Alert (\w+), version 1\./)?.[1]).sort()).toEqual([first.alert.id, second.alert.id].sort());
      }
      expect(await emailsTo(addresses.cy!)).toHaveLength(0);
      // cy still has both in the inbox: only the email was refused.
      for (const alert of [first.alert, second.alert]) expect(alertNotifications(await inbox(tenant, 'cy'), alert.id)).toHaveLength(1);
      const counted = (name: string) => added.mock.calls.filter(([metric]) => metric === name).reduce((sum, [, , value]) => sum + Number(value), 0);
      expect(counted('AlertEmailsRejected')).toBe(2);
      expect(counted('AlertEmailsFailed')).toBe(0);
      expect(counted('AlertFanoutFailures')).toBe(0);

      // Lambda delivers the batch again: the refusal is final, so SES is not asked again, and no one gets a second email.
      const attemptsBefore = sandbox.attempts.length;
      expect(await handler(event, lambdaContext)).toEqual({ batchItemFailures: [] });
      expect(sandbox.attempts.length).toBe(attemptsBefore);
      expect(await emailsTo(addresses.ana!)).toHaveLength(2);
    } finally {
      added.mockRestore();
      sandbox.client.destroy();
    }
  });

  it('fails the record, to be retried, when SES refuses the sender itself: that is the deployment, not a recipient', async () => {
    const { tenant, topic } = await topicWith(['ana']);
    const address = `${unique('ana')}@example.com`;
    expect((await api('PUT', '/me/preferences', await devToken(tenant, 'ana'), { email: address })).status).toBe(200);
    const sandbox = sandboxedSes(['never-matches@example.com']);
    sandbox.client.middlewareStack.add(
      () => async () => {
        throw new MessageRejected({
          message: `Email address is not verified. The following identities failed the check in region US-EAST-1: exports@herald.local, ${address}`,
          $metadata: { httpStatusCode: 400 },
        });
      },
      { step: 'initialize', name: 'unverifiedSender', priority: 'low' },
    );
    try {
      const { makeHandler } = await fanoutHandlerModule();
      const { record } = raisedRecord(tenant, topic, '200');
      const errors = vi.spyOn(logger, 'error');
      try {
        expect(await makeHandler(fanoutDeps(sandbox.client))({ Records: [record] }, lambdaContext)).toEqual({ batchItemFailures: [{ itemIdentifier: '200' }] });
        const logged = errors.mock.calls.map(([, extra]) => (extra as { error?: Error } | undefined)?.error?.message ?? '');
        expect(logged.some((text) => text.includes('SES has not verified the sender exports@herald.local'))).toBe(true);
      } finally {
        errors.mockRestore();
      }
      // The claim was given back, so the retry (once the sender is verified) sends it.
      const retried = await makeHandler(fanoutDeps())({ Records: [record] }, lambdaContext);
      expect(retried).toEqual({ batchItemFailures: [] });
      expect(await emailsTo(address)).toHaveLength(1);
    } finally {
      sandbox.client.destroy();
    }
  });

  it('sends a poison record to the failure queue after its retries, and delivers the records after it', async () => {
    const { tenant, topic, publisher } = await topicWith(['ana']);
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'herald-alertFanout-failures' }));
    // An alert item no raise could write (no title, a severity that does not exist).
    const poisonId = ulid();
    await db.send(
      new PutCommand({
        TableName: tableName('alerts'),
        Item: {
          tenant,
          id: poisonId,
          kind: 'alert',
          topic,
          topicKey: `${tenant}#${topic}`,
          severity: 'apocalyptic',
          version: 1,
          raisedAt: new Date().toISOString(),
        },
      }),
    );
    const { body: later } = await api('POST', '/alerts', publisher, raiseBody(topic));

    const failure = await eventually(async () => {
      const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      for (const message of Messages ?? []) await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle }));
      // Lambda's on-failure record: where in the shard, not the record itself.
      return (Messages ?? []).map((message) => JSON.parse(message.Body!)).find((body) => body.DDBStreamBatchInfo?.batchSize === 1);
    }, 30_000);
    expect(failure.requestContext.condition).toBe('RetryAttemptsExhausted');
    await eventually(async () => (alertNotifications(await inbox(tenant, 'ana'), later.id).length === 1 ? true : undefined), 30_000);
    expect(alertNotifications(await inbox(tenant, 'ana'), poisonId)).toHaveLength(0);
  }, 60_000);
});

describe('alerts: who may do what', () => {
  it('answers a bad body with a 400 that names the field, and a non-publisher raise with 403', async () => {
    const { tenant, topic, publisher } = await topicWith(['ana']);
    const cases: Array<[Record<string, unknown>, string]> = [
      [raiseBody(topic, { severity: 'apocalyptic' }), 'severity'],
      [raiseBody(topic, { title: '' }), 'title'],
      [raiseBody(topic, { topic: 'no spaces allowed' }), 'topic'],
      [raiseBody(topic, { subject: 'line\nbreak' }), 'subject'],
      [raiseBody(topic, { assigneeId: 'a'.repeat(200) }), 'assigneeId'],
      [raiseBody(topic, { colour: 'red' }), 'colour'],
    ];
    for (const [body, field] of cases) {
      const response = await api('POST', '/alerts', publisher, body);
      expect(response.status).toBe(400);
      expect(response.body.error.message).toContain(field);
    }
    expect((await api('POST', '/alerts', publisher, '{"topic":')).body.error.code).toBe('invalid_json');
    expect((await api('POST', '/alerts', await devToken(tenant, 'ana'), raiseBody(topic))).status).toBe(403);
    expect((await api('GET', '/alerts', publisher)).body.error.message).toContain('topic');
    expect((await api('GET', '/alerts/not-an-id', publisher)).status).toBe(400);
  });

  it("refuses another tenant's alerts, and a topic's alerts to non-members", async () => {
    const { tenant, topic, publisher } = await topicWith(['ana']);
    const { body: alert } = await api('POST', '/alerts', publisher, raiseBody(topic, { assigneeId: 'dee' }));
    const intruder = await devToken(unique('other'), 'ana', ['admin', 'publisher']);
    expect((await api('GET', `/alerts/${alert.id}`, intruder)).status).toBe(404);
    expect((await api('PATCH', `/alerts/${alert.id}`, intruder, { status: 'resolved' }, { 'if-match': '1' })).status).toBe(404);
    expect((await api('GET', `/alerts?topic=${topic}`, intruder)).body.alerts).toEqual([]);

    const outsider = await devToken(tenant, 'zed');
    expect((await api('GET', `/alerts/${alert.id}`, outsider)).status).toBe(403);
    expect((await api('GET', `/alerts?topic=${topic}`, outsider)).status).toBe(403);
    expect((await api('PATCH', `/alerts/${alert.id}`, outsider, { status: 'resolved' }, { 'if-match': '1' })).status).toBe(403);
    // Members and the assignee may.
    expect((await api('GET', `/alerts/${alert.id}`, await devToken(tenant, 'ana'))).status).toBe(200);
    expect((await api('GET', `/alerts/${alert.id}`, await devToken(tenant, 'dee'))).status).toBe(200);
  });

  it('lists a topic newest first, by status, a page at a time, and refuses a forged cursor', async () => {
    const { tenant, topic, publisher } = await topicWith(['ana']);
    const raised = [];
    for (const subject of ['a', 'b', 'c']) raised.push((await api('POST', '/alerts', publisher, raiseBody(topic, { subject }))).body);
    await api('PATCH', `/alerts/${raised[1].id}`, publisher, { status: 'resolved' }, { 'if-match': '1' });
    const ana = await devToken(tenant, 'ana');
    const first = await api('GET', `/alerts?topic=${topic}&limit=2`, ana);
    expect(first.body.alerts.map((a: any) => a.subject)).toEqual(['c', 'b']);
    const second = await api('GET', `/alerts?topic=${topic}&limit=2&cursor=${first.body.cursor}`, ana);
    expect(second.body.alerts.map((a: any) => a.subject)).toEqual(['a']);
    const open = await api('GET', `/alerts?topic=${topic}&status=active`, ana);
    expect(open.body.alerts.map((a: any) => a.subject)).toEqual(['c', 'a']);

    const forged = Buffer.from(JSON.stringify({ tenant: 'other', id: raised[0].id, topicKey: `other#${topic}`, raisedAt: raised[0].raisedAt })).toString(
      'base64url',
    );
    const refused = await api('GET', `/alerts?topic=${topic}&cursor=${forged}`, ana);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain('cursor');
    expect((await api('GET', `/alerts?topic=${topic}&limit=0`, ana)).body.error.message).toContain('limit');
  });
});

describe('alerts: large topics in chunks', () => {
  /** A topic of `size` members, written straight to the table (the membership API one by one would take minutes). */
  async function largeTopic(size: number): Promise<{ tenant: string; topic: string; members: string[]; publisher: string }> {
    const tenant = unique('t');
    const topic = unique('site');
    const members = Array.from({ length: size }, (_, index) => `m${String(index).padStart(4, '0')}`);
    for (let start = 0; start < members.length; start += 25) {
      let pending: Array<Record<string, unknown>> = members.slice(start, start + 25).map((userId) => ({
        PutRequest: { Item: { topicKey: `${tenant}#${topic}`, userId, tenant, topic, addedBy: 'test', addedAt: new Date().toISOString() } },
      }));
      while (pending.length > 0) {
        const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName('memberships')]: pending as never } }));
        pending = (result.UnprocessedItems?.[tableName('memberships')] ?? []) as Array<Record<string, unknown>>;
      }
    }
    return { tenant, topic, members, publisher: await devToken(tenant, 'monitor', ['publisher']) };
  }

  /** Each member's stored notifications at seqs 1 and 2, read independently of Herald's code (BatchGetItem by hand). */
  async function firstTwo(tenant: string, members: readonly string[]): Promise<Map<string, Array<Record<string, any> | undefined>>> {
    const keys = members.flatMap((userId) => [1, 2].map((seq) => ({ userKey: `${tenant}#${userId}`, seq })));
    const found = new Map<string, Record<string, any>>();
    for (let start = 0; start < keys.length; start += 100) {
      let request: Array<Record<string, unknown>> | undefined = keys.slice(start, start + 100);
      while (request && request.length > 0) {
        const result = await db.send(new BatchGetCommand({ RequestItems: { [tableName('notifications')]: { Keys: request, ConsistentRead: true } } }));
        for (const item of result.Responses?.[tableName('notifications')] ?? []) found.set(`${item.userKey}@${item.seq}`, item);
        request = result.UnprocessedKeys?.[tableName('notifications')]?.Keys as typeof request;
      }
    }
    return new Map(members.map((userId) => [userId, [1, 2].map((seq) => found.get(`${tenant}#${userId}@${seq}`))]));
  }

  it('delivers a topic past the inline limit through the chunk queue: every member once, each member’s changes in order, emails once', async () => {
    const { tenant, topic, members, publisher } = await largeTopic(ALERT_INLINE_RECIPIENTS + 50);
    const first = members[0] as string;
    const last = members.at(-1) as string;
    const address = `${unique(first)}@example.com`;
    expect((await api('PUT', '/me/preferences', await devToken(tenant, first), { email: address })).status).toBe(200);
    const sockets = [await connect(tenant, first), await connect(tenant, last)];

    const { body: raised } = await api('POST', '/alerts', publisher, raiseBody(topic, { severity: 'critical' }));
    // A second change right behind the first: its chunks must not overtake the first's for anyone.
    expect((await api('PATCH', `/alerts/${raised.id}`, publisher, { status: 'acknowledged' }, { 'if-match': '"1"' })).status).toBe(200);

    const stored = await eventually(async () => {
      const read = await firstTwo(tenant, members);
      return [...read.values()].every(([one, two]) => one !== undefined && two !== undefined) ? read : undefined;
    }, 60_000);
    for (const [userId, [one, two]] of stored) {
      expect([userId, one?.kind, one?.data?.version, two?.kind, two?.data?.version]).toEqual([userId, 'alert.raised', 1, 'alert.acknowledged', 2]);
    }
    for (const socket of sockets) {
      const frames = await eventually(async () => {
        const received = socket.frames.filter((frame) => frame.type === 'notification' && frame.data?.alertId === raised.id);
        return received.length === 2 ? received : undefined;
      }, 30_000);
      expect(frames.map((frame) => [frame.seq, frame.kind])).toEqual([
        [1, 'alert.raised'],
        [2, 'alert.acknowledged'],
      ]);
    }
    // One email per version (critical alerts email every change), however the chunks were split.
    const emails = await eventually(async () => {
      const found = await emailsTo(address);
      return found.length >= 2 ? found : undefined;
    }, 30_000);
    expect(emails.map((email) => email.subject).sort()).toEqual([
      '[CRITICAL] Alert acknowledged: Pressure above 9 bar',
      '[CRITICAL] Alert raised: Pressure above 9 bar',
    ]);
    // Nothing was written past seq 2 for anyone: no chunk was delivered twice.
    const { Item: counter } = await db.send(
      new GetCommand({ TableName: tableName('notifications'), Key: { userKey: `${tenant}#${last}`, seq: 0 }, ConsistentRead: true }),
    );
    expect(counter?.lastSeq).toBe(2);
  }, 120_000);

  it('splits recipients into chunks of a user’s fixed message group, each within the chunk size, everyone once', () => {
    const members = Array.from({ length: 1_234 }, (_, index) => `user-${index}`);
    const alert = { tenant: 'acme', id: ulid(), version: 1 } as Alert;
    const chunks = recipientChunks(alert, members);
    expect(chunks.flatMap((chunk) => chunk.recipients).sort()).toEqual([...members].sort());
    expect(chunks.every((chunk) => chunk.recipients.length > 0 && chunk.recipients.length <= ALERT_CHUNK_RECIPIENTS)).toBe(true);
    expect(new Set(chunks.map((chunk) => chunk.chunkId)).size).toBe(chunks.length);
    // The next version (with members gone and joined) puts each user in the same group.
    const groupOf = (list: ReturnType<typeof recipientChunks>) => new Map(list.flatMap((chunk) => chunk.recipients.map((userId) => [userId, chunk.group])));
    const next = groupOf(recipientChunks({ ...alert, version: 2 }, [...members.slice(100), 'newcomer']));
    const before = groupOf(chunks);
    for (const userId of members.slice(100)) expect(next.get(userId)).toBe(before.get(userId));
    expect(new Set(chunks.map((chunk) => chunk.group)).size).toBe(ALERT_CHUNK_GROUPS);
    // Repeated, the same chunks with the same ids: a retried stream record's sends are dropped as duplicates.
    expect(recipientChunks(alert, members).map((chunk) => chunk.chunkId)).toEqual(chunks.map((chunk) => chunk.chunkId));
  });

  it('puts each group’s connected members in its first chunks, with their sockets and within the socket budget; chunk ids follow their recipients', () => {
    const members = Array.from({ length: 3_000 }, (_, index) => `user-${index}`);
    // Every fifth member online; a few hold many sockets, so the budget splits their chunks.
    const connections = new Map(
      members
        .filter((_, index) => index % 5 === 0)
        .map((userId, index) => [userId, Array.from({ length: index % 50 === 0 ? 120 : 1 }, (_, n) => `${userId}-c${n}`)]),
    );
    const alert = { tenant: 'acme', id: ulid(), version: 1 } as Alert;
    const chunks = recipientChunks(alert, members, connections);
    expect(chunks.flatMap((chunk) => chunk.recipients).sort()).toEqual([...members].sort());
    const byGroup = new Map<string, typeof chunks>();
    for (const chunk of chunks) byGroup.set(chunk.group, [...(byGroup.get(chunk.group) ?? []), chunk]);
    expect(byGroup.size).toBe(ALERT_CHUNK_GROUPS);
    for (const groupChunks of byGroup.values()) {
      const online = groupChunks.map((chunk) => Object.keys(chunk.connections).length > 0);
      // Connected chunks first, then the offline ones, and no chunk mixes the two.
      expect(online).toEqual([...online].sort((a, b) => Number(b) - Number(a)));
      for (const chunk of groupChunks) {
        expect(chunk.recipients.every((userId) => connections.has(userId) === online[groupChunks.indexOf(chunk)])).toBe(true);
        expect(chunk.recipients.length).toBeLessThanOrEqual(ALERT_CHUNK_RECIPIENTS);
        const sockets = Object.values(chunk.connections).flat().length;
        expect(sockets <= ALERT_CHUNK_SOCKETS || chunk.recipients.length === 1).toBe(true);
        for (const userId of chunk.recipients) if (connections.has(userId)) expect(chunk.connections[userId]).toEqual(connections.get(userId));
      }
    }
    expect(new Set(chunks.map((chunk) => chunk.chunkId)).size).toBe(chunks.length);
    expect(recipientChunks(alert, members, connections).map((chunk) => chunk.chunkId)).toEqual(chunks.map((chunk) => chunk.chunkId));
    // One member went offline before a retry: the chunks that changed get new ids, so SQS cannot drop them as duplicates.
    const gone = [...connections.keys()][1] as string;
    const retried = recipientChunks(alert, members, new Map([...connections].filter(([userId]) => userId !== gone)));
    const before = new Map(chunks.map((chunk) => [chunk.chunkId, chunk.recipients]));
    for (const chunk of retried) if (before.has(chunk.chunkId)) expect(chunk.recipients).toEqual(before.get(chunk.chunkId));
    expect(retried.find((chunk) => chunk.recipients.includes(gone))?.chunkId).not.toBe(chunks.find((chunk) => chunk.recipients.includes(gone))?.chunkId);
  });

  it('lets the sockets a chunk carries stand in for deliver()’s read before the commit, and still pushes to a socket that connected since', async () => {
    const tenant = unique('t');
    const before = await connect(tenant, 'ana');
    // The fan-out read ana's sockets here; then she opened another, which the chunk does not carry.
    const { Item: known } = await db.send(new GetCommand({ TableName: tableName('userConnections'), Key: { userKey: `${tenant}#ana` } }));
    const carried = [...((known?.connectionIds as Set<string> | undefined) ?? [])];
    expect(carried).toHaveLength(1);
    const since = await connect(tenant, 'ana');
    const batchGets: Array<Record<string, number>> = [];
    const countedRaw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, ...local });
    countedRaw.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'BatchGetItemCommand') {
          const requested = (args.input as { RequestItems: Record<string, { Keys: unknown[] }> }).RequestItems;
          batchGets.push(Object.fromEntries(Object.entries(requested).map(([table, { Keys }]) => [table, Keys.length])));
        }
        return next(args);
      },
      { step: 'initialize', name: 'recordBatchGets' },
    );
    const counted = DynamoDBDocumentClient.from(countedRaw, { marshallOptions: { removeUndefinedValues: true } });
    try {
      const now = new Date().toISOString();
      const alert: Alert = {
        ...{ tenant, id: ulid(), topic: 'site', rule: 'gas', subject: 'bay-3', severity: 'high', title: 'Gas above limit', status: 'active', version: 1 },
        ...{ change: 'raised', raisedAt: now, raisedBy: 'monitor', updatedAt: now, updatedBy: 'monitor' },
      } as Alert;
      const { makeHandler } = await handlerModule('alertChunks', () => import('#functions/alerts/handlers/chunks'));
      const handler = makeHandler(fanoutDeps(ses, counted));
      const record = chunkRecord(JSON.stringify({ alert, recipients: ['ana', 'bob'], connections: { ana: carried } }), `${tenant}#1`);
      expect(await handler({ Records: [record] }, { ...lambdaContext, functionName: 'alertChunks' } as Context)).toEqual({ batchItemFailures: [] });
      // Both of ana's sockets hear of it once: the carried one at once, the newer one from the read after the commit.
      for (const socket of [before, since]) {
        const frames = await eventually(async () => {
          const received = socket.frames.filter((frame) => frame.type === 'notification' && frame.data?.alertId === alert.id);
          return received.length > 0 ? received : undefined;
        });
        expect(frames.map((frame) => frame.seq)).toEqual([1]);
      }
      expect(alertNotifications(await inbox(tenant, 'bob'), alert.id).map((item) => item.seq)).toEqual([1]);
      // The read before the commit left the socket sets out; only the read after it asked for them.
      const userConnections = tableName('userConnections');
      expect(batchGets[0]?.[userConnections]).toBeUndefined();
      expect(batchGets[0]?.[tableName('preferences')]).toBe(2);
      expect(batchGets.filter((read) => read[userConnections] !== undefined)).toEqual([{ [userConnections]: 2 }]);
    } finally {
      countedRaw.destroy();
    }
  });

  it('fails a malformed chunk (not JSON, or sockets that are not lists of ids) to the DLQ, writing nothing for it, and delivers the other groups', async () => {
    const tenant = unique('t');
    const alert = raisedAlert(tenant, 'site', { rule: 'gas', severity: 'high' });
    const notJson = chunkRecord('{"alert":', `${tenant}#1`);
    const socketsNotAList = chunkRecord(JSON.stringify({ alert, recipients: ['ana'], connections: { ana: 'socket-1' } }), `${tenant}#2`);
    const emptySocketId = chunkRecord(JSON.stringify({ alert, recipients: ['bob'], connections: { bob: [''] } }), `${tenant}#3`);
    const good = chunkRecord(JSON.stringify({ alert, recipients: ['cy'], connections: {} }), `${tenant}#4`);
    const { makeHandler } = await handlerModule('alertChunks', () => import('#functions/alerts/handlers/chunks'));
    const response = await makeHandler(fanoutDeps())({ Records: [notJson, socketsNotAList, emptySocketId, good] }, {
      ...lambdaContext,
      functionName: 'alertChunks',
    } as Context);
    // Failed, not dropped: SQS redelivers them and, after maxReceiveCount, moves them to the DLQ.
    expect(response).toEqual({ batchItemFailures: [notJson, socketsNotAList, emptySocketId].map((record) => ({ itemIdentifier: record.messageId })) });
    expect(alertNotifications(await inbox(tenant, 'ana'), alert.id)).toHaveLength(0);
    expect(alertNotifications(await inbox(tenant, 'bob'), alert.id)).toHaveLength(0);
    expect(alertNotifications(await inbox(tenant, 'cy'), alert.id).map((item) => item.seq)).toEqual([1]);
  });

  it('delivers a chunk handed to two invocations at once (a redelivery while the first still runs) once per member, pushed once', async () => {
    const tenant = unique('t');
    const alert = raisedAlert(tenant, 'site', { rule: 'gas', severity: 'high' });
    const members = Array.from({ length: 40 }, (_, index) => `m-${index}`);
    const socket = await TestSocket.open((await ticketFor(tenant, 'm-3')).url);
    const body = JSON.stringify({ alert, recipients: members, connections: {} });
    const { makeHandler } = await handlerModule('alertChunks', () => import('#functions/alerts/handlers/chunks'));
    const invoke = () =>
      makeHandler(fanoutDeps())({ Records: [chunkRecord(body, `${tenant}#1`)] }, { ...lambdaContext, functionName: 'alertChunks' } as Context);
    try {
      expect(await Promise.all([invoke(), invoke()])).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);
      for (const member of members) expect(alertNotifications(await inbox(tenant, member), alert.id).map((item) => item.seq)).toEqual([1]);
      await socket.waitFor((frame) => frame.type === 'notification' && frame.data?.alertId === alert.id);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(socket.frames.filter((frame) => frame.type === 'notification')).toHaveLength(1);
    } finally {
      await socket.close();
    }
  });

  it('sends chunks in calls of at most 10 entries and 256 KiB, each group’s chunks in order', async () => {
    const queueUrl = (
      await sqs.send(new CreateQueueCommand({ QueueName: `${unique('chunks')}.fifo`, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' } }))
    ).QueueUrl as string;
    const calls: Array<{ entries: number; bytes: number }> = [];
    const countingSqs = new SQSClient({ endpoint: urls().sqsUrl, ...local, useQueueUrlAsEndpoint: false });
    countingSqs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'SendMessageBatchCommand') {
          const entries = (args.input as { Entries: Array<{ MessageBody: string }> }).Entries;
          calls.push({ entries: entries.length, bytes: entries.reduce((sum, entry) => sum + Buffer.byteLength(entry.MessageBody), 0) });
        }
        return next(args);
      },
      { step: 'initialize', name: 'recordSends' },
    );
    try {
      const alert = { tenant: 'acme', id: ulid(), version: 1 } as Alert;
      // 24 chunks of about 40 KB (long user ids), two groups: the byte limit, not the entry limit, splits them.
      const chunks = Array.from({ length: 24 }, (_, index) => ({
        alert,
        recipients: Array.from({ length: 250 }, (_, n) => `${'u'.repeat(150)}-${index}-${n}`),
        connections: {},
        group: `acme#${index % 2}`,
        chunkId: `acme#${alert.id}#v1#${index}`,
      }));
      await sqsAlertChunks(countingSqs, queueUrl).send(chunks);
      expect(calls.every((call) => call.entries <= 10 && call.bytes <= 256 * 1024)).toBe(true);
      expect(calls.length).toBeGreaterThan(Math.ceil(chunks.length / 10));
      const received: Array<{ group: string; first: string }> = [];
      while (received.length < chunks.length) {
        const { Messages = [] } = await countingSqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['MessageGroupId'] }),
        );
        expect(Messages.length).toBeGreaterThan(0);
        for (const message of Messages) {
          received.push({
            group: message.Attributes?.MessageGroupId as string,
            first: (JSON.parse(message.Body as string) as { recipients: string[] }).recipients[0] as string,
          });
          await countingSqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
        }
      }
      for (const group of ['acme#0', 'acme#1']) {
        expect(received.filter((message) => message.group === group).map((message) => message.first)).toEqual(
          chunks.filter((chunk) => chunk.group === group).map((chunk) => chunk.recipients[0]),
        );
      }
    } finally {
      countingSqs.destroy();
    }
  });

  it('keeps a group’s later chunks behind one that fails, delivers other groups, and is idempotent when chunks come again', async () => {
    const tenant = unique('t');
    const [ana, bob, cy] = ['ana', 'bob', 'cy'];
    const address = `${unique('ana')}@example.com`;
    expect((await api('PUT', '/me/preferences', await devToken(tenant, ana), { email: address })).status).toBe(200);
    const now = new Date().toISOString();
    const v1: Alert = {
      tenant,
      id: ulid(),
      topic: 'site',
      rule: 'gas',
      subject: 'bay-3',
      severity: 'critical',
      title: 'Gas above limit',
      status: 'active',
      version: 1,
      change: 'raised',
      raisedAt: now,
      raisedBy: 'monitor',
      updatedAt: now,
      updatedBy: 'monitor',
    };
    const v2: Alert = { ...v1, status: 'acknowledged', version: 2, change: 'acknowledged', updatedBy: 'ana' };
    const record = (alert: Alert, recipients: string[], group: string) => chunkRecord(JSON.stringify({ alert, recipients }), group);
    const groupA = [record(v1, [ana, bob], `${tenant}#1`), record(v2, [ana, bob], `${tenant}#1`)];
    const groupB = record(v1, [cy], `${tenant}#2`);

    const { makeHandler } = await handlerModule('alertChunks', () => import('#functions/alerts/handlers/chunks'));
    const real = fanoutDeps();
    let failing = true;
    const flaky = makeHandler({
      ...real,
      // The first delivery of group A's first chunk fails (DynamoDB unreachable, say).
      deliver: (requests) => {
        if (failing && requests[0]?.recipient.userId === ana) {
          failing = false;
          return Promise.reject(new Error('DynamoDB unreachable'));
        }
        return real.deliver(requests);
      },
    });
    const chunkContext = { ...lambdaContext, functionName: 'alertChunks' } as Context;
    const response = await flaky({ Records: [...groupA, groupB] }, chunkContext);
    // Both of group A's chunks come back (the second was never tried: it must not overtake the first); group B went on.
    expect(response).toEqual({ batchItemFailures: groupA.map((chunk) => ({ itemIdentifier: chunk.messageId })) });
    expect(alertNotifications(await inbox(tenant, ana), v1.id)).toHaveLength(0);
    expect(alertNotifications(await inbox(tenant, cy), v1.id).map((item) => item.seq)).toEqual([1]);

    // SQS hands group A back in order; then the whole batch arrives once more (at least once).
    expect(await flaky({ Records: groupA }, chunkContext)).toEqual({ batchItemFailures: [] });
    expect(await flaky({ Records: [...groupA, groupB] }, chunkContext)).toEqual({ batchItemFailures: [] });
    for (const user of [ana, bob]) {
      const items = await inbox(tenant, user);
      // v1 before v2, each once: nothing was written again.
      expect(items.map((item) => [item.seq, item.kind])).toEqual([
        [1, 'alert.raised'],
        [2, 'alert.acknowledged'],
      ]);
    }
    expect(alertNotifications(await inbox(tenant, cy), v1.id)).toHaveLength(1);
    const emails = await eventually(async () => {
      const found = await emailsTo(address);
      return found.length >= 2 ? found : undefined;
    });
    expect(emails).toHaveLength(2);
  });
});
