import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { attachScreenshot, launchChromium, signInToDemo } from '../support/browser';
import { TestSocket, ticketFor, urls } from '../support/local';

/** A real browser on the demo app: the shell, the alerts board, and a raw socket (Origin allowlisted) that pings. */
let browser: Browser;
/** A blank page on a loopback origin that is not on the allowlist. */
let foreign: Server;

beforeAll(async () => {
  foreign = createServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>foreign</title>'));
  await new Promise<void>((resolve, reject) => foreign.once('error', reject).listen(0, '127.0.0.1', resolve));
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  foreign?.closeAllConnections();
  await new Promise((resolve) => (foreign ? foreign.close(resolve) : resolve(undefined)));
});

function headerOf(headers: Record<string, string>, name: string): string | undefined {
  return Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
}

describe('demo app in Chromium', () => {
  it('signs in once, moves between pages, and signs out', async (context) => {
    const page = await browser.newPage();
    try {
      await signInToDemo(page, urls().webUrl, { tenant: 'shell-tenant', user: 'shell-user', page: 'exports' });
      expect(await page.getAttribute('#nav-exports', 'aria-current')).toBe('page');
      expect(await page.textContent('#signed-in-as')).toBe('shell-user @ shell-tenant');
      expect(await page.locator('nav.pages a').allTextContents()).toEqual(['Inspections', 'Inbox & alerts', 'Exports', 'Preferences', 'Developer']);
      // On a phone-sized screen the page wraps instead of scrolling sideways.
      await page.setViewportSize({ width: 390, height: 844 });
      await page.waitForSelector('#export-form');
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await attachScreenshot(context, page, 'exports page on a phone-sized screen');
      await page.setViewportSize({ width: 1280, height: 720 });
      await page.click('#nav-preferences');
      await page.waitForSelector('#page[data-page="preferences"] #pref-form');
      // The page left is torn down: its form is gone, not hidden.
      expect(await page.locator('#export-form').count()).toBe(0);
      await attachScreenshot(context, page, 'preferences page after navigating from exports');
      // The records client's page (web/demo/inspections.ts) mounts like any other.
      await page.click('#nav-inspections');
      await page.waitForSelector('#page[data-page="inspections"] section#inspections #insp-scope');
      expect(await page.locator('#pref-form').count()).toBe(0);
      await attachScreenshot(context, page, 'inspections page');
      await page.click('#sign-out');
      await page.waitForSelector('#sign-in-form:not([hidden])');
      expect(await page.isHidden('#nav')).toBe(true);
      expect(await page.locator('#page').innerHTML()).toBe('');
      expect(await page.getAttribute('#client-state', 'data-state')).toBe('closed');
    } finally {
      await page.close();
    }
  });

  it('connects over the WebSocket from an allowed origin and gets pong', async () => {
    const page = await browser.newPage();
    try {
      await signInToDemo(page, urls().webUrl, { tenant: 'acme', user: 'browser-user', page: 'developer' });
      await page.click('#connect');
      await page.waitForSelector('#state[data-state="open"]', { timeout: 10_000 });
      await page.click('#ping');
      await page.waitForFunction(() => document.getElementById('log')?.textContent?.includes('"type":"pong"'), undefined, { timeout: 10_000 });
      await page.click('#disconnect');
      await page.waitForSelector('#state[data-state="closed"]');
      expect(await page.textContent('#log')).toContain('closed (1000 bye)');
    } finally {
      await page.close();
    }
  });

  it('keeps an alerts board live: a raise appears through the topic event, with its notification, and Acknowledge moves it on', async (context) => {
    const page = await browser.newPage();
    try {
      await signInToDemo(page, urls().webUrl, { tenant: 'board-tenant', user: 'board-user' });
      await page.fill('#topic', 'site-board');
      await page.click('#join-topic');
      await page.waitForSelector('#raise-alert:not([disabled])');
      await page.fill('#alert-title', 'Crane wind limit');
      await page.selectOption('#alert-severity', 'critical');
      await page.click('#raise-alert');
      const row = page.locator('#board li[data-status="active"][data-severity="critical"]');
      await row.waitFor({ timeout: 15_000 });
      expect(await row.locator('.title').textContent()).toBe('Crane wind limit');
      await page.waitForSelector('#inbox li .title:text("CRITICAL: Crane wind limit")', { timeout: 15_000 });
      await row.locator('button.to-acknowledged').click();
      await page.waitForSelector('#board li[data-status="acknowledged"][data-version="2"]', { timeout: 15_000 });
      await attachScreenshot(context, page, 'inbox and alerts board after acknowledging');
    } finally {
      await page.close();
    }
  });

  it('refuses a WebSocket from a page on a foreign origin with 403, without burning the ticket', async () => {
    // Another loopback origin (a port of its own), so Chromium's local-network checks let the
    // handshake through and only the server's origin allowlist can refuse it.
    const foreignOrigin = `http://127.0.0.1:${(foreign.address() as AddressInfo).port}`;
    expect(new URL(urls().webUrl).origin).not.toBe(foreignOrigin);
    const page = await browser.newPage();
    const cdp = await page.context().newCDPSession(page);
    try {
      // Chromium reports a refused handshake only as a frame error naming the status it got.
      const handshakes = new Map<string, { origin?: string; error?: string }>();
      cdp.on('Network.webSocketWillSendHandshakeRequest', (event) => handshakes.set(event.requestId, { origin: headerOf(event.request.headers, 'origin') }));
      cdp.on('Network.webSocketFrameError', (event) => Object.assign(handshakes.get(event.requestId) ?? {}, { error: event.errorMessage }));
      await cdp.send('Network.enable');
      await page.goto(`${foreignOrigin}/`);
      const { url } = await ticketFor('acme', 'browser-foreign');
      const outcome = await page.evaluate(
        (target) =>
          new Promise<string>((resolve) => {
            const socket = new WebSocket(target);
            socket.onopen = () => resolve('opened');
            socket.onclose = (event) => resolve(`closed ${event.code}`);
          }),
        url,
      );
      expect(outcome).toBe('closed 1006');
      // The server itself answered the handshake, with 403 for the page's Origin.
      await vi.waitFor(() =>
        expect([...handshakes.values()]).toEqual([{ origin: foreignOrigin, error: 'Error during WebSocket handshake: Unexpected response code: 403' }]),
      );
      // The origin check runs before the ticket is redeemed, so the ticket still works elsewhere.
      const socket = await TestSocket.open(url);
      await socket.close();
    } finally {
      await cdp.detach().catch(() => undefined);
      await page.close();
    }
  });
});
