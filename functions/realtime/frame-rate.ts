import { FRAME_RATE_LIMIT } from './limits';

/** Where the containers' counts of one socket's frames meet: the connection's row. */
export interface FrameCounter {
  /**
   * Adds `frames` to the connection's count for the window starting at `windowStart` and returns
   * the window's total, or undefined when the row is gone (or already counts a later window).
   * `startsWindow` is a hint: this caller has not counted in this window yet, so the window is
   * probably new on the row too.
   */
  addFrames(connectionId: string, windowStart: number, frames: number, startsWindow: boolean): Promise<number | undefined>;
}

interface WindowCount {
  readonly window: number;
  /** This container's best knowledge of the window's total: the row's last answer plus what it counted since. */
  total: number;
  /** Frames counted here and not yet added to the row. */
  unsynced: number;
  synced: boolean;
}

/**
 * A socket's frame rate, counted in memory per Lambda container and added to the connection's row
 * once every `syncEvery` frames (docs/protocol.md, "Frame rate"). A socket sending fewer than
 * `syncEvery` frames per window into a container (every ordinary client: pings every few
 * minutes, an ack or a resume now and then) costs no DynamoDB request at all; a flooding socket
 * costs one conditional UpdateItem per `syncEvery` frames, and is refused as soon as the
 * container's own count, or the row's total across containers, passes the limit. Several
 * containers serving one socket each hold back at most `syncEvery - 1` frames, so a flood gets at
 * most that many past the limit per container before it is closed.
 */
export class FrameMeter {
  private readonly windows = new Map<string, WindowCount>();
  private sweptWindow = 0;

  constructor(
    private readonly counter: FrameCounter,
    private readonly limit: { readonly windowSeconds: number; readonly frames: number; readonly syncEvery: number } = FRAME_RATE_LIMIT,
  ) {}

  async count(connectionId: string, now: Date): Promise<'allowed' | 'limited'> {
    const window = Math.floor(now.getTime() / 1000 / this.limit.windowSeconds) * this.limit.windowSeconds;
    this.forgetBefore(window);
    let count = this.windows.get(connectionId);
    if (count === undefined || count.window !== window) {
      count = { window, total: 0, unsynced: 0, synced: false };
      this.windows.set(connectionId, count);
    }
    count.total += 1;
    count.unsynced += 1;
    if (count.total > this.limit.frames) return 'limited';
    if (count.unsynced < this.limit.syncEvery) return 'allowed';
    const frames = count.unsynced;
    count.unsynced = 0;
    const startsWindow = !count.synced;
    count.synced = true;
    const total = await this.counter.addFrames(connectionId, window, frames, startsWindow);
    // Frames counted here while the write was on its way are not in the row's answer yet.
    if (total !== undefined) count.total = Math.max(count.total, total + count.unsynced);
    return count.total > this.limit.frames ? 'limited' : 'allowed';
  }

  /** Connections this container counts now (bounded: older windows are forgotten). */
  get size(): number {
    return this.windows.size;
  }

  /** A container lives for hours and sees many sockets: counts of past windows are dropped once per window. */
  private forgetBefore(window: number): void {
    if (window <= this.sweptWindow) return;
    this.sweptWindow = window;
    for (const [connectionId, count] of this.windows) if (count.window < window) this.windows.delete(connectionId);
  }
}
