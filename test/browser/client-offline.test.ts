import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chromiumPerFile, signInToDemo } from '../support/browser';
import { api, devToken, urls } from '../support/local';

/**
 * The client library in Chromium, through the demo app, with the network cut (context.setOffline)
 * and with a socket that goes silent. Chromium's setOffline does not necessarily break an
 * established WebSocket, so the "silently dead socket" is made explicit: the page's socket is
 * routed through Playwright (page.routeWebSocket), which forwards frames both ways until a test
 * makes it swallow the server's, as a dead network path would.
 */
const chromium = chromiumPerFile();

async function publish(userId: string, title: string): Promise<void> {
  const { status } = await api('POST', '/notifications', await devToken('acme', 'publisher-bot', ['publisher']), { userId, kind: 'test', title });
  expect(status).toBe(202);
}

/** The demo's connection state, as the page shows it, with each change stamped by the page's clock. */
async function recordStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    const target = document.getElementById('client-state') as HTMLElement;
    const log: Array<{ state: string; at: number }> = [];
    (window as unknown as { stateLog: typeof log }).stateLog = log;
    new MutationObserver(() => log.push({ state: target.dataset.state ?? '', at: performance.now() })).observe(target, { attributes: true });
  });
}
const stateLog = (page: Page) => page.evaluate(() => (window as unknown as { stateLog: Array<{ state: string; at: number }> }).stateLog);
const pageNow = (page: Page) => page.evaluate(() => performance.now());

/** Signs in on the demo's inbox page, which starts the tab's client. */
async function startTab(page: Page, user: string): Promise<void> {
  await signInToDemo(page, urls().webUrl, { tenant: 'acme', user });
}

/** Routes the page's gateway sockets through Playwright; `silence(n)` makes socket n (0-based) drop every server frame from then on. */
async function routeSockets(page: Page) {
  const sockets: Array<{ silent: boolean; sent: string[] }> = [];
  await page.routeWebSocket(
    (url) => url.href.startsWith(urls().wsUrl),
    (route) => {
      const entry = { silent: false, sent: [] as string[] };
      sockets.push(entry);
      const server = route.connectToServer();
      route.onMessage((message) => {
        entry.sent.push(String(message));
        server.send(message);
      });
      server.onMessage((message) => {
        if (!entry.silent) route.send(message);
      });
    },
  );
  return { sockets, silence: (index: number) => ((sockets[index] as { silent: boolean }).silent = true) };
}

const pings = (sent: string[]) => sent.filter((frame) => JSON.parse(frame).action === 'ping').length;

describe('client offline detection in Chromium', () => {
  it('shows offline within a second of the network going, and back online pings, stays on an answering socket and shows open', async () => {
    const user = `offline-${randomUUID().slice(0, 8)}`;
    const context = await chromium.newContext();
    const page = await context.newPage();
    const { sockets } = await routeSockets(page);
    await startTab(page, user);
    await recordStates(page);

    const cut = await pageNow(page);
    await context.setOffline(true);
    await page.waitForSelector('#client-state[data-state="offline"]', { timeout: 1_000 });
    const offlineAt = (await stateLog(page)).find((entry) => entry.state === 'offline')?.at ?? Infinity;
    expect(offlineAt - cut).toBeLessThan(1_000);

    await context.setOffline(false);
    await page.waitForSelector('#client-state[data-state="open"]', { timeout: 5_000 });
    // The return was proven by a ping on the same socket, answered: no reconnect.
    expect(pings(sockets[0]?.sent ?? [])).toBe(1);
    expect(sockets).toHaveLength(1);
    expect((await stateLog(page)).map((entry) => entry.state)).toEqual(['offline', 'open']);

    await publish(user, 'after the cut');
    await page.waitForSelector('#inbox li >> text=after the cut', { timeout: 10_000 });
  });

  it('back online, replaces a socket that no longer answers within seconds, and resumes what it missed', async () => {
    const user = `silent-${randomUUID().slice(0, 8)}`;
    const context = await chromium.newContext();
    const page = await context.newPage();
    const { sockets, silence } = await routeSockets(page);
    await startTab(page, user);
    await recordStates(page);

    await context.setOffline(true);
    await page.waitForSelector('#client-state[data-state="offline"]', { timeout: 1_000 });
    silence(0);
    // Pushed while the path is dead: it reaches the server's socket but never the page.
    await publish(user, 'missed while dead');
    const back = await pageNow(page);
    await context.setOffline(false);

    await expect.poll(() => sockets.length, { timeout: 8_000 }).toBe(2);
    await page.waitForSelector('#inbox li >> text=missed while dead', { timeout: 10_000 });
    await page.waitForSelector('#client-state[data-state="open"]', { timeout: 5_000 });
    expect(pings(sockets[0]?.sent ?? [])).toBe(1);
    const second = (sockets[1]?.sent ?? []).map((frame) => JSON.parse(frame));
    expect(second).toContainEqual({ action: 'resume', after: 0, batch: true, id: expect.any(String) });
    // The 3 s liveness deadline, then a reconnect at once (not the default 5-minute ping and 10 s pong wait).
    const reopenedAt = (await stateLog(page)).filter((entry) => entry.state === 'open').at(-1)?.at ?? Infinity;
    expect(reopenedAt - back).toBeLessThan(6_000);
    expect((await stateLog(page)).map((entry) => entry.state)).toEqual(['offline', 'connecting', 'open']);
  });

  it('when the page becomes visible again, checks the socket the same way and replaces a silent one', async () => {
    const user = `visible-${randomUUID().slice(0, 8)}`;
    const context = await chromium.newContext();
    const page = await context.newPage();
    const { sockets, silence } = await routeSockets(page);
    await startTab(page, user);

    // An answering socket: the check pings and nothing else happens.
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await expect.poll(() => pings(sockets[0]?.sent ?? [])).toBe(1);
    await page.waitForTimeout(3_500);
    expect(sockets).toHaveLength(1);

    silence(0);
    await page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await expect.poll(() => sockets.length, { timeout: 8_000 }).toBe(2);
    await page.waitForSelector('#client-state[data-state="open"]', { timeout: 5_000 });
    await publish(user, 'on the new socket');
    await page.waitForSelector('#inbox li >> text=on the new socket', { timeout: 10_000 });
  });

  it('a follower tab becoming visible has the leader check its socket', async () => {
    const user = `follower-${randomUUID().slice(0, 8)}`;
    const context = await chromium.newContext();
    const leader = await context.newPage();
    const follower = await context.newPage();
    const { sockets, silence } = await routeSockets(leader);
    await startTab(leader, user);
    await expect.poll(() => leader.textContent('#role')).toBe('leader');
    await startTab(follower, user);
    expect(await follower.textContent('#role')).toBe('follower');

    silence(0);
    await follower.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await expect.poll(() => pings(sockets[0]?.sent ?? [])).toBe(1);
    await expect.poll(() => sockets.length, { timeout: 8_000 }).toBe(2);
    await publish(user, 'after the check');
    await follower.waitForSelector('#inbox li >> text=after the check', { timeout: 10_000 });
  });
});
