import { claimNamesFromEnv, scheduleWriteDepsFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseJsonBody, pathParameters } from '#functions/shared/http';
import { updateScheduleBody, exportPathSchema } from '../model';
import { updateSchedule, type ScheduleWriteDeps } from '../service';

export interface UpdateScheduleDeps extends ScheduleWriteDeps {
  readonly claims: ClaimNames;
}

/** `PATCH /exports/schedules/{id}`: changes the given fields; the dataset stays what it was. */
export function makeHandler(deps: UpdateScheduleDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const body = parseJsonBody(event, updateScheduleBody);
    return json(200, await updateSchedule(deps, caller, pathParameters(event, exportPathSchema).id, body));
  });
}

export const handler = makeHandler({ ...scheduleWriteDepsFromEnv(), claims: claimNamesFromEnv() });
