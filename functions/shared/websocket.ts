import type { APIGatewayProxyWebsocketEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ServerFrame } from '../protocol/frames';

/** A WebSocket route event; @types/aws-lambda leaves out the authorizer context API Gateway adds. */
export type WebSocketEvent = APIGatewayProxyWebsocketEventV2 & {
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & { authorizer?: Record<string, unknown> };
};

export type WebSocketResult = APIGatewayProxyStructuredResultV2;

/** On a route with a route response, API Gateway sends `body` back to the calling socket. */
export function frameResult(frame: ServerFrame): WebSocketResult {
  return { statusCode: 200, body: JSON.stringify(frame) };
}
