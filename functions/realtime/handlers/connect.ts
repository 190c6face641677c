import { documentClient } from '#functions/adapters/aws-clients';
import { dynamoConnectionStore } from '#functions/adapters/dynamo-connection-store';
import { positiveIntegerEnv, requireEnv } from '#functions/shared/config';
import { countMetric, instrument, logger } from '#functions/shared/instrumentation';
import type { WebSocketEvent, WebSocketResult } from '#functions/shared/websocket';
import { identityFromAuthorizerContext, newConnectionRecord, type ConnectionStore } from '../connections';
import { environment } from '#functions/shared/environment';

export interface ConnectDeps {
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
    await deps.connections.save(newConnectionRecord(event.requestContext.connectionId, identity, deps.connectionTtlSeconds, deps.now?.()));
    countMetric('ConnectionsOpened');
    return { statusCode: 200 };
  });
}

const { tables, settings } = environment;
const env = requireEnv([tables.connections, tables.userConnections, settings.connectionTtlSeconds]);
export const handler = makeHandler({
  connections: dynamoConnectionStore(documentClient(), { connections: env[tables.connections], userConnections: env[tables.userConnections] }),
  connectionTtlSeconds: positiveIntegerEnv(settings.connectionTtlSeconds, env[settings.connectionTtlSeconds]),
});
