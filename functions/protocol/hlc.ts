/**
 * Hybrid logical clocks (Kulkarni et al.): a reading is physical milliseconds, a counter and the
 * node, written `<ms, 13 digits>-<counter, 4 digits>-<node>` so that string order is clock order.
 * A device's next reading is never below one it has seen, so an edit made after seeing another
 * is ordered after it even when the device's wall clock is behind; the node breaks ties, so two
 * devices never produce equal readings. Last-writer-wins compares these, never raw device time.
 */
export interface Hlc {
  readonly ms: number;
  readonly counter: number;
  readonly node: string;
}

const MAX_COUNTER = 9999;

export function formatClock(clock: Hlc): string {
  return `${String(clock.ms).padStart(13, '0')}-${String(clock.counter).padStart(4, '0')}-${clock.node}`;
}

export function parseClock(reading: string): Hlc {
  const match = /^(\d{13})-(\d{4})-(.+)$/.exec(reading);
  if (!match) throw new Error(`Not a clock reading: ${reading}`);
  return { ms: Number(match[1]), counter: Number(match[2]), node: match[3] as string };
}

/** The reading for a local event: later than `last` (the latest this node made or saw) and than the wall clock. */
export function tick(last: string | undefined, nowMs: number, node: string): string {
  const previous = last === undefined ? undefined : parseClock(last);
  if (previous === undefined || nowMs > previous.ms) return formatClock({ ms: nowMs, counter: 0, node });
  if (previous.counter < MAX_COUNTER) return formatClock({ ms: previous.ms, counter: previous.counter + 1, node });
  return formatClock({ ms: previous.ms + 1, counter: 0, node });
}

/** The later of two readings (undefined is earliest). */
export function maxClock(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a > b ? a : b;
}

/** How far ahead of the server's wall clock a reading may be; a device further ahead would win every later edit. */
export const MAX_CLOCK_AHEAD_MS = 5 * 60 * 1000;

export function isTooFarAhead(reading: string, serverNowMs: number): boolean {
  return parseClock(reading).ms > serverNowMs + MAX_CLOCK_AHEAD_MS;
}
