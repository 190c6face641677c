/**
 * Turns at-least-once, possibly out-of-order notification frames into an exactly-once, in-order
 * stream. Seqs are gap-free per user, so a seq above `lastSeq + 1` proves the ones between are
 * missing: the sequencer holds it until they arrive (from a resume or an HTTP refill) or are
 * declared expired with `skipTo`.
 */
export class Sequencer<T extends { readonly seq: number }> {
  private readonly held = new Map<number, T>();
  private last: number;

  constructor(lastSeq: number) {
    this.last = lastSeq;
  }

  /** Highest seq released so far; everything up to it has been released exactly once. */
  get lastSeq(): number {
    return this.last;
  }

  /** Whether frames are held behind a missing seq. */
  get hasGap(): boolean {
    return this.held.size > 0;
  }

  /** Lowest seq held behind the gap, if any. */
  get lowestHeld(): number | undefined {
    let lowest: number | undefined;
    for (const seq of this.held.keys()) if (lowest === undefined || seq < lowest) lowest = seq;
    return lowest;
  }

  /** Takes one frame; returns what it releases, in seq order (empty for a duplicate or a held frame). */
  accept(item: T): T[] {
    if (!Number.isSafeInteger(item.seq) || item.seq <= this.last || this.held.has(item.seq)) return [];
    this.held.set(item.seq, item);
    return this.drain();
  }

  /**
   * Declares that every seq up to `seq` that has not arrived never will (it expired before this
   * client saw it). Held frames up to `seq` are released in order, then whatever is contiguous.
   */
  skipTo(seq: number): T[] {
    if (seq <= this.last) return [];
    const released = [...this.held.values()].filter((item) => item.seq <= seq).sort((a, b) => a.seq - b.seq);
    for (const item of released) this.held.delete(item.seq);
    this.last = seq;
    return released.concat(this.drain());
  }

  private drain(): T[] {
    const released: T[] = [];
    for (let next = this.held.get(this.last + 1); next !== undefined; next = this.held.get(this.last + 1)) {
      this.held.delete(next.seq);
      this.last = next.seq;
      released.push(next);
    }
    return released;
  }
}
