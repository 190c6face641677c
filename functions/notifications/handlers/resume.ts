import { connectionDeps, notificationStoreFromEnv } from '#functions/adapters/wiring';
import { countMetric } from '#functions/shared/instrumentation';
import { websocketAction, withId, type ActionDeps } from '#functions/realtime/action';
import { clientFrames } from '#functions/protocol/frames';
import { pushFrames } from '#functions/realtime/push';
import { epochSeconds, MAX_PAGE_SIZE, readPage, RESUME_MAX_NOTIFICATIONS } from '../inbox';
import type { NotificationStore } from '../store';

export interface ResumeDeps extends ActionDeps {
  readonly notifications: NotificationStore;
}

/**
 * `resume {after}`: replays every seq after `after` in pages, in order, on this socket, then
 * answers `replayed {upTo, more, gap, unread}`. Replay frames are the same `notification` frames
 * as live pushes, so the client's dedupe covers a push that races the replay.
 */
export function makeHandler(deps: ResumeDeps) {
  return websocketAction(clientFrames.resume, deps, async (frame, { identity, connectionId, now }) => {
    let after = frame.after;
    let gap = false;
    let more = true;
    let sent = 0;
    while (more && sent < RESUME_MAX_NOTIFICATIONS) {
      const page = await readPage(deps.notifications, identity, after, Math.min(MAX_PAGE_SIZE, RESUME_MAX_NOTIFICATIONS - sent), now);
      gap ||= page.gap;
      const frames = page.items.map((item) => ({ type: 'notification' as const, ...item }));
      if ((await pushFrames(deps, { connectionId, owner: identity }, frames)) !== 'sent') return undefined;
      sent += frames.length;
      after = page.nextAfter;
      more = page.more;
      if (frames.length === 0) break;
    }
    countMetric('Resumes');
    // Counted up to the replay's end, so pushes racing the replay cannot be counted twice or
    // missed: the client adds the unread ones it receives after upTo.
    const unread = await deps.notifications.countUnread(identity, epochSeconds(now), after);
    return withId({ type: 'replayed', upTo: after, more, gap, unread }, frame.id);
  });
}

export const handler = makeHandler({ ...connectionDeps(), notifications: notificationStoreFromEnv() });
