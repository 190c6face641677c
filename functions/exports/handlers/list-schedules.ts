import { claimNamesFromEnv, exportStoreFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json } from '#functions/shared/http';
import { scheduleView, type ScheduleServiceDeps } from '../service';

export interface ListSchedulesDeps extends ScheduleServiceDeps {
  readonly claims: ClaimNames;
}

/** `GET /exports/schedules`: the caller's schedules (one Query of their item collection). */
export function makeHandler(deps: ListSchedulesDeps) {
  return callerRoute(deps.claims, async (caller) => {
    const now = deps.now?.() ?? new Date();
    const items = (await deps.store.listSchedules(caller)).map((schedule) => scheduleView(schedule, now));
    return json(200, { items });
  });
}

export const handler = makeHandler({ store: exportStoreFromEnv(), claims: claimNamesFromEnv() });
