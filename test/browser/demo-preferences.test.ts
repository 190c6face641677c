import { describe, expect, it } from 'vitest';
import { attachScreenshot, chromiumPerFile, signInToDemo } from '../support/browser';
import { api, devToken, urls } from '../support/local';

/** The demo's preferences page in Chromium, against the local runtime: save, read back over HTTP, refusals. */
const chromium = chromiumPerFile();
const unique = (prefix: string) => `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

describe('demo preferences page in Chromium', () => {
  it('saves channels per kind, mute and the email address, which the API then answers and the page shows again', async (context) => {
    const tenant = unique('pref');
    const page = await (await chromium.newContext()).newPage();
    await signInToDemo(page, urls().webUrl, { tenant, user: 'ana', page: 'preferences' });
    await page.waitForSelector('#pref-save:not([disabled])');
    // Never set: everything on, no address.
    expect(await page.inputValue('#pref-email')).toBe('');
    expect(await page.locator('#pref-kinds .channel-inapp:not(:checked)').count()).toBe(0);

    await page.fill('#pref-email', 'ana.field@example.com');
    await page.check('#pref-muted');
    await page.uncheck('#pref-kinds tr[data-kind="alert.acknowledged"] .channel-inapp');
    await page.uncheck('#pref-kinds tr[data-kind="export.ready"] .channel-email');
    await page.fill('#pref-new-kind', 'inspection.due');
    await page.click('#pref-add-kind');
    await page.check('#pref-kinds tr[data-kind="inspection.due"] .channel-email');
    await page.click('#pref-save');
    await page.waitForSelector('#pref-status:text("Saved")');

    const { status, body } = await api('GET', '/me/preferences', await devToken(tenant, 'ana'));
    expect(status).toBe(200);
    expect(body).toEqual({
      kinds: {
        'alert.acknowledged': { inApp: false, email: true },
        'export.ready': { inApp: true, email: false },
        'inspection.due': { inApp: false, email: true },
      },
      muted: true,
      email: 'ana.field@example.com',
    });

    // A fresh page reads them back from the API.
    await page.reload();
    await signInToDemo(page, urls().webUrl, { tenant, user: 'ana', page: 'preferences' });
    await page.waitForSelector('#pref-save:not([disabled])');
    expect(await page.inputValue('#pref-email')).toBe('ana.field@example.com');
    expect(await page.isChecked('#pref-muted')).toBe(true);
    expect(await page.isChecked('#pref-kinds tr[data-kind="alert.acknowledged"] .channel-inapp')).toBe(false);
    expect(await page.isChecked('#pref-kinds tr[data-kind="inspection.due"] .channel-email')).toBe(true);
    await attachScreenshot(context, page, 'preferences page after saving and reloading');
  });

  it('shows the refusal of a bad address and of a bad kind, and keeps what was saved', async (context) => {
    const tenant = unique('prefbad');
    const token = await devToken(tenant, 'bo');
    const saved = { kinds: { demo: { inApp: false, email: false } }, muted: false, email: 'bo@example.com' };
    expect((await api('PUT', '/me/preferences', token, saved)).status).toBe(200);
    const page = await (await chromium.newContext()).newPage();
    await signInToDemo(page, urls().webUrl, { tenant, user: 'bo', page: 'preferences' });
    await page.waitForSelector('#pref-save:not([disabled])');
    expect(await page.inputValue('#pref-email')).toBe('bo@example.com');
    const error = page.locator('#pref-form .form-error');

    await page.fill('#pref-email', 'not an address');
    await page.click('#pref-save');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/^email: .*\(400 invalid_body\)$/);
    expect(await page.getAttribute('#pref-email', 'aria-invalid')).toBe('true');
    await attachScreenshot(context, page, 'preferences form refusing an address');

    await page.fill('#pref-email', 'bo@example.com');
    await page.fill('#pref-new-kind', 'no spaces allowed');
    await page.click('#pref-add-kind');
    await page.click('#pref-save');
    await page.waitForFunction(() => document.querySelector('#pref-form .form-error')?.textContent?.startsWith('kinds'));
    expect(await page.getAttribute('#pref-kinds', 'aria-invalid')).toBe('true');
    expect(await page.getAttribute('#pref-email', 'aria-invalid')).toBeNull();

    // Nothing of either refused save was stored.
    expect((await api('GET', '/me/preferences', token)).body).toEqual(saved);
  });
});
