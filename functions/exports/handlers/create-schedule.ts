import { claimNamesFromEnv, datasetChecksFromEnv, exportStoreFromEnv, scheduleGatewayFromEnv } from '../../adapters/wiring';
import { callerFromClaims, type ClaimNames } from '../../shared/caller';
import { httpRoute, json, parseJsonBody, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import { createScheduleBody } from '../model';
import { createSchedule, type ScheduleWriteDeps } from '../service';

export interface CreateScheduleDeps extends ScheduleWriteDeps {
  readonly claims: ClaimNames;
}

/** `POST /exports/schedules`: `201` with the schedule, its expression and `nextRunAt`. */
export function makeHandler(deps: CreateScheduleDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const caller = callerFromClaims(event.requestContext.authorizer?.jwt?.claims, deps.claims);
      const body = parseJsonBody(event, createScheduleBody);
      return json(201, await createSchedule(deps, caller, body));
    }),
  );
}

export const handler = makeHandler({ store: exportStoreFromEnv(), scheduler: scheduleGatewayFromEnv(), datasets: datasetChecksFromEnv(), claims: claimNamesFromEnv() });
