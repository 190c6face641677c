/**
 * Where the time of a 1,000-member alert goes: for each raise (POST /alerts to a topic of 1,000
 * members, each with one open socket), the ms from the POST to the first, median and last of each
 * stage of its path: the invocations (raiseAlert, alertFanout, each alertChunks), every SDK command
 * the handlers and the local pollers send (sent -> done, with its mean duration: ReceiveMessage is
 * the chunk poller's), the posts at the local gateway and the frames on the members' sockets.
 * Beside it, the CPU each process spent in the raise (this Node process: runtime, emulated
 * gateways, fauxqs, SES and the 1,000 client sockets; DynamoDB Local's Java process) against the
 * wall time, and how busy this process's event loop was: on 2 cores, a saturated loop or a Java
 * process using both is the local floor, whatever Herald does.
 */
import diagnostics from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage, Server } from 'node:http';
import { performance } from 'node:perf_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../lib/local/aws-local';
import { invocationChannel } from '../lib/local/lambda-host';
import { onEverySdkCommand } from './sdk-commands';
import { startLocalRuntime } from '../lib/local/runtime';
import { connectMembers, seedMembers } from './alerts';
import { cpuMsOf, javaPid } from './process-cpu';
import { percentile, row } from './stats';

const MEMBERS = 1_000;
const RAISES = 3;
const WARM_UPS = 1;
const RECEIPT_TIMEOUT_MS = 60_000;

interface Span {
  readonly stage: string;
  readonly at: number;
  readonly ms?: number;
}
let spans: Span[] | undefined;
let origin = 0;
const mark = (stage: string, ms?: number) => spans?.push({ stage, at: performance.now() - origin, ...(ms !== undefined && { ms }) });

export async function benchAlertSpans(): Promise<void> {
  const runtime = await startLocalRuntime({ portBase: 0 });
  try {
    observe(Number(new URL(runtime.urls.wsUrl).port));
    const tenant = `spans-${Date.now().toString(36)}`;
    const db = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: runtime.urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS }));
    const members = await seedMembers(db, tenant, 'site', MEMBERS);
    db.destroy();
    const sockets = await connectMembers(runtime.urls.httpUrl, tenant, members);
    const publisher = await (await import('./wire')).devToken(runtime.urls.httpUrl, tenant, 'monitor', ['publisher']);
    const java = javaPid();

    for (let raise = 0; raise < WARM_UPS + RAISES; raise += 1) {
      spans = [];
      const cpuBefore = process.cpuUsage();
      const javaBefore = cpuMsOf(java);
      const loopBefore = performance.eventLoopUtilization();
      origin = performance.now();
      const response = await fetch(`${runtime.urls.httpUrl}/alerts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${publisher}`, 'content-type': 'application/json' },
        body: JSON.stringify({ topic: 'site', rule: 'spans', subject: `s-${raise}`, severity: 'high', title: `Spans ${raise}` }),
      });
      if (response.status !== 201) throw new Error(`raise: ${response.status} ${await response.text()}`);
      const { id } = (await response.json()) as { id: string };
      const arrivals = await Promise.all(
        sockets.map(async (socket) => (await socket.waitFor((frame) => frame.type === 'notification' && frame.data?.alertId === id, RECEIPT_TIMEOUT_MS)).at),
      );
      const wallMs = performance.now() - origin;
      const node = process.cpuUsage(cpuBefore);
      const javaMs = cpuMsOf(java) - javaBefore;
      const loop = performance.eventLoopUtilization(loopBefore);
      const taken = spans;
      spans = undefined;
      for (const at of arrivals) taken.push({ stage: 'frame received', at: at - origin });
      if (raise < WARM_UPS) continue;
      print(raise - WARM_UPS + 1, taken, {
        wallMs,
        nodeMs: (node.user + node.system) / 1000,
        javaMs,
        loop: loop.utilization,
      });
      // Let the chunk queue settle before the next raise (the last chunks' deletes).
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
    await Promise.all(sockets.map((socket) => socket.close()));
  } finally {
    await runtime.stop();
  }
}

function print(raise: number, taken: Span[], cpu: { wallMs: number; nodeMs: number; javaMs: number; loop: number }): void {
  console.log(`\nraise ${raise}: ms from POST /alerts to each stage: first, median, last (count; mean duration of the call where it has one)`);
  const stages = new Map<string, Span[]>();
  for (const span of taken) stages.set(span.stage, [...(stages.get(span.stage) ?? []), span]);
  const rows = [...stages].map(([stage, list]) => ({ stage, list, first: Math.min(...list.map((span) => span.at)) })).sort((a, b) => a.first - b.first);
  for (const { stage, list, first } of rows) {
    const ats = list.map((span) => span.at);
    const durations = list.flatMap((span) => (span.ms === undefined ? [] : [span.ms]));
    const mean = durations.length === 0 ? '' : `  mean ${(durations.reduce((sum, ms) => sum + ms, 0) / durations.length).toFixed(1)} ms`;
    console.log(
      `  ${stage.padEnd(36)} ${first.toFixed(0).padStart(6)} ${percentile(ats, 50).toFixed(0).padStart(6)} ${Math.max(...ats)
        .toFixed(0)
        .padStart(6)}  (${list.length})${mean}`,
    );
  }
  console.log(
    `  CPU over the ${cpu.wallMs.toFixed(0)} ms: Node process ${cpu.nodeMs.toFixed(0)} ms (${((100 * cpu.nodeMs) / cpu.wallMs).toFixed(0)}% of a core; event loop busy ` +
      `${(100 * cpu.loop).toFixed(0)}%), DynamoDB Local (Java) ${cpu.javaMs.toFixed(0)} ms (${((100 * cpu.javaMs) / cpu.wallMs).toFixed(0)}% of a core); 2 cores = 200%`,
  );
  console.log(row('  CPU of both processes (vs the wall time)', cpu.nodeMs + cpu.javaMs, cpu.wallMs));
  console.log(row("  CPU of DynamoDB Local's JVM (vs the Node process)", cpu.javaMs, cpu.nodeMs));
}

/** Invocations, SDK commands (sent -> done) and the gateway's posts, stamped from this process. */
function observe(wsPort: number): void {
  invocationChannel.subscribe((message) => {
    const { functionName, phase } = message as { functionName: string; phase: 'start' | 'end' };
    mark(`${functionName.replace(/^herald-/, '')} ${phase}`);
  });
  diagnostics.subscribe('http.server.request.start', (message) => {
    const { server, request } = message as { server: Server; request: IncomingMessage };
    if ((server.address() as { port: number } | null)?.port === wsPort && request.method === 'POST') mark('post at the gateway');
  });
  // A request leaves the SDK's queue for a socket here: the gap from `sent` is signing and waiting for one of the client's 50 sockets.
  diagnostics.subscribe('http.client.request.start', (message) => {
    const { request } = message as { request: ClientRequest };
    const operation =
      String(request.getHeader('x-amz-target') ?? '').replace(/^(DynamoDB_\d+|AmazonSQS)\./, '') || (request.path.includes('@connections') ? 'post' : '');
    if (operation !== '') mark(`${operation} on the wire`);
  });
  onEverySdkCommand('alertSpans', (name) => {
    const sentAt = performance.now();
    mark(`${name} sent`);
    return () => mark(`${name} done`, performance.now() - sentAt);
  });
}
