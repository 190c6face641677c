import { describe, expect, it } from 'vitest';
import { compileFilter, FilterPatternError, sqsFilterSubject, type FilterPattern } from '#lib/local/event-filter';

const matches = (pattern: FilterPattern, event: unknown): boolean => compileFilter([pattern])(event);

const ddbInsert = {
  eventName: 'INSERT',
  dynamodb: {
    Keys: { pk: { S: 't1#a1' } },
    NewImage: { pk: { S: 't1#a1' }, status: { S: 'active' }, severity: { S: 'Critical' }, count: { N: '7' }, tags: { SS: ['x', 'y'] } },
  },
};

describe('Lambda event filtering', () => {
  it('lets everything through when there are no patterns', () => {
    expect(compileFilter(undefined)({ anything: 1 })).toBe(true);
    expect(compileFilter([])({})).toBe(true);
  });

  it('matches exact values, an array being an OR, and nested keys ANDed', () => {
    const pattern = { eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { status: { S: ['active'] } } } };
    expect(matches(pattern, ddbInsert)).toBe(true);
    expect(matches(pattern, { ...ddbInsert, eventName: 'REMOVE' })).toBe(false);
    expect(matches({ ...pattern, dynamodb: { NewImage: { status: { S: ['resolved'] } } } }, ddbInsert)).toBe(false);
  });

  it('matches a record when any one of several patterns matches', () => {
    const filter = compileFilter([{ eventName: ['REMOVE'] }, { dynamodb: { NewImage: { status: { S: ['active'] } } } }]);
    expect(filter(ddbInsert)).toBe(true);
    expect(filter({ eventName: 'MODIFY', dynamodb: { NewImage: { status: { S: 'done' } } } })).toBe(false);
  });

  it('accepts patterns as the JSON strings AWS takes', () => {
    expect(compileFilter([JSON.stringify({ eventName: ['INSERT'] })])(ddbInsert)).toBe(true);
  });

  it('treats an object as an intermediate node: only leaves match values', () => {
    expect(matches({ dynamodb: { NewImage: { status: ['active'] } } }, ddbInsert)).toBe(false);
  });

  it('matches an event array when any element matches', () => {
    expect(matches({ dynamodb: { NewImage: { tags: { SS: ['y'] } } } }, ddbInsert)).toBe(true);
    expect(matches({ items: { sku: ['b'] } }, { items: [{ sku: 'a' }, { sku: 'b' }] })).toBe(true);
    expect(matches({ items: { sku: ['c'] } }, { items: [{ sku: 'a' }, { sku: 'b' }] })).toBe(false);
  });

  it('checks presence with exists on leaves', () => {
    expect(matches({ dynamodb: { NewImage: { status: { S: [{ exists: true }] } } } }, ddbInsert)).toBe(true);
    expect(matches({ dynamodb: { OldImage: { status: { S: [{ exists: true }] } } } }, ddbInsert)).toBe(false);
    expect(matches({ dynamodb: { OldImage: { status: { S: [{ exists: false }] } } } }, ddbInsert)).toBe(true);
    expect(matches({ dynamodb: { NewImage: { status: { S: [{ exists: false }] } } } }, ddbInsert)).toBe(false);
  });

  it('matches prefix, suffix and equals-ignore-case on strings only', () => {
    expect(matches({ dynamodb: { Keys: { pk: { S: [{ prefix: 't1#' }] } } } }, ddbInsert)).toBe(true);
    expect(matches({ dynamodb: { Keys: { pk: { S: [{ prefix: 't2#' }] } } } }, ddbInsert)).toBe(false);
    expect(matches({ dynamodb: { Keys: { pk: { S: [{ suffix: '#a1' }] } } } }, ddbInsert)).toBe(true);
    expect(matches({ dynamodb: { Keys: { pk: { S: [{ suffix: '#a2' }] } } } }, ddbInsert)).toBe(false);
    expect(matches({ dynamodb: { NewImage: { severity: { S: [{ 'equals-ignore-case': 'CRITICAL' }] } } } }, ddbInsert)).toBe(true);
    expect(matches({ dynamodb: { NewImage: { severity: { S: [{ 'equals-ignore-case': 'low' }] } } } }, ddbInsert)).toBe(false);
    expect(matches({ n: [{ prefix: '1' }] }, { n: 12 })).toBe(false);
  });

  it('matches anything-but against values, lists, prefixes and suffixes, and never a missing field', () => {
    expect(matches({ status: [{ 'anything-but': ['resolved', 'acknowledged'] }] }, { status: 'active' })).toBe(true);
    expect(matches({ status: [{ 'anything-but': ['resolved', 'acknowledged'] }] }, { status: 'resolved' })).toBe(false);
    expect(matches({ status: [{ 'anything-but': 'resolved' }] }, { status: 'resolved' })).toBe(false);
    expect(matches({ status: [{ 'anything-but': { prefix: 'res' } }] }, { status: 'resolved' })).toBe(false);
    expect(matches({ status: [{ 'anything-but': { suffix: 'ed' } }] }, { status: 'active' })).toBe(true);
    expect(matches({ status: [{ 'anything-but': ['resolved'] }] }, {})).toBe(false);
  });

  it('compares numbers, including DynamoDB N strings, against single bounds and ranges', () => {
    expect(matches({ dynamodb: { NewImage: { count: { N: [{ numeric: ['>', 5, '<=', 7] }] } } } }, ddbInsert)).toBe(true);
    expect(matches({ dynamodb: { NewImage: { count: { N: [{ numeric: ['>', 7] }] } } } }, ddbInsert)).toBe(false);
    expect(matches({ price: [{ numeric: ['=', 100] }] }, { price: 100 })).toBe(true);
    expect(matches({ price: [{ numeric: ['>=', 0, '<', 100] }] }, { price: 100 })).toBe(false);
    expect(matches({ price: [{ numeric: ['>', 0] }] }, { price: 'free' })).toBe(false);
    expect(matches({ price: [{ numeric: ['>', 0] }] }, { price: '' })).toBe(false);
  });

  it('matches null and the empty string as values', () => {
    expect(matches({ assignee: [null] }, { assignee: null })).toBe(true);
    expect(matches({ assignee: [null] }, {})).toBe(false);
    expect(matches({ note: [''] }, { note: '' })).toBe(true);
  });

  it('rejects patterns Lambda would reject, when compiled', () => {
    const invalid: FilterPattern[] = [
      'not json',
      [],
      { eventName: 'INSERT' },
      { eventName: [] },
      { eventName: [{ wildcard: 'IN*' }] },
      { eventName: [{ prefix: 1 }] },
      { n: [{ numeric: ['>'] }] },
      { n: [{ numeric: ['~', 1] }] },
      { n: [{ exists: 'yes' }] },
      { n: [{ prefix: 'a', suffix: 'b' }] },
      { n: [{ 'anything-but': { wildcard: 'x' } }] },
      { n: [{ 'anything-but': [] }] },
    ];
    for (const pattern of invalid) expect(() => compileFilter([pattern]), JSON.stringify(pattern)).toThrow(FilterPatternError);
  });

  it('parses an SQS body that is a JSON object so patterns can reach inside it, and leaves other bodies as strings', () => {
    const filter = compileFilter([{ body: { kind: ['alert'] } }]);
    expect(filter(sqsFilterSubject({ messageId: '1', body: '{"kind":"alert"}' }))).toBe(true);
    expect(filter(sqsFilterSubject({ messageId: '2', body: '{"kind":"export"}' }))).toBe(false);
    expect(filter(sqsFilterSubject({ messageId: '3', body: 'kind=alert' }))).toBe(false);
    expect(compileFilter([{ body: [{ prefix: 'kind=' }] }])(sqsFilterSubject({ messageId: '4', body: 'kind=alert' }))).toBe(true);
    expect(sqsFilterSubject({ body: '42' }).body).toBe('42');
  });
});
