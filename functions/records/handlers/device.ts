import { claimNamesFromEnv, syncDeps } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, pathParameters } from '#functions/shared/http';
import { deviceStatus, type SyncDeps } from '../sync';
import { devicePathSchema } from './paths';

export interface DeviceStatusDeps extends SyncDeps {
  readonly claims: ClaimNames;
}

/** `GET /records/{scope}/devices/{deviceId}`: the caller's device's last pull and push, its pending ops and the scope's open conflicts. */
export function makeHandler(deps: DeviceStatusDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const { scope, deviceId } = pathParameters(event, devicePathSchema);
    return json(200, await deviceStatus(deps, caller, scope, deviceId));
  });
}

export const handler = makeHandler({ ...syncDeps(), claims: claimNamesFromEnv() });
