import { claimNamesFromEnv, notificationStoreFromEnv } from '../../adapters/wiring';
import type { ClaimNames } from '../../shared/caller';
import { callerRoute, json, parseJsonBody } from '../../shared/http';
import * as z from '../../shared/validation';
import { epochSeconds, markRead, MAX_READ_IDS } from '../inbox';
import type { NotificationStore } from '../store';

export interface ReadNotificationsDeps {
  readonly notifications: NotificationStore;
  readonly claims: ClaimNames;
  readonly now?: () => Date;
}

const body = z.union([
  z.strictObject({ upTo: z.int().check(z.positive(), z.lte(Number.MAX_SAFE_INTEGER)) }),
  z.strictObject({ ids: z.array(z.string().check(z.minLength(1), z.maxLength(64))).check(z.minLength(1), z.maxLength(MAX_READ_IDS)) }),
]);

/** `POST /notifications/read {upTo} | {ids}`: marks the caller's own notifications read. */
export function makeHandler(deps: ReadNotificationsDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    await markRead(deps.notifications, caller, parseJsonBody(event, body));
    const unread = await deps.notifications.countUnread(caller, epochSeconds(deps.now?.() ?? new Date()));
    return json(200, { unread });
  });
}

export const handler = makeHandler({ notifications: notificationStoreFromEnv(), claims: claimNamesFromEnv() });
