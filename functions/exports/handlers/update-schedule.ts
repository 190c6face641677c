import { claimNamesFromEnv, exportStoreFromEnv, scheduleGatewayFromEnv } from '../../adapters/wiring';
import { callerFromClaims, type ClaimNames } from '../../shared/caller';
import { httpRoute, json, parseJsonBody, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import { updateScheduleBody } from '../model';
import { updateSchedule, type ScheduleWriteDeps } from '../service';
import { checkedAtRunOnly } from '../datasets';

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

// checkedAtRunOnly: this function does not read memberships or get exportRecords (lib/description.ts).
export const handler = makeHandler({ store: exportStoreFromEnv(), scheduler: scheduleGatewayFromEnv(), datasets: checkedAtRunOnly, claims: claimNamesFromEnv() });
