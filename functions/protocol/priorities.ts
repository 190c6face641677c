/** How urgent a notification is; `critical` passes a mute and may go by email too. */
export const priorities = ['normal', 'high', 'critical'] as const;
export type Priority = (typeof priorities)[number];
