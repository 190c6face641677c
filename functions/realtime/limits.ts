/**
 * Per-user caps on the realtime API (docs/protocol.md, "Limits"), and the defaults of the context
 * settings that change them (lib/config.ts). Free of imports, because the description and the
 * config read it too.
 */
export const REALTIME_LIMIT_DEFAULTS = {
  /**
   * Sockets one user may hold open at once. The client library shares one socket between the
   * tabs of an origin, so this is devices times apps: a few dozen is generous, and it bounds what
   * one fan-out pushes for one user.
   */
  socketsPerUser: 30,
  /** Tickets one user may be issued in a minute: a reconnect loop without backoff stops here. */
  ticketsPerMinute: 60,
} as const;

export type RealtimeLimits = { readonly [Name in keyof typeof REALTIME_LIMIT_DEFAULTS]: number };

/**
 * The frame budget of one socket: at most `frames` client frames in each fixed window of
 * `windowSeconds`. Each Lambda container counts in memory and adds its count to the connection's
 * row once every `syncEvery` frames (functions/realtime/frame-rate.ts).
 */
export const FRAME_RATE_LIMIT = { windowSeconds: 10, frames: 60, syncEvery: 10 } as const;
