import { claimNamesFromEnv, exportStoreFromEnv } from '../../adapters/wiring';
import { callerFromClaims, type ClaimNames } from '../../shared/caller';
import { httpRoute, json, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import { getRun, runView, type ScheduleServiceDeps } from '../service';

export interface GetRunDeps extends ScheduleServiceDeps {
  readonly claims: ClaimNames;
}

/** `GET /exports/runs/{id}`: status, rows, bytes, times and error; 404 for anyone else's run. */
export function makeHandler(deps: GetRunDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const caller = callerFromClaims(event.requestContext.authorizer?.jwt?.claims, deps.claims);
      return json(200, runView(await getRun(deps, caller, event.pathParameters?.id ?? '')));
    }),
  );
}

export const handler = makeHandler({ store: exportStoreFromEnv(), claims: claimNamesFromEnv() });
