/**
 * WebSocket connection costs through Herald's local runtime (authorizer + $connect Lambda with
 * DynamoDB Local writes; ping Lambda with a route response) against a bare `ws` echo server on
 * the same loopback, which is the floor. Bounded: a fixed number of connects and pings.
 */
import { performance } from 'node:perf_hooks';
import WebSocket, { WebSocketServer } from 'ws';
import { startLocalRuntime } from '../lib/local/runtime';
import { percentile, row } from './stats';

const CONNECTS = 40;
const PINGS = 400;

export async function benchConnections(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0 });
  const echo = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  echo.on('connection', (socket) => socket.on('message', (data) => socket.send(data.toString())));
  await new Promise((ready) => echo.once('listening', ready));
  const echoUrl = `ws://127.0.0.1:${(echo.address() as { port: number }).port}`;
  try {
    const token = await devToken(runtime.urls.httpUrl);
    await openHerald(runtime.urls.httpUrl, token).then((socket) => socket.close()); // warm the handlers

    const heraldConnect: number[] = [];
    const rawConnect: number[] = [];
    for (let index = 0; index < CONNECTS; index += 1) {
      let started = performance.now();
      (await openHerald(runtime.urls.httpUrl, token)).close();
      heraldConnect.push(performance.now() - started);
      started = performance.now();
      (await open(echoUrl)).close();
      rawConnect.push(performance.now() - started);
    }

    const herald = await openHerald(runtime.urls.httpUrl, token);
    const raw = await open(echoUrl);
    const heraldPing = await roundTrips(herald, PINGS);
    const rawPing = await roundTrips(raw, PINGS);
    herald.close();
    raw.close();

    console.log(`${CONNECTS} connects, ${PINGS} pings; baseline = bare ws on loopback`);
    console.log(row('connect (ticket + authorizer + $connect) p50', percentile(heraldConnect, 50), percentile(rawConnect, 50)));
    console.log(row('connect p99', percentile(heraldConnect, 99), percentile(rawConnect, 99)));
    console.log(row('ping -> pong round trip p50', percentile(heraldPing, 50), percentile(rawPing, 50)));
    console.log(row('ping -> pong round trip p99', percentile(heraldPing, 99), percentile(rawPing, 99)));
  } finally {
    echo.close();
    await runtime.stop();
  }
}

async function devToken(httpUrl: string): Promise<string> {
  const response = await fetch(`${httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ tenant: 'bench', user: 'bench' }) });
  return ((await response.json()) as { token: string }).token;
}

async function openHerald(httpUrl: string, token: string): Promise<WebSocket> {
  const response = await fetch(`${httpUrl}/realtime/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  const { url } = (await response.json()) as { url: string };
  return open(url);
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Sequential round trips, so each sample is one frame's latency rather than a queue's. */
async function roundTrips(socket: WebSocket, count: number): Promise<number[]> {
  const samples: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const id = String(index);
    const started = performance.now();
    await new Promise<void>((done) => {
      const onMessage = (data: WebSocket.RawData) => {
        if (data.toString().includes(`"id":"${id}"`)) {
          socket.off('message', onMessage);
          done();
        }
      };
      socket.on('message', onMessage);
      socket.send(JSON.stringify({ action: 'ping', id }));
    });
    samples.push(performance.now() - started);
  }
  return samples;
}
