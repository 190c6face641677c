/**
 * Where the time of one publish goes: the p50 time from `POST /notifications` to each stage of its
 * path (request at the local HTTP API, JWT verified, handler started, each AWS call through the SDK
 * and on the wire, the post at the local gateway, the frame on the socket), beside the same stages
 * of the floor (bench/notifications.ts: the three requests deliver() cannot avoid, made by hand),
 * publishes and floor alternating in one run. Stamped from Node's own diagnostics channels (HTTP
 * client and server), the local runtime's (JWT verified, invocation start) and a middleware on
 * every SDK command; CPU is this process's (runtime, emulated gateways and client: everything but
 * the emulators) per publish.
 */
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage, Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { jwtVerifiedChannel } from '../lib/local/http-api';
import { invocationChannel } from '../lib/local/lambda-host';
import { onEverySdkCommand } from './sdk-commands';
import { startLocalRuntime } from '../lib/local/runtime';
import { countedDeliverDeps, deliveryFloor, loadServer, publishing } from './notifications';
import { percentile, row } from './stats';

const PUBLISHES = 200;
const WARM_UPS = 5;

/** Stage name to ms since the publish (or floor iteration) started, for the iteration under way. */
let stamps: Map<string, number> | undefined;
let origin = 0;
function stamp(stage: string): void {
  if (!stamps) return;
  // A stage seen twice in one iteration (deliver() reads the socket sets again) keeps both, numbered.
  let name = stage;
  for (let count = 2; stamps.has(name); count += 1) name = `${stage} #${count}`;
  stamps.set(name, performance.now() - origin);
}

export async function benchPublishSpans(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0 });
  try {
    const server = await loadServer();
    const deps = countedDeliverDeps(server, runtime.urls);
    const portOf = (url: string) => Number(new URL(url).port);
    const [httpPort, wsPort] = [portOf(runtime.urls.httpUrl), portOf(runtime.urls.wsUrl)];
    observe(httpPort, wsPort);

    const publishes = await publishing(runtime.urls.httpUrl);
    const floors = await deliveryFloor(runtime.urls, deps);
    const measured = { publish: [] as Array<Map<string, number>>, floor: [] as Array<Map<string, number>> };
    const cpu = { publish: [] as number[], floor: [] as number[] };
    const timed = async (kind: 'publish' | 'floor', seq: number, run: () => Promise<number>) => {
      stamps = new Map();
      const cpuBefore = process.cpuUsage();
      origin = performance.now();
      const frameMs = await run();
      const used = process.cpuUsage(cpuBefore);
      const iteration = stamps;
      stamps = undefined;
      iteration.set('frame received', frameMs);
      if (seq <= WARM_UPS) return;
      measured[kind].push(iteration);
      cpu[kind].push((used.user + used.system) / 1000);
    };
    for (let seq = 1; seq <= WARM_UPS + PUBLISHES; seq += 1) {
      await timed('publish', seq, async () => (await publishes.once(seq)).toFrame);
      await timed('floor', seq, () => floors.once(seq));
    }
    await publishes.close();
    await floors.close();
    deps.destroy();

    const p50 = (iterations: Array<Map<string, number>>, stage: string) => {
      const samples = iterations.flatMap((times) => (times.has(stage) ? [times.get(stage) as number] : []));
      // A stage that is not in most iterations (a stream poll that happened to fall inside) is not the path's.
      return samples.length >= iterations.length / 2 ? percentile(samples, 50) : undefined;
    };
    const stages = [...new Set(measured.publish.flatMap((times) => [...times.keys()]))]
      .map((stage) => ({ stage, publish: p50(measured.publish, stage), floor: p50(measured.floor, stage) }))
      .filter((entry): entry is { stage: string; publish: number; floor: number | undefined } => entry.publish !== undefined)
      .sort((a, b) => a.publish - b.publish);

    console.log(
      `\n${PUBLISHES} publishes (POST /notifications, one user, one open socket) alternating with ${PUBLISHES} floor iterations; ` +
        'p50 ms from the start to each stage (+ the step from the stage before), the floor where it has the stage',
    );
    let previous = 0;
    for (const { stage, publish, floor } of stages) {
      const floorText = floor === undefined ? '' : `floor ${floor.toFixed(2).padStart(6)}`;
      console.log(`  ${stage.padEnd(34)} ${publish.toFixed(2).padStart(6)}  (+${(publish - previous).toFixed(2)})   ${floorText}`);
      previous = publish;
    }
    console.log(row('publish -> frame p50 (vs the floor)', p50(measured.publish, 'frame received') ?? NaN, p50(measured.floor, 'frame received') ?? NaN));
    console.log(row('CPU of this process per publish p50', percentile(cpu.publish, 50), percentile(cpu.floor, 50)));
  } finally {
    await runtime.stop();
  }
}

/** Stamps from the HTTP traffic of this process (SDK calls, the client's fetch, both local APIs) and the runtime's channels. */
function observe(httpPort: number, wsPort: number): void {
  const serverPort = (server: Server) => (server.address() as { port: number } | null)?.port;
  diagnostics.subscribe('http.server.request.start', (message) => {
    const { server, request } = message as { server: Server; request: IncomingMessage };
    const port = serverPort(server);
    if (port === httpPort) stamp('at the HTTP API');
    else if (port === wsPort && request.method === 'POST') stamp('post at the gateway');
  });
  diagnostics.subscribe('http.server.response.finish', (message) => {
    if (serverPort((message as { server: Server }).server) === httpPort) stamp('202 written');
  });
  jwtVerifiedChannel.subscribe(() => stamp('JWT verified'));
  invocationChannel.subscribe((message) => {
    if ((message as { phase: string }).phase === 'start') stamp('handler started');
  });
  const operation = (request: ClientRequest) =>
    String(request.getHeader('x-amz-target') ?? '').replace(/^DynamoDB_\d+\./, '') || (request.path.includes('@connections') ? 'post' : request.path);
  diagnostics.subscribe('http.client.request.start', (message) => stamp(`${operation((message as { request: ClientRequest }).request)} on the wire`));
  diagnostics.subscribe('http.client.response.finish', (message) => stamp(`${operation((message as { request: ClientRequest }).request)} answered`));
  onEverySdkCommand('publishSpans', (name) => {
    stamp(`${name} sent`);
    return () => stamp(`${name} done`);
  });
}
