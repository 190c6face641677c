import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';

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
 * One Chromium for the calling test file and fresh contexts per test, closed after it even when
 * the test fails, so no page of one test outlives it. Call at the top level of a test file.
 */
export function chromiumPerFile(): { newContext: () => Promise<BrowserContext> } {
  let browser: Browser | undefined;
  // A test may open several contexts (two devices); each is closed after it.
  const contexts: BrowserContext[] = [];
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
  afterAll(async () => {
    await browser?.close();
  });
  return {
    newContext: async () => {
      if (!browser) throw new Error('chromiumPerFile: Chromium is not running (newContext outside a test?)');
      const context = await browser.newContext();
      contexts.push(context);
      return context;
    },
  };
}
