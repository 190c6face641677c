import { claimNamesFromEnv, preferenceStoreFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import type { PreferencesBody } from '#functions/protocol/exports';
import { callerRoute, json } from '#functions/shared/http';
import { defaultPreferences, type PreferenceStore } from '../preferences';

export interface GetPreferencesDeps {
  readonly preferences: PreferenceStore;
  readonly claims: ClaimNames;
}

/** `GET /me/preferences`: the caller's own, or the defaults (everything on) when never set. */
export function makeHandler(deps: GetPreferencesDeps) {
  return callerRoute(deps.claims, async (caller) => {
    const stored = await deps.preferences.getMany([caller]);
    return json(200, (stored.values().next().value ?? defaultPreferences) satisfies PreferencesBody);
  });
}

export const handler = makeHandler({ preferences: preferenceStoreFromEnv(), claims: claimNamesFromEnv() });
