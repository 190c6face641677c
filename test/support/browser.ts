import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, type TestContext } from 'vitest';

/** Debian's Chromium, driven by playwright-core (no browser download is possible here). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: install it (Debian: apt-get install chromium) or set CHROMIUM_PATH.`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/**
 * One Chromium for the calling test file and a fresh context per test, closed after it even when
 * the test fails, so no page of one test outlives it. Call at the top level of a test file.
 */
export function chromiumPerFile(): { newContext: () => Promise<BrowserContext> } {
  let browser: Browser | undefined;
  let context: BrowserContext | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    newContext: async () => {
      if (!browser) throw new Error('chromiumPerFile: Chromium is not running (newContext outside a test?)');
      context = await browser.newContext();
      return context;
    },
  };
}

/**
 * Attaches a full-page screenshot to the running test (vitest's `annotate`): reporters show it, and
 * vitest writes the PNG under `.vitest/attachments/` (docs/local.md, "The demo app").
 */
export async function attachScreenshot(context: Pick<TestContext, 'annotate'>, page: Page, name: string): Promise<void> {
  await context.annotate(name, { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });
}

/** Opens the demo at `#/<page>` and signs in with the local issuer; resolves once the client's socket is open. */
export async function signInToDemo(page: Page, webUrl: string, who: { tenant: string; user: string; page?: string }): Promise<void> {
  await page.goto(`${webUrl}/#/${who.page ?? 'inbox'}`);
  await page.fill('#tenant', who.tenant);
  await page.fill('#user', who.user);
  await page.click('#sign-in');
  await page.waitForSelector('#client-state[data-state="open"]', { timeout: 15_000 });
  await page.waitForSelector(`#page[data-page="${who.page ?? 'inbox'}"]`);
}
