import { countMetric, instrument, logger } from '../shared/instrumentation';
import type * as z from '../shared/validation';
import { frameResult, type WebSocketEvent, type WebSocketResult } from '../shared/websocket';
import { identityFromAuthorizerContext, type ConnectionIdentity, type ConnectionStore } from './connections';
import type { ServerFrame } from '../protocol/frames';
import { errorFrame, parseFrame } from './frames';
import type { ConnectionGateway } from './push';

/**
 * Per-connection frame budget (docs/protocol.md: size and rate are bounded). API Gateway throttles
 * per stage only, so one noisy socket could otherwise spend everyone's budget. A client acks and
 * pages at a few frames a second at most.
 */
export const FRAME_RATE_LIMIT = { windowSeconds: 10, frames: 60 } as const;

export interface ActionDeps {
  readonly connections: ConnectionStore;
  readonly gateway: ConnectionGateway;
  readonly now?: () => Date;
}

export interface ActionContext {
  readonly identity: ConnectionIdentity;
  readonly connectionId: string;
  readonly now: Date;
}

/**
 * The one shape of every client-frame route: count the frame against the connection's rate,
 * validate it, then run the action. The reply (if any) goes back as the route response; a socket
 * over its rate gets an error frame and is closed, and no other socket is affected.
 */
export function websocketAction<Schema extends z.ZodMiniType>(
  schema: Schema,
  deps: ActionDeps,
  run: (frame: z.infer<Schema>, context: ActionContext) => Promise<ServerFrame | undefined>,
) {
  return instrument(async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { connectionId } = event.requestContext;
    const now = deps.now?.() ?? new Date();
    if (await overFrameRate(deps, connectionId, now)) return { statusCode: 429 };
    const parsed = parseFrame(event.body, schema);
    if (!parsed.ok) {
      countMetric('FramesRejected');
      return frameResult(parsed.error);
    }
    const id = (parsed.frame as { id?: string }).id;
    const identity = identityFromAuthorizerContext(event.requestContext.authorizer);
    if (!identity) {
      logger.error('Frame without authorizer context', { connectionId });
      return frameResult(errorFrame('forbidden', 'Connection has no identity', id));
    }
    try {
      const reply = await run(parsed.frame, { identity, connectionId, now });
      return reply ? frameResult(reply) : { statusCode: 200 };
    } catch (error) {
      logger.error('Action failed', { connectionId, error: error as Error });
      return frameResult(errorFrame('internal', 'Internal error; retry', id));
    }
  });
}

/**
 * Counts a frame against its connection's budget. Over budget, the socket gets a `rate_limited`
 * frame (posted: a route response would arrive after the close) and is closed.
 */
export async function overFrameRate(deps: ActionDeps, connectionId: string, now: Date): Promise<boolean> {
  const windowStart = Math.floor(now.getTime() / 1000 / FRAME_RATE_LIMIT.windowSeconds) * FRAME_RATE_LIMIT.windowSeconds;
  if ((await deps.connections.countFrame(connectionId, windowStart, FRAME_RATE_LIMIT.frames)) === 'allowed') return false;
  countMetric('FramesRateLimited');
  const message = `More than ${FRAME_RATE_LIMIT.frames} frames in ${FRAME_RATE_LIMIT.windowSeconds} s; reconnect and slow down`;
  await deps.gateway.post(connectionId, JSON.stringify(errorFrame('rate_limited', message))).catch(() => 'gone');
  await deps.gateway.close(connectionId);
  return true;
}

/** Adds the frame's correlation id to a reply when it had one. */
export function withId<Frame extends ServerFrame>(frame: Frame, id: string | undefined): Frame {
  return id === undefined ? frame : { ...frame, id };
}
