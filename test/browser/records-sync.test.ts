import { randomUUID } from 'node:crypto';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { chromiumPerFile, signInToDemo } from '../support/browser';
import { api, devToken, urls } from '../support/local';

/**
 * The records client library (web/client/records/) in Chromium, through the demo's Inspections
 * page (web/demo/inspections.ts), against the local runtime: offline edits and the pending count,
 * one outbox shared by two tabs, two devices merging and a manual conflict resolved in the UI,
 * and a full storage quota refused before anything is lost. The server's state is read back
 * through the HTTP API, not the page.
 */
const chromium = chromiumPerFile();
const TENANT = 'acme';

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Signs in on the demo, starts the client and syncs the scope on the Inspections page. */
async function openInspections(context: BrowserContext, user: string, scope: string): Promise<Page> {
  const page = await context.newPage();
  await signInToDemo(page, urls().webUrl, { tenant: TENANT, user, page: 'inspections' });
  await page.fill('#insp-scope', scope);
  await page.click('#insp-join');
  await page.waitForSelector(`#inspections[data-scope="${scope}"]`, { timeout: 10_000 });
  return page;
}

/** Fills the edit form (loading the record first when the list shows it) and saves. */
async function saveInspection(page: Page, id: string, fields: { status?: string; notes?: string; verdict?: string; item?: string; priority?: string }) {
  const listed = page.locator(`#insp-list li[data-id="${id}"]`);
  if ((await listed.count()) > 0) await listed.click();
  else await page.fill('#insp-id', id);
  if (fields.status !== undefined) await page.selectOption('#insp-status', fields.status);
  if (fields.notes !== undefined) await page.fill('#insp-notes', fields.notes);
  if (fields.verdict !== undefined) await page.fill('#insp-verdict', fields.verdict);
  if (fields.item !== undefined) await page.fill('#insp-item', fields.item);
  if (fields.priority !== undefined) await page.selectOption('#insp-priority', fields.priority);
  await page.click('#insp-save');
  await page.waitForSelector('#insp-form:not([data-busy])');
}

const pending = (page: Page) => page.textContent('#insp-pending');
const row = (page: Page, id: string) => page.locator(`#insp-list li[data-id="${id}"]`);

/** The scope's records as the server has them, pulled through the HTTP API. */
async function serverRecords(scope: string, user: string): Promise<Map<string, { fields: Record<string, unknown>; conflicts?: unknown[]; version: number }>> {
  const { status, body } = await api('GET', `/records/${scope}/changes`, await devToken(TENANT, user));
  expect(status).toBe(200);
  return new Map((body.records as Array<{ id: string; fields: Record<string, unknown>; version: number }>).map((record) => [record.id, record]));
}

/** Every op id the pages of a context push, as Chromium sends it. */
function watchPushes(context: BrowserContext): { pushes: number; opIds: string[]; pendings: number[] } {
  const seen = { pushes: 0, opIds: [] as string[], pendings: [] as number[] };
  context.on('request', (request) => {
    if (request.method() !== 'POST' || !/\/records\/[^/]+\/push$/.test(request.url())) return;
    const body = request.postDataJSON() as { ops: Array<{ opId: string }>; pending?: number };
    seen.pushes += 1;
    seen.opIds.push(...body.ops.map((op) => op.opId));
    seen.pendings.push(body.pending ?? -1);
  });
  return seen;
}

describe('offline-first records in Chromium', () => {
  it('keeps an offline edit in the outbox with the pending count shown, and sends it when the device is back online', async () => {
    const user = unique('ana');
    const scope = unique('site');
    const context = await chromium.newContext();
    const pushes = watchPushes(context);
    const page = await openInspections(context, user, scope);

    await context.setOffline(true);
    await page.waitForSelector('#insp-online[data-online="false"]');
    await saveInspection(page, 'insp-1', { status: 'open', notes: 'Pump room', item: 'photo-1' });
    await saveInspection(page, 'insp-2', { notes: 'Roof', priority: 'critical' });
    await expect.poll(() => pending(page)).toBe('2');
    // Applied locally at once (optimistic), though nothing reached the server.
    await expect(row(page, 'insp-1').getAttribute('data-pending')).resolves.toBe('1');
    expect(await row(page, 'insp-1').textContent()).toContain('Pump room');
    expect((await serverRecords(scope, user)).size).toBe(0);
    expect(pushes.pushes).toBe(0);

    await context.setOffline(false);
    await expect.poll(() => pending(page), { timeout: 10_000 }).toBe('0');
    const records = await serverRecords(scope, user);
    expect(records.get('insp-1')?.fields).toMatchObject({ status: 'open', notes: 'Pump room', items: [{ id: 'photo-1' }] });
    expect(records.get('insp-2')?.fields).toMatchObject({ notes: 'Roof' });
    await expect(row(page, 'insp-1').getAttribute('data-version')).resolves.toBe('1');
    // The server knows the device's outbox is empty (pending reported on push).
    expect(pushes.pendings.at(-1)).toBe(0);
  });

  it('shares one outbox between two tabs: edits from both go out, each op exactly once', async () => {
    const user = unique('ana');
    const scope = unique('site');
    const context = await chromium.newContext();
    const pushes = watchPushes(context);
    const first = await openInspections(context, user, scope);
    const second = await openInspections(context, user, scope);

    await context.setOffline(true);
    await saveInspection(first, 'from-first', { notes: 'first tab' });
    await saveInspection(second, 'from-second', { notes: 'second tab' });
    await saveInspection(first, 'from-first-2', { notes: 'first tab again' });
    // One outbox: both tabs count every waiting op.
    for (const page of [first, second]) await expect.poll(() => pending(page)).toBe('3');

    // Both tabs hear `online` and try to push; the Web Lock lets one at a time, and the second finds the outbox empty.
    await context.setOffline(false);
    for (const page of [first, second]) await expect.poll(() => pending(page), { timeout: 10_000 }).toBe('0');
    expect(pushes.opIds).toHaveLength(3);
    expect(new Set(pushes.opIds).size).toBe(3);
    const records = await serverRecords(scope, user);
    expect([...records.keys()].sort()).toEqual(['from-first', 'from-first-2', 'from-second']);
    for (const record of records.values()) expect(record.version).toBe(1);
    // Each tab shows the other's edit, as the server confirmed it.
    await expect.poll(() => second.locator('#insp-list li[data-version="1"]').count()).toBe(3);
    await expect.poll(() => first.locator('#insp-list li[data-version="1"]').count()).toBe(3);
  });

  it('merges two devices’ concurrent edits field by field, shows the manual field’s conflict, and the other device receives its resolution', async () => {
    const [ana, ben] = [unique('ana'), unique('ben')];
    const scope = unique('site');
    const tablet = await chromium.newContext();
    const phone = await chromium.newContext();
    const a = await openInspections(tablet, ana, scope);
    const b = await openInspections(phone, ben, scope);

    await saveInspection(a, 'pump', { status: 'open', notes: 'start', verdict: 'pending' });
    await expect.poll(() => row(a, 'pump').getAttribute('data-version'), { timeout: 10_000 }).toBe('1');
    // The other device has it from the live change frame.
    await expect.poll(() => row(b, 'pump').getAttribute('data-version'), { timeout: 10_000 }).toBe('1');

    await tablet.setOffline(true);
    await phone.setOffline(true);
    await saveInspection(a, 'pump', { notes: 'tablet notes', verdict: 'pass', item: 'photo-a' });
    await saveInspection(b, 'pump', { notes: 'phone notes', verdict: 'fail', item: 'photo-b' });
    await tablet.setOffline(false);
    await expect.poll(() => pending(a), { timeout: 10_000 }).toBe('0');
    await phone.setOffline(false);
    await expect.poll(() => pending(b), { timeout: 10_000 }).toBe('0');

    // Auto-merged: both items (merge-by-id), the later notes (last-writer-wins); the verdict is kept and in conflict.
    const merged = (await serverRecords(scope, ana)).get('pump');
    expect(merged?.fields).toMatchObject({ notes: 'phone notes', verdict: 'pass', items: [{ id: 'photo-a' }, { id: 'photo-b' }] });
    expect(merged?.conflicts).toMatchObject([{ field: 'verdict', mine: 'fail', theirs: 'pass' }]);
    for (const page of [a, b]) {
      await expect.poll(() => row(page, 'pump').getAttribute('data-conflicts'), { timeout: 10_000 }).toBe('1');
      expect(await row(page, 'pump').textContent()).toContain('photo-a,photo-b');
      expect(await row(page, 'pump').textContent()).toContain('phone notes');
    }
    const conflict = b.locator('#insp-conflicts li[data-id="pump"][data-field="verdict"]');
    expect(await conflict.textContent()).toContain('theirs pass · mine fail');

    // Resolved field by field in the UI; the tablet receives the resolution live.
    await conflict.locator('.edit-value').fill('pass with remarks');
    await conflict.locator('.use-edit').click();
    await expect.poll(() => row(a, 'pump').getAttribute('data-conflicts'), { timeout: 10_000 }).toBe('0');
    expect(await row(a, 'pump').textContent()).toContain('verdict pass with remarks');
    expect(await a.locator('#insp-conflicts li').count()).toBe(0);
    const resolved = (await serverRecords(scope, ben)).get('pump');
    expect(resolved?.fields.verdict).toBe('pass with remarks');
    expect(resolved?.conflicts ?? []).toEqual([]);
  });

  it('refuses an edit that would not fit the storage quota with a clear error, losing nothing already stored', async () => {
    const user = unique('ana');
    const scope = unique('site');
    const context = await chromium.newContext();
    // The origin's estimate says nearly full once the test flips the flag (it survives reloads).
    await context.addInitScript(() => {
      const real = navigator.storage.estimate.bind(navigator.storage);
      navigator.storage.estimate = async () => (localStorage.getItem('quotaFull') ? { usage: 99_999_000, quota: 100_000_000 } : real());
    });
    const page = await openInspections(context, user, scope);
    await saveInspection(page, 'synced', { notes: 'kept' });
    await expect.poll(() => row(page, 'synced').getAttribute('data-version'), { timeout: 10_000 }).toBe('1');
    await context.setOffline(true);
    await saveInspection(page, 'waiting', { notes: 'in the outbox' });
    await expect.poll(() => pending(page)).toBe('1');

    await page.evaluate(() => localStorage.setItem('quotaFull', '1'));
    await saveInspection(page, 'synced', { notes: 'does not fit' });
    await page.waitForSelector('#insp-error[data-code="quota"]');
    expect(await page.textContent('#insp-error')).toMatch(/Storage is full: 95\.4 MB of 95\.4 MB used, this edit needs \d+(\.\d)? (KB|MB) more/);
    expect(await pending(page)).toBe('1');
    expect(await row(page, 'synced').textContent()).toContain('kept');

    // The stored copy and the outbox are read again from IndexedDB: intact. Back online, the waiting edit goes out, the refused one never existed.
    expect(await page.evaluate(() => indexedDB.databases().then((databases) => databases.map((database) => database.name)))).toContain(
      `herald-records:${TENANT}:${user}`,
    );
    await context.setOffline(false);
    await expect.poll(() => pending(page), { timeout: 10_000 }).toBe('0');
    const records = await serverRecords(scope, user);
    expect(records.get('synced')?.fields.notes).toBe('kept');
    expect(records.get('waiting')?.fields.notes).toBe('in the outbox');
  });
});
