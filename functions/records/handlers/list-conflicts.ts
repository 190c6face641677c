import { claimNamesFromEnv, syncDeps } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, pathParameters } from '#functions/shared/http';
import { listConflicts, type SyncDeps } from '../sync';
import { scopePathSchema } from './paths';

export interface ListConflictsDeps extends SyncDeps {
  readonly claims: ClaimNames;
}

/** `GET /records/{scope}/conflicts`: the scope's open manual conflicts, for a person to resolve. */
export function makeHandler(deps: ListConflictsDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const { scope } = pathParameters(event, scopePathSchema);
    return json(200, await listConflicts(deps, caller, scope));
  });
}

export const handler = makeHandler({ ...syncDeps(), claims: claimNamesFromEnv() });
