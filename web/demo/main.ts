/**
 * The demo: sign in with the local issuer, then either run the client library (an inbox with
 * unread count, connection state and mark-read, shared by every tab of this origin, and an alerts
 * board kept live by topic events) or drive a raw WebSocket by hand to see the protocol's frames.
 */
import { HeraldClient, type ConnectionState, type MarkReadTarget, type Notification, type TopicEvent } from '../client';
import { mountInspections } from './inspections';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const button = (id: string) => $<HTMLButtonElement>(id);
const log = (line: string) => ($('log').textContent = `${new Date().toLocaleTimeString()}  ${line}\n${$('log').textContent}`);
const signedIn = () => ({ tenant: $<HTMLInputElement>('tenant').value, user: $<HTMLInputElement>('user').value });

async function postJson(url: string, body: unknown, token?: string) {
  return sendJson('POST', url, body, token);
}

async function sendJson(method: string, url: string, body: unknown, token?: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.status === 204 ? undefined : response.json();
}

let httpUrl: string | undefined;
async function apiUrl(): Promise<string> {
  httpUrl ??= ((await (await fetch('/config.json')).json()) as { httpUrl: string }).httpUrl;
  return httpUrl;
}

/** Local dev tokens last an hour; fetch a new one well before that. */
function tokenSource(tenant: string, user: string, roles: string[] = []): () => Promise<string> {
  let cached: { token: string; at: number } | undefined;
  return async () => {
    if (!cached || Date.now() - cached.at > 50 * 60_000) {
      cached = { token: (await postJson(`${await apiUrl()}/dev/token`, { tenant, user, roles })).token, at: Date.now() };
    }
    return cached.token;
  };
}

// --- The client library -------------------------------------------------------------------

let client: HeraldClient | undefined;
let unmountInspections: (() => void) | undefined;
const inbox = new Map<number, Notification>();

function renderInbox() {
  const list = $('inbox');
  list.replaceChildren(
    ...[...inbox.values()]
      .sort((a, b) => b.seq - a.seq)
      .map((notification) => {
        const item = document.createElement('li');
        item.dataset.seq = String(notification.seq);
        item.dataset.read = String(notification.read);
        const title = Object.assign(document.createElement('span'), { className: 'title', textContent: notification.title });
        const meta = Object.assign(document.createElement('span'), {
          className: 'meta',
          textContent: `#${notification.seq} · ${notification.priority} · ${new Date(notification.createdAt).toLocaleTimeString()}`,
        });
        item.append(title, meta);
        if (!notification.read) {
          const read = Object.assign(document.createElement('button'), { textContent: 'Mark read', className: 'mark-read' });
          read.addEventListener('click', () => client?.markRead({ ids: [notification.id] }).catch((error) => log(String(error))));
          item.append(read);
        }
        return item;
      }),
  );
  button('mark-all-read').disabled = !client || inbox.size === 0;
}

function applyRead(target: MarkReadTarget) {
  for (const [seq, notification] of inbox) {
    if ('upTo' in target ? seq <= target.upTo : target.ids.includes(notification.id)) inbox.set(seq, { ...notification, read: true });
  }
  renderInbox();
}

function renderClientState(state: ConnectionState) {
  $('client-state').textContent = state;
  $('client-state').dataset.state = state;
}

button('start').addEventListener('click', async () => {
  const { tenant, user } = signedIn();
  button('start').disabled = true;
  try {
    const started = new HeraldClient({ httpUrl: await apiUrl(), getToken: tokenSource(tenant, user) });
    client = started;
    started.on('state', renderClientState);
    started.on('role', (role) => ($('role').textContent = role));
    started.on('unread', (unread) => ($('unread').textContent = String(unread)));
    started.on('notification', (notification) => (inbox.set(notification.seq, notification), renderInbox()));
    started.on('read', applyRead);
    started.on('reset', () => (inbox.clear(), renderInbox()));
    started.on('error', (error) => log(`client: ${error.message}`));
    started.on('event', onTopicEvent);
    await started.start();
    const ownToken = tokenSource(tenant, user);
    unmountInspections = mountInspections($('inspections'), {
      tenant,
      user,
      httpUrl: await apiUrl(),
      token: (options) => (options ? tokenSource(tenant, options.user ?? user, options.roles)() : ownToken()),
      client: started,
      log,
    });
    for (const notification of await started.inbox()) inbox.set(notification.seq, notification);
    renderInbox();
    button('stop').disabled = button('publish').disabled = button('join-topic').disabled = false;
  } catch (error) {
    button('start').disabled = false;
    log(String(error));
  }
});

button('stop').addEventListener('click', async () => {
  unmountInspections?.();
  unmountInspections = undefined;
  await client?.stop();
  client = undefined;
  inbox.clear();
  renderInbox();
  $('role').textContent = 'not started';
  board.clear();
  renderBoard();
  button('stop').disabled = button('publish').disabled = button('join-topic').disabled = button('raise-alert').disabled = true;
  button('start').disabled = false;
});

button('mark-all-read').addEventListener('click', () => {
  const newest = Math.max(0, ...inbox.keys());
  if (newest > 0) client?.markRead({ upTo: newest }).catch((error) => log(String(error)));
});

button('publish').addEventListener('click', async () => {
  const { tenant, user } = signedIn();
  try {
    const token = await tokenSource(tenant, 'demo-publisher', ['publisher'])();
    const outcome = await postJson(`${await apiUrl()}/notifications`, { userId: user, kind: 'demo', title: $<HTMLInputElement>('publish-title').value }, token);
    log(`published: ${JSON.stringify(outcome)}`);
  } catch (error) {
    log(String(error));
  }
});

// --- The alerts board ------------------------------------------------------------------------

interface AlertView {
  id: string;
  topic: string;
  title: string;
  severity: string;
  status: string;
  version: number;
  assigneeId?: string;
}

/** Alerts by id. Live events may repeat or cross a refetch, so the highest version wins. */
const board = new Map<string, AlertView>();
let watchedTopic: string | undefined;

function upsertAlert(alert: AlertView) {
  const known = board.get(alert.id);
  if (!known || known.version < alert.version) board.set(alert.id, alert);
}

function renderBoard() {
  $('board').replaceChildren(
    ...[...board.values()]
      .sort((a, b) => (a.id < b.id ? 1 : -1))
      .map((alert) => {
        const item = document.createElement('li');
        Object.assign(item.dataset, { id: alert.id, status: alert.status, severity: alert.severity, version: String(alert.version) });
        const title = Object.assign(document.createElement('span'), { className: 'title', textContent: alert.title });
        const meta = Object.assign(document.createElement('span'), {
          className: 'meta',
          textContent: `${alert.severity} · ${alert.status} · v${alert.version}${alert.assigneeId ? ` · ${alert.assigneeId}` : ''}`,
        });
        item.append(title, meta);
        const next = alert.status === 'active' ? ['acknowledged', 'resolved'] : alert.status === 'acknowledged' ? ['resolved'] : [];
        for (const status of next) {
          const act = Object.assign(document.createElement('button'), {
            textContent: status === 'acknowledged' ? 'Acknowledge' : 'Resolve',
            className: `to-${status}`,
          });
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
  const { tenant, user } = signedIn();
  try {
    // If-Match: the version on the board; a 409 means someone changed it first, and the answer has theirs.
    const changed = await sendJson('PATCH', `${await apiUrl()}/alerts/${alert.id}`, { status }, await tokenSource(tenant, user)(), {
      'if-match': `"${alert.version}"`,
    });
    upsertAlert(changed as AlertView);
    renderBoard();
  } catch (error) {
    log(String(error));
  }
}

button('join-topic').addEventListener('click', async () => {
  const { tenant, user } = signedIn();
  const topic = $<HTMLInputElement>('topic').value;
  try {
    const admin = await tokenSource(tenant, 'demo-admin', ['admin'])();
    await sendJson('PUT', `${await apiUrl()}/topics/${encodeURIComponent(topic)}/members/${encodeURIComponent(user)}`, undefined, admin);
    if (watchedTopic) client?.unsubscribe(watchedTopic);
    watchedTopic = topic;
    board.clear();
    client?.subscribe(topic);
    // Events are ephemeral: the board starts from the list and stays current through them.
    const { alerts } = await sendJson('GET', `${await apiUrl()}/alerts?topic=${encodeURIComponent(topic)}`, undefined, await tokenSource(tenant, user)());
    for (const alert of alerts as AlertView[]) upsertAlert(alert);
    renderBoard();
    button('raise-alert').disabled = false;
  } catch (error) {
    log(String(error));
  }
});

button('raise-alert').addEventListener('click', async () => {
  const { tenant } = signedIn();
  try {
    const publisher = await tokenSource(tenant, 'demo-monitor', ['publisher'])();
    const title = $<HTMLInputElement>('alert-title').value;
    const alert = await postJson(
      `${await apiUrl()}/alerts`,
      { topic: watchedTopic, rule: 'demo', subject: title, severity: $<HTMLSelectElement>('alert-severity').value, title },
      publisher,
    );
    log(`raised: ${alert.id} v${alert.version} (${alert.status})`);
  } catch (error) {
    log(String(error));
  }
});

// --- The raw WebSocket ----------------------------------------------------------------------

let socket: WebSocket | undefined;

function setSocketState(state: 'open' | 'closed' | 'connecting') {
  $('state').textContent = state;
  $('state').dataset.state = state;
  button('connect').disabled = state !== 'closed';
  button('ping').disabled = state !== 'open';
  button('disconnect').disabled = state !== 'open';
}

button('connect').addEventListener('click', async () => {
  try {
    setSocketState('connecting');
    const { tenant, user } = signedIn();
    const { url } = await postJson(`${await apiUrl()}/realtime/ticket`, {}, await tokenSource(tenant, user)());
    socket = new WebSocket(url);
    socket.onopen = () => (setSocketState('open'), log('connected'));
    socket.onmessage = (event) => log(`← ${event.data}`);
    socket.onclose = (event) => (setSocketState('closed'), log(`closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`));
  } catch (error) {
    setSocketState('closed');
    log(String(error));
  }
});
button('ping').addEventListener('click', () => {
  const frame = JSON.stringify({ action: 'ping', id: String(Date.now()) });
  socket?.send(frame);
  log(`→ ${frame}`);
});
button('disconnect').addEventListener('click', () => socket?.close(1000, 'bye'));
