import { alertDeps, claimNamesFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, pathParameters } from '#functions/shared/http';
import { readAlert, type AlertDeps } from '../alerts';
import { alertPathSchema, alertView } from '../model';

export interface GetAlertDeps extends AlertDeps {
  readonly claims: ClaimNames;
}

/** `GET /alerts/{id}`: the alert, with its version as ETag for the next PATCH's If-Match. */
export function makeHandler(deps: GetAlertDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const alert = await readAlert(deps, caller, pathParameters(event, alertPathSchema).id);
    return json(200, alertView(alert), { etag: `"${alert.version}"` });
  });
}

export const handler = makeHandler({ ...alertDeps(), claims: claimNamesFromEnv() });
