import { claimNamesFromEnv, exportStoreFromEnv } from '../../adapters/wiring';
import type { ClaimNames } from '../../shared/caller';
import { callerRoute, json } from '../../shared/http';
import { getRun, runView, type ScheduleServiceDeps } from '../service';

export interface GetRunDeps extends ScheduleServiceDeps {
  readonly claims: ClaimNames;
}

/** `GET /exports/runs/{id}`: status, rows, bytes, times and error; 404 for anyone else's run. */
export function makeHandler(deps: GetRunDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    return json(200, runView(await getRun(deps, caller, event.pathParameters?.id ?? '')));
  });
}

export const handler = makeHandler({ store: exportStoreFromEnv(), claims: claimNamesFromEnv() });
