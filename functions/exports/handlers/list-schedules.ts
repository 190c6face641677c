import { claimNamesFromEnv, exportStoreFromEnv } from '../../adapters/wiring';
import { callerFromClaims, type ClaimNames } from '../../shared/caller';
import { httpRoute, json, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import { scheduleView, type ScheduleServiceDeps } from '../service';

export interface ListSchedulesDeps extends ScheduleServiceDeps {
  readonly claims: ClaimNames;
}

/** `GET /exports/schedules`: the caller's schedules (one Query of their item collection). */
export function makeHandler(deps: ListSchedulesDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const caller = callerFromClaims(event.requestContext.authorizer?.jwt?.claims, deps.claims);
      const now = deps.now?.() ?? new Date();
      const items = (await deps.store.listSchedules(caller)).map((schedule) => scheduleView(schedule, now));
      return json(200, { items });
    }),
  );
}

export const handler = makeHandler({ store: exportStoreFromEnv(), claims: claimNamesFromEnv() });
