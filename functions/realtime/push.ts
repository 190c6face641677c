import type { Recipient } from '../notifications/model';
import { logger } from '../shared/instrumentation';
import type { ConnectionStore } from './connections';
import type { ServerFrame } from '../protocol/frames';

/**
 * The @connections API. `gone` means the socket no longer exists (410); `throttled` means API
 * Gateway refused for rate (429) and a later try may succeed.
 */
export interface ConnectionGateway {
  post(connectionId: string, data: string): Promise<'sent' | 'gone' | 'throttled'>;
  close(connectionId: string): Promise<void>;
  /** Whether API Gateway still has the connection open (GET @connections/{id}); false once it is gone (410). */
  isOpen(connectionId: string): Promise<boolean>;
}

export interface PushTarget {
  readonly connectionId: string;
  readonly owner: Recipient;
}

export interface PushDeps {
  readonly gateway: ConnectionGateway;
  readonly connections: ConnectionStore;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Throttled posts are retried this many times; after that the frame waits for the client's resume. */
const PUSH_THROTTLE_RETRIES = 3;

/**
 * How long after its $connect began a socket may still be unopened. A socket is in its user's set
 * from the moment its $connect writes it there, but API Gateway answers 410 to posts until the
 * $connect has returned (up to its 10-second timeout, after the authorizer). A 410 within this
 * window does not prune: the socket may be about to open, and pruning it would hide it from every
 * later push while its resume has already read the store (docs/protocol.md, "Reconnects and the
 * $connect window"). A socket that really is gone that young is pruned by a later push, or by its
 * $disconnect.
 */
export const CONNECT_WINDOW_MS = 60_000;

export type PushOutcome = 'sent' | 'gone' | 'failed';

/**
 * Posts frames to one socket in order. A 410 prunes the connection by its own key and drops the
 * id from its owner's set, so later pushes stop paying for it (unless it connected within
 * CONNECT_WINDOW_MS); throttling gets a bounded, jittered retry. Nothing is lost when a push
 * fails: every notification is already persisted, and the client's resume replays it.
 */
export async function pushFrames(deps: PushDeps, target: PushTarget, frames: readonly ServerFrame[]): Promise<PushOutcome> {
  const sleep = deps.sleep ?? defaultSleep;
  for (const frame of frames) {
    const data = JSON.stringify(frame);
    let outcome: 'sent' | 'gone' | 'throttled' | 'failed' = 'throttled';
    for (let attempt = 0; attempt <= PUSH_THROTTLE_RETRIES && outcome === 'throttled'; attempt++) {
      if (attempt > 0) await sleep(Math.random() * 50 * 2 ** attempt);
      try {
        outcome = await deps.gateway.post(target.connectionId, data);
      } catch (error) {
        logger.warn('Push failed', { connectionId: target.connectionId, error: error as Error });
        outcome = 'failed';
      }
    }
    if (outcome === 'gone') {
      await deps.connections.prune(target.connectionId, target.owner, new Date(Date.now() - CONNECT_WINDOW_MS));
      return 'gone';
    }
    if (outcome !== 'sent') return 'failed';
  }
  return 'sent';
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
