import { emailAddressSchema } from '../shared/email';
import * as z from '../shared/validation';
import { kindSchema, type Priority, type Recipient } from './model';

/**
 * A user's notification preferences: per kind, whether it is stored and pushed (`inApp`) and
 * whether sources that email may email it (`email`). `muted` pauses everything but critical.
 */
export interface Preferences {
  readonly kinds: Readonly<Record<string, ChannelPreference>>;
  readonly muted: boolean;
  /** Where notifications that go by email too (critical alerts) are sent; none, none sent. */
  readonly email?: string;
}

export interface ChannelPreference {
  readonly inApp?: boolean;
  readonly email?: boolean;
}

export const MAX_PREFERENCE_KINDS = 100;

export const preferencesSchema = z.strictObject({
  kinds: z._default(
    z.record(kindSchema, z.strictObject({ inApp: z.optional(z.boolean()), email: z.optional(z.boolean()) })).check(
      z.refine((kinds) => Object.keys(kinds).length <= MAX_PREFERENCE_KINDS, {
        message: `at most ${MAX_PREFERENCE_KINDS} kinds`,
      }),
    ),
    {},
  ),
  muted: z._default(z.boolean(), false),
  email: z.optional(emailAddressSchema),
});

export const defaultPreferences: Preferences = { kinds: {}, muted: false };

export interface PreferenceStore {
  /** One batched read for many users; users without preferences are absent from the map. */
  getMany(recipients: readonly Recipient[]): Promise<Map<string, Preferences>>;
  put(recipient: Recipient, preferences: Preferences): Promise<void>;
}

/**
 * The channels a notification of `kind` and `priority` may use. Critical notifications get
 * through a mute: field crews silence chatter, not the alert that a site is unsafe. An explicit
 * per-kind `inApp: false` still wins, because the user turned that kind off on purpose.
 */
export function channelsFor(preferences: Preferences | undefined, kind: string, priority: Priority): { inApp: boolean; email: boolean } {
  const prefs = preferences ?? defaultPreferences;
  const perKind = prefs.kinds[kind] ?? {};
  const pausedByMute = prefs.muted && priority !== 'critical';
  const inApp = (perKind.inApp ?? true) && !pausedByMute;
  return { inApp, email: (perKind.email ?? true) && !pausedByMute };
}
