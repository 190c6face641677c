import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Sequencer } from '#web/client/sequencer';

const item = (seq: number) => ({ seq });
const seqs = (items: Array<{ seq: number }>) => items.map((released) => released.seq);

describe('client sequencer', () => {
  it('releases consecutive seqs at once and drops duplicates', () => {
    const sequencer = new Sequencer(0);
    expect(seqs(sequencer.accept(item(1)))).toEqual([1]);
    expect(seqs(sequencer.accept(item(1)))).toEqual([]);
    expect(seqs(sequencer.accept(item(2)))).toEqual([2]);
    expect(sequencer.lastSeq).toBe(2);
    expect(sequencer.hasGap).toBe(false);
  });

  it('starts from a stored lastSeq and drops everything up to it', () => {
    const sequencer = new Sequencer(41);
    expect(seqs(sequencer.accept(item(40)))).toEqual([]);
    expect(seqs(sequencer.accept(item(41)))).toEqual([]);
    expect(seqs(sequencer.accept(item(42)))).toEqual([42]);
  });

  it('holds frames behind a missing seq, reports the gap, and releases them in order once it is filled', () => {
    const sequencer = new Sequencer(3);
    expect(seqs(sequencer.accept(item(6)))).toEqual([]);
    expect(seqs(sequencer.accept(item(5)))).toEqual([]);
    expect(seqs(sequencer.accept(item(6)))).toEqual([]);
    expect(sequencer.hasGap).toBe(true);
    expect(sequencer.lowestHeld).toBe(5);
    expect(seqs(sequencer.accept(item(4)))).toEqual([4, 5, 6]);
    expect(sequencer.hasGap).toBe(false);
    expect(sequencer.lastSeq).toBe(6);
  });

  it('skipTo gives up on expired seqs, releasing held frames below and above the new watermark in order', () => {
    const sequencer = new Sequencer(10);
    sequencer.accept(item(13));
    sequencer.accept(item(16));
    sequencer.accept(item(17));
    expect(seqs(sequencer.skipTo(15))).toEqual([13, 16, 17]);
    expect(sequencer.lastSeq).toBe(17);
    expect(seqs(sequencer.skipTo(12))).toEqual([]);
    expect(sequencer.lastSeq).toBe(17);
  });

  it('ignores frames whose seq is not a positive safe integer', () => {
    const sequencer = new Sequencer(0);
    expect(seqs(sequencer.accept(item(Number.NaN)))).toEqual([]);
    expect(seqs(sequencer.accept(item(1.5)))).toEqual([]);
    expect(sequencer.hasGap).toBe(false);
  });

  it('property: any interleaving of duplicated, reordered and missing pushes plus refills emits each seq once, in order', () => {
    const scenario = fc
      .record({
        start: fc.nat(1000),
        count: fc.integer({ min: 1, max: 60 }),
        seed: fc.array(fc.record({ copies: fc.integer({ min: 0, max: 3 }), delay: fc.nat(200) }), { minLength: 60, maxLength: 60 }),
        refillAt: fc.array(fc.nat(300), { maxLength: 8 }),
        refillPageSize: fc.integer({ min: 1, max: 10 }),
      })
      .map(({ start, count, seed, refillAt, refillPageSize }) => {
        // Each seq is pushed 0..3 times (0 = the push failed), each copy at a random moment.
        const pushes: Array<{ at: number; seq: number }> = [];
        for (let index = 0; index < count; index += 1) {
          const { copies, delay } = seed[index] as { copies: number; delay: number };
          for (let copy = 0; copy < copies; copy += 1) pushes.push({ at: index * 3 + ((delay + copy * 37) % 200), seq: start + index + 1 });
        }
        pushes.sort((a, b) => a.at - b.at);
        return { start, count, pushes, refillAt: [...refillAt].sort((a, b) => a - b), refillPageSize };
      });

    fc.assert(
      fc.property(scenario, ({ start, count, pushes, refillAt, refillPageSize }) => {
        const sequencer = new Sequencer<{ seq: number }>(start);
        const emitted: number[] = [];
        const newest = start + count;
        // A refill reads one page of what is persisted after lastSeq, as GET /notifications does.
        const refill = () => {
          const after = sequencer.lastSeq;
          for (let seq = after + 1; seq <= Math.min(newest, after + refillPageSize); seq += 1) emitted.push(...seqs(sequencer.accept(item(seq))));
        };
        let nextRefill = 0;
        for (const push of pushes) {
          while (nextRefill < refillAt.length && (refillAt[nextRefill] as number) <= push.at) refill(), (nextRefill += 1);
          emitted.push(...seqs(sequencer.accept(item(push.seq))));
        }
        // Whatever stayed missing is refilled at the end, as the client does while a gap remains.
        while (sequencer.lastSeq < newest) refill();

        const expected = Array.from({ length: count }, (_, index) => start + index + 1);
        expect(emitted).toEqual(expected);
        expect(sequencer.hasGap).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it('property: expiring a prefix never emits a seq twice or out of order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 80 }), fc.integer({ min: 0, max: 40 }), (arrivals, expiredUpTo) => {
        const sequencer = new Sequencer<{ seq: number }>(0);
        const emitted: number[] = [];
        arrivals.forEach((seq, index) => {
          if (index === Math.floor(arrivals.length / 2)) emitted.push(...seqs(sequencer.skipTo(expiredUpTo)));
          emitted.push(...seqs(sequencer.accept(item(seq))));
        });
        expect(new Set(emitted).size).toBe(emitted.length);
        expect([...emitted].sort((a, b) => a - b)).toEqual(emitted);
        expect(emitted.every((seq, index) => index === 0 || seq > (emitted[index - 1] as number))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
