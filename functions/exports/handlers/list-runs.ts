import { claimNamesFromEnv, exportStoreFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseQuery, pathParameters } from '#functions/shared/http';
import * as z from '#functions/shared/validation';
import { getSchedule, runView, type ScheduleServiceDeps } from '../service';
import { exportPathSchema } from '../model';

export interface ListRunsDeps extends ScheduleServiceDeps {
  readonly claims: ClaimNames;
}

const query = z.strictObject({ limit: z.optional(z.string().check(z.regex(/^([1-9]|[1-9]\d|100)$/, 'must be 1-100'))) });

/** `GET /exports/schedules/{id}/runs?limit=`: the schedule's runs, newest first. */
export function makeHandler(deps: ListRunsDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const { limit } = parseQuery(event, query);
    const schedule = await getSchedule(deps, caller, pathParameters(event, exportPathSchema).id);
    const runs = await deps.store.listRuns(caller, schedule.id, limit === undefined ? 20 : Number(limit));
    return json(200, { items: runs.map(runView) });
  });
}

export const handler = makeHandler({ store: exportStoreFromEnv(), claims: claimNamesFromEnv() });
