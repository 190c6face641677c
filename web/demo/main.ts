/** The demo: sign in with the local issuer, get a ticket, open the WebSocket, ping. */
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const log = (line: string) => ($('log').textContent = `${new Date().toLocaleTimeString()}  ${line}\n${$('log').textContent}`);
let socket: WebSocket | undefined;

function setState(state: 'open' | 'closed' | 'connecting') {
  $('state').textContent = state;
  $('state').dataset.state = state;
  ($('connect') as HTMLButtonElement).disabled = state !== 'closed';
  ($('ping') as HTMLButtonElement).disabled = state !== 'open';
  ($('disconnect') as HTMLButtonElement).disabled = state !== 'open';
}

async function postJson(url: string, body: unknown, token?: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

$('connect').addEventListener('click', async () => {
  try {
    setState('connecting');
    const { httpUrl } = await (await fetch('/config.json')).json();
    const { token } = await postJson(`${httpUrl}/dev/token`, { tenant: $<HTMLInputElement>('tenant').value, user: $<HTMLInputElement>('user').value });
    const { url } = await postJson(`${httpUrl}/realtime/ticket`, {}, token);
    socket = new WebSocket(url);
    socket.onopen = () => (setState('open'), log('connected'));
    socket.onmessage = (event) => log(`← ${event.data}`);
    socket.onclose = (event) => (setState('closed'), log(`closed (${event.code}${event.reason ? ` ${event.reason}` : ''})`));
  } catch (error) {
    setState('closed');
    log(String(error));
  }
});
$('ping').addEventListener('click', () => {
  const frame = JSON.stringify({ action: 'ping', id: String(Date.now()) });
  socket?.send(frame);
  log(`→ ${frame}`);
});
$('disconnect').addEventListener('click', () => socket?.close(1000, 'bye'));
