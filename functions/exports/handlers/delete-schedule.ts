import { claimNamesFromEnv, exportStoreFromEnv, scheduleGatewayFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, pathParameters } from '#functions/shared/http';
import { deleteSchedule, type ScheduleGateway, type ScheduleServiceDeps } from '../service';
import { exportPathSchema } from '../model';

export interface DeleteScheduleDeps extends ScheduleServiceDeps {
  readonly scheduler: ScheduleGateway;
  readonly claims: ClaimNames;
}

/** `DELETE /exports/schedules/{id}`: `204`; its run history stays readable until it expires. */
export function makeHandler(deps: DeleteScheduleDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    await deleteSchedule(deps, caller, pathParameters(event, exportPathSchema).id);
    return { statusCode: 204, headers: { 'cache-control': 'no-store' } };
  });
}

export const handler = makeHandler({ store: exportStoreFromEnv(), scheduler: scheduleGatewayFromEnv(), claims: claimNamesFromEnv() });
