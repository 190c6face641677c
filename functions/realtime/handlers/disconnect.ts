import { documentClient } from '../../adapters/aws-clients';
import { dynamoConnectionStore } from '../../adapters/dynamo-connection-store';
import { requireEnv } from '../../shared/config';
import { countMetric, instrument } from '../../shared/instrumentation';
import type { WebSocketEvent, WebSocketResult } from '../../shared/websocket';
import type { ConnectionStore } from '../connections';

export interface DisconnectDeps {
  readonly connections: ConnectionStore;
}

export function makeHandler(deps: DisconnectDeps) {
  return instrument(async (event: WebSocketEvent): Promise<WebSocketResult> => {
    await deps.connections.remove(event.requestContext.connectionId);
    countMetric('ConnectionsClosed');
    return { statusCode: 200 };
  });
}

const env = requireEnv(['CONNECTIONS_TABLE']);
export const handler = makeHandler({ connections: dynamoConnectionStore(documentClient(), env.CONNECTIONS_TABLE) });
