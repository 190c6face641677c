import { alertDeps, claimNamesFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseQuery } from '#functions/shared/http';
import { listAlerts, type AlertDeps } from '../alerts';
import { alertView, listAlertsQuerySchema } from '../model';

export interface ListAlertsDeps extends AlertDeps {
  readonly claims: ClaimNames;
}

/** `GET /alerts?topic=&status=&limit=&cursor=`: a topic's alerts, newest first, for its members. */
export function makeHandler(deps: ListAlertsDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const query = parseQuery(event, listAlertsQuerySchema);
    const page = await listAlerts(deps, caller, query);
    return json(200, { alerts: page.alerts.map(alertView), ...(page.cursor && { cursor: page.cursor }) });
  });
}

export const handler = makeHandler({ ...alertDeps(), claims: claimNamesFromEnv() });
