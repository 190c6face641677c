import { connectionsApiClient, documentClient } from '#functions/adapters/aws-clients';
import { connectionsApiGateway } from '#functions/adapters/connections-api';
import { dynamoUserConnections } from '#functions/adapters/dynamo-connection-store';
import { dynamoTicketStore } from '#functions/adapters/dynamo-ticket-store';
import type { ClaimNames } from '#functions/shared/caller';
import { positiveIntegerEnv, requireEnv } from '#functions/shared/config';
import { callerRoute, json } from '#functions/shared/http';
import { countMetric } from '#functions/shared/instrumentation';
import { issueTicket, type TicketStore } from '../tickets';
import { checkTicketCaps, type TicketCapDeps } from '../caps';
import type { Ticket } from '#functions/protocol/http';
import { environment } from '#functions/shared/environment';

export interface IssueTicketDeps extends TicketCapDeps {
  readonly tickets: TicketStore;
  readonly ticketTtlSeconds: number;
  readonly claims: ClaimNames;
  readonly webSocketUrl: string;
  readonly now?: () => Date;
}

export function makeHandler(deps: IssueTicketDeps) {
  return callerRoute(deps.claims, async (caller) => {
    const now = deps.now?.() ?? new Date();
    await checkTicketCaps(deps, caller, now);
    const issued = await issueTicket(deps.tickets, caller, deps.ticketTtlSeconds, now);
    countMetric('TicketsIssued');
    const url = new URL(deps.webSocketUrl);
    url.searchParams.set('ticket', issued.ticket);
    return json(200, { ticket: issued.ticket, expiresAt: issued.expiresAt.toISOString(), url: url.toString() } satisfies Ticket);
  });
}

const { tables, settings } = environment;
const env = requireEnv([
  tables.tickets,
  tables.userConnections,
  environment.connectionsEndpoint,
  settings.ticketTtlSeconds,
  settings.tenantClaim,
  settings.rolesClaim,
  settings.webSocketUrl,
  settings.socketsPerUser,
  settings.ticketsPerMinute,
]);
export const handler = makeHandler({
  tickets: dynamoTicketStore(documentClient(), env[tables.tickets]),
  connections: dynamoUserConnections(documentClient(), env[tables.userConnections]),
  gateway: connectionsApiGateway(connectionsApiClient(env[environment.connectionsEndpoint])),
  limits: {
    socketsPerUser: positiveIntegerEnv(settings.socketsPerUser, env[settings.socketsPerUser]),
    ticketsPerMinute: positiveIntegerEnv(settings.ticketsPerMinute, env[settings.ticketsPerMinute]),
  },
  ticketTtlSeconds: positiveIntegerEnv(settings.ticketTtlSeconds, env[settings.ticketTtlSeconds]),
  claims: { tenantClaim: env[settings.tenantClaim], rolesClaim: env[settings.rolesClaim] },
  webSocketUrl: env[settings.webSocketUrl],
});
