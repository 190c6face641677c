import { claimNamesFromEnv, preferenceStoreFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseJsonBody } from '#functions/shared/http';
import { preferencesSchema, type PreferenceStore } from '../preferences';

export interface PutPreferencesDeps {
  readonly preferences: PreferenceStore;
  readonly claims: ClaimNames;
}

/** `PUT /me/preferences`: replaces the caller's preferences as a whole. */
export function makeHandler(deps: PutPreferencesDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const preferences = parseJsonBody(event, preferencesSchema);
    await deps.preferences.put(caller, preferences);
    return json(200, preferences);
  });
}

export const handler = makeHandler({ preferences: preferenceStoreFromEnv(), claims: claimNamesFromEnv() });
