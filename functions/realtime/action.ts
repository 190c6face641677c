import { countMetric, instrument, logger } from '../shared/instrumentation';
import type * as z from '../shared/validation';
import { frameResult, type WebSocketEvent, type WebSocketResult } from '../shared/websocket';
import { identityFromAuthorizerContext, type ConnectionIdentity, type ConnectionStore } from './connections';
import type { ServerFrame } from '../protocol/frames';
import { errorFrame, parseFrame } from './frames';
import type { ConnectionGateway } from './push';
import { FrameMeter } from './frame-rate';
import { FRAME_RATE_LIMIT } from './limits';

/**
 * Per-connection frame budget (docs/protocol.md: size and rate are bounded). API Gateway throttles
 * per stage only, so one noisy socket could otherwise spend everyone's budget. A client acks and
 * pages at a few frames a second at most. Defined in limits.ts; exported here, where it is enforced.
 */
export { FRAME_RATE_LIMIT } from './limits';

export interface ActionDeps {
  readonly connections: ConnectionStore;
  readonly gateway: ConnectionGateway;
  readonly now?: () => Date;
  /**
   * The container's frame counts. @default one per handler, made when the handler is: a Lambda
   * container runs one handler, so that is one per container.
   */
  readonly frameMeter?: FrameMeter;
}

/** The deps' own meter, or a new one over their connection store. */
export function frameMeterOf(deps: ActionDeps): FrameMeter {
  return deps.frameMeter ?? new FrameMeter(deps.connections);
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
  const meter = frameMeterOf(deps);
  return instrument(async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const { connectionId } = event.requestContext;
    const now = deps.now?.() ?? new Date();
    if (await overFrameRate(deps, meter, connectionId, now)) return { statusCode: 429 };
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
 * Counts a frame against its connection's budget (in memory, written to the row only now and
 * then: functions/realtime/frame-rate.ts). Over budget, the socket gets a `rate_limited`
 * frame (posted: a route response would arrive after the close) and is closed.
 */
export async function overFrameRate(deps: ActionDeps, meter: FrameMeter, connectionId: string, now: Date): Promise<boolean> {
  if ((await meter.count(connectionId, now)) === 'allowed') return false;
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
