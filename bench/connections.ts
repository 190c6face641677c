/**
 * WebSocket connection costs through Herald's local runtime (authorizer + $connect Lambda with
 * DynamoDB Local writes; ping Lambda with a route response) against a bare `ws` echo server on
 * the same loopback, which is the floor. Bounded: a fixed number of connects and pings.
 */
import { performance } from 'node:perf_hooks';
import { startLocalRuntime } from '../lib/local/runtime';
import { percentile, row } from './stats';
import { devToken, open, roundTrips, startEcho, ticketUrl } from './wire';

const CONNECTS = 40;
/**
 * Herald closes a socket that sends more than FRAME_RATE_LIMIT.frames (60) frames in its window,
 * so the pings are spread over several sockets, each staying under that budget.
 */
const PINGS_PER_SOCKET = 50;
const PING_SOCKETS = 8;

export async function benchConnections(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0 });
  const stopping: Array<() => unknown> = [() => runtime.stop()];
  try {
    const echo = await startEcho();
    stopping.push(() => echo.close());
    const httpUrl = runtime.urls.httpUrl;
    // Imported once the runtime has set the environment Herald's modules read at import.
    const { FRAME_RATE_LIMIT } = await import('../functions/realtime/action');
    const token = await devToken(httpUrl, 'bench', 'bench');
    (await open(await ticketUrl(httpUrl, token))).close(); // warm the handlers

    const heraldConnect: number[] = [];
    const rawConnect: number[] = [];
    for (let index = 0; index < CONNECTS; index += 1) {
      let started = performance.now();
      (await open(await ticketUrl(httpUrl, token))).close();
      heraldConnect.push(performance.now() - started);
      started = performance.now();
      (await open(echo.url)).close();
      rawConnect.push(performance.now() - started);
    }

    const heraldPing: number[] = [];
    const rawPing: number[] = [];
    for (let index = 0; index < PING_SOCKETS; index += 1) {
      const herald = await open(await ticketUrl(httpUrl, token));
      const raw = await open(echo.url);
      heraldPing.push(...(await roundTrips(herald, PINGS_PER_SOCKET)));
      rawPing.push(...(await roundTrips(raw, PINGS_PER_SOCKET)));
      herald.close();
      raw.close();
    }

    console.log(`${CONNECTS} connects, ${PING_SOCKETS * PINGS_PER_SOCKET} pings; baseline = bare ws on loopback`);
    console.log(
      `pings spread over ${PING_SOCKETS} sockets x ${PINGS_PER_SOCKET}: Herald closes a socket over ${FRAME_RATE_LIMIT.frames} frames per ${FRAME_RATE_LIMIT.windowSeconds} s`,
    );
    console.log(row('connect (ticket + authorizer + $connect) p50', percentile(heraldConnect, 50), percentile(rawConnect, 50)));
    console.log(row('connect p99', percentile(heraldConnect, 99), percentile(rawConnect, 99)));
    console.log(row('ping -> pong round trip p50', percentile(heraldPing, 50), percentile(rawPing, 50)));
    console.log(row('ping -> pong round trip p99', percentile(heraldPing, 99), percentile(rawPing, 99)));
  } finally {
    for (const stop of stopping.reverse()) await stop();
  }
}
