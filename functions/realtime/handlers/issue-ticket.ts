import { documentClient } from '#functions/adapters/aws-clients';
import { dynamoTicketStore } from '#functions/adapters/dynamo-ticket-store';
import type { ClaimNames } from '#functions/shared/caller';
import { positiveIntegerEnv, requireEnv } from '#functions/shared/config';
import { callerRoute, json } from '#functions/shared/http';
import { countMetric } from '#functions/shared/instrumentation';
import { issueTicket, type TicketStore } from '../tickets';
import type { Ticket } from '#functions/protocol/http';
import { environment } from '#functions/shared/environment';

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

const { tables, settings } = environment;
const env = requireEnv([tables.tickets, settings.ticketTtlSeconds, settings.tenantClaim, settings.rolesClaim, settings.webSocketUrl]);
export const handler = makeHandler({
  tickets: dynamoTicketStore(documentClient(), env[tables.tickets]),
  ticketTtlSeconds: positiveIntegerEnv(settings.ticketTtlSeconds, env[settings.ticketTtlSeconds]),
  claims: { tenantClaim: env[settings.tenantClaim], rolesClaim: env[settings.rolesClaim] },
  webSocketUrl: env[settings.webSocketUrl],
});
