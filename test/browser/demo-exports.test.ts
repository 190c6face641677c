import { readFile } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { attachScreenshot, chromiumPerFile, signInToDemo } from '../support/browser';
import { api, devToken, urls } from '../support/local';

/** The demo's exports page in Chromium, against the local runtime: schedule, run now with live progress, download. */
const chromium = chromiumPerFile();
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

async function publish(tenant: string, user: string, titles: string[]): Promise<void> {
  const publisher = await devToken(tenant, 'seeder', ['publisher']);
  for (const title of titles) {
    const { status } = await api('POST', '/notifications', publisher, { userId: user, kind: 'inspection.due', title });
    expect(status).toBe(202);
  }
}

describe('demo exports page in Chromium', () => {
  it('creates a schedule, lists its next run, runs it now with a live progress bar to done, lists the run and downloads the file', async (context) => {
    const tenant = unique('exp');
    // Titles a naive CSV reader would split: a comma, quotes, a line break.
    const titles = ['Boiler room, level 2', 'Crane "B" inspection', 'Scaffold\ncheck'];
    await publish(tenant, 'ana', titles);
    const page = await (await chromium.newContext()).newPage();
    await signInToDemo(page, urls().webUrl, { tenant, user: 'ana', page: 'exports' });
    await page.waitForSelector('#schedules .empty');

    await page.fill('#export-name', 'Site inbox');
    await page.selectOption('#export-dataset', 'notifications');
    await page.selectOption('#export-format', 'csv');
    await page.selectOption('#export-when', 'cron');
    await page.fill('#export-cron', '30 7 ? * MON-FRI *');
    await page.fill('#export-timezone', 'Europe/Berlin');
    await page.fill('#export-recipients', 'site-lead@example.com');
    await page.click('#export-create');
    const schedule = page.locator('#schedules .schedule');
    await schedule.waitFor();

    // Listed with the next run the API computes, which is a weekday at 07:30 in Berlin.
    const { body: listed } = await api('GET', '/exports/schedules', await devToken(tenant, 'ana'));
    expect(listed.items).toHaveLength(1);
    const [created] = listed.items;
    expect(created).toMatchObject({
      name: 'Site inbox',
      expression: 'cron(30 7 ? * MON-FRI *)',
      timezone: 'Europe/Berlin',
      recipients: ['site-lead@example.com'],
    });
    expect(await schedule.getAttribute('data-id')).toBe(created.id);
    expect(await schedule.locator('.next-run').getAttribute('data-next-run')).toBe(created.nextRunAt);
    const berlin = new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', weekday: 'short', hour: '2-digit', minute: '2-digit' }).format(
      new Date(created.nextRunAt),
    );
    expect(berlin).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 07:30$/);
    expect(Date.parse(created.nextRunAt)).toBeGreaterThan(Date.now());

    // Every state the bar passes through, as the page shows it.
    await page.evaluate(() => {
      const states: string[] = [];
      (window as unknown as { barStates: string[] }).barStates = states;
      new MutationObserver((changes) => {
        for (const change of changes) {
          const target = change.target as HTMLElement;
          if (target.classList?.contains('progress') && states.at(-1) !== target.dataset.state) states.push(target.dataset.state ?? '');
        }
      }).observe(document.getElementById('schedules') as HTMLElement, { subtree: true, attributes: true, attributeFilter: ['data-state'] });
    });
    await schedule.locator('.run-now').click();
    const progress = schedule.locator('.progress');
    await progress.waitFor();
    // Fed by the worker's progress frames: the last one carries done = total.
    await page.waitForSelector('#schedules .progress[data-state="done"]', { timeout: 60_000 });
    expect(await progress.getAttribute('data-source')).toBe('live');
    expect(Number(await progress.getAttribute('data-frames'))).toBeGreaterThanOrEqual(1);
    expect(await progress.getAttribute('data-done')).toBe('3');
    expect(await progress.locator('progress').evaluate((bar: HTMLProgressElement) => [bar.value, bar.max])).toEqual([3, 3]);
    const states = await page.evaluate(() => (window as unknown as { barStates: string[] }).barStates);
    // Queued when run now answered, then (a run of 3 rows sends only its last frame) done.
    expect(states[0]).toBe('queued');
    expect(states.at(-1)).toBe('done');
    expect(states.every((state) => ['queued', 'running', 'done'].includes(state))).toBe(true);

    const run = schedule.locator('tr[data-status="succeeded"]');
    await run.waitFor({ timeout: 30_000 });
    expect(await run.locator('.rows').textContent()).toBe('3');
    const link = run.locator('a.download');
    await link.waitFor({ timeout: 30_000 });
    await attachScreenshot(context, page, 'exports page: schedule, finished progress bar, run with its download link');

    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const file = await readFile((await download.path()) as string, 'utf8');
    const rows = parse(file, { bom: true, columns: true }) as Array<Record<string, string>>;
    expect(rows.map((row) => row.Title).sort()).toEqual([...titles].sort());
    expect(new Set(rows.map((row) => row.Kind))).toEqual(new Set(['inspection.due']));
    expect(download.suggestedFilename()).toMatch(/\.csv$/);
  });

  it('shows the API refusal of a bad cron, a bad time zone and a recipient not allowed, and creates nothing', async (context) => {
    const tenant = unique('bad');
    const page = await (await chromium.newContext()).newPage();
    await signInToDemo(page, urls().webUrl, { tenant, user: 'bo', page: 'exports' });
    await page.waitForSelector('#schedules .empty');
    const error = page.locator('#export-form .form-error');

    await page.selectOption('#export-when', 'cron');
    await page.fill('#export-cron', '0 7 * * MON *');
    await page.fill('#export-timezone', 'UTC');
    await page.click('#export-create');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^schedule\.cron: .*\(400 invalid_body\)$/);
    expect(await page.getAttribute('#export-cron', 'aria-invalid')).toBe('true');

    await page.fill('#export-cron', '0 7 ? * MON *');
    await page.fill('#export-timezone', 'Mars/Olympus_Mons');
    await page.click('#export-create');
    await page.waitForFunction(() => document.querySelector('#export-form .form-error')?.textContent?.startsWith('timezone'));
    expect(await error.textContent()).toContain('must be an IANA time zone');
    expect(await page.getAttribute('#export-timezone', 'aria-invalid')).toBe('true');
    expect(await page.getAttribute('#export-cron', 'aria-invalid')).toBeNull();

    await page.fill('#export-timezone', 'Europe/Lisbon');
    await page.fill('#export-recipients', 'ok@example.com, someone@field.example');
    await page.click('#export-create');
    await page.waitForSelector('#export-form .form-error[data-code="recipient_not_allowed"]');
    expect(await error.textContent()).toContain('someone@field.example');
    expect(await error.textContent()).not.toContain('ok@example.com');
    expect(await page.getAttribute('#export-recipients', 'aria-invalid')).toBe('true');
    await attachScreenshot(context, page, 'exports form refusing a recipient outside the allowed domains');

    expect((await api('GET', '/exports/schedules', await devToken(tenant, 'bo'))).body.items).toEqual([]);
    expect(await page.locator('#schedules .schedule').count()).toBe(0);
  });
});
