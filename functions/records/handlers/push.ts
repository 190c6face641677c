import { claimNamesFromEnv, committingSyncDeps } from '#functions/adapters/wiring';
import { pushBodySchema } from '#functions/protocol/records';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseJsonBody, pathParameters } from '#functions/shared/http';
import { push, type SyncDeps } from '../sync';
import { scopePathSchema } from './paths';

export interface PushRecordsDeps extends SyncDeps {
  readonly claims: ClaimNames;
}

/** `POST /records/{scope}/push {deviceId, ops, pending?}`: one answer per op, all committed together or none. */
export function makeHandler(deps: PushRecordsDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const { scope } = pathParameters(event, scopePathSchema);
    const body = parseJsonBody(event, pushBodySchema);
    return json(200, await push(deps, caller, scope, body));
  });
}

export const handler = makeHandler({ ...committingSyncDeps(), claims: claimNamesFromEnv() });
