import { describe, expect, it } from 'vitest';
import {
  addUsage,
  costLines,
  dynamoItemBytes,
  HTTP_REQUEST_BYTES,
  lambdaGbSeconds,
  meteredUnits,
  scaleUsage,
  totalUsd,
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
