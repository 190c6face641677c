import { connectionDeps, notificationStoreFromEnv } from '#functions/adapters/wiring';
import { countMetric, logger } from '#functions/shared/instrumentation';
import { websocketAction, withId, type ActionDeps } from '#functions/realtime/action';
import { clientFrames } from '#functions/protocol/frames';
import { BatchPacker } from '#functions/realtime/frames';
import { pushFrames } from '#functions/realtime/push';
import { epochSeconds, MAX_PAGE_SIZE, readPage, RESUME_MAX_BATCHED, RESUME_MAX_NOTIFICATIONS } from '../inbox';
import { acknowledge } from '../acks';
import type { NotificationStore } from '../store';

export interface ResumeDeps extends ActionDeps {
  readonly notifications: NotificationStore;
}

/**
 * `resume {after, batch?}`: replays every seq after `after` in pages, in order, on this socket,
 * then answers `replayed {upTo, more, gap, unread}`. Without `batch`, each notification is its own
 * `notification` frame, the same as a live push, so the client's dedupe covers a push that races
 * the replay. With `batch: true` (the client opts in) they travel packed in `notifications`
 * frames of up to 32 KB, API Gateway's billing unit, and a resume replays more of them.
 *
 * `after` is what the client has: it is recorded as the delivered watermark (an ack, docs/protocol.md
 * "Acks"), beside the replay. A client ahead of the server learns it from the replay's `gap`, so
 * that case is not an error here, and a failed write costs the watermark, never the replay.
 */
export function makeHandler(deps: ResumeDeps) {
  return websocketAction(clientFrames.resume, deps, async (frame, { identity, connectionId, now }) => {
    const target = { connectionId, owner: identity };
    const packer = frame.batch ? new BatchPacker() : undefined;
    const limit = packer ? RESUME_MAX_BATCHED : RESUME_MAX_NOTIFICATIONS;
    // Batched, the whole replay is read at once (the store pages through DynamoDB's 1 MB responses):
    // two requests instead of two per hundred notifications.
    const pageSize = packer ? RESUME_MAX_BATCHED : MAX_PAGE_SIZE;
    const acked =
      frame.after > 0
        ? acknowledge(deps.notifications, identity, frame.after, 'after', frame.id).catch((error: Error) => logger.warn('Resume ack not recorded', { error }))
        : undefined;
    let after = frame.after;
    let gap = false;
    let sent = 0;
    for (;;) {
      const page = await readPage(deps.notifications, identity, after, Math.min(pageSize, limit - sent), now);
      gap ||= page.gap;
      sent += page.items.length;
      after = page.nextAfter;
      const { more } = page;
      const frames = packer ? page.items.flatMap((item) => packer.add(item) ?? []) : page.items.map((item) => ({ type: 'notification' as const, ...item }));
      const final = !more || sent >= limit || page.items.length === 0;
      if (!final) {
        if ((await pushFrames(deps, target, frames)) === 'sent') continue;
        await acked;
        return undefined;
      }
      const last = packer?.flush();
      // Counted up to the replay's end, so pushes racing the replay cannot be counted twice or
      // missed: the client adds the unread ones it receives after upTo. The count does not
      // depend on the last posts, so it runs beside them.
      const [outcome, unread] = await Promise.all([
        pushFrames(deps, target, last ? [...frames, last] : frames),
        deps.notifications.countUnread(identity, epochSeconds(now), after),
        acked,
      ]);
      if (outcome !== 'sent') return undefined;
      countMetric('Resumes');
      return withId({ type: 'replayed', upTo: after, more, gap, unread }, frame.id);
    }
  });
}

export const handler = makeHandler({ ...connectionDeps(), notifications: notificationStoreFromEnv() });
