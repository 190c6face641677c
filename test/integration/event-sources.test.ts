import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { DynamoDBClient, PutItemCommand, UpdateTableCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { LOCAL_ACCOUNT, LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { createQueueWithDlq, createTable } from '#lib/local/resources';
import { startSqsPoller, type SqsPoller, type SqsPollerOptions } from '#lib/local/sqs-poller';
import { startStreamPoller, type StreamPoller, type StreamPollerOptions } from '#lib/local/stream-poller';

const silent = { warn: () => undefined, error: () => undefined };
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/;

let dynamodb: DynamoDBClient;
let streams: DynamoDBStreamsClient;
let sqs: SQSClient;
const running: Array<{ stop(): Promise<void> }> = [];
let names = 0;
const uniqueName = (prefix: string): string => `${prefix}-${++names}-${Date.now().toString(36)}`;

// The runtime's own emulators (started once for all integration files); these tests make their own tables and queues.
beforeAll(() => {
  const { dynamodbUrl, sqsUrl } = inject('localUrls');
  const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  dynamodb = new DynamoDBClient({ ...local, endpoint: dynamodbUrl });
  streams = new DynamoDBStreamsClient({ ...local, endpoint: dynamodbUrl });
  // fauxqs's queue URLs name a host that does not resolve here; send every request to the endpoint.
  sqs = new SQSClient({ ...local, endpoint: sqsUrl, useQueueUrlAsEndpoint: false });
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((poller) => poller.stop()));
});

afterAll(() => {
  for (const client of [dynamodb, streams, sqs]) client?.destroy();
});

describe('DynamoDB stream event source', () => {
  async function newTable(): Promise<string> {
    const name = uniqueName('events');
    await createTable(dynamodb, name, { envVar: 'UNUSED', partitionKey: { name: 'pk', type: 'S' }, stream: 'NEW_AND_OLD_IMAGES' });
    return name;
  }

  async function put(table: string, pks: readonly string[], attributes: Record<string, AttributeValue> = {}): Promise<void> {
    // One at a time, so the stream holds them in this order.
    for (const pk of pks) await dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, ...attributes } }));
  }

  async function newOnFailureQueue(): Promise<string> {
    return (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('on-failure') }))).QueueUrl!;
  }

  /** Records every batch the handler sees; `behave` decides each invocation's result. */
  function recorder(behave: (records: DynamoDBRecord[], call: number) => DynamoDBBatchResponse | void = () => undefined) {
    const batches: DynamoDBRecord[][] = [];
    const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse | void> => {
      batches.push(event.Records);
      return behave(event.Records, batches.length);
    };
    const keys = (): string[][] => batches.map((records) => records.map(pkOf));
    return { batches, handler, keys };
  }

  async function poll(options: Omit<StreamPollerOptions, 'dynamodb' | 'streams'>): Promise<StreamPoller> {
    const poller = await startStreamPoller({ dynamodb, streams, logger: silent, pollIntervalMs: 50, ...options });
    running.push(poller);
    return poller;
  }

  it('delivers a shard in order, in batches of batchSize, as Lambda records', async () => {
    const table = await newTable();
    await put(table, ['a0'], { blob: { B: new Uint8Array([1, 2, 3]) } });
    await put(table, ['a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
    await put(table, ['a0'], { status: { S: 'changed' } });
    const seen = recorder();
    const poller = await poll({ tableName: table, handler: seen.handler, batchSize: 3, startingPosition: 'TRIM_HORIZON' });
    await poller.drain();

    expect(seen.keys()).toEqual([
      ['a0', 'a1', 'a2'],
      ['a3', 'a4', 'a5'],
      ['a6', 'a0'],
    ]);
    const records = seen.batches.flat();
    const first = records[0]!;
    expect(first).toMatchObject({
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: LOCAL_REGION,
      eventSourceARN: poller.streamArn,
      dynamodb: { Keys: { pk: { S: 'a0' } }, NewImage: { pk: { S: 'a0' }, blob: { B: 'AQID' } }, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    });
    expect(first.eventID).toMatch(/\S/);
    // DynamoDB Local's own ARNs name the region `ddblocal`; Lambda's records carry the function's region.
    expect(first.eventSourceARN).toMatch(new RegExp(`^arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${table}/stream/\\S+$`));
    expect(first.dynamodb!.OldImage).toBeUndefined();
    expect(first.dynamodb!.SizeBytes).toBeGreaterThan(0);
    expect(Math.abs(first.dynamodb!.ApproximateCreationDateTime! - Date.now() / 1000)).toBeLessThan(120);
    expect(records.at(-1)).toMatchObject({ eventName: 'MODIFY', dynamodb: { OldImage: { blob: { B: 'AQID' } }, NewImage: { status: { S: 'changed' } } } });
    const sequences = records.map((record) => BigInt(record.dynamodb!.SequenceNumber!));
    expect(sequences).toEqual([...sequences].sort((a, b) => (a < b ? -1 : 1)));
    expect(poller.stats).toMatchObject({ deliveredBatches: 3, failedBatches: 0, discardedRecords: 0 });
  });

  it('starts at LATEST by default: records written before the start are not delivered', async () => {
    const table = await newTable();
    await put(table, ['b0']);
    const seen = recorder();
    const poller = await poll({ tableName: table, handler: seen.handler });
    await put(table, ['b1']);
    await poller.drain();
    expect(seen.keys()).toEqual([['b1']]);
  });

  it('retries a thrown batch, then sends Lambda on-failure record and moves on to later records', async () => {
    const table = await newTable();
    const onFailure = await newOnFailureQueue();
    await put(table, ['c0', 'poison', 'c1']);
    const seen = recorder((records) => {
      if (records.some((record) => pkOf(record) === 'poison')) throw new Error('cannot handle poison');
    });
    const poller = await poll({
      tableName: table,
      functionName: 'alerts-fanout',
      handler: seen.handler,
      batchSize: 10,
      retryAttempts: 2,
      startingPosition: 'TRIM_HORIZON',
      onFailure: { sqs, queueUrl: onFailure },
    });
    await poller.drain();
    await put(table, ['c2']);
    await poller.drain();

    expect(seen.keys()).toEqual([['c0', 'poison', 'c1'], ['c0', 'poison', 'c1'], ['c0', 'poison', 'c1'], ['c2']]);
    const [failed] = seen.batches;
    const failures = await receiveJson(onFailure);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      version: '1.0',
      requestContext: {
        functionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:alerts-fanout`,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      DDBStreamBatchInfo: {
        shardId: poller.shards[0]!.shardId,
        startSequenceNumber: failed![0]!.dynamodb!.SequenceNumber,
        endSequenceNumber: failed![2]!.dynamodb!.SequenceNumber,
        batchSize: 3,
        streamArn: poller.streamArn,
      },
    });
    const failure = failures[0] as { requestContext: { requestId: string }; timestamp: string; DDBStreamBatchInfo: Record<string, string> };
    expect(failure.requestContext.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(failure.timestamp).toMatch(ISO_TIME);
    expect(failure.DDBStreamBatchInfo.approximateArrivalOfFirstRecord).toMatch(ISO_TIME);
    expect(failure.DDBStreamBatchInfo.approximateArrivalOfLastRecord).toMatch(ISO_TIME);
    expect(poller.stats).toMatchObject({ deliveredBatches: 4, failedBatches: 3, failuresSent: 1, discardedRecords: 3 });
  });

  it('with batchItemFailures, checkpoints before the lowest failed record and retries only from there', async () => {
    const table = await newTable();
    await put(table, ['d0', 'd1', 'd2', 'd3', 'd4']);
    const seen = recorder((records, call) => {
      if (call > 1) return;
      const failed = records.filter((record) => ['d4', 'd2'].includes(pkOf(record)));
      return { batchItemFailures: failed.reverse().map((record) => ({ itemIdentifier: record.dynamodb!.SequenceNumber! })) };
    });
    const poller = await poll({ tableName: table, handler: seen.handler, batchSize: 5, retryAttempts: 1, startingPosition: 'TRIM_HORIZON' });
    await poller.drain();
    expect(seen.keys()).toEqual([
      ['d0', 'd1', 'd2', 'd3', 'd4'],
      ['d2', 'd3', 'd4'],
    ]);
    expect(poller.stats).toMatchObject({ failedBatches: 1, discardedRecords: 0 });
  });

  it('fails the whole batch when an itemIdentifier is not a record of the batch', async () => {
    const table = await newTable();
    await put(table, ['e0', 'e1', 'e2']);
    const seen = recorder((_records, call) => (call === 1 ? { batchItemFailures: [{ itemIdentifier: 'no-such-record' }] } : undefined));
    const poller = await poll({ tableName: table, handler: seen.handler, retryAttempts: 1, startingPosition: 'TRIM_HORIZON' });
    await poller.drain();
    expect(seen.keys()).toEqual([
      ['e0', 'e1', 'e2'],
      ['e0', 'e1', 'e2'],
    ]);
  });

  it('bisects a failing batch until the poison record is alone, and delivers every other record', async () => {
    const table = await newTable();
    const onFailure = await newOnFailureQueue();
    await put(table, ['f0', 'f1', 'f2', 'f3', 'f4', 'poison', 'f6', 'f7']);
    const seen = recorder((records) => {
      if (records.some((record) => pkOf(record) === 'poison')) throw new Error('cannot handle poison');
    });
    const poller = await poll({
      tableName: table,
      handler: seen.handler,
      batchSize: 8,
      retryAttempts: 0,
      bisectBatchOnError: true,
      startingPosition: 'TRIM_HORIZON',
      onFailure: { sqs, queueUrl: onFailure },
    });
    await poller.drain();

    expect(seen.keys()).toEqual([
      ['f0', 'f1', 'f2', 'f3', 'f4', 'poison', 'f6', 'f7'],
      ['f0', 'f1', 'f2', 'f3'],
      ['f4', 'poison', 'f6', 'f7'],
      ['f4', 'poison'],
      ['f4'],
      ['poison'],
      ['f6', 'f7'],
    ]);
    const poison = seen.batches.flat().find((record) => pkOf(record) === 'poison')!;
    const failures = await receiveJson(onFailure);
    expect(failures).toMatchObject([
      {
        requestContext: { condition: 'RetryAttemptsExhausted', approximateInvokeCount: 4 },
        DDBStreamBatchInfo: { startSequenceNumber: poison.dynamodb!.SequenceNumber, endSequenceNumber: poison.dynamodb!.SequenceNumber, batchSize: 1 },
      },
    ]);
  });

  it('skips records that match no filter pattern, without invoking for them', async () => {
    const table = await newTable();
    await put(table, ['g0'], { status: { S: 'active' } });
    await put(table, ['g1'], { status: { S: 'resolved' } });
    await put(table, ['g2'], { status: { S: 'active' } });
    await put(table, ['g0'], { status: { S: 'active' }, note: { S: 'modified' } });
    const seen = recorder();
    const poller = await poll({
      tableName: table,
      handler: seen.handler,
      startingPosition: 'TRIM_HORIZON',
      filterPatterns: [{ eventName: ['INSERT'], dynamodb: { NewImage: { status: { S: ['active'] } } } }],
    });
    await poller.drain();
    expect(seen.keys().flat()).toEqual(['g0', 'g2']);
    expect(poller.stats.filteredRecords).toBe(2);
  });

  it('sends records older than maxRecordAgeSeconds to the on-failure destination instead of retrying them forever', async () => {
    const table = await newTable();
    const onFailure = await newOnFailureQueue();
    const seen = recorder(() => {
      throw new Error('always failing');
    });
    const poller = await poll({ tableName: table, handler: seen.handler, maxRecordAgeSeconds: 1, onFailure: { sqs, queueUrl: onFailure } });
    await put(table, ['h0']);
    await poller.drain({ timeoutMs: 10_000 });
    expect(seen.batches.length).toBeGreaterThanOrEqual(2);
    const failures = await receiveJson(onFailure);
    expect(failures).toMatchObject([
      { requestContext: { condition: 'RecordAgeExceeded', approximateInvokeCount: seen.batches.length }, DDBStreamBatchInfo: { batchSize: 1 } },
    ]);
  });

  it('reads a closed shard to its end and marks it ended', async () => {
    const table = await newTable();
    const seen = recorder();
    const poller = await poll({ tableName: table, handler: seen.handler });
    await put(table, ['i0', 'i1', 'i2']);
    // Disabling the stream closes its shard, as a shard rollover does.
    await dynamodb.send(new UpdateTableCommand({ TableName: table, StreamSpecification: { StreamEnabled: false } }));
    await poller.drain();
    expect(seen.keys().flat()).toEqual(['i0', 'i1', 'i2']);
    expect(poller.shards).toEqual([expect.objectContaining({ status: 'ended' })]);
  });

  it('stop() lets the in-flight batch finish, then reads no more', async () => {
    const table = await newTable();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const finished: string[] = [];
    const poller = await poll({
      tableName: table,
      handler: async (event) => {
        await gate;
        finished.push(...event.Records.map(pkOf));
      },
    });
    await put(table, ['j0']);
    await vi.waitFor(() => expect(poller.stats.deliveredBatches).toBe(1), { timeout: 5_000 });
    let stopped = false;
    const stopping = poller.stop().then(() => (stopped = true));
    await delay(100);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(finished).toEqual(['j0']);
    await put(table, ['j1']);
    await delay(300);
    expect(poller.stats.deliveredBatches).toBe(1);
  });
});

describe('SQS event source', () => {
  async function newQueue(maxReceiveCount = 2, visibilityTimeoutSeconds = 1): Promise<{ url: string; arn: string; dlqUrl: string }> {
    return createQueueWithDlq(sqs, uniqueName('work'), { envVar: 'UNUSED', visibilityTimeoutSeconds, maxReceiveCount });
  }

  async function send(queueUrl: string, bodies: readonly string[]): Promise<void> {
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: bodies.map((body, index) => ({ Id: String(index), MessageBody: body })) }));
  }

  function recorder(behave: (records: SQSRecord[], call: number) => SQSBatchResponse | void = () => undefined) {
    const batches: SQSRecord[][] = [];
    const handler = async (event: SQSEvent): Promise<SQSBatchResponse | void> => {
      batches.push(event.Records);
      return behave(event.Records, batches.length);
    };
    return { batches, handler, bodies: (): string[][] => batches.map((records) => records.map((record) => record.body)) };
  }

  async function poll(options: Omit<SqsPollerOptions, 'sqs'>): Promise<SqsPoller> {
    const poller = await startSqsPoller({ sqs, logger: silent, ...options });
    running.push(poller);
    return poller;
  }

  /** Messages waiting to be received, and those received but not yet deleted (in flight). */
  async function queueCounts(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return { visible: Number(Attributes.ApproximateNumberOfMessages), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible) };
  }

  async function messagesIn(queueUrl: string): Promise<number> {
    const { visible, inFlight } = await queueCounts(queueUrl);
    return visible + inFlight;
  }

  it('delivers a batch as Lambda SQS records and deletes it on success', async () => {
    const queue = await newQueue();
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queue.url,
        Entries: [
          {
            Id: 'first',
            MessageBody: '{"kind":"alert"}',
            MessageAttributes: {
              kind: { DataType: 'String', StringValue: 'alert' },
              attempt: { DataType: 'Number', StringValue: '3' },
              blob: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2]) },
            },
          },
          { Id: 'second', MessageBody: 'plain text' },
        ],
      }),
    );
    const seen = recorder();
    const poller = await poll({ queueUrl: queue.url, handler: seen.handler });
    await poller.drain();

    expect(seen.batches).toHaveLength(1);
    const byBody = new Map(seen.batches[0]!.map((record) => [record.body, record]));
    const first = byBody.get('{"kind":"alert"}')!;
    expect(first).toMatchObject({
      body: '{"kind":"alert"}',
      md5OfBody: createHash('md5').update('{"kind":"alert"}').digest('hex'),
      eventSource: 'aws:sqs',
      eventSourceARN: queue.arn,
      awsRegion: LOCAL_REGION,
      attributes: { ApproximateReceiveCount: '1' },
      messageAttributes: {
        kind: { stringValue: 'alert', stringListValues: [], binaryListValues: [], dataType: 'String' },
        attempt: { stringValue: '3', dataType: 'Number' },
        blob: { binaryValue: 'AQI=', dataType: 'Binary' },
      },
    });
    expect(first.messageId).toMatch(/\S/);
    expect(first.receiptHandle).toMatch(/\S/);
    expect(first.md5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    for (const attribute of ['SentTimestamp', 'ApproximateFirstReceiveTimestamp'] as const) expect(first.attributes[attribute]).toMatch(/^\d{13}$/);
    expect(first.attributes.SenderId).toMatch(/\S/);
    expect(byBody.get('plain text')!.messageAttributes).toEqual({});
    expect(await messagesIn(queue.url)).toBe(0);
    expect(await messagesIn(queue.dlqUrl)).toBe(0);
    expect(poller.stats).toMatchObject({ deliveredBatches: 1, deletedMessages: 2 });
  });

  it('with batchItemFailures, deletes all but the failed message, which comes back alone', async () => {
    const queue = await newQueue();
    await send(queue.url, ['ok-1', 'bad', 'ok-2']);
    const seen = recorder((records) => ({
      batchItemFailures: records
        .filter((record) => record.body === 'bad' && record.attributes.ApproximateReceiveCount === '1')
        .map((record) => ({ itemIdentifier: record.messageId })),
    }));
    const poller = await poll({ queueUrl: queue.url, handler: seen.handler });
    await poller.drain();

    expect(seen.bodies().map((bodies) => [...bodies].sort())).toEqual([['bad', 'ok-1', 'ok-2'], ['bad']]);
    expect(seen.batches[1]![0]!.attributes.ApproximateReceiveCount).toBe('2');
    expect(await messagesIn(queue.dlqUrl)).toBe(0);
    expect(poller.stats).toMatchObject({ deliveredBatches: 2, failedBatches: 1, deletedMessages: 3 });
  });

  it('deletes nothing when the handler throws, so the redrive policy moves the message to the DLQ after maxReceiveCount', async () => {
    const queue = await newQueue(2);
    await send(queue.url, ['doomed']);
    const seen = recorder(() => {
      throw new Error('always failing');
    });
    const poller = await poll({ queueUrl: queue.url, handler: seen.handler });
    await poller.drain();

    expect(seen.batches.map((records) => records.map((record) => [record.body, record.attributes.ApproximateReceiveCount]))).toEqual([
      [['doomed', '1']],
      [['doomed', '2']],
    ]);
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, MaxNumberOfMessages: 10 }));
    expect(Messages.map((message) => message.Body)).toEqual(['doomed']);
    expect(poller.stats).toMatchObject({ failedBatches: 2, deletedMessages: 0 });
  });

  it('consuming a DLQ, names the source queue of a redriven message in DeadLetterQueueSourceArn, and not of one sent there directly', async () => {
    const queue = await newQueue(1);
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queue.dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;
    await send(queue.url, ['redriven']);
    const failing = await poll({
      queueUrl: queue.url,
      handler: async () => {
        throw new Error('always failing');
      },
    });
    await failing.drain();
    // As EventBridge Scheduler's dead letters arrive: sent to the DLQ itself.
    await send(queue.dlqUrl, ['sent directly']);
    const seen = recorder();
    const lastHandler = await poll({ queueUrl: queue.dlqUrl, handler: seen.handler });
    await lastHandler.drain();

    const byBody = new Map(seen.batches.flat().map((record) => [record.body, record]));
    expect(byBody.get('redriven')).toMatchObject({ eventSourceARN: dlqArn, attributes: { DeadLetterQueueSourceArn: queue.arn } });
    expect(byBody.get('sent directly')!.attributes).not.toHaveProperty('DeadLetterQueueSourceArn');
  });

  it('deletes messages that match no filter pattern without invoking for them', async () => {
    const queue = await newQueue();
    await send(queue.url, ['{"kind":"keep"}', '{"kind":"drop"}', 'not json']);
    const seen = recorder();
    const poller = await poll({ queueUrl: queue.url, handler: seen.handler, filterPatterns: [{ body: { kind: ['keep'] } }] });
    await poller.drain();
    expect(seen.bodies()).toEqual([['{"kind":"keep"}']]);
    expect(await messagesIn(queue.dlqUrl)).toBe(0);
    expect(poller.stats).toMatchObject({ filteredMessages: 2, deletedMessages: 3 });
  });

  it('gathers messages arriving within maxBatchingWindowSeconds into one batch', async () => {
    // A visibility timeout longer than the window, so m1 cannot come back while the poller holds it.
    const queue = await newQueue(2, 30);
    const seen = recorder();
    const poller = await poll({ queueUrl: queue.url, handler: seen.handler, batchSize: 4, maxBatchingWindowSeconds: 5 });
    await send(queue.url, ['m1']);
    // Wait until the poller has received m1 (no longer visible), so the rest arrive after it, inside its window...
    await vi.waitFor(async () => expect((await queueCounts(queue.url)).visible).toBe(0), { timeout: 5_000, interval: 20 });
    // ...which holds m1 back instead of invoking for it alone.
    expect(seen.batches).toEqual([]);
    expect(await queueCounts(queue.url)).toEqual({ visible: 0, inFlight: 1 });
    await send(queue.url, ['m2', 'm3', 'm4']);
    await poller.drain();
    expect(seen.bodies().map((bodies) => [...bodies].sort())).toEqual([['m1', 'm2', 'm3', 'm4']]);
    expect(poller.stats).toMatchObject({ deliveredBatches: 1, deletedMessages: 4 });
  });

  it('runs at most maxConcurrency batches at once (ScalingConfig.MaximumConcurrency), and one at a time by default', async () => {
    for (const [maxConcurrency, expected] of [
      [3, 3],
      [undefined, 1],
    ] as const) {
      const queue = await newQueue(2, 30);
      await send(queue.url, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
      let active = 0;
      let most = 0;
      const poller = await poll({
        queueUrl: queue.url,
        batchSize: 1,
        ...(maxConcurrency !== undefined && { maxConcurrency }),
        handler: async () => {
          most = Math.max(most, ++active);
          await delay(250);
          active--;
        },
      });
      await poller.drain({ timeoutMs: 15_000 });
      expect(poller.stats).toMatchObject({ deliveredBatches: 7, deletedMessages: 7 });
      expect(most, `most batches in flight at once with maxConcurrency ${maxConcurrency}`).toBe(expected);
    }
    await expect(poll({ queueUrl: (await newQueue()).url, handler: async () => undefined, maxConcurrency: 0 })).rejects.toThrow(
      'maxConcurrency must be 1 to 1000',
    );
  });

  it('starts as many batches as are free from one ReceiveMessage, and keeps each FIFO message group in order', async () => {
    const name = `${uniqueName('groups')}.fifo`;
    const queue = await createQueueWithDlq(sqs, name, { envVar: 'UNUSED', visibilityTimeoutSeconds: 30, maxReceiveCount: 2, fifo: true });
    // Six groups of three, queued before the poller starts, so its first receive finds them all.
    const groups = ['a', 'b', 'c', 'd', 'e', 'f'];
    const entries = groups.flatMap((group) =>
      [1, 2, 3].map((n) => ({ Id: `${group}${n}`, MessageBody: `${group}${n}`, MessageGroupId: group, MessageDeduplicationId: `${group}${n}` })),
    );
    for (const part of [entries.slice(0, 10), entries.slice(10)]) await sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: part }));
    const counted = new SQSClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: inject('localUrls').sqsUrl, useQueueUrlAsEndpoint: false });
    let receives = 0;
    counted.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'ReceiveMessageCommand') receives++;
        return next(args);
      },
      { step: 'initialize', name: 'countReceives' },
    );
    const order: string[] = [];
    const receivesAtStart: number[] = [];
    let active = 0;
    let most = 0;
    const poller = await startSqsPoller({
      sqs: counted,
      logger: silent,
      queueUrl: queue.url,
      batchSize: 1,
      maxConcurrency: 6,
      handler: async (event) => {
        receivesAtStart.push(receives);
        most = Math.max(most, ++active);
        order.push(event.Records[0]!.body);
        await delay(200);
        active--;
      },
    });
    running.push(poller);
    await poller.drain({ timeoutMs: 15_000 });
    // The queue is empty once fauxqs has deleted the last batch, a moment before the poller counts its answer.
    await vi.waitFor(() => expect(poller.stats).toMatchObject({ deliveredBatches: 18, deletedMessages: 18 }), { timeout: 2_000 });
    counted.destroy();
    // The first six invocations (one per group) all came from the first receive, and ran together.
    expect(receivesAtStart.slice(0, 6)).toEqual([1, 1, 1, 1, 1, 1]);
    expect(most).toBe(6);
    for (const group of groups) expect(order.filter((body) => body.startsWith(group))).toEqual([`${group}1`, `${group}2`, `${group}3`]);
  });

  it('stop() ends the long poll at once, lets the in-flight batch finish, then receives no more', async () => {
    const queue = await newQueue();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen = recorder();
    const poller = await poll({
      queueUrl: queue.url,
      handler: async (event) => {
        await gate;
        return seen.handler(event);
      },
    });
    await send(queue.url, ['in-flight']);
    await vi.waitFor(() => expect(poller.stats.deliveredBatches).toBe(1), { timeout: 5_000 });
    const stopping = poller.stop();
    release();
    await stopping;
    expect(seen.bodies()).toEqual([['in-flight']]);
    expect(await messagesIn(queue.url)).toBe(0);

    const idle = await poll({ queueUrl: queue.url, handler: seen.handler });
    const startedAt = performance.now();
    await idle.stop();
    expect(performance.now() - startedAt).toBeLessThan(1_000);
    await send(queue.url, ['after-stop']);
    await delay(300);
    expect(seen.batches).toHaveLength(1);
    expect(await messagesIn(queue.url)).toBe(1);
  });
});

function pkOf(record: DynamoDBRecord): string {
  return record.dynamodb?.Keys?.pk?.S ?? '';
}

async function receiveJson(queueUrl: string): Promise<unknown[]> {
  const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
  return Messages.map((message) => JSON.parse(message.Body!) as unknown);
}
