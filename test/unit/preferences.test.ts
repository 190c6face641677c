import { describe, expect, it } from 'vitest';
import { channelsFor, preferencesSchema } from '#functions/notifications/preferences';

describe('channelsFor', () => {
  it('turns every channel on for a user who never set preferences', () => {
    expect(channelsFor(undefined, 'note', 'normal')).toEqual({ inApp: true, email: true });
  });

  it('applies per-kind switches independently', () => {
    const preferences = { kinds: { chat: { inApp: false }, digest: { email: false } }, muted: false };
    expect(channelsFor(preferences, 'chat', 'normal')).toEqual({ inApp: false, email: true });
    expect(channelsFor(preferences, 'digest', 'normal')).toEqual({ inApp: true, email: false });
    expect(channelsFor(preferences, 'other', 'normal')).toEqual({ inApp: true, email: true });
  });

  it('lets only critical notifications through a mute, and never a kind switched off', () => {
    const preferences = { kinds: { chat: { inApp: false } }, muted: true };
    expect(channelsFor(preferences, 'note', 'high')).toEqual({ inApp: false, email: false });
    expect(channelsFor(preferences, 'note', 'critical')).toEqual({ inApp: true, email: true });
    expect(channelsFor(preferences, 'chat', 'critical').inApp).toBe(false);
  });
});

describe('preferencesSchema', () => {
  it('fills defaults and refuses unknown channels and bad kinds, naming the path', () => {
    expect(preferencesSchema.parse({})).toEqual({ kinds: {}, muted: false });
    const unknownChannel = preferencesSchema.safeParse({ kinds: { chat: { push: true } } });
    expect(unknownChannel.success).toBe(false);
    expect(preferencesSchema.safeParse({ kinds: { 'bad kind!': { inApp: true } } }).success).toBe(false);
    const tooMany = Object.fromEntries(Array.from({ length: 101 }, (_, index) => [`k${index}`, { inApp: false }]));
    expect(preferencesSchema.safeParse({ kinds: tooMany }).success).toBe(false);
  });
});
