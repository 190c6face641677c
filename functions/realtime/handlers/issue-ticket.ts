import { documentClient } from '#functions/adapters/aws-clients';
import { dynamoTicketStore } from '#functions/adapters/dynamo-ticket-store';
import type { ClaimNames } from '#functions/shared/caller';
import { positiveIntegerEnv, requireEnv } from '#functions/shared/config';
import { callerRoute, json } from '#functions/shared/http';
import { countMetric } from '#functions/shared/instrumentation';
import { issueTicket, type TicketStore } from '../tickets';
import type { Ticket } from '#functions/protocol/http';

export interface IssueTicketDeps {
  readonly tickets: TicketStore;
  readonly ticketTtlSeconds: number;
  readonly claims: ClaimNames;
  readonly webSocketUrl: string;
  readonly now?: () => Date;
}

export function makeHandler(deps: IssueTicketDeps) {
  return callerRoute(deps.claims, async (caller) => {
    const issued = await issueTicket(deps.tickets, caller, deps.ticketTtlSeconds, deps.now?.());
    countMetric('TicketsIssued');
    const url = new URL(deps.webSocketUrl);
    url.searchParams.set('ticket', issued.ticket);
    return json(200, { ticket: issued.ticket, expiresAt: issued.expiresAt.toISOString(), url: url.toString() } satisfies Ticket);
  });
}

const env = requireEnv(['TICKETS_TABLE', 'TICKET_TTL_SECONDS', 'TENANT_CLAIM', 'ROLES_CLAIM', 'WEBSOCKET_URL']);
export const handler = makeHandler({
  tickets: dynamoTicketStore(documentClient(), env.TICKETS_TABLE),
  ticketTtlSeconds: positiveIntegerEnv('TICKET_TTL_SECONDS', env.TICKET_TTL_SECONDS),
  claims: { tenantClaim: env.TENANT_CLAIM, rolesClaim: env.ROLES_CLAIM },
  webSocketUrl: env.WEBSOCKET_URL,
});
