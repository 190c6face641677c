/**
 * The local stand-in for a Lambda event-source mapping on an SQS queue, after Lambda's documented
 * behaviour: long polls, batches up to batchSize, deletes what succeeded and leaves the rest to
 * come back after the visibility timeout, where the queue's redrive policy moves repeat failures
 * to its DLQ (fauxqs does that part, as SQS does). Consuming a DLQ, it adds the
 * DeadLetterQueueSourceArn attribute SQS gives redriven messages, which fauxqs leaves out.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  paginateListQueues,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { compileFilter, sqsFilterSubject, type FilterPattern } from './event-filter';
import { queueArn } from './resources';
import { failedItems, type PollerLogger } from './stream-poller';

export interface SqsPollerOptions {
  /** Created with `useQueueUrlAsEndpoint: false` when the queue URL's host does not resolve (fauxqs). */
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  /** Its response is read as Lambda reads an SQSBatchResponse. */
  readonly handler: (event: SQSEvent) => Promise<SQSBatchResponse | unknown>;
  /** Names the function in logs. @default the queue's name */
  readonly functionName?: string;
  /** 1 to 10. @default 10 */
  readonly batchSize?: number;
  /** @default true */
  readonly reportBatchItemFailures?: boolean;
  /** 0 to 300: once a message arrives, how long to gather more before invoking. @default 0 */
  readonly maxBatchingWindowSeconds?: number;
  /** Lambda FilterCriteria patterns; a message matching none is deleted without an invocation. */
  readonly filterPatterns?: readonly FilterPattern[];
  /**
   * Batches invoked at once, at most, as the mapping's ScalingConfig.MaximumConcurrency bounds
   * Lambda; the poller receives the next batch while fewer are in flight. @default 1
   */
  readonly maxConcurrency?: number;
  /** Long-poll wait, 1 to 20 (Lambda's pollers use 20). @default 20 */
  readonly waitTimeSeconds?: number;
  /** @default console */
  readonly logger?: PollerLogger;
}

export interface SqsPollerStats {
  /** Handler invocations. */
  readonly deliveredBatches: number;
  /** Invocations that threw or reported failed messages. */
  readonly failedBatches: number;
  readonly deletedMessages: number;
  readonly filteredMessages: number;
}

export interface SqsPoller {
  readonly queueArn: string;
  readonly stats: SqsPollerStats;
  /** Resolves once the queue holds nothing: every message deleted or moved to the DLQ. */
  drain(options?: { timeoutMs?: number }): Promise<void>;
  /** Ends the long poll, lets the in-flight batch finish, then stops. */
  stop(): Promise<void>;
}

export async function startSqsPoller(options: SqsPollerOptions): Promise<SqsPoller> {
  const poller = new QueuePoller(options, await queueArn(options.sqs, options.queueUrl));
  await poller.findDeadLetterSource();
  poller.start();
  return poller;
}

/** How long a look for the queues that redrive into this one is trusted before it is taken again. */
const DEAD_LETTER_SOURCE_TTL_MS = 30_000;
/** Origins remembered per message id; the oldest are forgotten past this. */
const MAX_REMEMBERED_ORIGINS = 10_000;

class QueuePoller implements SqsPoller {
  private readonly counters = { deliveredBatches: 0, failedBatches: 0, deletedMessages: 0, filteredMessages: 0 };
  private readonly abort = new AbortController();
  private readonly matches: (record: unknown) => boolean;
  private readonly logger: PollerLogger;
  private readonly functionName: string;
  private readonly region: string;
  private readonly batchSize: number;
  private readonly waitTimeSeconds: number;
  private readonly batchingWindowMs: number;
  private readonly maxConcurrency: number;
  private task: Promise<void> = Promise.resolve();
  private lastError: string | undefined;
  /** The one queue whose redrive policy targets this one, if exactly one does. */
  private deadLetterSource: { arn: string; maxReceiveCount: number } | undefined;
  private deadLetterSourceFoundAt = Number.NEGATIVE_INFINITY;
  /** Per message id, on first sight: the source queue's ARN when it was redriven here, null when it was sent here. */
  private readonly origins = new Map<string, string | null>();

  constructor(
    private readonly options: SqsPollerOptions,
    readonly queueArn: string,
  ) {
    this.batchSize = options.batchSize ?? 10;
    this.waitTimeSeconds = options.waitTimeSeconds ?? 20;
    const windowSeconds = options.maxBatchingWindowSeconds ?? 0;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1 || this.batchSize > 10)
      throw new RangeError(`batchSize must be 1 to 10, got ${this.batchSize}`);
    if (!Number.isInteger(this.waitTimeSeconds) || this.waitTimeSeconds < 1 || this.waitTimeSeconds > 20) {
      throw new RangeError(`waitTimeSeconds must be 1 to 20, got ${this.waitTimeSeconds}`);
    }
    if (!(windowSeconds >= 0 && windowSeconds <= 300)) throw new RangeError(`maxBatchingWindowSeconds must be 0 to 300, got ${windowSeconds}`);
    this.batchingWindowMs = windowSeconds * 1000;
    this.maxConcurrency = options.maxConcurrency ?? 1;
    if (!Number.isInteger(this.maxConcurrency) || this.maxConcurrency < 1 || this.maxConcurrency > 1000) {
      throw new RangeError(`maxConcurrency must be 1 to 1000, got ${this.maxConcurrency}`);
    }
    this.functionName = options.functionName ?? queueArn.split(':').at(-1)!;
    this.region = queueArn.split(':')[3]!;
    this.logger = options.logger ?? console;
    this.matches = compileFilter(options.filterPatterns);
  }

  get stats(): SqsPollerStats {
    return { ...this.counters };
  }

  start(): void {
    this.task = this.run();
  }

  async drain({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<void> {
    const startedAt = performance.now();
    for (;;) {
      if (this.abort.signal.aborted) throw new Error(`SQS poller for ${this.functionName} was stopped while draining`);
      const counts = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'] as const;
      const { Attributes = {} } = await this.options.sqs.send(new GetQueueAttributesCommand({ QueueUrl: this.options.queueUrl, AttributeNames: [...counts] }));
      // In-flight messages count as not visible until deleted, so an empty queue means nothing is in flight.
      const left = counts.reduce((sum, name) => sum + Number(Attributes[name] ?? 0), 0);
      if (left === 0) return;
      if (performance.now() - startedAt > timeoutMs) {
        throw new Error(
          `SQS poller for ${this.functionName} did not drain within ${timeoutMs} ms: ${left} messages left${this.lastError ? `; last error: ${this.lastError}` : ''}`,
        );
      }
      await delay(50);
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.task;
  }

  private report(context: string, error: unknown): void {
    const message = `${context}: ${error instanceof Error ? error.message : String(error)}`;
    // A dead emulator fails every poll; say so once, not every second.
    if (message !== this.lastError) this.logger.error(`[${this.functionName}] ${message}`);
    this.lastError = message;
  }

  /**
   * SQS answers this with ListDeadLetterSourceQueues, which fauxqs lacks; every queue's redrive
   * policy is read instead. With several sources a message's own cannot be told, so none is named.
   */
  async findDeadLetterSource(): Promise<void> {
    try {
      const sources: Array<{ arn: string; maxReceiveCount: number }> = [];
      for await (const page of paginateListQueues({ client: this.options.sqs }, { MaxResults: 1000 })) {
        for (const url of page.QueueUrls ?? []) {
          const { Attributes = {} } = await this.options.sqs.send(
            new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn', 'RedrivePolicy'] }),
          );
          if (!Attributes.RedrivePolicy || !Attributes.QueueArn) continue;
          const policy = JSON.parse(Attributes.RedrivePolicy) as { deadLetterTargetArn?: string; maxReceiveCount?: string | number };
          if (policy.deadLetterTargetArn === this.queueArn) sources.push({ arn: Attributes.QueueArn, maxReceiveCount: Number(policy.maxReceiveCount) });
        }
      }
      this.deadLetterSource = sources.length === 1 ? sources[0] : undefined;
      this.deadLetterSourceFoundAt = Date.now();
    } catch (error) {
      this.report('looking for the queues that redrive into this one failed', error);
    }
  }

  /**
   * Whether a message was redriven here, decided on its first receive: fauxqs, as SQS, keeps the
   * receive count a message had in its source queue, which is past that queue's maxReceiveCount,
   * while a message sent to the DLQ directly (EventBridge Scheduler's dead letters) starts at 1.
   */
  private originOf(message: Message): string | undefined {
    const id = message.MessageId!;
    if (!this.origins.has(id)) {
      const receives = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
      const source = this.deadLetterSource;
      this.origins.set(id, source && receives > source.maxReceiveCount ? source.arn : null);
      if (this.origins.size > MAX_REMEMBERED_ORIGINS) this.origins.delete(this.origins.keys().next().value!);
    }
    return this.origins.get(id) ?? undefined;
  }

  /**
   * Receives while fewer than maxConcurrency batches are in flight, as many messages at once as
   * the free invocations can take (up to SQS's 10), as Lambda's pollers do: with batchSize 1 and
   * 16 free, one ReceiveMessage starts 10 invocations rather than ten round trips starting one
   * each. On stop, lets those in flight finish.
   */
  private async run(): Promise<void> {
    const inFlight = new Set<Promise<void>>();
    const pause = () => delay(1000, undefined, { signal: this.abort.signal }).catch(() => undefined);
    while (!this.abort.signal.aborted) {
      const free = this.maxConcurrency - inFlight.size;
      if (free <= 0) {
        await Promise.race(inFlight);
        continue;
      }
      try {
        const messages = await this.receiveBatch(Math.min(10, free * this.batchSize));
        this.lastError = undefined;
        for (const batch of this.inOrder(messages)) {
          const running: Promise<void> = batch
            .catch(async (error: unknown) => {
              if (this.abort.signal.aborted) return;
              this.report('polling failed', error);
              await pause();
            })
            .finally(() => inFlight.delete(running));
          inFlight.add(running);
        }
      } catch (error) {
        if (this.abort.signal.aborted) break;
        this.report('polling failed', error);
        await pause();
      }
    }
    await Promise.all(inFlight);
  }

  /**
   * One receive's messages in batches of batchSize, each processed at once, except that a batch
   * holding a FIFO message group an earlier batch holds waits for it, and is left undeleted (to
   * come back after the visibility timeout, behind the failed one) when it failed: Lambda sends
   * one batch at a time per message group. (SQS may return several of a group in one receive;
   * fauxqs returns one per group.)
   */
  private inOrder(messages: readonly Message[]): Array<Promise<void>> {
    const groupsAhead = new Map<string, Promise<boolean>>();
    const batches: Array<Promise<void>> = [];
    for (let start = 0; start < messages.length; start += this.batchSize) {
      const batch = messages.slice(start, start + this.batchSize);
      const groups = [...new Set(batch.flatMap((message) => message.Attributes?.MessageGroupId ?? []))];
      const ahead = groups.flatMap((group) => groupsAhead.get(group) ?? []);
      const done = Promise.all(ahead).then(async (succeeded) => {
        if (!succeeded.every(Boolean)) {
          this.logger.warn(
            `[${this.functionName}] ${batch.length} messages held back behind a failed batch of their message group; they come back after the visibility timeout`,
          );
          return false;
        }
        return this.process(batch);
      });
      for (const group of groups)
        groupsAhead.set(
          group,
          done.catch(() => false),
        );
      batches.push(done.then(() => undefined));
    }
    return batches;
  }

  private async receive(max: number, waitTimeSeconds: number): Promise<Message[]> {
    const { Messages = [] } = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: max,
        WaitTimeSeconds: waitTimeSeconds,
        AttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: this.abort.signal },
    );
    return Messages;
  }

  /** Up to `max` messages; with a batching window, gathers until the first batch is full or the window ends. */
  private async receiveBatch(max: number): Promise<Message[]> {
    const messages = await this.receive(max, this.waitTimeSeconds);
    const windowEnds = Date.now() + this.batchingWindowMs;
    while (messages.length > 0 && messages.length < this.batchSize && Date.now() < windowEnds) {
      try {
        // WaitTimeSeconds is whole seconds, so a wait can run past the window by under a second.
        messages.push(...(await this.receive(this.batchSize - messages.length, Math.max(1, Math.floor((windowEnds - Date.now()) / 1000)))));
      } catch (error) {
        // Messages in hand are invoked rather than left to time out.
        if (!this.abort.signal.aborted) this.report('ReceiveMessage failed while batching', error);
        break;
      }
    }
    return messages;
  }

  /** True when every message succeeded (or was filtered out). */
  private async process(messages: readonly Message[]): Promise<boolean> {
    if (Date.now() - this.deadLetterSourceFoundAt > DEAD_LETTER_SOURCE_TTL_MS) await this.findDeadLetterSource();
    const records = messages.map((message) => this.toRecord(message));
    const matching = records.filter((record) => this.matches(sqsFilterSubject(record)));
    const filtered = records.filter((record) => !matching.includes(record));
    if (filtered.length > 0) {
      this.counters.filteredMessages += filtered.length;
      await this.delete(filtered);
    }
    if (matching.length === 0) return true;
    this.counters.deliveredBatches++;
    let response: unknown;
    try {
      response = await this.options.handler({ Records: matching });
    } catch (error) {
      // Nothing is deleted: the batch returns after the visibility timeout, and redrive ends it in the DLQ.
      this.counters.failedBatches++;
      this.logger.warn(`[${this.functionName}] batch of ${matching.length} failed:`, error);
      return false;
    }
    const failed =
      this.options.reportBatchItemFailures === false
        ? new Set<string>()
        : failedItems(
            response,
            matching.map((record) => record.messageId),
          );
    if (failed === 'all' || failed.size > 0) {
      this.counters.failedBatches++;
      this.logger.warn(
        `[${this.functionName}] batch of ${matching.length} reported ${failed === 'all' ? 'an invalid batchItemFailures response' : `${failed.size} failed messages`}`,
      );
    }
    if (failed !== 'all') await this.delete(matching.filter((record) => !failed.has(record.messageId)));
    return failed !== 'all' && failed.size === 0;
  }

  private async delete(records: readonly SQSRecord[]): Promise<void> {
    if (records.length === 0) return;
    try {
      const { Successful = [], Failed = [] } = await this.options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: records.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
        }),
      );
      this.counters.deletedMessages += Successful.length;
      for (const entry of Successful) this.origins.delete(records[Number(entry.Id)]!.messageId);
      if (Failed.length > 0)
        this.logger.warn(
          `[${this.functionName}] ${Failed.length} deletes failed; those messages will be delivered again: ${Failed.map((entry) => entry.Message).join('; ')}`,
        );
    } catch (error) {
      this.report('DeleteMessageBatch failed; the batch will be delivered again', error);
    }
  }

  private toRecord(message: Message): SQSRecord {
    const deadLetterQueueSourceArn = this.originOf(message);
    return {
      messageId: message.MessageId!,
      receiptHandle: message.ReceiptHandle!,
      body: message.Body ?? '',
      attributes: {
        ...(message.Attributes ?? {}),
        ...(deadLetterQueueSourceArn && { DeadLetterQueueSourceArn: deadLetterQueueSourceArn }),
      } as unknown as SQSRecordAttributes,
      messageAttributes: Object.fromEntries(
        Object.entries(message.MessageAttributes ?? {}).map(([name, attribute]) => [
          name,
          {
            ...(attribute.StringValue !== undefined && { stringValue: attribute.StringValue }),
            ...(attribute.BinaryValue !== undefined && { binaryValue: base64(attribute.BinaryValue) }),
            stringListValues: attribute.StringListValues ?? [],
            binaryListValues: (attribute.BinaryListValues ?? []).map(base64),
            dataType: attribute.DataType!,
          },
        ]),
      ),
      md5OfBody: message.MD5OfBody!,
      ...(message.MD5OfMessageAttributes && { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
      eventSource: 'aws:sqs',
      eventSourceARN: this.queueArn,
      awsRegion: this.region,
    };
  }
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64');
}
