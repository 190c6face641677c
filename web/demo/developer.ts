/**
 * The developer page: a raw WebSocket of its own (a fresh ticket, then frames by hand), to see the
 * protocol (docs/protocol.md) as it travels. Frames go to the activity log.
 */
import { apiCall, h } from './http';
import type { PageMount } from './session';

export const mountDeveloper: PageMount = (root, session) => {
  const { log } = session;
  let socket: WebSocket | undefined;
  const connect = h('button', { id: 'connect', type: 'button' }, 'Connect');
  const ping = h('button', { id: 'ping', type: 'button', disabled: true }, 'Ping');
  const disconnect = h('button', { id: 'disconnect', type: 'button', disabled: true }, 'Disconnect');
  const state = h('strong', { id: 'state', 'data-state': 'closed' }, 'closed');

  root.append(
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'raw-heading' },
      h('h2', { id: 'raw-heading' }, 'Raw WebSocket (protocol playground)'),
      h('p', { class: 'hint' }, 'A second socket, apart from the app\u2019s client: every frame it receives appears in the activity log.'),
      h('div', { class: 'row' }, connect, ping, disconnect),
      h('p', {}, 'Socket: ', state),
    ),
  );

  function setState(next: 'open' | 'closed' | 'connecting') {
    state.textContent = next;
    state.dataset.state = next;
    connect.disabled = next !== 'closed';
    ping.disabled = next !== 'open';
    disconnect.disabled = next !== 'open';
  }

  connect.addEventListener('click', async () => {
    try {
      setState('connecting');
      const { url } = await apiCall<{ url: string }>(session, 'POST', '/realtime/ticket', { body: {} });
      const opened = new WebSocket(url);
      socket = opened;
      opened.onopen = () => (setState('open'), log('connected'));
      opened.onmessage = (event) => log(`\u2190 ${event.data}`);
      opened.onclose = (event) => (setState('closed'), log(`closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`));
    } catch (error) {
      setState('closed');
      log(String(error));
    }
  });
  ping.addEventListener('click', () => {
    const frame = JSON.stringify({ action: 'ping', id: String(Date.now()) });
    socket?.send(frame);
    log(`\u2192 ${frame}`);
  });
  disconnect.addEventListener('click', () => socket?.close(1000, 'bye'));

  return () => socket?.close(1000, 'page closed');
};
