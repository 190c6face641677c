import { claimNamesFromEnv, exportStoreFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, pathParameters } from '#functions/shared/http';
import { getSchedule, scheduleView, type ScheduleServiceDeps } from '../service';
import { exportPathSchema } from '../model';

export interface GetScheduleDeps extends ScheduleServiceDeps {
  readonly claims: ClaimNames;
}

/** `GET /exports/schedules/{id}`: the schedule with `lastRun` and `nextRunAt`; 404 for anyone else's. */
export function makeHandler(deps: GetScheduleDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const schedule = await getSchedule(deps, caller, pathParameters(event, exportPathSchema).id);
    return json(200, scheduleView(schedule, deps.now?.() ?? new Date()));
  });
}

export const handler = makeHandler({ store: exportStoreFromEnv(), claims: claimNamesFromEnv() });
