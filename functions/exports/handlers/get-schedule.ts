import { claimNamesFromEnv, exportStoreFromEnv } from '../../adapters/wiring';
import { callerFromClaims, type ClaimNames } from '../../shared/caller';
import { httpRoute, json, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import { getSchedule, scheduleView, type ScheduleServiceDeps } from '../service';

export interface GetScheduleDeps extends ScheduleServiceDeps {
  readonly claims: ClaimNames;
}

/** `GET /exports/schedules/{id}`: the schedule with `lastRun` and `nextRunAt`; 404 for anyone else's. */
export function makeHandler(deps: GetScheduleDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const caller = callerFromClaims(event.requestContext.authorizer?.jwt?.claims, deps.claims);
      const schedule = await getSchedule(deps, caller, event.pathParameters?.id ?? '');
      return json(200, scheduleView(schedule, deps.now?.() ?? new Date()));
    }),
  );
}

export const handler = makeHandler({ store: exportStoreFromEnv(), claims: claimNamesFromEnv() });
