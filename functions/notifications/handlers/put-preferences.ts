import { claimNamesFromEnv, preferenceStoreFromEnv } from '../../adapters/wiring';
import { callerFromClaims, type ClaimNames } from '../../shared/caller';
import { httpRoute, json, parseJsonBody, type HttpEvent } from '../../shared/http';
import { instrument } from '../../shared/instrumentation';
import { preferencesSchema, type PreferenceStore } from '../preferences';

export interface PutPreferencesDeps {
  readonly preferences: PreferenceStore;
  readonly claims: ClaimNames;
}

/** `PUT /me/preferences`: replaces the caller's preferences as a whole. */
export function makeHandler(deps: PutPreferencesDeps) {
  return instrument(
    httpRoute(async (event: HttpEvent) => {
      const caller = callerFromClaims(event.requestContext.authorizer?.jwt?.claims, deps.claims);
      const preferences = parseJsonBody(event, preferencesSchema);
      await deps.preferences.put(caller, preferences);
      return json(200, preferences);
    }),
  );
}

export const handler = makeHandler({ preferences: preferenceStoreFromEnv(), claims: claimNamesFromEnv() });
