import { claimNamesFromEnv, committingSyncDeps } from '#functions/adapters/wiring';
import { resolveBodySchema } from '#functions/protocol/records';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseJsonBody, pathParameters } from '#functions/shared/http';
import { resolveConflict, type SyncDeps } from '../sync';
import { recordPathSchema } from './paths';

export interface ResolveConflictDeps extends SyncDeps {
  readonly claims: ClaimNames;
}

/** `POST /records/{scope}/{collection}/{id}/resolve {field, base, choose, opId?|value?}`: the resolution is a new version. */
export function makeHandler(deps: ResolveConflictDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const { scope, collection, id } = pathParameters(event, recordPathSchema);
    const body = parseJsonBody(event, resolveBodySchema);
    return json(200, { record: await resolveConflict(deps, caller, scope, collection, id, body) });
  });
}

export const handler = makeHandler({ ...committingSyncDeps(), claims: claimNamesFromEnv() });
