import { claimNamesFromEnv, preferenceStoreFromEnv } from '../../adapters/wiring';
import { callerFromClaims, type ClaimNames } from '../../shared/caller';
import { httpRoute, json, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import { defaultPreferences, type PreferenceStore } from '../preferences';

export interface GetPreferencesDeps {
  readonly preferences: PreferenceStore;
  readonly claims: ClaimNames;
}

/** `GET /me/preferences`: the caller's own, or the defaults (everything on) when never set. */
export function makeHandler(deps: GetPreferencesDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const caller = callerFromClaims(event.requestContext.authorizer?.jwt?.claims, deps.claims);
      const stored = await deps.preferences.getMany([caller]);
      return json(200, stored.values().next().value ?? defaultPreferences);
    }),
  );
}

export const handler = makeHandler({ preferences: preferenceStoreFromEnv(), claims: claimNamesFromEnv() });
