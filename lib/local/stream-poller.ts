/**
 * The local stand-in for a Lambda event-source mapping on a DynamoDB stream. It follows Lambda's
 * documented behaviour: each shard in order, one batch at a time; retries,
 * bisection, partial batch responses, record age and an on-failure destination that gets Lambda's
 * own JSON. Checkpoints live in memory, as the local runtime starts afresh each time.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  TrimmedDataAccessException,
  type _Record as WireRecord,
  type AttributeValue as WireAttributeValue,
  type DynamoDBStreamsClient,
  type Shard,
} from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { AttributeValue, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent, StreamRecord } from 'aws-lambda';
import { arnInRegion, LOCAL_ACCOUNT, LOCAL_REGION } from './aws-local';
import { compileFilter, type FilterPattern } from './event-filter';

export type PollerLogger = Pick<Console, 'warn' | 'error'>;

export interface StreamPollerOptions {
  readonly dynamodb: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  /** The table whose latest stream is read (found with DescribeTable). */
  readonly tableName: string;
  /** Its response is read as Lambda reads a DynamoDBBatchResponse. */
  readonly handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | unknown>;
  /** Names the function in on-failure records and logs. @default tableName */
  readonly functionName?: string;
  /** 1 to 10000. @default 100 */
  readonly batchSize?: number;
  /** Retries of a failed batch; -1 retries until the records expire. @default -1 */
  readonly retryAttempts?: number;
  /** Older records go to the on-failure destination; -1 keeps them. AWS's minimum of 60 is not enforced. @default -1 */
  readonly maxRecordAgeSeconds?: number;
  /** @default false */
  readonly bisectBatchOnError?: boolean;
  /** @default true */
  readonly reportBatchItemFailures?: boolean;
  /** Lambda FilterCriteria patterns; a record matching none is skipped and checkpointed past. */
  readonly filterPatterns?: readonly FilterPattern[];
  /** @default 'LATEST' */
  readonly startingPosition?: 'LATEST' | 'TRIM_HORIZON';
  readonly onFailure?: { readonly sqs: SQSClient; readonly queueUrl: string };
  /** Pause after an empty read, and before a retry. @default 200 */
  readonly pollIntervalMs?: number;
  /** How often DescribeStream looks for new shards. @default 1000 */
  readonly discoveryIntervalMs?: number;
  /** Region in records and the function ARN. @default LOCAL_REGION */
  readonly region?: string;
  /** @default console */
  readonly logger?: PollerLogger;
}

export interface StreamPollerStats {
  /** Handler invocations, retries and bisected halves included. */
  readonly deliveredBatches: number;
  /** Invocations that threw or reported failed items. */
  readonly failedBatches: number;
  readonly filteredRecords: number;
  /** On-failure records sent to the destination. */
  readonly failuresSent: number;
  /** Records given up on (retries exhausted or too old), whether or not a destination took them. */
  readonly discardedRecords: number;
}

export interface ShardStatus {
  readonly shardId: string;
  /** ended: closed, read to its end and handled. */
  readonly status: 'reading' | 'ended';
}

export interface StreamPoller {
  /** The stream's ARN as Lambda names it in records and on-failure records: in the poller's region. */
  readonly streamArn: string;
  readonly stats: StreamPollerStats;
  readonly shards: readonly ShardStatus[];
  /** Resolves once every record written before the call has been handled (or given up on). */
  drain(options?: { timeoutMs?: number }): Promise<void>;
  /** Lets the in-flight batch finish, then stops reading. */
  stop(): Promise<void>;
}

export async function startStreamPoller(options: StreamPollerOptions): Promise<StreamPoller> {
  const poller = new ShardedStreamPoller(options);
  await poller.start();
  return poller;
}

/**
 * Reads a ReportBatchItemFailures response as Lambda does: no list, or an empty one, is success;
 * an itemIdentifier that is missing, empty or not in the batch fails the whole batch.
 */
export function failedItems(response: unknown, identifiers: readonly string[]): ReadonlySet<string> | 'all' {
  const failures = typeof response === 'object' && response !== null ? (response as { batchItemFailures?: unknown }).batchItemFailures : undefined;
  if (failures === undefined || failures === null) return new Set();
  if (!Array.isArray(failures)) return 'all';
  const known = new Set(identifiers);
  const failed = new Set<string>();
  for (const failure of failures as unknown[]) {
    const id = typeof failure === 'object' && failure !== null ? (failure as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    if (typeof id !== 'string' || !known.has(id)) return 'all';
    failed.add(id);
  }
  return failed;
}

interface Item {
  readonly record: DynamoDBRecord;
  /** When the record was written, as late as it can have been (see toItem). */
  readonly writtenAtMs: number;
}

interface Batch {
  readonly items: readonly Item[];
  readonly retries: number;
  /** Invocations that included these records, counting those of larger batches they were bisected from. */
  readonly invocations: number;
  readonly functionError: string | undefined;
}

interface ShardState {
  readonly id: string;
  from: 'LATEST' | 'TRIM_HORIZON';
  iterator: string | undefined;
  lastSequence: string | undefined;
  /** The shard is closed and its last record has been read. */
  exhausted: boolean;
  /** Exhausted and every batch handled. */
  ended: boolean;
  /** performance.now() at the start of the last read that found nothing new. */
  caughtUpAt: number;
  readonly queue: Batch[];
}

interface Outcome {
  /** Index of the first record to retry: the batch length on success. */
  readonly failedFrom: number;
  /** The function threw or answered with an invalid batchItemFailures, rather than naming records. */
  readonly wholeBatch: boolean;
  readonly functionError?: string;
}

const MAX_GET_RECORDS = 1000;

class ShardedStreamPoller implements StreamPoller {
  streamArn = '';
  /** The ARN DynamoDB Local answers to; its region is `ddblocal`, which no AWS record carries. */
  private emulatorStreamArn = '';
  private readonly counters = { deliveredBatches: 0, failedBatches: 0, filteredRecords: 0, failuresSent: 0, discardedRecords: 0 };
  private readonly shardStates = new Map<string, ShardState>();
  private readonly tasks = new Set<Promise<void>>();
  private readonly sleepers = new Set<() => void>();
  private readonly matches: (record: unknown) => boolean;
  private readonly logger: PollerLogger;
  private readonly functionName: string;
  private readonly region: string;
  private readonly batchSize: number;
  private readonly retryAttempts: number;
  private readonly maxRecordAgeSeconds: number;
  private readonly pollIntervalMs: number;
  private discoveredAt = Number.NEGATIVE_INFINITY;
  private stopping = false;
  private lastError: string | undefined;

  constructor(private readonly options: StreamPollerOptions) {
    this.batchSize = options.batchSize ?? 100;
    this.retryAttempts = options.retryAttempts ?? -1;
    this.maxRecordAgeSeconds = options.maxRecordAgeSeconds ?? -1;
    this.pollIntervalMs = options.pollIntervalMs ?? 200;
    this.functionName = options.functionName ?? options.tableName;
    this.region = options.region ?? LOCAL_REGION;
    this.logger = options.logger ?? console;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > 10_000)
      throw new RangeError(`batchSize must be 1 to 10000, got ${this.batchSize}`);
    if (!Number.isInteger(this.retryAttempts) || this.retryAttempts < -1 || this.retryAttempts > 10_000) {
      throw new RangeError(`retryAttempts must be -1 to 10000, got ${this.retryAttempts}`);
    }
    if (!(this.maxRecordAgeSeconds === -1 || this.maxRecordAgeSeconds > 0))
      throw new RangeError(`maxRecordAgeSeconds must be -1 or positive, got ${this.maxRecordAgeSeconds}`);
    this.matches = compileFilter(options.filterPatterns);
  }

  get stats(): StreamPollerStats {
    return { ...this.counters };
  }

  get shards(): ShardStatus[] {
    return [...this.shardStates.values()].map((shard) => ({
      shardId: shard.id,
      status: shard.ended ? 'ended' : 'reading',
    }));
  }

  async start(): Promise<void> {
    const { Table } = await this.options.dynamodb.send(new DescribeTableCommand({ TableName: this.options.tableName }));
    if (!Table?.LatestStreamArn) throw new Error(`Table ${this.options.tableName} has no stream to read: enable one in its StreamSpecification`);
    this.emulatorStreamArn = Table.LatestStreamArn;
    this.streamArn = arnInRegion(Table.LatestStreamArn, this.region);
    await this.discover(true);
    this.track(this.supervise());
  }

  async drain({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<void> {
    const since = performance.now();
    this.wake();
    while (!this.idleSince(since)) {
      if (this.stopping) throw new Error(`Stream poller for ${this.options.tableName} was stopped while draining`);
      if (performance.now() - since > timeoutMs) {
        const busy = [...this.shardStates.values()].filter((shard) => !shard.ended).map((shard) => `${shard.id} (${shard.queue.length} batches queued)`);
        throw new Error(
          `Stream poller for ${this.options.tableName} did not drain within ${timeoutMs} ms; busy shards: ${busy.join(', ')}${this.lastError ? `; last error: ${this.lastError}` : ''}`,
        );
      }
      await delay(20);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    while (this.tasks.size > 0) await Promise.all(this.tasks);
  }

  private idleSince(since: number): boolean {
    if (this.discoveredAt < since) return false;
    for (const shard of this.shardStates.values()) {
      if (!shard.ended && !(shard.queue.length === 0 && shard.caughtUpAt >= since)) return false;
    }
    return true;
  }

  private track(task: Promise<void>): void {
    const tracked = task.finally(() => this.tasks.delete(tracked));
    this.tasks.add(tracked);
  }

  /** A pause that stop() and drain() cut short. */
  private async sleep(ms: number): Promise<void> {
    if (this.stopping) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  private wake(): void {
    for (const done of [...this.sleepers]) done();
  }

  private report(context: string, error: unknown): void {
    const message = `${context}: ${error instanceof Error ? error.message : String(error)}`;
    // A dead emulator fails every poll; say so once, not every second.
    if (message !== this.lastError) this.logger.error(`[${this.functionName}] ${message}`);
    this.lastError = message;
  }

  private async supervise(): Promise<void> {
    while (!this.stopping) {
      await this.sleep(this.options.discoveryIntervalMs ?? 1000);
      if (this.stopping) return;
      try {
        await this.discover(false);
      } catch (error) {
        this.report('DescribeStream failed', error);
      }
    }
  }

  /**
   * Adds the shards DescribeStream lists. At start, LATEST pins open shards to their current end and
   * skips closed ones; any shard found later is new, so it is read from its start (TRIM_HORIZON).
   */
  private async discover(initial: boolean): Promise<void> {
    const startedAt = performance.now();
    const listed: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription } = await this.options.streams.send(
        new DescribeStreamCommand({ StreamArn: this.emulatorStreamArn, ExclusiveStartShardId: exclusiveStartShardId }),
      );
      listed.push(...(StreamDescription?.Shards ?? []));
      exclusiveStartShardId = StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    const latest = initial && (this.options.startingPosition ?? 'LATEST') === 'LATEST';
    // Shard lineage (parents before children) is not modelled: DynamoDB Local never rolls its shards over.
    for (const shard of listed) {
      if (!shard.ShardId || this.shardStates.has(shard.ShardId)) continue;
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      const state: ShardState = {
        id: shard.ShardId,
        from: latest ? 'LATEST' : 'TRIM_HORIZON',
        iterator: undefined,
        lastSequence: undefined,
        exhausted: latest && closed,
        ended: latest && closed,
        caughtUpAt: Number.NEGATIVE_INFINITY,
        queue: [],
      };
      // Taken now, so a record written once startStreamPoller resolves is delivered.
      if (latest && !closed) state.iterator = await this.iteratorFor(state);
      this.shardStates.set(state.id, state);
      if (!state.ended) this.track(this.runShard(state));
    }
    this.discoveredAt = startedAt;
  }

  private async iteratorFor(shard: ShardState): Promise<string | undefined> {
    const { ShardIterator } = await this.options.streams.send(
      new GetShardIteratorCommand({
        StreamArn: this.emulatorStreamArn,
        ShardId: shard.id,
        ...(shard.lastSequence ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.lastSequence } : { ShardIteratorType: shard.from }),
      }),
    );
    return ShardIterator;
  }

  private async runShard(shard: ShardState): Promise<void> {
    while (!this.stopping) {
      try {
        if (shard.queue.length > 0) {
          await this.handleFront(shard);
        } else if (shard.exhausted) {
          shard.ended = true;
          return;
        } else if (!(await this.read(shard)) && !shard.exhausted) {
          await this.sleep(this.pollIntervalMs);
        }
      } catch (error) {
        this.report(`shard ${shard.id}`, error);
        await this.sleep(1000);
      }
    }
  }

  /** Reads the next page into the shard's queue; false when it held nothing. */
  private async read(shard: ShardState): Promise<boolean> {
    const startedAt = performance.now();
    shard.iterator ??= await this.iteratorFor(shard);
    if (!shard.iterator) {
      shard.exhausted = true;
      return false;
    }
    let page: GetRecordsCommandOutput;
    try {
      page = await this.options.streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: Math.min(this.batchSize, MAX_GET_RECORDS) }));
    } catch (error) {
      // An iterator lives 15 minutes, which a long run of retries can outlast; pick up where reading stopped.
      if (error instanceof ExpiredIteratorException) {
        shard.iterator = undefined;
        return true;
      }
      if (error instanceof TrimmedDataAccessException) {
        this.logger.warn(
          `[${this.functionName}] shard ${shard.id}: records after ${shard.lastSequence} were trimmed (older than 24 h); reading from the oldest left`,
        );
        shard.iterator = undefined;
        shard.lastSequence = undefined;
        shard.from = 'TRIM_HORIZON';
        return true;
      }
      throw error;
    }
    this.lastError = undefined;
    shard.iterator = page.NextShardIterator;
    shard.exhausted = !page.NextShardIterator;
    const records = page.Records ?? [];
    if (records.length === 0) {
      shard.caughtUpAt = startedAt;
      return false;
    }
    shard.lastSequence = records.at(-1)?.dynamodb?.SequenceNumber;
    const seenAt = Date.now();
    const items = records.map((record) => this.toItem(record, seenAt));
    const matching = items.filter((item) => this.matches(item.record));
    this.counters.filteredRecords += items.length - matching.length;
    if (matching.length > 0) shard.queue.push({ items: matching, retries: 0, invocations: 0, functionError: undefined });
    return true;
  }

  private toItem(record: WireRecord, seenAt: number): Item {
    const stream = record.dynamodb ?? {};
    const created = stream.ApproximateCreationDateTime?.getTime() ?? seenAt;
    const dynamodb: StreamRecord = {
      ApproximateCreationDateTime: created / 1000,
      ...(stream.Keys && { Keys: toLambdaImage(stream.Keys) }),
      ...(stream.NewImage && { NewImage: toLambdaImage(stream.NewImage) }),
      ...(stream.OldImage && { OldImage: toLambdaImage(stream.OldImage) }),
      SequenceNumber: stream.SequenceNumber,
      SizeBytes: stream.SizeBytes,
      StreamViewType: stream.StreamViewType,
    };
    return {
      record: {
        eventID: record.eventID,
        eventName: record.eventName,
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: this.region,
        dynamodb,
        eventSourceARN: this.streamArn,
        ...(record.userIdentity && { userIdentity: { type: record.userIdentity.Type, principalId: record.userIdentity.PrincipalId } }),
      },
      // DynamoDB Local truncates ApproximateCreationDateTime to the minute. Taking the latest moment
      // the record can have been written means a record is never discarded before AWS would.
      writtenAtMs: Math.min(seenAt, created + 60_000),
    };
  }

  private async handleFront(shard: ShardState): Promise<void> {
    const batch = shard.queue[0]!;
    if (this.maxRecordAgeSeconds !== -1) {
      const cutoff = Date.now() - this.maxRecordAgeSeconds * 1000;
      const expired = batch.items.findIndex((item) => item.writtenAtMs >= cutoff);
      const expiredCount = expired === -1 ? batch.items.length : expired;
      if (expiredCount > 0) {
        await this.giveUp(shard, batch, batch.items.slice(0, expiredCount), 'RecordAgeExceeded');
        replaceFront(shard, expiredCount === batch.items.length ? [] : [{ ...batch, items: batch.items.slice(expiredCount) }]);
        return;
      }
    }
    const outcome = await this.invoke(batch);
    const invoked: Batch = { ...batch, invocations: batch.invocations + 1, functionError: outcome.functionError };
    if (outcome.failedFrom === batch.items.length) {
      replaceFront(shard, []);
      return;
    }
    if (outcome.wholeBatch && this.options.bisectBatchOnError && batch.items.length > 1) {
      // Splitting does not count against the retry quota, as in AWS.
      const half = Math.ceil(batch.items.length / 2);
      replaceFront(shard, [
        { ...invoked, items: batch.items.slice(0, half) },
        { ...invoked, items: batch.items.slice(half) },
      ]);
      return;
    }
    const rest = batch.items.slice(outcome.failedFrom);
    if (this.retryAttempts !== -1 && batch.retries >= this.retryAttempts) {
      await this.giveUp(shard, invoked, rest, 'RetryAttemptsExhausted');
      replaceFront(shard, []);
      return;
    }
    replaceFront(shard, [{ ...invoked, items: rest, retries: batch.retries + 1 }]);
    await this.sleep(this.pollIntervalMs);
  }

  private async invoke(batch: Batch): Promise<Outcome> {
    this.counters.deliveredBatches++;
    const records = batch.items.map((item) => item.record);
    let response: unknown;
    try {
      // The Lambda host hands each invocation its own serialised copy, so a retry sees the records unchanged.
      response = await this.options.handler({ Records: records });
    } catch (error) {
      this.counters.failedBatches++;
      this.logger.warn(`[${this.functionName}] batch of ${records.length} failed:`, error);
      return { failedFrom: 0, wholeBatch: true, functionError: 'Unhandled' };
    }
    const success = { failedFrom: records.length, wholeBatch: false };
    if (this.options.reportBatchItemFailures === false) return success;
    const sequences = records.map((record) => record.dynamodb?.SequenceNumber ?? '');
    const failed = failedItems(response, sequences);
    if (failed !== 'all' && failed.size === 0) return success;
    this.counters.failedBatches++;
    this.logger.warn(
      `[${this.functionName}] batch of ${records.length} reported ${failed === 'all' ? 'an invalid batchItemFailures response' : `${failed.size} failed records`}`,
    );
    if (failed === 'all') return { failedFrom: 0, wholeBatch: true };
    // Lambda checkpoints before the lowest failed sequence number and retries from there.
    return { failedFrom: sequences.findIndex((sequence) => failed.has(sequence)), wholeBatch: false };
  }

  private async giveUp(shard: ShardState, batch: Batch, items: readonly Item[], condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded'): Promise<void> {
    this.counters.discardedRecords += items.length;
    const first = items[0]!.record.dynamodb!;
    const last = items.at(-1)!.record.dynamodb!;
    const range = `${first.SequenceNumber}..${last.SequenceNumber}`;
    const destination = this.options.onFailure;
    if (!destination) {
      this.logger.error(`[${this.functionName}] ${condition}: discarded records ${range} of shard ${shard.id}; no on-failure destination is set`);
      return;
    }
    const body = JSON.stringify({
      requestContext: {
        requestId: randomUUID(),
        functionArn: `arn:aws:lambda:${this.region}:${LOCAL_ACCOUNT}:function:${this.functionName}`,
        condition,
        approximateInvokeCount: batch.invocations,
      },
      ...(batch.invocations > 0 && {
        responseContext: { statusCode: 200, executedVersion: '$LATEST', ...(batch.functionError && { functionError: batch.functionError }) },
      }),
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId: shard.id,
        startSequenceNumber: first.SequenceNumber,
        endSequenceNumber: last.SequenceNumber,
        approximateArrivalOfFirstRecord: arrival(first),
        approximateArrivalOfLastRecord: arrival(last),
        batchSize: items.length,
        streamArn: this.streamArn,
      },
    });
    // Moving on without the destination having the record would lose it silently; keep trying.
    for (;;) {
      try {
        await destination.sqs.send(new SendMessageCommand({ QueueUrl: destination.queueUrl, MessageBody: body }));
        this.counters.failuresSent++;
        this.logger.warn(`[${this.functionName}] ${condition}: records ${range} of shard ${shard.id} sent to the on-failure destination`);
        return;
      } catch (error) {
        this.report(`sending records ${range} to the on-failure destination failed`, error);
        if (this.stopping) return;
        await this.sleep(1000);
      }
    }
  }
}

function replaceFront(shard: ShardState, batches: readonly Batch[]): void {
  shard.queue.splice(0, 1, ...batches);
}

function arrival(record: StreamRecord): string {
  return new Date(record.ApproximateCreationDateTime! * 1000).toISOString().replace('.000Z', 'Z');
}

function toLambdaImage(image: Record<string, WireAttributeValue>): Record<string, AttributeValue> {
  return Object.fromEntries(Object.entries(image).map(([name, value]) => [name, toLambdaValue(value)]));
}

/** The SDK decodes binary to bytes; Lambda's JSON event carries base64, as the wire does. */
function toLambdaValue(value: WireAttributeValue): AttributeValue {
  if (value.B !== undefined) return { B: Buffer.from(value.B).toString('base64') };
  if (value.BS !== undefined) return { BS: value.BS.map((bytes) => Buffer.from(bytes).toString('base64')) };
  if (value.L !== undefined) return { L: value.L.map(toLambdaValue) };
  if (value.M !== undefined) return { M: toLambdaImage(value.M) };
  return value as AttributeValue;
}
