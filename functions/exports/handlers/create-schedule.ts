import { claimNamesFromEnv, scheduleWriteDepsFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseJsonBody } from '#functions/shared/http';
import { createScheduleBody } from '../model';
import { createSchedule, type ScheduleWriteDeps } from '../service';

export interface CreateScheduleDeps extends ScheduleWriteDeps {
  readonly claims: ClaimNames;
}

/** `POST /exports/schedules`: `201` with the schedule, its expression and `nextRunAt`. */
export function makeHandler(deps: CreateScheduleDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const body = parseJsonBody(event, createScheduleBody);
    return json(201, await createSchedule(deps, caller, body));
  });
}

export const handler = makeHandler({ ...scheduleWriteDepsFromEnv(), claims: claimNamesFromEnv() });
