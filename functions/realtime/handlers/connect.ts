import { connectionsApiClient, documentClient } from '#functions/adapters/aws-clients';
import { connectionsApiGateway } from '#functions/adapters/connections-api';
import { dynamoConnectionStore } from '#functions/adapters/dynamo-connection-store';
import { positiveIntegerEnv, requireEnv } from '#functions/shared/config';
import { countMetric, instrument, logger } from '#functions/shared/instrumentation';
import type { WebSocketEvent, WebSocketResult } from '#functions/shared/websocket';
import { identityFromAuthorizerContext, newConnectionRecord, type ConnectionStore } from '../connections';
import { environment } from '#functions/shared/environment';
import { withinSocketCap, type ConnectCapDeps } from '../caps';

export interface ConnectDeps extends ConnectCapDeps {
  readonly connections: ConnectionStore;
  readonly connectionTtlSeconds: number;
  readonly now?: () => Date;
}

export function makeHandler(deps: ConnectDeps) {
  return instrument(async (event: WebSocketEvent): Promise<WebSocketResult> => {
    const identity = identityFromAuthorizerContext(event.requestContext.authorizer);
    if (!identity) {
      // Only reachable if the authorizer is detached from $connect; refuse rather than record an anonymous socket.
      logger.error('Connect without authorizer context', { connectionId: event.requestContext.connectionId });
      countMetric('ConnectionsRefused');
      return { statusCode: 403 };
    }
    const { connectionId } = event.requestContext;
    const now = deps.now?.() ?? new Date();
    const recorded = await deps.connections.save(newConnectionRecord(connectionId, identity, deps.connectionTtlSeconds, now));
    if (!(await withinSocketCap(deps, identity, connectionId, recorded, now))) {
      // Recorded first so that concurrent connects count each other; taken back out before refusing.
      await deps.connections.remove(connectionId, identity);
      logger.info('WebSocket refused: socket cap reached', { max: deps.limits.socketsPerUser });
      countMetric('ConnectionsOverCap');
      // $connect can answer with a status only; 429 tells it apart from a foreign origin's 403 and a bad ticket's 401.
      return { statusCode: 429 };
    }
    countMetric('ConnectionsOpened');
    return { statusCode: 200 };
  });
}

const { tables, settings } = environment;
const env = requireEnv([tables.connections, tables.userConnections, environment.connectionsEndpoint, settings.connectionTtlSeconds, settings.socketsPerUser]);
export const handler = makeHandler({
  connections: dynamoConnectionStore(documentClient(), { connections: env[tables.connections], userConnections: env[tables.userConnections] }),
  gateway: connectionsApiGateway(connectionsApiClient(env[environment.connectionsEndpoint])),
  connectionTtlSeconds: positiveIntegerEnv(settings.connectionTtlSeconds, env[settings.connectionTtlSeconds]),
  // Only the socket cap applies here: tickets were counted when they were issued.
  limits: { socketsPerUser: positiveIntegerEnv(settings.socketsPerUser, env[settings.socketsPerUser]) },
});
