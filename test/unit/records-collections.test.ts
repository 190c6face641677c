import { describe, expect, it } from 'vitest';
import { collectionRules, DEFAULT_STRATEGY, parseCollectionDeclarations } from '#functions/records/collections';
import { formatClock, isTooFarAhead, maxClock, parseClock, tick } from '#functions/protocol/hlc';

describe('collection declarations', () => {
  const declarations = { inspections: { fields: { status: 'server-wins', items: 'merge-by-id' }, otherFields: 'manual' } } as const;

  it('gives each declared field its strategy, the others otherFields, and an undeclared collection the default everywhere', () => {
    const rules = collectionRules(declarations, 'inspections');
    expect([rules.strategyOf('status'), rules.strategyOf('items'), rules.strategyOf('notes')]).toEqual(['server-wins', 'merge-by-id', 'manual']);
    expect(collectionRules(declarations, 'checklists').strategyOf('status')).toBe(DEFAULT_STRATEGY);
    expect(DEFAULT_STRATEGY).toBe('last-writer-wins');
    // Names that are properties of every object are not declarations.
    expect(collectionRules(declarations, 'constructor').strategyOf('toString')).toBe('last-writer-wins');
  });

  it('names what is wrong with a declaration', () => {
    expect(parseCollectionDeclarations('{"a": {"fields": {"x": "newest"}}}')).toMatchObject({ ok: false, problem: expect.stringContaining('a.fields.x') });
    expect(parseCollectionDeclarations('{"a": {"colour": "red"}}')).toMatchObject({ ok: false });
    expect(parseCollectionDeclarations('nope')).toEqual({ ok: false, problem: 'is not JSON' });
    expect(parseCollectionDeclarations('')).toEqual({ ok: true, value: {} });
  });
});

describe('hybrid logical clock', () => {
  it('moves with the wall clock, counts within a millisecond, and never goes back when the wall clock does', () => {
    const first = tick(undefined, 1_000, 'd1');
    expect(first).toBe('0000000001000-0000-d1');
    const same = tick(first, 1_000, 'd1');
    expect(same > first).toBe(true);
    const behind = tick(same, 500, 'd1'); // the device's clock was set back
    expect(behind > same).toBe(true);
    expect(parseClock(behind)).toEqual({ ms: 1_000, counter: 2, node: 'd1' });
    expect(tick(behind, 2_000, 'd1')).toBe(formatClock({ ms: 2_000, counter: 0, node: 'd1' }));
  });

  it('orders a reading after one it has seen from another device, whatever its own wall clock says', () => {
    const seen = tick(undefined, 90_000, 'fast');
    const next = tick(maxClock('0000000001000-0000-slow', seen), 1_000, 'slow');
    expect(next > seen).toBe(true);
  });

  it('refuses readings too far ahead of the server', () => {
    expect(isTooFarAhead(tick(undefined, 10 * 60_000, 'd'), 0)).toBe(true);
    expect(isTooFarAhead(tick(undefined, 60_000, 'd'), 0)).toBe(false);
  });
});
