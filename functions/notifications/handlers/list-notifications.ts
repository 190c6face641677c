import { claimNamesFromEnv, notificationStoreFromEnv } from '#functions/adapters/wiring';
import type { ClaimNames } from '#functions/shared/caller';
import { callerRoute, json, parseQuery } from '#functions/shared/http';
import * as z from '#functions/shared/validation';
import { DEFAULT_PAGE_SIZE, epochSeconds, MAX_PAGE_SIZE, readPage } from '../inbox';
import type { NotificationStore } from '../store';
import type { NotificationPage } from '#functions/protocol/http';

export interface ListNotificationsDeps {
  readonly notifications: NotificationStore;
  readonly claims: ClaimNames;
  readonly now?: () => Date;
}

const wholeNumber = (max: number) => z.pipe(z.string().check(z.regex(/^\d{1,16}$/, 'must be a whole number')), z.transform(Number)).check(z.lte(max));
const query = z.object({
  after: z._default(wholeNumber(Number.MAX_SAFE_INTEGER), 0),
  limit: z._default(wholeNumber(MAX_PAGE_SIZE).check(z.gte(1)), DEFAULT_PAGE_SIZE),
});

/**
 * `GET /notifications?after=&limit=`: the caller's own inbox in seq order, with the exact unread
 * count. Resume's semantics over HTTP, so it doubles as the polling fallback.
 */
export function makeHandler(deps: ListNotificationsDeps) {
  return callerRoute(deps.claims, async (caller, event) => {
    const { after, limit } = parseQuery(event, query);
    const now = deps.now?.() ?? new Date();
    const [page, unread] = await Promise.all([
      readPage(deps.notifications, caller, after, limit, now),
      deps.notifications.countUnread(caller, epochSeconds(now)),
    ]);
    return json(200, { ...page, unread } satisfies NotificationPage);
  });
}

export const handler = makeHandler({ notifications: notificationStoreFromEnv(), claims: claimNamesFromEnv() });
