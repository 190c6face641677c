import { describe, expect, it } from 'vitest';
import {
  addUsage,
  costLines,
  dynamoItemBytes,
  HTTP_REQUEST_BYTES,
  indexWrites,
  lambdaGbSeconds,
  meteredUnits,
  scaleUsage,
  totalUsd,
  transactionWriteUnits,
  type TableLayout,
  usageAbove,
  usageAt,
  WEBSOCKET_MESSAGE_BYTES,
  writeUnits,
} from '../../bench/cost-model';
import { PRICES, type Prices } from '../../bench/cost-prices';

/** Round prices, so every expected figure below can be worked out by hand. */
const prices: Prices = Object.fromEntries(
  Object.keys(PRICES).map((name) => [name, { usd: 1, per: 1_000_000, unit: name, source: 'https://example.com' }]),
) as Prices;

describe('metering units', () => {
  it('bills WebSocket messages per started 32 KB and HTTP API requests per started 512 KB, at least one each', () => {
    expect(meteredUnits(0, WEBSOCKET_MESSAGE_BYTES)).toBe(1);
    expect(meteredUnits(300, WEBSOCKET_MESSAGE_BYTES)).toBe(1);
    expect(meteredUnits(32 * 1024, WEBSOCKET_MESSAGE_BYTES)).toBe(1);
    expect(meteredUnits(32 * 1024 + 1, WEBSOCKET_MESSAGE_BYTES)).toBe(2);
    expect(meteredUnits(100 * 1024, WEBSOCKET_MESSAGE_BYTES)).toBe(4);
    expect(meteredUnits(600 * 1024, HTTP_REQUEST_BYTES)).toBe(2);
    expect(() => meteredUnits(-1, WEBSOCKET_MESSAGE_BYTES)).toThrow(/not a size/);
  });

  it('bills Lambda by the millisecond, rounded up, times the configured memory', () => {
    expect(lambdaGbSeconds(1000, 1024)).toBe(1);
    expect(lambdaGbSeconds(99.2, 256)).toBeCloseTo(0.1 * 0.25, 12);
    expect(lambdaGbSeconds(0.4, 512)).toBeCloseTo(0.001 * 0.5, 12);
  });

  it('sizes DynamoDB items as names plus values, numbers by their significant digits', () => {
    expect(dynamoItemBytes({ id: { S: 'abc' } })).toBe(2 + 3);
    expect(dynamoItemBytes({ n: { N: '12345' } })).toBe(1 + 4);
    expect(dynamoItemBytes({ n: { N: '-0.0012' } })).toBe(1 + 2);
    expect(dynamoItemBytes({ é: { S: 'ü' } })).toBe(2 + 2);
    expect(dynamoItemBytes({ ok: { BOOL: true }, gone: { NULL: true } })).toBe(2 + 1 + 4 + 1);
    expect(dynamoItemBytes({ set: { SS: ['ab', 'c'] } })).toBe(3 + 3);
    expect(dynamoItemBytes({ m: { M: { k: { S: 'v' } } }, l: { L: [{ S: 'x' }, { N: '7' }] } })).toBe(1 + 3 + (1 + 1 + 1) + (1 + 3 + (1 + 1) + (1 + 2)));
  });

  it('writes cost a unit per started KB, at least one, twice in a transaction', () => {
    expect(writeUnits(0)).toBe(1);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
    expect(writeUnits(1025, true)).toBe(4);
    expect(writeUnits(200, true)).toBe(2);
  });
});

describe('transactional writes, billed from their items', () => {
  // The Notifications table as lib/description/resources.ts declares it: LSI byId (keys only), sparse LSI unread (copies expiresAt).
  const notifications: TableLayout = {
    keys: ['userKey', 'seq'],
    indexes: [
      { name: 'byId', keys: ['userKey', 'id'], projection: [] },
      { name: 'unread', keys: ['userKey', 'unreadSeq'], projection: ['expiresAt'] },
    ],
  };
  const layouts: Record<string, TableLayout> = { notifications, dedupe: { keys: ['dedupeKey'], indexes: [] } };
  const layoutOf = (table: string) => layouts[table];
  const counter = (user: string, lastSeq: number) => ({ userKey: { S: user }, seq: { N: '0' }, lastSeq: { N: String(lastSeq) } });
  const notification = (user: string, seq: number, extra: Record<string, { S: string }> = {}) => ({
    userKey: { S: user },
    seq: { N: String(seq) },
    id: { S: `01J${user}${seq}` },
    title: { S: 'Work order assigned' },
    expiresAt: { N: '1790000000' },
    unreadSeq: { N: String(seq) },
    ...extra,
  });

  it("bills deliver()'s transaction for N users at 10 units each: counter 2, item 2, each LSI 2, dedupe 2", () => {
    // What DynamoDB Local reported for such transactions (docs/cost.md before this meter): 4 units on
    // notifications, 2 on each index and 2 on dedupe per call, whatever the number of users in it.
    const users = Array.from({ length: 28 }, (_, index) => `acme#member-${index}`);
    const actions = users.flatMap((user) => [
      { table: 'notifications', kind: 'Update' as const, before: counter(user, 4), after: counter(user, 5) },
      { table: 'notifications', kind: 'Put' as const, after: notification(user, 5) },
      { table: 'dedupe', kind: 'Put' as const, after: { dedupeKey: { S: `alert:1:v1#${user}` }, id: { S: 'x' }, seq: { N: '5' } } },
    ]);
    const units = transactionWriteUnits(actions, layoutOf);
    expect(Object.fromEntries(units)).toEqual({
      notifications: 28 * 4,
      'notifications/byId': 28 * 2,
      'notifications/unread': 28 * 2,
      dedupe: 28 * 2,
    });
    expect([...units.values()].reduce((sum, value) => sum + value, 0)).toBe(28 * 10);
  });

  it('bills an item by its started KB, an update by the larger of before and after, a delete and a condition check by the item as it was', () => {
    const big = notification('u', 1, { body: { S: 'x'.repeat(1_500) } });
    const units = transactionWriteUnits(
      [
        { table: 'dedupe', kind: 'Put', after: { dedupeKey: { S: 'k' }, body: { S: 'x'.repeat(2_100) } } },
        { table: 'notifications', kind: 'Update', before: big, after: notification('u', 1) },
        { table: 'notifications', kind: 'Delete', before: counter('v', 1) },
        { table: 'dedupe', kind: 'ConditionCheck', before: { dedupeKey: { S: 'c' } } },
        { table: 'dedupe', kind: 'ConditionCheck' },
      ],
      layoutOf,
    );
    // dedupe: 3 KB put = 6, two condition checks at the 1 KB minimum = 2 x 2; notifications: 2 KB update = 4, delete = 2.
    expect(units.get('dedupe')).toBe(6 + 2 + 2);
    expect(units.get('notifications')).toBe(4 + 2);
    // The update left both index entries as they were (body is not copied into either): no index write.
    expect(units.get('notifications/byId')).toBeUndefined();
    expect(units.get('notifications/unread')).toBeUndefined();
  });

  it('counts index writes as DynamoDB does: added or removed 1, key changed 2, copied attribute changed 1, untouched 0', () => {
    const [byId, unread] = notifications.indexes as [TableLayout['indexes'][0], TableLayout['indexes'][0]];
    const unreadItem = notification('u', 3);
    const { unreadSeq: _unreadSeq, ...readItem } = unreadItem;
    expect(indexWrites(unread, notifications.keys, undefined, unreadItem)).toBe(1);
    expect(indexWrites(unread, notifications.keys, unreadItem, readItem)).toBe(1);
    expect(indexWrites(unread, notifications.keys, readItem, readItem)).toBe(0);
    expect(indexWrites(unread, notifications.keys, unreadItem, { ...unreadItem, unreadSeq: { N: '4' } })).toBe(2);
    expect(indexWrites(unread, notifications.keys, unreadItem, { ...unreadItem, expiresAt: { N: '1' } })).toBe(1);
    expect(indexWrites(unread, notifications.keys, unreadItem, { ...unreadItem, title: { S: 'renamed' } })).toBe(0);
    expect(indexWrites(byId, notifications.keys, counter('u', 1), counter('u', 2))).toBe(0);
    expect(
      indexWrites({ name: 'all', keys: ['userKey', 'id'], projection: 'ALL' }, notifications.keys, unreadItem, { ...unreadItem, title: { S: 'renamed' } }),
    ).toBe(1);
  });
});

describe('usage times price', () => {
  it('prices each line by its own unit, largest first, and sums them', () => {
    const usage = { webSocketMessages: 3_000_000, dynamoWriteRequestUnits: 1_000_000, lambdaGbSeconds: 0 };
    const lines = costLines(usage, { ...prices, dynamoWriteRequestUnits: { ...prices.dynamoWriteRequestUnits, usd: 0.625 } });
    expect(lines.map((line) => [line.price, line.usd])).toEqual([
      ['webSocketMessages', 3],
      ['dynamoWriteRequestUnits', 0.625],
    ]);
    expect(totalUsd(usage, prices)).toBe(4);
  });

  it('prices one notification the way the published prices say', () => {
    // 2 messages, 1 HTTP request, 2 invocations of 50 ms at 256 MB, 10 WRU, 2 RRU.
    const usage = {
      webSocketMessages: 2,
      httpApiRequests: 1,
      lambdaRequests: 2,
      lambdaGbSeconds: 2 * lambdaGbSeconds(50, 256),
      dynamoWriteRequestUnits: 10,
      dynamoReadRequestUnits: 2,
    };
    const expected = 2 * 1e-6 + 1e-6 + 2 * 0.2e-6 + 0.025 * 0.0000133334 + 10 * 0.625e-6 + 2 * 0.125e-6;
    expect(totalUsd(usage, PRICES)).toBeCloseTo(expected, 15);
    expect(totalUsd(scaleUsage(usage, 1_000_000), PRICES)).toBeCloseTo(expected * 1_000_000, 6);
  });

  it('refuses a quantity without a price or below zero', () => {
    expect(() => costLines({ ['nope' as never]: 1 }, prices)).toThrow(/no price for nope/);
    expect(() => costLines({ sesEmails: -1 }, prices)).toThrow(/sesEmails/);
  });

  it('adds and scales usages line by line', () => {
    expect(addUsage({ sesEmails: 1, sqsRequests: 2 }, { sqsRequests: 3 })).toEqual({ sesEmails: 1, sqsRequests: 5 });
    expect(scaleUsage({ sesEmails: 4 }, 0.25)).toEqual({ sesEmails: 1 });
  });

  it('takes what one usage has beyond another, line by line, dropping lines at or below it', () => {
    const pingWithAck = { webSocketMessages: 2, lambdaRequests: 1, dynamoWriteRequestUnits: 1, lambdaGbSeconds: 0.002 };
    const ping = { webSocketMessages: 2, lambdaRequests: 1, lambdaGbSeconds: 0.003 };
    expect(usageAbove(pingWithAck, ping)).toEqual({ dynamoWriteRequestUnits: 1 });
  });

  it('extrapolates a size on the line through two measured points, never below zero', () => {
    const small = { size: 10_000, usage: { dynamoReadRequestUnits: 400, sesEmails: 1 } };
    const large = { size: 100_000, usage: { dynamoReadRequestUnits: 3_100, sesEmails: 1 } };
    expect(usageAt(1_000_000, small, large)).toEqual({ dynamoReadRequestUnits: 30_100, sesEmails: 1 });
    expect(usageAt(0, small, large)).toEqual({ dynamoReadRequestUnits: 100, sesEmails: 1 });
    expect(usageAt(0, { size: 1, usage: { sqsRequests: 5 } }, { size: 2, usage: { sqsRequests: 10 } })).toEqual({ sqsRequests: 0 });
    expect(() => usageAt(5, small, small)).toThrow(/two different sizes/);
  });
});

describe('the price list', () => {
  it('gives every price a positive amount and an AWS source page', () => {
    for (const [name, price] of Object.entries(PRICES)) {
      expect(price.usd, name).toBeGreaterThan(0);
      expect(price.per, name).toBeGreaterThan(0);
      expect(price.source, name).toMatch(/^https:\/\/aws\.amazon\.com\//);
    }
  });
});
