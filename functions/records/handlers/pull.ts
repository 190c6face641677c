import { claimNamesFromEnv, syncDeps } from '#functions/adapters/wiring';
import { pullQuerySchema } from '#functions/protocol/records';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseQuery, pathParameters } from '#functions/shared/http';
import { pull, type SyncDeps } from '../sync';
import { scopePathSchema } from './paths';

export interface PullRecordsDeps extends SyncDeps {
  readonly claims: ClaimNames;
}

/** `GET /records/{scope}/changes?after=&limit=&deviceId=`: records changed after the cursor, in seq order, or `reset`. */
export function makeHandler(deps: PullRecordsDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const { scope } = pathParameters(event, scopePathSchema);
    return json(200, await pull(deps, caller, scope, parseQuery(event, pullQuerySchema)));
  });
}

export const handler = makeHandler({ ...syncDeps(), claims: claimNamesFromEnv() });
