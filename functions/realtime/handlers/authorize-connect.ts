import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { documentClient } from '#functions/adapters/aws-clients';
import { dynamoTicketStore } from '#functions/adapters/dynamo-ticket-store';
import { requireEnv, stringListEnv } from '#functions/shared/config';
import { countMetric, instrument, logger } from '#functions/shared/instrumentation';
import { identityToAuthorizerContext } from '../connections';
import { recipientKey } from '#functions/notifications/model';
import { redeemTicket, type TicketStore } from '../tickets';
import { environment } from '#functions/shared/environment';

export interface AuthorizeConnectDeps {
  readonly tickets: TicketStore;
  /** Exact origins a browser may connect from. A request without Origin is not a browser. */
  readonly allowedOrigins: readonly string[];
  readonly now?: () => Date;
}

export function makeHandler(deps: AuthorizeConnectDeps) {
  return instrument(async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const origin = headerValue(event.headers, 'origin');
    // Checked before the ticket, so a page on a foreign origin cannot burn a user's ticket.
    if (origin !== undefined && !deps.allowedOrigins.includes(origin)) {
      logger.warn('WebSocket refused: origin not allowed', { origin });
      countMetric('WebSocketOriginRefused');
      return policy('Deny', event.methodArn, 'origin-refused');
    }
    const grant = await redeemTicket(deps.tickets, event.queryStringParameters?.ticket, deps.now?.());
    if (!grant) {
      logger.info('WebSocket refused: missing, expired, used or unknown ticket');
      countMetric('WebSocketTicketRefused');
      // API Gateway answers 401 for exactly this message.
      throw new Error('Unauthorized');
    }
    countMetric('WebSocketAuthorized');
    return policy('Allow', event.methodArn, recipientKey(grant), identityToAuthorizerContext(grant));
  });
}

function headerValue(headers: Record<string, string | undefined> | null, name: string): string | undefined {
  for (const [key, value] of Object.entries(headers ?? {})) {
    if (key.toLowerCase() === name) return value;
  }
  return undefined;
}

function policy(effect: 'Allow' | 'Deny', resource: string, principalId: string, context?: Record<string, string>): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
    ...(context ? { context } : {}),
  };
}

const { tables, settings } = environment;
const env = requireEnv([tables.tickets, settings.allowedOrigins]);
export const handler = makeHandler({
  tickets: dynamoTicketStore(documentClient(), env[tables.tickets]),
  allowedOrigins: stringListEnv(settings.allowedOrigins, env[settings.allowedOrigins]),
});
