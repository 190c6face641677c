import { claimNamesFromEnv, datasetChecksFromEnv, exportStoreFromEnv, scheduleGatewayFromEnv } from '../../adapters/wiring';
import { callerFromClaims, type ClaimNames } from '../../shared/caller';
import { httpRoute, json, parseJsonBody, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import { updateScheduleBody } from '../model';
import { updateSchedule, type ScheduleWriteDeps } from '../service';

export interface UpdateScheduleDeps extends ScheduleWriteDeps {
  readonly claims: ClaimNames;
}

/** `PATCH /exports/schedules/{id}`: changes the given fields; the dataset stays what it was. */
export function makeHandler(deps: UpdateScheduleDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const caller = callerFromClaims(event.requestContext.authorizer?.jwt?.claims, deps.claims);
      const body = parseJsonBody(event, updateScheduleBody);
      return json(200, await updateSchedule(deps, caller, event.pathParameters?.id ?? '', body));
    }),
  );
}

export const handler = makeHandler({ store: exportStoreFromEnv(), scheduler: scheduleGatewayFromEnv(), datasets: datasetChecksFromEnv(), claims: claimNamesFromEnv() });
