import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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

/** Where the browser tests' screenshots are written (gitignored), a folder per test file. */
export const SCREENSHOTS_DIR = 'test-results/screenshots';

/**
 * Takes a full-page screenshot, writes it to `test-results/screenshots/<test file>/<name>.png` and
 * attaches it to the running test (vitest's `annotate`, which reporters show and which copies the
 * file under `.vitest/attachments/`): docs/local.md, "The demo app".
 */
export async function attachScreenshot(context: Pick<TestContext, 'annotate' | 'task'>, page: Page, name: string): Promise<string> {
  const slug = name
    .replace(/[^a-z0-9]+/gi, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();
  const path = join(SCREENSHOTS_DIR, basename(context.task.file.name, '.test.ts'), `${slug}.png`);
  await mkdir(dirname(path), { recursive: true });
  await page.screenshot({ path, fullPage: true });
  await context.annotate(name, { path, contentType: 'image/png' });
  return path;
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
