import { claimNamesFromEnv, notificationStoreFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseJsonBody } from '#functions/shared/http';
import { markReadBodySchema, type MarkReadResult } from '#functions/protocol/http';
import { epochSeconds, markRead } from '../inbox';
import type { NotificationStore } from '../store';

export interface ReadNotificationsDeps {
  readonly notifications: NotificationStore;
  readonly claims: ClaimNames;
  readonly now?: () => Date;
}

/** `POST /notifications/read {upTo} | {ids}`: marks the caller's own notifications read. */
export function makeHandler(deps: ReadNotificationsDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    await markRead(deps.notifications, caller, parseJsonBody(event, markReadBodySchema));
    const unread = await deps.notifications.countUnread(caller, epochSeconds(deps.now?.() ?? new Date()));
    return json(200, { unread } satisfies MarkReadResult);
  });
}

export const handler = makeHandler({ notifications: notificationStoreFromEnv(), claims: claimNamesFromEnv() });
