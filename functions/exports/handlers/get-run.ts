import { claimNamesFromEnv, exportStoreFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, pathParameters } from '#functions/shared/http';
import { getRun, runView, type ScheduleServiceDeps } from '../service';
import { exportPathSchema } from '../model';

export interface GetRunDeps extends ScheduleServiceDeps {
  readonly claims: ClaimNames;
}

/** `GET /exports/runs/{id}`: status, rows, bytes, times and error; 404 for anyone else's run. */
export function makeHandler(deps: GetRunDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    return json(200, runView(await getRun(deps, caller, pathParameters(event, exportPathSchema).id)));
  });
}

export const handler = makeHandler({ store: exportStoreFromEnv(), claims: claimNamesFromEnv() });
