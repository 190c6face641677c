import { claimNamesFromEnv, exportRecordsFromEnv, exportStoreFromEnv, runQueueFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, pathParameters } from '#functions/shared/http';
import { runNow, type RunQueue, type ScheduleServiceDeps } from '../service';
import { exportPathSchema } from '../model';
import type { RecordsTable } from '../datasets';

export interface RunNowDeps extends ScheduleServiceDeps {
  readonly queue: RunQueue;
  readonly claims: ClaimNames;
  /** The records table, whose export needs a role (datasets.ts assertMayExport). */
  readonly records: RecordsTable | undefined;
}

/** `POST /exports/schedules/{id}/run`: `202 {runId}`, the same message a firing sends. */
export function makeHandler(deps: RunNowDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    return json(202, await runNow(deps, caller, pathParameters(event, exportPathSchema).id));
  });
}

export const handler = makeHandler({ store: exportStoreFromEnv(), queue: runQueueFromEnv(), claims: claimNamesFromEnv(), records: exportRecordsFromEnv() });
