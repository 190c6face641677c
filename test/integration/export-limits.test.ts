import { randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { signLink } from '#functions/exports/links';
import { LOCAL_EXPORT_RECIPIENT_DOMAINS, LOCAL_EXPORT_RECORDS } from '#lib/local/runtime';
import { api, devToken, emailsTo, eventually, urls, type StoredEmail } from '../support/local';
import { waitForRun } from '../support/exports';

/**
 * The export limits of docs/exports.md ("Limits") through the HTTP API of the local runtime: who may
 * receive an export (at schedule writes and again at each run), the role the records dataset
 * needs, download links that outlive a key rotation and die with their schedule, each refusal a
 * clear answer that names the limit.
 */
const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
/** A domain the local runtime does not allow: its addresses must be a tenant user's own. */
const outside = (local: string) => `${local}@field-${randomUUID().slice(0, 6)}.test`;

const scheduleBody = (recipients: string[], extra: Record<string, unknown> = {}) => ({
  name: 'Limits',
  dataset: 'notifications',
  format: 'csv',
  schedule: { preset: 'daily', at: '06:00' },
  timezone: 'UTC',
  recipients,
  ...extra,
});

async function firstEmailTo(address: string): Promise<StoredEmail> {
  return eventually(async () => (await emailsTo(address))[0]);
}

describe('export recipients', () => {
  it('refuses an address outside the tenant and the allowed domains with a 400 naming it, and stores nothing', async () => {
    const token = await devToken(unique('t'), 'ana');
    const stranger = outside('stranger');
    const refused = await api('POST', '/exports/schedules', token, scheduleBody(['ok@example.com', stranger.toUpperCase()]));
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({
      error: { code: 'recipient_not_allowed', message: expect.stringContaining(stranger) },
      limit: { name: 'exportRecipients', allowed: [...LOCAL_EXPORT_RECIPIENT_DOMAINS] },
      recipients: [stranger],
    });
    expect(refused.body.error.message).not.toContain('ok@example.com');
    expect((await api('GET', '/exports/schedules', token)).body.items).toEqual([]);
    // The domain is matched exactly: a subdomain of an allowed domain is another domain.
    const sub = await api('POST', '/exports/schedules', token, scheduleBody(['ops@mail.example.com']));
    expect(sub).toMatchObject({ status: 400, body: { recipients: ['ops@mail.example.com'] } });
  });

  it("allows a user of the same tenant by their preference address, and not another tenant's user", async () => {
    const [tenant, other] = [unique('t'), unique('t')];
    const bo = outside('bo');
    const cy = outside('cy');
    // Bo sets his address with capitals; the lookup is by the lowercase address.
    expect((await api('PUT', '/me/preferences', await devToken(tenant, 'bo'), { email: bo.replace('bo@', 'Bo@') })).status).toBe(200);
    expect((await api('PUT', '/me/preferences', await devToken(other, 'cy'), { email: cy })).status).toBe(200);
    const token = await devToken(tenant, 'ana');
    const created = await api('POST', '/exports/schedules', token, scheduleBody([bo]));
    expect(created.status).toBe(201);
    expect(created.body.recipients).toEqual([bo]);
    const foreign = await api('POST', '/exports/schedules', token, scheduleBody([cy]));
    expect(foreign).toMatchObject({ status: 400, body: { error: { code: 'recipient_not_allowed' }, recipients: [cy] } });
    // PATCH checks the same.
    const patched = await api('PATCH', `/exports/schedules/${created.body.id}`, token, { recipients: [bo, cy] });
    expect(patched).toMatchObject({ status: 400, body: { recipients: [cy] } });
    expect((await api('GET', `/exports/schedules/${created.body.id}`, token)).body.recipients).toEqual([bo]);
  });

  it("allows the caller's own token email, and only while the token carries it", async () => {
    const tenant = unique('t');
    const own = outside('ana');
    const withEmail = await devToken(tenant, 'ana', [], undefined, own);
    expect((await api('POST', '/exports/schedules', withEmail, scheduleBody([own]))).status).toBe(201);
    // Someone else's token email is not theirs to send to.
    const bob = await devToken(tenant, 'bob', [], undefined, outside('bob'));
    expect(await api('POST', '/exports/schedules', bob, scheduleBody([own]))).toMatchObject({ status: 400, body: { recipients: [own] } });
    expect(await api('POST', '/exports/schedules', await devToken(tenant, 'ana'), scheduleBody([own]))).toMatchObject({ status: 400 });
  });

  it('checks again at each run: a recipient no longer allowed is skipped and recorded, the others get the email', async () => {
    const tenant = unique('t');
    const bo = outside('bo');
    const stays = `${unique('stays')}@example.com`;
    const boToken = await devToken(tenant, 'bo');
    await api('PUT', '/me/preferences', boToken, { email: bo });
    const token = await devToken(tenant, 'ana');
    const { body: schedule } = await api('POST', '/exports/schedules', token, scheduleBody([bo, stays]));
    expect(schedule.recipients).toEqual([bo, stays]);
    // Bo changes his address: the old one no longer belongs to anyone in the tenant.
    await api('PUT', '/me/preferences', boToken, { email: outside('bo-new') });

    const { status, body } = await api('POST', `/exports/schedules/${schedule.id}/run`, token);
    expect(status).toBe(202);
    const run = await waitForRun(token, body.runId);
    expect(run).toMatchObject({
      status: 'succeeded',
      error: expect.stringMatching(new RegExp(`^RecipientNotAllowed: not sent to 1 of 2 recipients, .*${bo}`)),
    });
    expect((await firstEmailTo(stays)).destination.to).toEqual([stays]);
    expect(await emailsTo(bo)).toEqual([]);
    const inbox = await api('GET', '/notifications', token);
    const ready = inbox.body.items.find((item: { kind: string }) => item.kind === 'export.ready');
    expect(ready).toMatchObject({ body: expect.stringContaining(`Not emailed to: ${bo}`), data: { notEmailed: 1 } });
  });
});

describe('the records dataset', () => {
  it("needs the admin role or the deployer's role: preview, create, update and run now answer 403 naming the roles", async () => {
    const tenant = unique('t');
    const plain = await devToken(tenant, 'ana');
    const allowed = ['admin', LOCAL_EXPORT_RECORDS.role];
    const roleRefusal = {
      error: { code: 'role_required', message: expect.stringContaining('"admin" or "records-export"') },
      limit: { name: 'recordsRole', allowed },
    };

    expect(await api('POST', '/exports/preview', plain, { dataset: 'records' })).toMatchObject({ status: 403, body: roleRefusal });
    expect(await api('POST', '/exports/schedules', plain, scheduleBody(['ana@example.com'], { dataset: 'records' }))).toMatchObject({
      status: 403,
      body: roleRefusal,
    });
    expect((await api('GET', '/exports/schedules', plain)).body.items).toEqual([]);

    for (const role of allowed) expect((await api('POST', '/exports/preview', await devToken(tenant, 'ana', [role]), { dataset: 'records' })).status).toBe(200);
    const ops = await devToken(tenant, 'ana', [LOCAL_EXPORT_RECORDS.role]);
    const created = await api('POST', '/exports/schedules', ops, scheduleBody(['ana@example.com'], { dataset: 'records' }));
    expect(created.status).toBe(201);

    // The same user without the role (it was taken away) may no longer start or change it.
    expect(await api('POST', `/exports/schedules/${created.body.id}/run`, plain)).toMatchObject({ status: 403, body: roleRefusal });
    expect(await api('PATCH', `/exports/schedules/${created.body.id}`, plain, { name: 'Renamed' })).toMatchObject({ status: 403, body: roleRefusal });
    expect((await api('POST', `/exports/schedules/${created.body.id}/run`, ops)).status).toBe(202);
  });

  it('leaves the other datasets to everyone', async () => {
    const token = await devToken(unique('t'), 'ana');
    expect((await api('POST', '/exports/preview', token, { dataset: 'notifications' })).status).toBe(200);
  });
});

describe('download links', () => {
  /** A succeeded run of a new schedule, and the link its email carried. */
  async function exported() {
    const tenant = unique('t');
    const recipient = `${unique('r')}@example.com`;
    const token = await devToken(tenant, 'ana');
    const { body: schedule } = await api('POST', '/exports/schedules', token, scheduleBody([recipient]));
    const { body } = await api('POST', `/exports/schedules/${schedule.id}/run`, token);
    const run = await waitForRun(token, body.runId);
    expect(run.status).toBe('succeeded');
    const link = /Download: (\S+)/.exec((await firstEmailTo(recipient)).body.text ?? '')![1]!;
    return { tenant, token, scheduleId: schedule.id as string, runId: body.runId as string, fileExpiresAt: run.fileExpiresAt as string, link };
  }

  it('accepts a link signed with the previous key after a rotation, and refuses a retired key with 403', async () => {
    const { tenant, runId, fileExpiresAt, link } = await exported();
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(302);
    const [, previous] = inject('localLinkKeys').map((key) => Buffer.from(key, 'base64'));
    const exp = Math.floor(Date.parse(fileExpiresAt) / 1000);
    expect(exp).toBeGreaterThan(Date.now() / 1000);
    const url = (key: Buffer) =>
      `${urls().httpUrl}/exports/runs/${encodeURIComponent(runId)}/download?token=${signLink(key, { runId, tenant, owner: 'ana', exp })}`;

    expect((await fetch(url(previous!), { redirect: 'manual' })).status).toBe(302);
    const retired = await fetch(url(randomBytes(32)), { redirect: 'manual' });
    expect(retired.status).toBe(403);
    expect(await retired.json()).toEqual({ error: { code: 'link_refused', message: 'This download link was signed with a key that has since been retired' } });
  });

  it('dies with its schedule: after DELETE, the link answers 410 with a body that says so', async () => {
    const { token, scheduleId, link } = await exported();
    expect((await fetch(link, { redirect: 'manual' })).status).toBe(302);
    expect((await api('DELETE', `/exports/schedules/${scheduleId}`, token)).status).toBe(204);
    const gone = await fetch(link, { redirect: 'manual' });
    expect(gone.status).toBe(410);
    expect(gone.headers.get('location')).toBeNull();
    expect(await gone.json()).toEqual({
      error: { code: 'export_deleted', message: 'The export schedule of this link was deleted, and its download links with it' },
    });
  });
});
