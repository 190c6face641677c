import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/browser';
import { TestSocket, ticketFor, urls } from '../support/local';

/** A real browser on the demo app: sign in, get a ticket, connect (Origin allowlisted), ping. */
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(() => browser?.close());

describe('demo app in Chromium', () => {
  it('connects over the WebSocket from an allowed origin and gets pong', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(urls().webUrl);
      await page.fill('#user', 'browser-user');
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

  it('refuses a WebSocket from a page on a foreign origin, without burning the ticket', async () => {
    const page = await browser.newPage();
    try {
      await page.route('http://foreign.test/**', (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>foreign</title>' }));
      await page.goto('http://foreign.test/');
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
      // The origin check runs before the ticket is redeemed, so the ticket still works elsewhere.
      const socket = await TestSocket.open(url);
      await socket.close();
    } finally {
      await page.close();
    }
  });
});
