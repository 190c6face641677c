import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chromiumPerFile, signInToDemo } from '../support/browser';
import { api, devToken, urls } from '../support/local';

/** The client library in Chromium, through the demo app: tabs of one origin share one socket. */
const chromium = chromiumPerFile();

async function publish(userId: string, title: string): Promise<number> {
  const { status, body } = await api('POST', '/notifications', await devToken('acme', 'publisher-bot', ['publisher']), { userId, kind: 'test', title });
  expect(status).toBe(202);
  return body.seq;
}

/** Every WebSocket the pages open to the gateway, as Chromium reports them over CDP. */
function watchSockets(page: Page, sockets: Array<{ page: Page; closed: boolean }>) {
  page.on('websocket', (socket) => {
    if (!socket.url().startsWith(urls().wsUrl)) return;
    const entry = { page, closed: false };
    sockets.push(entry);
    socket.on('close', () => (entry.closed = true));
  });
  // A closed page reports nothing more; Chromium closes its sockets with it.
  page.on('close', () => {
    for (const entry of sockets) if (entry.page === page) entry.closed = true;
  });
}

/** Signs in on the demo's inbox page, which starts the tab's client. */
async function startTab(page: Page, user: string): Promise<void> {
  await signInToDemo(page, urls().webUrl, { tenant: 'acme', user });
}

const titles = (page: Page) => page.$$eval('#inbox li .title', (items) => items.map((item) => item.textContent));

describe('client library across tabs in Chromium', () => {
  it('two tabs share one socket, both show a notification, and the survivor takes over when the leader closes', async () => {
    const user = `tabs-${randomUUID().slice(0, 8)}`;
    const context = await chromium.newContext();
    const sockets: Array<{ page: Page; closed: boolean }> = [];
    const first = await context.newPage();
    const second = await context.newPage();
    watchSockets(first, sockets);
    watchSockets(second, sockets);

    await startTab(first, user);
    await expect.poll(() => first.textContent('#role')).toBe('leader');
    await startTab(second, user);
    expect(await second.textContent('#role')).toBe('follower');
    expect(sockets.filter((socket) => !socket.closed).map((socket) => socket.page)).toEqual([first]);

    await publish(user, 'shared');
    for (const page of [first, second]) {
      await page.waitForSelector('#inbox li[data-read="false"] >> text=shared', { timeout: 10_000 });
      await expect.poll(() => page.textContent('#unread')).toBe('1');
    }
    expect(sockets).toHaveLength(1);

    await first.close();
    await expect.poll(() => second.textContent('#role'), { timeout: 10_000 }).toBe('leader');
    await second.waitForSelector('#client-state[data-state="open"]', { timeout: 10_000 });
    await expect.poll(() => sockets.filter((socket) => !socket.closed).map((socket) => socket.page)).toEqual([second]);

    await publish(user, 'after the handover');
    await second.waitForSelector('#inbox li >> text=after the handover', { timeout: 10_000 });
    await expect.poll(() => second.textContent('#unread')).toBe('2');
    expect(await titles(second)).toEqual(['after the handover', 'shared']);

    await second.click('#mark-all-read');
    await expect.poll(() => second.textContent('#unread')).toBe('0');
    expect(await second.$$('#inbox li[data-read="false"]')).toHaveLength(0);
  });

  it('keeps the inbox in IndexedDB: a reload shows it without replaying, and another user on the same browser sees none of it', async () => {
    const user = `reload-${randomUUID().slice(0, 8)}`;
    const context = await chromium.newContext();
    const page = await context.newPage();
    await startTab(page, user);
    await publish(user, 'stored');
    await page.waitForSelector('#inbox li >> text=stored', { timeout: 10_000 });

    const frames: string[] = [];
    page.on('websocket', (socket) => socket.on('framereceived', (frame) => frames.push(String(frame.payload))));
    await page.reload();
    await startTab(page, user);
    await page.waitForSelector('#inbox li >> text=stored');
    await expect.poll(() => frames.some((frame) => frame.includes('"type":"replayed"'))).toBe(true);
    expect(frames.filter((frame) => frame.includes('"type":"notification"'))).toEqual([]);

    const other = await context.newPage();
    await startTab(other, `other-${randomUUID().slice(0, 8)}`);
    expect(await other.textContent('#role')).toBe('leader');
    expect(await titles(other)).toEqual([]);
  });
});
