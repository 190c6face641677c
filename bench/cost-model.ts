/**
 * The arithmetic of the cost model (docs/cost.md): metering units (API Gateway's 32 KB messages,
 * DynamoDB's item sizes and request units, Lambda's GB-seconds) and usage times price. Pure, so
 * test/unit/cost-model.test.ts checks it without the runtime; bench/cost.ts measures the usage.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { PriceName, Prices } from './cost-prices';

/** Quantities in each price's own unit (messages, request units, GB-seconds, …). */
export type Usage = Partial<Record<PriceName, number>>;

export interface CostLine {
  readonly price: PriceName;
  readonly quantity: number;
  readonly usd: number;
}

/** API Gateway meters WebSocket messages in 32 KB increments: a 33 KB frame is two messages. */
export const WEBSOCKET_MESSAGE_BYTES = 32 * 1024;
/** HTTP API requests are metered in 512 KB increments. */
export const HTTP_REQUEST_BYTES = 512 * 1024;

/** Billed units of one message or request of `bytes`, metered per `increment` (at least one). */
export function meteredUnits(bytes: number, increment: number): number {
  if (!Number.isFinite(bytes) || bytes < 0) throw new Error(`meteredUnits: ${bytes} is not a size`);
  return Math.max(1, Math.ceil(bytes / increment));
}

/** Lambda bills duration rounded up to the millisecond, times the configured memory. */
export function lambdaGbSeconds(durationMs: number, memoryMb: number): number {
  return (Math.ceil(durationMs) / 1000) * (memoryMb / 1024);
}

/**
 * DynamoDB's size of an item: each attribute's name (UTF-8 bytes) plus its value. Numbers take
 * about one byte per two significant digits plus one; lists and maps 3 bytes plus 1 per element.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
 */
export function dynamoItemBytes(item: Readonly<Record<string, AttributeValue>>): number {
  let bytes = 0;
  for (const [name, value] of Object.entries(item)) bytes += utf8(name) + valueBytes(value);
  return bytes;
}

function valueBytes(value: AttributeValue): number {
  if (value.S !== undefined) return utf8(value.S);
  if (value.N !== undefined) return numberBytes(value.N);
  if (value.B !== undefined) return value.B.length;
  if (value.BOOL !== undefined || value.NULL !== undefined) return 1;
  if (value.SS !== undefined) return value.SS.reduce((sum, item) => sum + utf8(item), 0);
  if (value.NS !== undefined) return value.NS.reduce((sum, item) => sum + numberBytes(item), 0);
  if (value.BS !== undefined) return value.BS.reduce((sum, item) => sum + item.length, 0);
  if (value.L !== undefined) return 3 + value.L.reduce((sum, item) => sum + 1 + valueBytes(item), 0);
  if (value.M !== undefined) return 3 + Object.entries(value.M).reduce((sum, [name, item]) => sum + 1 + utf8(name) + valueBytes(item), 0);
  throw new Error(`dynamoItemBytes: unknown attribute value ${JSON.stringify(value)}`);
}

function numberBytes(number: string): number {
  const digits = number.replace(/^-/, '').replace('.', '').replace(/e.*$/i, '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

const utf8 = (text: string) => Buffer.byteLength(text, 'utf8');

/** Write request units of one write of an item of `bytes`: 1 per KB, at least 1; twice that in a transaction. */
export function writeUnits(bytes: number, transactional = false): number {
  return Math.max(1, Math.ceil(bytes / 1024)) * (transactional ? 2 : 1);
}

export function addUsage(...usages: readonly Usage[]): Usage {
  const total: Record<string, number> = {};
  for (const usage of usages) for (const [price, quantity] of Object.entries(usage)) total[price] = (total[price] ?? 0) + (quantity ?? 0);
  return total as Usage;
}

export function scaleUsage(usage: Usage, factor: number): Usage {
  return Object.fromEntries(Object.entries(usage).map(([price, quantity]) => [price, (quantity ?? 0) * factor])) as Usage;
}

/** Each priced quantity times its price, largest first. */
export function costLines(usage: Usage, prices: Prices): CostLine[] {
  const lines: CostLine[] = [];
  for (const [price, quantity] of Object.entries(usage) as Array<[PriceName, number]>) {
    const unit = prices[price];
    if (!unit) throw new Error(`costLines: no price for ${price}`);
    if (quantity < 0 || !Number.isFinite(quantity)) throw new Error(`costLines: ${price} quantity ${quantity}`);
    if (quantity === 0) continue;
    lines.push({ price, quantity, usd: (quantity * unit.usd) / unit.per });
  }
  return lines.sort((a, b) => b.usd - a.usd);
}

export function totalUsd(usage: Usage, prices: Prices): number {
  return costLines(usage, prices).reduce((sum, line) => sum + line.usd, 0);
}

/**
 * Usage at `size` on the straight line through two measured points (e.g. exports of 10k and 100k
 * rows): the fixed part plus the part that grows with size, per priced quantity, never below 0.
 */
export function usageAt(size: number, small: { readonly size: number; readonly usage: Usage }, large: { readonly size: number; readonly usage: Usage }): Usage {
  if (large.size === small.size) throw new Error('usageAt: two different sizes are needed');
  const prices = new Set([...Object.keys(small.usage), ...Object.keys(large.usage)]) as Set<PriceName>;
  const at: Usage = {};
  for (const price of prices) {
    const [a, b] = [small.usage[price] ?? 0, large.usage[price] ?? 0];
    at[price] = Math.max(0, a + ((b - a) * (size - small.size)) / (large.size - small.size));
  }
  return at;
}

type Item = Readonly<Record<string, AttributeValue>>;

/** A secondary index as billing sees it: the attributes an item needs to be in it, and what it copies. */
export interface IndexLayout {
  readonly name: string;
  /** The index's key attributes; an item lacking one is not in the (sparse) index. */
  readonly keys: readonly string[];
  /** `ALL`, or the non-key attributes copied (none: keys only). */
  readonly projection: 'ALL' | readonly string[];
}

export interface TableLayout {
  /** The table's own key attributes (every index entry carries them). */
  readonly keys: readonly string[];
  readonly indexes: readonly IndexLayout[];
}

/**
 * One action of a TransactWriteItems, with the item as it was before (absent: no item) and as it
 * is after (absent for a Delete or ConditionCheck).
 */
export interface TransactionAction {
  readonly table: string;
  readonly kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck';
  readonly before?: Item;
  readonly after?: Item;
}

/**
 * Write request units DynamoDB bills for a committed TransactWriteItems, by table and by
 * `table/index`. A transaction writes every item twice (prepare and commit): 2 units per started
 * KB of the item (an Update the larger of before and after; a Delete and a ConditionCheck the item
 * as it was, at least 1 KB). Each secondary index the write touches is billed the same way, also
 * twice: an entry added or removed is one index write, an entry whose index key changed two
 * (delete and put), an entry whose copied attributes changed one, an entry nothing changed in none.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LSI.html#LSI.ThroughputConsiderations
 */
export function transactionWriteUnits(actions: readonly TransactionAction[], layoutOf: (table: string) => TableLayout | undefined): Map<string, number> {
  const units = new Map<string, number>();
  const add = (key: string, count: number) => count > 0 && units.set(key, (units.get(key) ?? 0) + count);
  for (const action of actions) {
    const size = Math.max(action.before ? dynamoItemBytes(action.before) : 0, action.after ? dynamoItemBytes(action.after) : 0);
    add(action.table, writeUnits(size, true));
    if (action.kind === 'ConditionCheck') continue;
    const layout = layoutOf(action.table);
    for (const index of layout?.indexes ?? []) add(`${action.table}/${index.name}`, indexWrites(index, layout?.keys ?? [], action.before, action.after) * 2);
  }
  return units;
}

/** Write units one (non-transactional) write spends on one secondary index, from the item before and after it. */
export function indexWrites(index: IndexLayout, tableKeys: readonly string[], before: Item | undefined, after: Item | undefined): number {
  const entry = (item: Item | undefined): Item | undefined => {
    if (!item || !index.keys.every((key) => item[key] !== undefined)) return undefined;
    if (index.projection === 'ALL') return item;
    const copied = new Set([...tableKeys, ...index.keys, ...index.projection]);
    return Object.fromEntries(Object.entries(item).filter(([name]) => copied.has(name)));
  };
  const [old, now] = [entry(before), entry(after)];
  const unitsOf = (item: Item) => writeUnits(dynamoItemBytes(item));
  if (!old && !now) return 0;
  if (!old) return unitsOf(now as Item);
  if (!now) return unitsOf(old);
  const keyChanged = index.keys.some((key) => JSON.stringify(old[key]) !== JSON.stringify(now[key]));
  if (keyChanged) return unitsOf(old) + unitsOf(now);
  return JSON.stringify(sortedEntries(old)) === JSON.stringify(sortedEntries(now)) ? 0 : unitsOf(now);
}

const sortedEntries = (item: Item) => Object.entries(item).sort(([a], [b]) => a.localeCompare(b));

/** What `usage` has beyond `baseline`, line by line, never below 0 (e.g. a ping carrying an ack, less a bare ping). */
export function usageAbove(usage: Usage, baseline: Usage): Usage {
  const above: Usage = {};
  for (const [price, quantity] of Object.entries(usage) as Array<[PriceName, number]>) {
    const extra = quantity - (baseline[price] ?? 0);
    if (extra > 0) above[price] = extra;
  }
  return above;
}
