/**
 * The inbox (the client library's notifications: exactly once, in order, unread count and
 * mark-read shared by every tab of this origin) and the alerts board (a topic's alerts, kept live
 * by its `alert` events; acknowledge and resolve with If-Match).
 */
import type { MarkReadTarget, Notification, TopicEvent } from '../client';
import { apiCall, ApiError, field, h } from './http';
import type { PageMount } from './session';

interface AlertView {
  id: string;
  topic: string;
  title: string;
  severity: string;
  status: string;
  version: number;
  assigneeId?: string;
}

export const mountInbox: PageMount = (root, session) => {
  const { client, log } = session;
  const inbox = new Map<number, Notification>();
  /** Alerts by id. Live events may repeat or cross a refetch, so the highest version wins. */
  const board = new Map<string, AlertView>();
  let watchedTopic: string | undefined;
  let mounted = true;

  const inboxList = h('ul', { id: 'inbox', class: 'list', 'aria-live': 'polite', 'aria-label': 'Notifications' });
  const markAllRead = h('button', { id: 'mark-all-read', type: 'button', disabled: true }, 'Mark all read');
  const publishTitle = h('input', { id: 'publish-title', value: 'Inspection due' });
  const publish = h('button', { id: 'publish', type: 'button' }, 'Publish');
  const topicInput = h('input', { id: 'topic', value: 'site-1' });
  const joinTopic = h('button', { id: 'join-topic', type: 'button' }, 'Join and watch');
  const alertTitle = h('input', { id: 'alert-title', value: 'Pressure above limit' });
  const severity = h(
    'select',
    { id: 'alert-severity' },
    ...['low', 'medium', 'high', 'critical'].map((value) => h('option', { value, selected: value === 'high' }, value)),
  );
  const raiseAlert = h('button', { id: 'raise-alert', type: 'button', disabled: true }, 'Raise alert');
  const boardList = h('ul', { id: 'board', class: 'list', 'aria-live': 'polite', 'aria-label': 'Alerts' });

  root.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'inbox-heading' },
      h('h2', { id: 'inbox-heading' }, 'Inbox'),
      h('div', { class: 'row' }, field('Publish to yourself (as a publisher)', publishTitle), publish, markAllRead),
      inboxList,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'board-heading' },
      h('h2', { id: 'board-heading' }, 'Alerts board'),
      h('p', { class: 'hint' }, 'Joining adds you to the topic (with an admin token) and subscribes this tab to its live events.'),
      h('div', { class: 'row' }, field('Topic', topicInput), joinTopic),
      h('div', { class: 'row' }, field('Alert title', alertTitle), field('Severity', severity), raiseAlert),
      boardList,
    ),
  );

  const report = (error: unknown) => log(error instanceof ApiError ? `${error.status} ${error.code}: ${error.message}` : String(error));

  function renderInbox() {
    const items = [...inbox.values()].sort((a, b) => b.seq - a.seq);
    inboxList.replaceChildren(
      ...items.map((notification) => {
        const item = h(
          'li',
          { 'data-seq': notification.seq, 'data-read': String(notification.read), 'data-kind': notification.kind },
          h('span', { class: 'title' }, notification.title),
          notification.body ? h('span', { class: 'body' }, notification.body) : undefined,
          h('span', { class: 'meta' }, `#${notification.seq} · ${notification.priority} · ${new Date(notification.createdAt).toLocaleTimeString()}`),
        );
        if (!notification.read) {
          const read = h('button', { type: 'button', class: 'mark-read' }, 'Mark read');
          read.addEventListener('click', () => client.markRead({ ids: [notification.id] }).catch(report));
          item.append(read);
        }
        return item;
      }),
    );
    if (items.length === 0) inboxList.append(h('li', { class: 'empty' }, 'Nothing yet.'));
    markAllRead.disabled = items.length === 0;
  }

  function applyRead(target: MarkReadTarget) {
    for (const [seq, notification] of inbox) {
      if ('upTo' in target ? seq <= target.upTo : target.ids.includes(notification.id)) inbox.set(seq, { ...notification, read: true });
    }
    renderInbox();
  }

  function upsertAlert(alert: AlertView) {
    const known = board.get(alert.id);
    if (!known || known.version < alert.version) board.set(alert.id, alert);
  }

  function renderBoard() {
    boardList.replaceChildren(
      ...[...board.values()]
        .sort((a, b) => (a.id < b.id ? 1 : -1))
        .map((alert) => {
          const item = h(
            'li',
            { 'data-id': alert.id, 'data-status': alert.status, 'data-severity': alert.severity, 'data-version': alert.version },
            h('span', { class: 'title' }, alert.title),
            h('span', { class: 'meta' }, `${alert.severity} · ${alert.status} · v${alert.version}${alert.assigneeId ? ` · ${alert.assigneeId}` : ''}`),
          );
          const next = alert.status === 'active' ? ['acknowledged', 'resolved'] : alert.status === 'acknowledged' ? ['resolved'] : [];
          for (const status of next) {
            const act = h('button', { type: 'button', class: `to-${status}` }, status === 'acknowledged' ? 'Acknowledge' : 'Resolve');
            act.addEventListener('click', () => changeAlert(alert, status));
            item.append(act);
          }
          return item;
        }),
    );
  }

  function onTopicEvent(event: TopicEvent) {
    if (event.topic !== watchedTopic) return;
    if (event.name === 'alert') {
      upsertAlert(event.data as unknown as AlertView);
      renderBoard();
    } else log(`topic ${event.topic}: ${event.name} ${JSON.stringify(event.data)}`);
  }

  async function changeAlert(alert: AlertView, status: string) {
    try {
      // If-Match: the version on the board; a 409 means someone changed it first, and the answer has theirs.
      upsertAlert(await apiCall<AlertView>(session, 'PATCH', `/alerts/${alert.id}`, { body: { status }, headers: { 'if-match': `"${alert.version}"` } }));
      renderBoard();
    } catch (error) {
      if (error instanceof ApiError && error.code === 'version_conflict') upsertAlert(error.body.alert as AlertView);
      renderBoard();
      report(error);
    }
  }

  const listeners = [
    client.on('notification', (notification) => (inbox.set(notification.seq, notification), renderInbox())),
    client.on('read', applyRead),
    client.on('reset', () => (inbox.clear(), renderInbox())),
    client.on('event', onTopicEvent),
  ];

  markAllRead.addEventListener('click', () => {
    const newest = Math.max(0, ...inbox.keys());
    if (newest > 0) client.markRead({ upTo: newest }).catch(report);
  });

  publish.addEventListener('click', async () => {
    try {
      const outcome = await apiCall(session, 'POST', '/notifications', {
        body: { userId: session.user, kind: 'demo', title: publishTitle.value },
        as: { user: 'demo-publisher', roles: ['publisher'] },
      });
      log(`published: ${JSON.stringify(outcome)}`);
    } catch (error) {
      report(error);
    }
  });

  joinTopic.addEventListener('click', async () => {
    const topic = topicInput.value;
    try {
      await apiCall(session, 'PUT', `/topics/${encodeURIComponent(topic)}/members/${encodeURIComponent(session.user)}`, {
        as: { user: 'demo-admin', roles: ['admin'] },
      });
      if (watchedTopic) client.unsubscribe(watchedTopic);
      watchedTopic = topic;
      board.clear();
      client.subscribe(topic);
      // Events are ephemeral: the board starts from the list and stays current through them.
      const { alerts } = await apiCall<{ alerts: AlertView[] }>(session, 'GET', `/alerts?topic=${encodeURIComponent(topic)}`);
      for (const alert of alerts) upsertAlert(alert);
      renderBoard();
      raiseAlert.disabled = false;
    } catch (error) {
      report(error);
    }
  });

  raiseAlert.addEventListener('click', async () => {
    try {
      const title = alertTitle.value;
      const alert = await apiCall<AlertView>(session, 'POST', '/alerts', {
        body: { topic: watchedTopic, rule: 'demo', subject: title, severity: severity.value, title },
        as: { user: 'demo-monitor', roles: ['publisher'] },
      });
      log(`raised: ${alert.id} v${alert.version} (${alert.status})`);
    } catch (error) {
      report(error);
    }
  });

  renderInbox();
  client
    .inbox()
    .then((stored) => {
      if (!mounted) return;
      for (const notification of stored) if (!inbox.has(notification.seq)) inbox.set(notification.seq, notification);
      renderInbox();
    })
    .catch(report);

  return () => {
    mounted = false;
    for (const off of listeners) off();
    if (watchedTopic) client.unsubscribe(watchedTopic);
  };
};
