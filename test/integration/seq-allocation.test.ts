/**
 * Seqs without a transaction (docs/protocol.md, "How seqs are allocated"): a writer that stops
 * between its writes, a lagging hint whose newer items expired, dedupe claims left half done and
 * claimed twice at once. Faults are thrown by SDK middleware on the real clients; everything else
 * runs against the local runtime's emulators.
 */
import { randomUUID } from 'node:crypto';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CLAIM_LEASE_MS, deliver, LEASE_MARGIN_MS, type DeliverDeps } from '#functions/notifications/deliver';
import type { DeliveryRequest } from '#functions/notifications/model';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { localDeliverDeps } from '../support/delivery';
import { api, devToken, documentClient, eventually, getItem, tableName, TestSocket, ticketFor, urls } from '../support/local';

const db = documentClient();
const opened: TestSocket[] = [];
const clients: Array<{ destroy: () => void }> = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((socket) => (socket.closed ? undefined : socket.close())));
  for (const client of clients.splice(0)) client.destroy();
});
afterAll(() => db.destroy());

const uniqueTenant = () => `t-${randomUUID().slice(0, 8)}`;
type Middleware = (commandName: string, input: any) => Promise<void> | void;

/** deliver()'s real adapters on a DynamoDB client whose every request first passes `before` (which may throw: a crash at that point). */
function depsWith(before: Middleware = () => undefined, overrides: Partial<DeliverDeps> = {}): DeliverDeps {
  const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  raw.middlewareStack.add(
    (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
      await before(context.commandName ?? '', args.input);
      return next(args);
    },
    { step: 'initialize', name: 'crashPoint' },
  );
  const gateway = new ApiGatewayManagementApiClient({ endpoint: urls().wsUrl.replace(/^ws/, 'http'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  clients.push(raw, gateway);
  return { ...localDeliverDeps(DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }), gateway), ...overrides };
}

const isHintUpdate = (command: string, input: any) => command === 'UpdateItemCommand' && String(input.UpdateExpression).startsWith('SET lastSeq');
const isItemPut = (command: string, input: any) => command === 'PutItemCommand' && input.TableName === tableName('notifications');
const crash = () => new Error('Lambda stopped here (injected)');
/** A writer that stops between its dedupe claim and its item's put, leaving the claim without its item. */
async function stopBeforeItemPut(request: DeliveryRequest, overrides: Partial<DeliverDeps> = {}): Promise<void> {
  const crashing = depsWith((command, input) => {
    if (isItemPut(command, input)) throw crash();
  }, overrides);
  await expect(deliver(crashing, [request])).rejects.toThrow('injected');
}

const note = (tenant: string, userId: string, title: string, dedupeKey?: string): DeliveryRequest => ({
  recipient: { tenant, userId },
  kind: 'note',
  title,
  priority: 'normal',
  ...(dedupeKey === undefined ? {} : { dedupeKey }),
});

async function connect(tenant: string, user: string): Promise<TestSocket> {
  const socket = await TestSocket.open((await ticketFor(tenant, user)).url);
  opened.push(socket);
  return socket;
}

async function publish(tenant: string, userId: string, title: string) {
  const { status, body } = await api('POST', '/notifications', await devToken(tenant, 'publisher-bot', ['publisher']), { userId, kind: 'note', title });
  expect(status).toBe(202);
  return body as { status: string; id: string; seq: number };
}

async function inbox(tenant: string, user: string): Promise<Array<{ seq: number; id: string; title: string }>> {
  const { status, body } = await api('GET', '/notifications?after=0&limit=100', await devToken(tenant, user));
  expect(status).toBe(200);
  return body.items;
}

const hintOf = async (tenant: string, user: string) =>
  (await getItem('notifications', { userKey: `${tenant}#${user}`, seq: 0 }))?.lastSeq as number | undefined;
/** What DynamoDB's TTL does to an expired item, done now. */
const expire = (tenant: string, user: string, seq: number) =>
  db.send(new DeleteCommand({ TableName: tableName('notifications'), Key: { userKey: `${tenant}#${user}`, seq } }));

/** Every notification frame a socket received, each seq once, with one id per seq. */
function shownOnce(socket: TestSocket): number[] {
  const frames = socket.frames.filter((frame) => frame.type === 'notification');
  const idBySeq = new Map<number, string>();
  for (const frame of frames) {
    expect(idBySeq.get(frame.seq) ?? frame.id, `seq ${frame.seq} shown with two ids`).toBe(frame.id);
    idBySeq.set(frame.seq, frame.id);
  }
  return [...idBySeq.keys()].sort((a, b) => a - b);
}

describe('a writer that stops between its put and the hint update', () => {
  it('leaves a stored, unpushed notification; later publishes go on after it, gap-free, each seq once', async () => {
    const tenant = uniqueTenant();
    const socket = await connect(tenant, 'ana');
    const crashing = depsWith((command, input) => {
      if (isHintUpdate(command, input)) throw crash();
    });
    await expect(deliver(crashing, [note(tenant, 'ana', 'stranded')])).rejects.toThrow('injected');
    // Stored (persist first), the hint not raised, nothing pushed (push only after the hint).
    expect(await getItem('notifications', { userKey: `${tenant}#ana`, seq: 1 })).toMatchObject({ title: 'stranded' });
    expect(await hintOf(tenant, 'ana')).toBeUndefined();

    // More publishes through the runtime: the first finds seq 1 taken and goes on from the newest item.
    expect((await publish(tenant, 'ana', 'after-1')).seq).toBe(2);
    expect((await publish(tenant, 'ana', 'after-2')).seq).toBe(3);
    expect(await hintOf(tenant, 'ana')).toBe(3);
    await socket.waitFor((frame) => frame.type === 'notification' && frame.seq === 3);
    expect(socket.frames.some((frame) => frame.type === 'notification' && frame.seq === 1)).toBe(false);

    // The client refills the gap (seq 1) with a resume: every seq once, with one id each.
    socket.send({ action: 'resume', after: 0 });
    await socket.waitFor((frame) => frame.type === 'replayed');
    expect(shownOnce(socket)).toEqual([1, 2, 3]);
    const items = await inbox(tenant, 'ana');
    expect(items.map((item) => [item.seq, item.title])).toEqual([
      [1, 'stranded'],
      [2, 'after-1'],
      [3, 'after-2'],
    ]);
    expect(new Set(items.map((item) => item.id)).size).toBe(3);
  });

  it('keeps a call’s own order when its seqs interleave with another publisher’s', async () => {
    const tenant = uniqueTenant();
    const other = depsWith();
    const raced = new Set<string>();
    // Before the puts of b and c, another publisher stores the seq each was about to take.
    const racing = depsWith(async (command, input) => {
      const title = input.Item?.title?.S ?? input.Item?.title;
      if (isItemPut(command, input) && (title === 'b' || title === 'c') && !raced.has(title)) {
        raced.add(title);
        await deliver(other, [note(tenant, 'bob', `other-${title}`)]);
      }
    });
    const outcomes = await deliver(
      racing,
      ['a', 'b', 'c'].map((title) => note(tenant, 'bob', title)),
    );
    const seqs = outcomes.map((outcome) => (outcome.status === 'delivered' ? outcome.seq : 0));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    const items = await inbox(tenant, 'bob');
    expect(items.map((item) => [item.seq, item.title])).toEqual([
      [1, 'a'],
      [2, 'other-b'],
      [3, 'b'],
      [4, 'other-c'],
      [5, 'c'],
    ]);
  });
});

describe('an answer lost on the way back', () => {
  it('stores a notification (and its claim) once when the SDK retries a put that had succeeded', async () => {
    const tenant = uniqueTenant();
    const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const lost = new Set<string>();
    // Inside the SDK's retry loop: the first attempt of each put reaches DynamoDB, then its answer is "lost".
    raw.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
        const result = await next(args);
        const table = String(args.request?.body ?? '').includes(tableName('dedupe')) ? 'dedupe' : 'notifications';
        if (context.commandName === 'PutItemCommand' && !lost.has(table)) {
          lost.add(table);
          throw Object.assign(new Error('socket hang up (injected)'), { $retryable: {}, $metadata: {} });
        }
        return result;
      },
      { step: 'deserialize', name: 'loseFirstAnswer' },
    );
    const gateway = new ApiGatewayManagementApiClient({ endpoint: urls().wsUrl.replace(/^ws/, 'http'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    clients.push(raw, gateway);
    const deps = localDeliverDeps(DynamoDBDocumentClient.from(raw), gateway);
    const [outcome] = await deliver(deps, [note(tenant, 'ivy', 'once', 'source-3')]);
    expect([...lost].sort()).toEqual(['dedupe', 'notifications']);
    expect(outcome).toMatchObject({ status: 'delivered', seq: 1 });
    expect((await inbox(tenant, 'ivy')).map((item) => [item.seq, item.title])).toEqual([[1, 'once']]);
    expect(await hintOf(tenant, 'ivy')).toBe(1);
  });
});

describe('contention', () => {
  it('keeps, hints and pushes what a call stored before a later notification ran out of attempts, then answers 503', async () => {
    const tenant = uniqueTenant();
    const socket = await connect(tenant, 'jo');
    const taken = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });
    const deps = depsWith(
      (command, input) => {
        const title = input.Item?.title?.S ?? input.Item?.title;
        if (isItemPut(command, input) && title === 'second') throw taken();
      },
      { sleep: async () => undefined },
    );
    await expect(deliver(deps, [note(tenant, 'jo', 'first'), note(tenant, 'jo', 'second')])).rejects.toMatchObject({ status: 503, code: 'contention' });
    expect(await hintOf(tenant, 'jo')).toBe(1);
    expect(await socket.waitFor((frame) => frame.type === 'notification')).toMatchObject({ seq: 1, title: 'first' });
    expect((await inbox(tenant, 'jo')).map((item) => item.title)).toEqual(['first']);
  });
});

describe('a lagging hint whose newer items expired', () => {
  /** A notification stored at seq 1 by a writer that stopped before raising the hint (still absent). */
  async function strandedAtOne(tenant: string, user: string): Promise<string> {
    const crashing = depsWith((command, input) => {
      if (isHintUpdate(command, input)) throw crash();
    });
    await expect(deliver(crashing, [note(tenant, user, 'stranded')])).rejects.toThrow('injected');
    expect(await hintOf(tenant, user)).toBeUndefined();
    return (await getItem('notifications', { userKey: `${tenant}#${user}`, seq: 1 }))?.id as string;
  }

  it('never hands out again a seq the inbox (GET /notifications) showed: the page repaired the hint first', async () => {
    const tenant = uniqueTenant();
    const id = await strandedAtOne(tenant, 'cy');
    expect((await inbox(tenant, 'cy')).map((item) => [item.seq, item.id])).toEqual([[1, id]]);
    expect(await hintOf(tenant, 'cy')).toBe(1);
    await expire(tenant, 'cy', 1);
    expect((await publish(tenant, 'cy', 'next')).seq).toBe(2);
  });

  it('never hands out again a seq a resume replayed', async () => {
    const tenant = uniqueTenant();
    const id = await strandedAtOne(tenant, 'dee');
    const socket = await connect(tenant, 'dee');
    socket.send({ action: 'resume', after: 0 });
    expect(await socket.waitFor((frame) => frame.type === 'replayed')).toMatchObject({ upTo: 1, more: false, gap: false });
    expect(socket.frames.find((frame) => frame.type === 'notification')).toMatchObject({ seq: 1, id });
    expect(await hintOf(tenant, 'dee')).toBe(1);
    await expire(tenant, 'dee', 1);
    expect((await publish(tenant, 'dee', 'next')).seq).toBe(2);
    await socket.waitFor((frame) => frame.type === 'notification' && frame.seq === 2);
    expect(shownOnce(socket)).toEqual([1, 2]);
  });

  it('takes an ack (frame or ping) of a seq above the hint from the newest item, repairing the hint, and still refuses one beyond it', async () => {
    const tenant = uniqueTenant();
    for (const [user, frame] of [
      ['eve', (upTo: number, id: string) => ({ action: 'ack', upTo, id })],
      ['fay', (ack: number, id: string) => ({ action: 'ping', ack, id })],
    ] as const) {
      await strandedAtOne(tenant, user);
      const socket = await connect(tenant, user);
      socket.send(frame(2, 'beyond'));
      expect(await socket.waitFor((received) => received.id === 'beyond')).toMatchObject({ type: 'error', code: 'invalid_frame' });
      socket.send(frame(1, 'newest'));
      await eventually(async () => ((await getItem('notifications', { userKey: `${tenant}#${user}`, seq: 0 }))?.ackedUpTo === 1 ? true : undefined));
      expect(await hintOf(tenant, user)).toBe(1);
      await expire(tenant, user, 1);
      expect((await publish(tenant, user, 'next')).seq).toBe(2);
    }
  });
});

describe('dedupe claims', () => {
  it('completes, exactly once, a claim whose writer stopped before its put, but only after the lease', async () => {
    const tenant = uniqueTenant();
    const request = note(tenant, 'gus', 'claimed', 'source-1');
    await stopBeforeItemPut(request);
    const claim = await getItem('dedupe', { dedupeKey: `notification#${tenant}#gus#source-1` });
    expect(claim).toMatchObject({ id: expect.any(String), claimedAtMs: expect.any(Number) });
    expect(await inbox(tenant, 'gus')).toEqual([]);

    // Within the lease the claim is its writer's, which may still be putting: a retry waits, then
    // answers a retryable 503 having written nothing.
    const soon = depsWith(undefined, { sleep: async () => undefined });
    await expect(deliver(soon, [request])).rejects.toMatchObject({ status: 503, code: 'contention' });
    expect(await inbox(tenant, 'gus')).toEqual([]);

    // After the lease a retry takes the claim over and writes the id it names; a second one, or
    // two at once, find it and write nothing.
    const later = () => depsWith(undefined, { now: () => new Date(Date.now() + CLAIM_LEASE_MS + 1_000) });
    const [completed] = await deliver(later(), [request]);
    expect(completed).toMatchObject({ status: 'delivered', id: claim?.id, seq: 1 });
    const again = await Promise.all([deliver(later(), [request]), deliver(depsWith(), [request])]);
    expect(again.map(([outcome]) => outcome)).toEqual([
      { status: 'duplicate', id: claim?.id, seq: 1, email: false },
      { status: 'duplicate', id: claim?.id, seq: 1, email: false },
    ]);
    expect((await inbox(tenant, 'gus')).map((item) => [item.seq, item.id])).toEqual([[1, claim?.id]]);
  });

  it('answers a retry of a call that stopped after its put (before the hint) with the first result, repairing the hint', async () => {
    const tenant = uniqueTenant();
    const request = note(tenant, 'hal', 'once', 'source-2');
    const crashing = depsWith((command, input) => {
      if (isHintUpdate(command, input)) throw crash();
    });
    await expect(deliver(crashing, [request])).rejects.toThrow('injected');
    const [retry] = await deliver(depsWith(), [request]);
    expect(retry).toMatchObject({ status: 'duplicate', seq: 1 });
    expect(await hintOf(tenant, 'hal')).toBe(1);
    await expire(tenant, 'hal', 1);
    expect((await publish(tenant, 'hal', 'next')).seq).toBe(2);
  });

  it('delivers concurrent duplicates of one fan-out once per recipient, each pushed once', async () => {
    const tenant = uniqueTenant();
    const users = Array.from({ length: 30 }, (_, index) => `m-${index}`);
    const socket = await connect(tenant, 'm-7');
    const requests = users.map((userId) => ({ ...note(tenant, userId, 'Site closed', 'alert:a1:v1'), kind: 'alert' }));
    const calls = await Promise.all([deliver(depsWith(), requests), deliver(depsWith(), requests), deliver(depsWith(), requests)]);
    users.forEach((_, index) => {
      const outcomes = calls.map((outcomes) => outcomes[index]!);
      expect(outcomes.filter((outcome) => outcome.status === 'delivered')).toHaveLength(1);
      const first = outcomes.find((outcome) => outcome.status === 'delivered') as { id: string; seq: number };
      expect(first.seq).toBe(1);
      for (const outcome of outcomes) expect(outcome).toMatchObject({ id: first.id, seq: 1 });
    });
    for (const user of ['m-0', 'm-7', 'm-29']) expect((await inbox(tenant, user)).map((item) => item.seq)).toEqual([1]);
    await socket.waitFor((frame) => frame.type === 'notification');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(socket.frames.filter((frame) => frame.type === 'notification')).toHaveLength(1);
  });
});

describe('a dedupe claim whose writer gave up', () => {
  const taken = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: { httpStatusCode: 400 } });

  it('is completed at once by a retry after a 503 contention, with the claimed id, not only after the lease', async () => {
    const tenant = uniqueTenant();
    const request = note(tenant, 'kit', 'contended', 'source-4');
    // Every seq this call tries is taken: it stores nothing and answers 503.
    const contended = depsWith(
      (command, input) => {
        if (isItemPut(command, input)) throw taken();
      },
      { sleep: async () => undefined },
    );
    await expect(deliver(contended, [request])).rejects.toMatchObject({ status: 503, code: 'contention' });
    const claim = await getItem('dedupe', { dedupeKey: `notification#${tenant}#kit#source-4` });
    expect(claim?.id).toEqual(expect.any(String));
    expect(await inbox(tenant, 'kit')).toEqual([]);

    // The retry a 503 asks for, moments later (well inside the lease): stored once, under the claim's id.
    const [retry] = await deliver(depsWith(undefined, { sleep: async () => undefined }), [request]);
    expect(retry).toMatchObject({ status: 'delivered', id: claim?.id, seq: 1 });
    expect((await inbox(tenant, 'kit')).map((item) => [item.seq, item.id])).toEqual([[1, claim?.id]]);
  });

  it('keeps the lease of a claim whose put failed with an unknown outcome (the item may exist), but gives back the ones after it', async () => {
    const tenant = uniqueTenant();
    const requests = [note(tenant, 'lou', 'unknown', 'source-5'), note(tenant, 'lou', 'never-tried', 'source-6')];
    const failing = depsWith((command, input) => {
      if (isItemPut(command, input)) throw new Error('timed out (injected)');
    });
    await expect(deliver(failing, requests)).rejects.toThrow('injected');
    const retry = depsWith(undefined, { sleep: async () => undefined });
    // The first may have been stored by a put whose answer never came: its claim is still its writer's.
    await expect(deliver(retry, [requests[0]!])).rejects.toMatchObject({ status: 503, code: 'contention' });
    // The second was never tried: its claim was given back, so a retry completes it at once.
    const [second] = await deliver(retry, [requests[1]!]);
    expect(second).toMatchObject({ status: 'delivered', seq: 1 });
    expect(second).toMatchObject({ id: (await getItem('dedupe', { dedupeKey: `notification#${tenant}#lou#source-6` }))?.id });
  });
});

describe('a lease take-over whose answer was lost', () => {
  it('is recognised as won when the SDK retries it, so the claim is completed now, not a lease later', async () => {
    const tenant = uniqueTenant();
    const request = note(tenant, 'max', 'taken over', 'source-7');
    await stopBeforeItemPut(request);
    const claim = await getItem('dedupe', { dedupeKey: `notification#${tenant}#max#source-7` });

    const raw = new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    let lost = 0;
    // The take-over (a put conditional on the stale claim) reaches DynamoDB; its first answer is lost and the SDK retries.
    raw.middlewareStack.add(
      (next: (args: any) => Promise<any>, context: { commandName?: string }) => async (args: any) => {
        const result = await next(args);
        const body = String(args.request?.body ?? '');
        if (context.commandName === 'PutItemCommand' && body.includes('claimedAtMs = ') && lost++ === 0) {
          throw Object.assign(new Error('socket hang up (injected)'), { $retryable: {}, $metadata: {} });
        }
        return result;
      },
      { step: 'deserialize', name: 'loseFirstAnswer' },
    );
    const gateway = new ApiGatewayManagementApiClient({ endpoint: urls().wsUrl.replace(/^ws/, 'http'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    clients.push(raw, gateway);
    const deps = {
      ...localDeliverDeps(DynamoDBDocumentClient.from(raw), gateway),
      now: () => new Date(Date.now() + CLAIM_LEASE_MS + 1_000),
      sleep: async () => undefined,
    };
    const [outcome] = await deliver(deps, [request]);
    expect(lost).toBeGreaterThan(1);
    expect(outcome).toMatchObject({ status: 'delivered', id: claim?.id, seq: 1 });
  });
});

describe('two calls taking over one stale claim in the same millisecond', () => {
  it('lets one of them write the item: a take-over is recognised as its own by its holder, not by its time', async () => {
    const tenant = uniqueTenant();
    const request = note(tenant, 'ned', 'stale', 'source-8');
    await stopBeforeItemPut(request);
    const at = new Date(Date.now() + CLAIM_LEASE_MS + 1_000);
    const outcomes = (
      await Promise.all([deliver(depsWith(undefined, { now: () => at }), [request]), deliver(depsWith(undefined, { now: () => at }), [request])])
    ).map(([outcome]) => outcome);
    expect(outcomes.map((outcome) => outcome?.status).sort()).toEqual(['delivered', 'duplicate']);
    expect((await inbox(tenant, 'ned')).map((item) => item.seq)).toEqual([1]);
  });
});

describe('a claim made by a call that knows its invocation’s deadline', () => {
  /** deliver()'s deps on a clock that sleeping moves on (no real waiting), for an invocation with `budgetMs` left. */
  function onVirtualClock(budgetMs: number): DeliverDeps & { elapsed: () => number } {
    let offset = 0;
    return {
      ...depsWith(undefined, {
        now: () => new Date(Date.now() + offset),
        sleep: async (ms: number) => {
          offset += ms;
        },
        deadline: () => Date.now() + offset + budgetMs,
      }),
      elapsed: () => offset,
    };
  }

  it('is completed by a retry soon after the claimer’s invocation stopped, within the retry’s own run, not 16 minutes later', async () => {
    const tenant = uniqueTenant();
    const request = note(tenant, 'oli', 'crashed', 'alert:a9:v1');
    const before = Date.now();
    // The claimer's invocation had 2 s left; it stops between its claim and its put.
    await stopBeforeItemPut(request, { deadline: () => before + 2_000 });
    const claim = await getItem('dedupe', { dedupeKey: `notification#${tenant}#oli#alert:a9:v1` });
    expect(claim?.leaseUntilMs).toBe(before + 2_000 + LEASE_MARGIN_MS);

    // A retry whose run ends before the lease does may not complete it: 503, nothing written.
    await expect(deliver(onVirtualClock(3_000), [request])).rejects.toMatchObject({ status: 503, code: 'contention' });
    expect(await inbox(tenant, 'oli')).toEqual([]);

    // A retry with a minute left (the alert fan-out's) waits the lease out, checking meanwhile, and completes it.
    const retry = onVirtualClock(60_000);
    const [outcome] = await deliver(retry, [request]);
    expect(outcome).toMatchObject({ status: 'delivered', id: claim?.id, seq: 1 });
    expect(retry.elapsed()).toBeGreaterThan(2_000 + LEASE_MARGIN_MS - (Date.now() - before));
    expect(retry.elapsed()).toBeLessThan(2_000 + LEASE_MARGIN_MS + 2_000);
    expect((await inbox(tenant, 'oli')).map((item) => [item.seq, item.id])).toEqual([[1, claim?.id]]);
  });

  it('takes the deadline from the Lambda context: a publish through the runtime leases its claim until shortly after the function’s timeout', async () => {
    const tenant = uniqueTenant();
    const { status } = await api('POST', '/notifications', await devToken(tenant, 'publisher-bot', ['publisher']), {
      userId: 'pat',
      kind: 'note',
      title: 'leased',
      dedupeKey: 'source-9',
    });
    expect(status).toBe(202);
    const claim = await getItem('dedupe', { dedupeKey: `notification#${tenant}#pat#source-9` });
    const leaseMs = (claim?.leaseUntilMs as number) - (claim?.claimedAtMs as number);
    // The publish function's timeout is 10 s (lib/description): its lease is at most that plus the margin.
    expect(leaseMs).toBeGreaterThan(LEASE_MARGIN_MS);
    expect(leaseMs).toBeLessThanOrEqual(10_000 + LEASE_MARGIN_MS);
  });
});

describe('a full page of the inbox that ends at a lagging hint', () => {
  it('says more when a stranded notification lies past it, and the next page shows it', async () => {
    const tenant = uniqueTenant();
    for (const title of ['one', 'two']) await publish(tenant, 'quin', title);
    const crashing = depsWith((command, input) => {
      if (isHintUpdate(command, input)) throw crash();
    });
    await expect(deliver(crashing, [note(tenant, 'quin', 'stranded')])).rejects.toThrow('injected');
    expect(await hintOf(tenant, 'quin')).toBe(2);

    const token = await devToken(tenant, 'quin');
    const first = await api('GET', '/notifications?after=0&limit=2', token);
    expect(first.body.items.map((item: { seq: number }) => item.seq)).toEqual([1, 2]);
    expect(first.body).toMatchObject({ more: true, gap: false, unread: 3 });
    const next = await api('GET', `/notifications?after=${first.body.nextAfter}&limit=2`, token);
    expect(next.body.items.map((item: { title: string }) => item.title)).toEqual(['stranded']);
    expect(next.body).toMatchObject({ more: false, gap: false });
  });
});
