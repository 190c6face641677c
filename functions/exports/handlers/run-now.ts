import { claimNamesFromEnv, exportStoreFromEnv, runQueueFromEnv } from '../../adapters/wiring';
import { callerFromClaims, type ClaimNames } from '../../shared/caller';
import { httpRoute, json, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import { runNow, type RunQueue, type ScheduleServiceDeps } from '../service';

export interface RunNowDeps extends ScheduleServiceDeps {
  readonly queue: RunQueue;
  readonly claims: ClaimNames;
}

/** `POST /exports/schedules/{id}/run`: `202 {runId}`, the same message a firing sends. */
export function makeHandler(deps: RunNowDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const caller = callerFromClaims(event.requestContext.authorizer?.jwt?.claims, deps.claims);
      return json(202, await runNow(deps, caller, event.pathParameters?.id ?? ''));
    }),
  );
}

export const handler = makeHandler({ store: exportStoreFromEnv(), queue: runQueueFromEnv(), claims: claimNamesFromEnv() });
