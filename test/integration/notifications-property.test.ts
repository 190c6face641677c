import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HeraldClient, memoryStore, type Notification } from '#web/client';
import { api, devToken, urls } from '../support/local';

/**
 * The exactly-once promise (docs/protocol.md) as a property, end to end: the client library in Node against
 * the real local runtime. fast-check picks random interleavings of publishes (single and in
 * concurrent bursts), network drops (the socket dies without a close handshake, possibly with
 * pushes in flight) and pauses; whatever the interleaving, the client must end up having shown
 * every notification exactly once, in seq order.
 */

type Step = { kind: 'publish'; count: number; concurrent: boolean } | { kind: 'drop' } | { kind: 'pause'; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('publish' as const), count: fc.integer({ min: 1, max: 4 }), concurrent: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 150 }) }) },
);

async function until(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((wait) => setTimeout(wait, 20));
  }
}

async function runScenario(steps: Step[]): Promise<void> {
  const user = `prop-${randomUUID().slice(0, 8)}`;
  const userToken = await devToken('acme', user);
  const publisherToken = await devToken('acme', 'publisher-bot', ['publisher']);
  const sockets: WebSocket[] = [];
  class TrackedSocket extends WebSocket {
    constructor(url: string) {
      super(url);
      sockets.push(this);
    }
  }
  const shown: Notification[] = [];
  const client = new HeraldClient({
    httpUrl: urls().httpUrl,
    getToken: async () => userToken,
    WebSocket: TrackedSocket,
    storage: memoryStore(),
    backoffBaseMs: 20,
    backoffCapMs: 200,
    // Resume, not polling, must recover what a drop lost.
    pollAfterFailures: 1_000,
  });
  client.on('notification', (notification) => shown.push(notification));
  let published = 0;
  const publishOne = async () => {
    const title = `n${++published}`;
    const response = await api('POST', '/notifications', publisherToken, { userId: user, kind: 'prop', title });
    if (response.status !== 202) throw new Error(`publish: ${response.status} ${JSON.stringify(response.body)}`);
  };
  try {
    await client.start();
    await until(() => client.state === 'open', 'open');
    for (const next of steps) {
      if (next.kind === 'publish') {
        const publishes = Array.from({ length: next.count }, () => publishOne);
        if (next.concurrent) await Promise.all(publishes.map((publish) => publish()));
        else for (const publish of publishes) await publish();
      } else if (next.kind === 'drop') {
        for (const socket of sockets) if (socket.readyState === WebSocket.OPEN) socket.terminate();
      } else {
        await new Promise((wait) => setTimeout(wait, next.ms));
      }
    }
    await until(() => shown.length >= published, `${published} notifications (shown ${shown.length})`);
    // Anything shown twice would arrive after the last one; give it the chance.
    await new Promise((wait) => setTimeout(wait, 300));
    expect(shown.map((notification) => notification.seq)).toEqual(Array.from({ length: published }, (_, index) => index + 1));
    // Concurrent publishes may commit in either order, so titles are compared as a set.
    expect(new Set(shown.map((notification) => notification.title)).size).toBe(published);
  } finally {
    await client.stop();
  }
}

describe('exactly once, in order, whatever the network does', () => {
  it('shows every notification once, in seq order, across random drops, bursts and resumes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 8 }), (steps) => runScenario(steps)),
      { numRuns: 8, endOnFailure: true },
    );
  }, 180_000);
});
