/**
 * The meter behind `npm run cost`: counts what AWS would bill for, as Herald's handlers make the
 * calls against the local runtime, with the real SDK clients and nothing in functions/ or lib/
 * changed.
 *
 * - Every SDK command this process resolves gets one more middleware (the same hook local IAM
 *   uses, lib/local/iam/enforcement.ts): DynamoDB requests ask for ReturnConsumedCapacity INDEXES
 *   and the reported units are summed; a failed conditional write (which DynamoDB bills but does
 *   not report) asks for the old item and is billed by its size; @connections posts, SES sends,
 *   S3 and SQS requests are counted.
 * - Which function made a call, and each invocation's duration, come from wrapping
 *   IamEnforcement.runAs, which the Lambda host runs every import and invocation in (and the event
 *   sources and Scheduler their calls). So the meter needs IAM enforcement on, as `npm start` has it.
 * Calls outside any function (the runtime's own, the scenario's setup) are not counted.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { GetItemCommand, type AttributeValue, type ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import type { InitializeMiddleware, MiddlewareStack } from '@smithy/types';
import { functionDefaults, functionSpecs, type FunctionName } from '../lib/description';
import { IamEnforcement } from '../lib/local/iam/enforcement';
import { dynamoItemBytes, HTTP_REQUEST_BYTES, lambdaGbSeconds, meteredUnits, WEBSOCKET_MESSAGE_BYTES, writeUnits, type Usage } from './cost-model';

interface Scope {
  /** A function's name, or what acts as a role (`scheduler`). */
  readonly label: string;
  /** True inside a Lambda invocation (or import), false for an event source's or Scheduler's calls. */
  readonly invocation: boolean;
}
const scopes = new AsyncLocalStorage<Scope>();

/** What one function (or service) did while the meter ran. */
export interface FunctionTally {
  invocations: number;
  durationMs: number;
  gbSeconds: number;
  requests: Map<string, number>;
  readUnits: number;
  writeUnits: number;
  failedConditionalWrites: number;
  canceledTransactions: number;
}

const READS = new Set(['GetItemCommand', 'BatchGetItemCommand', 'QueryCommand', 'ScanCommand', 'TransactGetItemsCommand']);
const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'TransactWriteItemsCommand']);
const CONDITIONAL_SINGLE_WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand']);
const S3_TIER1 = new Set([
  'PutObjectCommand',
  'CopyObjectCommand',
  'CreateMultipartUploadCommand',
  'UploadPartCommand',
  'CompleteMultipartUploadCommand',
  'ListObjectsV2Command',
  'ListObjectsCommand',
  'ListMultipartUploadsCommand',
  'ListPartsCommand',
]);
/** S3 requests AWS does not charge for. */
const S3_FREE = new Set(['DeleteObjectCommand', 'DeleteObjectsCommand', 'AbortMultipartUploadCommand']);

export class Meter {
  private counting = false;
  private inFlight = 0;
  readonly functions = new Map<string, FunctionTally>();
  posts = { count: 0, bytes: 0, gone: 0 };
  sesEmails = 0;
  s3 = { tier1: 0, tier2: 0, uploadedBytes: 0 };
  sqsRequests = 0;
  schedulerInvocations = 0;
  /** Billed WebSocket messages seen at the clients' sockets, both ways. */
  webSocket = { sent: 0, received: 0, messages: 0 };
  http = { requests: 0, units: 0 };
  /** Usage counted by hand (the recipient's download of an export, storage). */
  extra: Usage = {};
  /** DynamoDB units by table and by index (`table/index`), reads and writes, as DynamoDB reports them. */
  readonly units = new Map<string, { read: number; write: number }>();
  /** Reads DynamoDB Local reported below DynamoDB's minimum (0 for a missing item or an empty Query), raised to it. */
  raisedReads = 0;

  start(): void {
    this.reset();
    this.counting = true;
  }

  stop(): void {
    this.counting = false;
  }

  get on(): boolean {
    return this.counting;
  }

  reset(): void {
    this.functions.clear();
    this.units.clear();
    this.posts = { count: 0, bytes: 0, gone: 0 };
    this.sesEmails = 0;
    this.s3 = { tier1: 0, tier2: 0, uploadedBytes: 0 };
    this.sqsRequests = 0;
    this.schedulerInvocations = 0;
    this.webSocket = { sent: 0, received: 0, messages: 0 };
    this.http = { requests: 0, units: 0 };
    this.extra = {};
    this.raisedReads = 0;
  }

  /** Resolves once no invocation has run for `quietMs` (so a scenario's tail, e.g. an ack, is in). */
  async idle(quietMs = 300, timeoutMs = 120_000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let quietSince = performance.now();
    while (performance.now() - quietSince < quietMs) {
      if (performance.now() > deadline) throw new Error(`meter: invocations still running after ${timeoutMs} ms`);
      await new Promise((resume) => setTimeout(resume, 25));
      if (this.inFlight > 0) quietSince = performance.now();
    }
  }

  frame(direction: 'sent' | 'received', bytes: number): void {
    if (!this.counting) return;
    this.webSocket[direction] += 1;
    this.webSocket.messages += meteredUnits(bytes, WEBSOCKET_MESSAGE_BYTES);
  }

  httpRequest(requestBytes: number, responseBytes: number): void {
    if (!this.counting) return;
    this.http.requests += 1;
    this.http.units += meteredUnits(requestBytes + responseBytes, HTTP_REQUEST_BYTES);
  }

  /** Everything counted, as priced quantities. */
  usage(): Usage {
    let readUnits = 0;
    let writeUnitsTotal = 0;
    let invocations = 0;
    let gbSeconds = 0;
    for (const tally of this.functions.values()) {
      readUnits += tally.readUnits;
      writeUnitsTotal += tally.writeUnits;
      invocations += tally.invocations;
      gbSeconds += tally.gbSeconds;
    }
    const usage: Usage = {
      webSocketMessages: this.webSocket.messages,
      httpApiRequests: this.http.units,
      lambdaRequests: invocations,
      lambdaGbSeconds: gbSeconds,
      dynamoReadRequestUnits: readUnits,
      dynamoWriteRequestUnits: writeUnitsTotal,
      sesEmails: this.sesEmails,
      s3Tier1Requests: this.s3.tier1,
      s3Tier2Requests: this.s3.tier2,
      sqsRequests: this.sqsRequests,
      schedulerInvocations: this.schedulerInvocations,
    };
    for (const [price, quantity] of Object.entries(this.extra) as Array<[keyof Usage, number]>) usage[price] = (usage[price] ?? 0) + quantity;
    return usage;
  }

  /** @internal one ConsumedCapacity entry, split by table and index. */
  noteUnits(entry: ConsumedCapacity, write: boolean): void {
    const add = (key: string, units: number | undefined) => {
      if (!units) return;
      const current = this.units.get(key) ?? { read: 0, write: 0 };
      current[write ? 'write' : 'read'] += units;
      this.units.set(key, current);
    };
    const table = entry.TableName ?? '?';
    add(table, entry.Table?.CapacityUnits ?? (entry.LocalSecondaryIndexes || entry.GlobalSecondaryIndexes ? undefined : entry.CapacityUnits));
    for (const [index, capacity] of Object.entries({ ...entry.LocalSecondaryIndexes, ...entry.GlobalSecondaryIndexes }))
      add(`${table}/${index}`, capacity.CapacityUnits);
  }

  tally(label: string): FunctionTally {
    let tally = this.functions.get(label);
    if (!tally) {
      tally = {
        invocations: 0,
        durationMs: 0,
        gbSeconds: 0,
        requests: new Map(),
        readUnits: 0,
        writeUnits: 0,
        failedConditionalWrites: 0,
        canceledTransactions: 0,
      };
      this.functions.set(label, tally);
    }
    return tally;
  }

  /** @internal the runAs wrapper */
  invocationStarted(): void {
    this.inFlight += 1;
  }

  /** @internal the runAs wrapper */
  invocationEnded(label: string, durationMs: number): void {
    this.inFlight -= 1;
    if (!this.counting) return;
    const tally = this.tally(label);
    tally.invocations += 1;
    tally.durationMs += durationMs;
    const spec = new Map(functionSpecs()).get(label as FunctionName);
    tally.gbSeconds += lambdaGbSeconds(durationMs, spec?.memoryMb ?? functionDefaults.memoryMb);
  }
}

let installedMeter: Meter | undefined;

/** Hooks the meter into every SDK command and every function invocation in this process; once. */
export function installMeter(meter: Meter): void {
  if (installedMeter) throw new Error('installMeter: a meter is already installed in this process');
  installedMeter = meter;

  const runAs = IamEnforcement.prototype.runAs;
  IamEnforcement.prototype.runAs = function <T>(this: IamEnforcement, label: string, role: Parameters<typeof runAs>[1], work: (caller: never) => T): T {
    // The Lambda host's work takes the caller (to hear of a timeout); an event source's or
    // Scheduler's send through clientActingAs takes nothing.
    if (work.length === 0) return scopes.run({ label, invocation: false }, () => runAs.call(this, label, role, work as never) as T);
    return scopes.run({ label, invocation: true }, () => {
      const started = performance.now();
      meter.invocationStarted();
      const result = runAs.call(this, label, role, work as never) as T;
      if (!(result instanceof Promise)) {
        meter.invocationEnded(label, performance.now() - started);
        return result;
      }
      return result.finally(() => meter.invocationEnded(label, performance.now() - started)) as T;
    });
  } as typeof runAs;

  let prototype: any = Object.getPrototypeOf(GetItemCommand.prototype);
  while (prototype && !Object.hasOwn(prototype, 'resolveMiddlewareWithContext')) prototype = Object.getPrototypeOf(prototype);
  if (!prototype) throw new Error('cost meter: the SDK Command class has no resolveMiddlewareWithContext; bench/cost-meter.ts needs updating');
  const original = prototype.resolveMiddlewareWithContext as (...args: any[]) => unknown;
  prototype.resolveMiddlewareWithContext = function (this: { middlewareStack: MiddlewareStack<any, any> }, ...args: any[]) {
    const [, , , { clientName, commandName }] = args as [unknown, unknown, unknown, { clientName: string; commandName: string }];
    // Initialize: before serialization, so the request it adds fields to is the one sent. The
    // fields it adds are top-level ones, which lib-dynamodb's marshalling leaves alone.
    this.middlewareStack.add(meterMiddleware(meter, clientName, commandName), { step: 'initialize', name: 'heraldCostMeter', override: true });
    return original.apply(this, args);
  };
}

function meterMiddleware(meter: Meter, clientName: string, commandName: string): InitializeMiddleware<any, any> {
  return (next) => async (args) => {
    const scope = scopes.getStore();
    if (!meter.on || !scope) return next(args);
    const tally = meter.tally(scope.label);
    const count = () => tally.requests.set(commandName, (tally.requests.get(commandName) ?? 0) + 1);
    // Presigning (S3) runs the middleware without sending: counted only when a response came back.
    if (clientName === 'S3Client') return meterS3(meter, count, commandName, args, next);
    if (clientName !== 'SQSClient') count();
    if (clientName === 'DynamoDBClient') return meterDynamo(meter, tally, commandName, args, next);
    const input = args.input as Record<string, any>;
    switch (clientName) {
      case 'ApiGatewayManagementApiClient': {
        if (commandName !== 'PostToConnectionCommand') break;
        meter.posts.count += 1;
        meter.posts.bytes += byteLength(input.Data);
        try {
          return await next(args);
        } catch (error) {
          if ((error as Error).name === 'GoneException') meter.posts.gone += 1;
          throw error;
        }
      }
      case 'SESClient':
      case 'SESv2Client': {
        if (commandName === 'SendEmailCommand' || commandName === 'SendRawEmailCommand') {
          const destination = input.Destination ?? {};
          const recipients =
            (destination.ToAddresses?.length ?? 0) + (destination.CcAddresses?.length ?? 0) + (destination.BccAddresses?.length ?? 0) ||
            (input.Destinations?.length ?? 1);
          meter.sesEmails += recipients;
        }
        break;
      }
      case 'SQSClient': {
        if (scope.label === 'scheduler' && commandName === 'SendMessageCommand') meter.schedulerInvocations += 1;
        const result = await next(args);
        // An event source's empty long poll is a request too, but how many there are depends on
        // the local poller's cadence, not on the work: only reads that returned messages count.
        const empty = commandName === 'ReceiveMessageCommand' && ((result.output as { Messages?: unknown[] }).Messages?.length ?? 0) === 0;
        if (!empty) {
          count();
          meter.sqsRequests += 1;
        }
        return result;
      }
    }
    return next(args);
  };
}

async function meterS3(meter: Meter, count: () => void, commandName: string, args: any, next: (args: any) => Promise<any>) {
  const sent = () => {
    count();
    if (S3_TIER1.has(commandName)) meter.s3.tier1 += 1;
    else if (!S3_FREE.has(commandName)) meter.s3.tier2 += 1;
    if (commandName === 'UploadPartCommand' || commandName === 'PutObjectCommand') meter.s3.uploadedBytes += byteLength(args.input.Body);
  };
  try {
    const result = await next(args);
    if (typeof (result.response as { statusCode?: unknown } | undefined)?.statusCode === 'number') sent();
    return result;
  } catch (error) {
    sent();
    throw error;
  }
}

async function meterDynamo(meter: Meter, tally: FunctionTally, commandName: string, args: any, next: (args: any) => Promise<any>) {
  const input = { ...(args.input as Record<string, any>) };
  const reads = READS.has(commandName);
  const writes = WRITES.has(commandName);
  if (!reads && !writes) return next(args);
  // INDEXES: the total, and how much of it each table and index took.
  input.ReturnConsumedCapacity ??= 'INDEXES';
  // DynamoDB bills a failed conditional write by the existing item's size but reports nothing:
  // ask for the old item, measure it, and hand the caller the error it would have had.
  const askedOld = CONDITIONAL_SINGLE_WRITES.has(commandName) && input.ConditionExpression && input.ReturnValuesOnConditionCheckFailure === undefined;
  if (askedOld) input.ReturnValuesOnConditionCheckFailure = 'ALL_OLD';
  try {
    const result = await next({ ...args, input });
    const consumed = (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
    const reported = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []).reduce(
      (sum: number, entry: { CapacityUnits?: number }) => sum + (entry.CapacityUnits ?? 0),
      0,
    );
    for (const entry of (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as ConsumedCapacity[]) meter.noteUnits(entry, writes);
    if (writes) tally.writeUnits += reported;
    else {
      const minimum = minimumReadUnits(commandName, input);
      if (reported < minimum) meter.raisedReads += 1;
      tally.readUnits += Math.max(reported, minimum);
    }
    return result;
  } catch (error) {
    const failure = error as { name?: string; Item?: Record<string, AttributeValue>; CancellationReasons?: unknown[] };
    if (failure.name === 'ConditionalCheckFailedException') {
      tally.failedConditionalWrites += 1;
      tally.writeUnits += writeUnits(failure.Item ? dynamoItemBytes(failure.Item) : 0);
      if (askedOld) delete failure.Item;
    } else if (failure.name === 'TransactionCanceledException') {
      // Billed here as if it had committed: 2 units per action and KB of the item it puts (its
      // JSON length: the input may be lib-dynamodb's plain values, not yet AttributeValues).
      tally.canceledTransactions += 1;
      for (const action of (input.TransactItems ?? []) as Array<Record<string, { Item?: unknown }>>) {
        tally.writeUnits += writeUnits(action.Put?.Item ? Buffer.byteLength(JSON.stringify(action.Put.Item)) : 0, true);
      }
    }
    throw error;
  }
}

/**
 * DynamoDB charges at least half a unit per eventually consistent read (one when consistent), per
 * item asked for, even when nothing is found; DynamoDB Local reports 0 for a missing item or an
 * empty Query.
 */
function minimumReadUnits(commandName: string, input: Record<string, any>): number {
  const perItem = (consistent: boolean | undefined) => (consistent ? 1 : 0.5);
  if (commandName === 'BatchGetItemCommand') {
    let units = 0;
    for (const request of Object.values(input.RequestItems ?? {}) as Array<{ Keys?: unknown[]; ConsistentRead?: boolean }>)
      units += (request.Keys?.length ?? 0) * perItem(request.ConsistentRead);
    return units;
  }
  if (commandName === 'TransactGetItemsCommand') return (input.TransactItems?.length ?? 0) * 2;
  return perItem(input.ConsistentRead);
}

function byteLength(body: unknown): number {
  if (body === undefined || body === null) return 0;
  if (typeof body === 'string') return Buffer.byteLength(body);
  if (body instanceof Uint8Array) return body.byteLength;
  if (typeof (body as { byteLength?: number }).byteLength === 'number') return (body as { byteLength: number }).byteLength;
  return 0;
}
