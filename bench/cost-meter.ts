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
 * - A committed TransactWriteItems is billed from its items, not from what DynamoDB Local reports
 *   (which undercounts a transaction of several items: see Meter.transactions): the meter reads
 *   each item it touches before and after, outside any function (so neither counted nor checked
 *   by local IAM), and prices them with transactionWriteUnits (bench/cost-model.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { BatchGetItemCommand, GetItemCommand, type AttributeValue, type ConsumedCapacity, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { InitializeMiddleware, MiddlewareStack } from '@smithy/types';
import { functionDefaults, functionSpecs, tables, type FunctionName, type TableName, type TableSpec } from '../lib/description';
import { IamEnforcement } from '../lib/local/iam/enforcement';
import { localTableName } from '../lib/local/resources';
import {
  dynamoItemBytes,
  HTTP_REQUEST_BYTES,
  lambdaGbSeconds,
  meteredUnits,
  transactionWriteUnits,
  WEBSOCKET_MESSAGE_BYTES,
  writeUnits,
  type TableLayout,
  type TransactionAction,
  type Usage,
} from './cost-model';

interface Scope {
  /** A function's name, or what acts as a role (`scheduler`). */
  readonly label: string;
  /** True inside a Lambda invocation (or import), false for an event source's or Scheduler's calls. */
  readonly invocation: boolean;
  /** The meter's own reads during this invocation: how many are in flight, since when, and the time while any was. */
  readonly own: { inFlight: number; since: number; ms: number };
}

/** Runs the meter's own `work` for `scope`, keeping its time out of the invocation's measured duration. */
async function ownTime<T>(scope: Scope | undefined, work: () => Promise<T>): Promise<T> {
  if (!scope) return work();
  if (scope.own.inFlight++ === 0) scope.own.since = performance.now();
  try {
    return await work();
  } finally {
    if (--scope.own.inFlight === 0) scope.own.ms += performance.now() - scope.own.since;
  }
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
  /** Committed transactions: how many, the write units DynamoDB Local reported for them, and the units billed from their items. */
  transactions = { count: 0, reportedUnits: 0, billedUnits: 0 };
  /** Reads the items a transaction touches (a client of the same DynamoDB, set once the runtime is up). */
  inspector: DynamoDBClient | undefined;

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
    this.transactions = { count: 0, reportedUnits: 0, billedUnits: 0 };
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

  /** @internal units of one table (`table`) or index (`table/index`). */
  addUnits(key: string, units: number | undefined, write: boolean): void {
    if (!units) return;
    const current = this.units.get(key) ?? { read: 0, write: 0 };
    current[write ? 'write' : 'read'] += units;
    this.units.set(key, current);
  }

  /** @internal one ConsumedCapacity entry, split by table and index. */
  noteUnits(entry: ConsumedCapacity, write: boolean): void {
    const add = (key: string, units: number | undefined) => this.addUnits(key, units, write);
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
let outsideFunctions: <R>(work: () => R) => R = (work) => work();

/** Hooks the meter into every SDK command and every function invocation in this process; once. */
export function installMeter(meter: Meter): void {
  if (installedMeter) throw new Error('installMeter: a meter is already installed in this process');
  installedMeter = meter;
  // Runs work in this context, outside any function's: the meter's own reads are neither counted nor checked by local IAM.
  outsideFunctions = AsyncLocalStorage.snapshot();

  const runAs = IamEnforcement.prototype.runAs;
  IamEnforcement.prototype.runAs = function <T>(this: IamEnforcement, label: string, role: Parameters<typeof runAs>[1], work: (caller: never) => T): T {
    // The Lambda host's work takes the caller (to hear of a timeout); an event source's or
    // Scheduler's send through clientActingAs takes nothing.
    const own = { inFlight: 0, since: 0, ms: 0 };
    if (work.length === 0) return scopes.run({ label, invocation: false, own }, () => runAs.call(this, label, role, work as never) as T);
    return scopes.run({ label, invocation: true, own }, () => {
      const started = performance.now();
      meter.invocationStarted();
      // Without the time the meter spent reading a transaction's items (bench/cost-meter.ts, meterDynamo).
      const ended = () => meter.invocationEnded(label, Math.max(0, performance.now() - started - own.ms));
      const result = runAs.call(this, label, role, work as never) as T;
      if (!(result instanceof Promise)) {
        ended();
        return result;
      }
      return result.finally(ended) as T;
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
    if (clientName === 'DynamoDBClient') return meterDynamo(meter, tally, commandName, args, next, scope);
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

async function meterDynamo(meter: Meter, tally: FunctionTally, commandName: string, args: any, next: (args: any) => Promise<any>, scope?: Scope) {
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
  const transaction = commandName === 'TransactWriteItemsCommand' && meter.inspector ? transactionTargets(input) : undefined;
  const before = transaction ? await ownTime(scope, () => readItems(meter.inspector as DynamoDBClient, transaction)) : undefined;
  try {
    const result = await next({ ...args, input });
    const consumed = (result.output as { ConsumedCapacity?: unknown }).ConsumedCapacity;
    const entries = (Array.isArray(consumed) ? consumed : consumed ? [consumed] : []) as ConsumedCapacity[];
    const reported = entries.reduce((sum, entry) => sum + (entry.CapacityUnits ?? 0), 0);
    if (transaction && before) {
      const after = await ownTime(scope, () => readItems(meter.inspector as DynamoDBClient, transaction));
      const billed = transactionWriteUnits(
        transaction.map((target, position): TransactionAction => ({ ...target, before: before[position], after: after[position] })),
        layoutOf,
      );
      let total = 0;
      for (const [key, units] of billed) {
        meter.addUnits(key, units, true);
        total += units;
      }
      tally.writeUnits += total;
      meter.transactions.count += 1;
      meter.transactions.reportedUnits += reported;
      meter.transactions.billedUnits += total;
      return result;
    }
    for (const entry of entries) meter.noteUnits(entry, writes);
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

/** Physical table name to its key attributes and secondary indexes, from the description. */
const layouts = new Map<string, TableLayout>(
  (Object.entries(tables) as Array<[TableName, TableSpec]>).map(([name, spec]) => {
    const keys = [spec.partitionKey.name, ...(spec.sortKey ? [spec.sortKey.name] : [])];
    const global = spec.indexes ?? [];
    const local = spec.localIndexes ?? [];
    return [
      localTableName(name),
      {
        keys,
        indexes: [
          // As lib/infra/tables.ts builds them: GSIs copy everything, LSIs their `include` (or only keys).
          ...global.map((index) => ({
            name: index.name,
            keys: [index.partitionKey.name, ...(index.sortKey ? [index.sortKey.name] : [])],
            projection: 'ALL' as const,
          })),
          ...local.map((index) => ({ name: index.name, keys: [spec.partitionKey.name, index.sortKey.name], projection: [...(index.include ?? [])] })),
        ],
      },
    ];
  }),
);
const layoutOf = (table: string) => layouts.get(table);

interface TransactionTarget {
  readonly table: string;
  readonly kind: TransactionAction['kind'];
  readonly key: Record<string, AttributeValue>;
}

/** The table, kind and key of each action of a TransactWriteItems input (AttributeValues, or lib-dynamodb's plain values). */
function transactionTargets(input: Record<string, any>): TransactionTarget[] {
  return ((input.TransactItems ?? []) as Array<Record<string, any>>).map((action) => {
    const kind = (['Put', 'Update', 'Delete', 'ConditionCheck'] as const).find((name) => action[name] !== undefined);
    if (!kind) throw new Error(`cost meter: a transaction action of an unknown kind: ${Object.keys(action).join(', ')}`);
    const { TableName: table, Key, Item } = action[kind] as { TableName: string; Key?: Record<string, unknown>; Item?: Record<string, unknown> };
    const keys = layoutOf(table)?.keys;
    if (!keys) throw new Error(`cost meter: no layout for table ${table}`);
    const whole = attributeValues((Key ?? Item) as Record<string, unknown>);
    return { table, kind, key: Object.fromEntries(keys.map((name) => [name, whole[name] as AttributeValue])) };
  });
}

const ATTRIBUTE_VALUE_TYPES = new Set(['S', 'N', 'B', 'BOOL', 'NULL', 'M', 'L', 'SS', 'NS', 'BS']);

function attributeValues(record: Record<string, unknown>): Record<string, AttributeValue> {
  const typed = Object.values(record).every(
    (value) => typeof value === 'object' && value !== null && Object.keys(value).length === 1 && ATTRIBUTE_VALUE_TYPES.has(Object.keys(value)[0] as string),
  );
  return typed ? (record as Record<string, AttributeValue>) : marshall(record, { removeUndefinedValues: true, convertClassInstanceToMap: true });
}

/** The items at `targets`' keys as they are now (consistent reads, outside any function), aligned with `targets`. */
async function readItems(client: DynamoDBClient, targets: readonly TransactionTarget[]): Promise<Array<Record<string, AttributeValue> | undefined>> {
  const found = new Map<string, Record<string, AttributeValue>>();
  const id = (table: string, key: Record<string, AttributeValue>) =>
    `${table}\u0000${JSON.stringify(Object.entries(key).sort(([a], [b]) => a.localeCompare(b)))}`;
  for (let start = 0; start < targets.length; start += 100) {
    let request: Record<string, { Keys: Array<Record<string, AttributeValue>>; ConsistentRead: true }> = {};
    for (const target of targets.slice(start, start + 100)) {
      request[target.table] ??= { Keys: [], ConsistentRead: true };
      request[target.table]?.Keys.push(target.key);
    }
    for (let round = 0; Object.keys(request).length > 0; round += 1) {
      if (round >= 20) throw new Error('cost meter: BatchGetItem kept leaving keys unprocessed');
      const { Responses, UnprocessedKeys } = await outsideFunctions(() => client.send(new BatchGetItemCommand({ RequestItems: request })));
      for (const [table, items] of Object.entries(Responses ?? {})) {
        const keys = layoutOf(table)?.keys ?? [];
        for (const item of items) found.set(id(table, Object.fromEntries(keys.map((name) => [name, item[name] as AttributeValue]))), item);
      }
      request = (UnprocessedKeys ?? {}) as typeof request;
    }
  }
  return targets.map((target) => found.get(id(target.table, target.key)));
}
