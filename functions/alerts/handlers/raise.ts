import { alertStoreFromEnv, claimNamesFromEnv } from '#functions/adapters/wiring';
import { requireRole, type ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseJsonBody } from '#functions/shared/http';
import { raiseAlert, type AlertDeps } from '../alerts';
import { alertView, raiseAlertSchema } from '../model';

export interface RaiseAlertDeps extends Omit<AlertDeps, 'memberships'> {
  readonly claims: ClaimNames;
}

/** `POST /alerts` (role publisher): `201` with a new alert, `200` with the one already open for the rule and subject. */
export function makeHandler(deps: RaiseAlertDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    requireRole(caller, 'publisher');
    const input = parseJsonBody(event, raiseAlertSchema);
    const { created, alert } = await raiseAlert(deps, caller, input);
    return json(created ? 201 : 200, alertView(alert), { etag: `"${alert.version}"` });
  });
}

export const handler = makeHandler({ alerts: alertStoreFromEnv(), claims: claimNamesFromEnv() });
