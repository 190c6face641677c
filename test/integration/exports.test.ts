import { randomUUID } from 'node:crypto';
import { GetQueueUrlCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import ExcelJS from 'exceljs';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { api, devToken, documentClient, emailsTo, eventually, tableName, urls, type StoredEmail } from '../support/local';
import { waitForRun } from '../support/exports';

/**
 * Scheduled exports against the local runtime: the schedule API, run now through the exports
 * queue to the worker, the file in fauxqs S3, the email in aws-ses-v2-local and its link.
 */
const db = documentClient();
afterAll(() => db.destroy());

const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/** Writes `count` notifications straight into the user's inbox (seq 1..count). */
async function seedInbox(tenant: string, user: string, count: number, row: (seq: number) => Record<string, unknown> = () => ({})): Promise<void> {
  const createdAt = new Date().toISOString();
  const items = Array.from({ length: count }, (_, index) => ({
    userKey: `${tenant}#${user}`,
    seq: index + 1,
    id: `n${String(index + 1).padStart(8, '0')}`,
    kind: 'note',
    title: `Note ${index + 1}`,
    priority: 'normal',
    createdAt,
    unreadSeq: index + 1,
    ...row(index + 1),
  }));
  // The counter item, as deliver() keeps it, so later notifications take the seqs after these.
  await db.send(
    new BatchWriteCommand({
      RequestItems: { [tableName('notifications')]: [{ PutRequest: { Item: { userKey: `${tenant}#${user}`, seq: 0, lastSeq: count } } }] },
    }),
  );
  const batches: Array<typeof items> = [];
  for (let start = 0; start < items.length; start += 25) batches.push(items.slice(start, start + 25));
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < batches.length) {
        let pending: Array<Record<string, unknown>> = batches[next++]!.map((Item) => ({ PutRequest: { Item } }));
        while (pending.length > 0) {
          const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName('notifications')]: pending as never } }));
          pending = (result.UnprocessedItems?.[tableName('notifications')] ?? []) as Array<Record<string, unknown>>;
        }
      }
    }),
  );
}

function linkIn(email: StoredEmail): string {
  const match = /Download: (\S+)/.exec(email.body.text ?? '');
  if (!match) throw new Error(`no link in ${email.body.text}`);
  return match[1]!;
}

const validBody = (recipient: string) => ({
  name: 'Weekly inbox',
  dataset: 'notifications',
  format: 'csv',
  schedule: { preset: 'weekly', at: '09:00', weekday: 'MON' },
  timezone: 'Europe/Berlin',
  recipients: [recipient],
});

describe('the schedule API', () => {
  it('creates, reads, lists, updates and deletes a schedule, showing nextRunAt', async () => {
    const token = await devToken(unique('t'), 'ana');
    const created = await api('POST', '/exports/schedules', token, validBody('ana@example.com'));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ expression: 'cron(0 9 ? * MON *)', timezone: 'Europe/Berlin', recipients: ['ana@example.com'] });
    const next = new Date(created.body.nextRunAt);
    expect(next.getTime()).toBeGreaterThan(Date.now());
    // 09:00 in Berlin is 07:00 or 08:00 UTC, on a Monday.
    expect([7, 8]).toContain(next.getUTCHours());
    expect(next.getUTCDay()).toBe(1);

    const id = created.body.id as string;
    expect((await api('GET', `/exports/schedules/${id}`, token)).body).toMatchObject({ id, name: 'Weekly inbox' });
    expect((await api('GET', '/exports/schedules', token)).body.items.map((item: { id: string }) => item.id)).toEqual([id]);

    const updated = await api('PATCH', `/exports/schedules/${id}`, token, { schedule: { cron: '30 6 1 * ? *' }, format: 'ndjson' });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ expression: 'cron(30 6 1 * ? *)', format: 'ndjson' });
    expect(new Date(updated.body.nextRunAt).getUTCDate()).toBeLessThanOrEqual(1 + 1);

    const schedulerGet = await fetch(`${urls().schedulerUrl}/schedules/export-${id}?groupName=herald-exports`);
    expect(((await schedulerGet.json()) as { ScheduleExpression: string }).ScheduleExpression).toBe('cron(30 6 1 * ? *)');

    expect((await api('DELETE', `/exports/schedules/${id}`, token)).status).toBe(204);
    expect((await api('GET', `/exports/schedules/${id}`, token)).status).toBe(404);
    expect((await fetch(`${urls().schedulerUrl}/schedules/export-${id}?groupName=herald-exports`)).status).toBe(404);
  });

  it.each([
    [{ timezone: 'Mars/Olympus' }, 'timezone'],
    [{ recipients: ['not-an-address'] }, 'recipients.0'],
    [{ recipients: ['a@example.com\r\nBcc: evil@example.com'] }, 'recipients.0'],
    [{ recipients: Array.from({ length: 51 }, (_, i) => `r${i}@example.com`) }, 'recipients'],
    [{ format: 'pdf' }, 'format'],
    [{ dataset: 'everything' }, 'dataset'],
    [{ schedule: { cron: '* * * * ? *' } }, 'schedule.cron'],
    [{ schedule: { rate: '5 minutes' } }, 'schedule.rate'],
    [{ schedule: { preset: 'daily' } }, 'schedule.at'],
  ])('answers %j with a 400 naming %s', async (change, field) => {
    const token = await devToken(unique('t'), 'ana');
    const response = await api('POST', '/exports/schedules', token, { ...validBody('ana@example.com'), ...change });
    expect(response.status).toBe(400);
    expect(response.body.error.message).toContain(`${field}:`);
  });

  it("answers 404 for another tenant's schedule and run", async () => {
    const owner = await devToken(unique('t'), 'ana');
    const stranger = await devToken(unique('t'), 'ana');
    const { body } = await api('POST', '/exports/schedules', owner, validBody('ana@example.com'));
    expect((await api('GET', `/exports/schedules/${body.id}`, stranger)).status).toBe(404);
    expect((await api('POST', `/exports/schedules/${body.id}/run`, stranger)).status).toBe(404);
    expect((await api('DELETE', `/exports/schedules/${body.id}`, stranger)).status).toBe(404);
    const { body: run } = await api('POST', `/exports/schedules/${body.id}/run`, owner);
    expect((await api('GET', `/exports/runs/${run.runId}`, stranger)).status).toBe(404);
    await waitForRun(owner, run.runId);
    await api('DELETE', `/exports/schedules/${body.id}`, owner);
  });
});

describe('preview', () => {
  it("shows the first rows of the caller's own inbox, and nobody else's", async () => {
    const tenant = unique('t');
    await seedInbox(tenant, 'ana', 3);
    await seedInbox(tenant, 'bob', 2);
    const { status, body } = await api('POST', '/exports/preview', await devToken(tenant, 'ana'), { dataset: 'notifications', limit: 2 });
    expect(status).toBe(200);
    expect(body.rows.map((row: { seq: number }) => row.seq)).toEqual([1, 2]);
    expect(body.rows.every((row: { title: string }) => /^Note [12]$/.test(row.title))).toBe(true);
  });

  it('previews and exports only unread notifications, from the unread index', async () => {
    const tenant = unique('t');
    await seedInbox(tenant, 'ana', 4);
    const token = await devToken(tenant, 'ana');
    expect((await api('POST', '/notifications/read', token, { ids: ['n00000002', 'n00000004'] })).status).toBeLessThan(300);
    const { status, body } = await api('POST', '/exports/preview', token, { dataset: 'notifications', filters: { status: 'unread' } });
    expect(status).toBe(200);
    expect(body.rows.map((row: { seq: number }) => row.seq)).toEqual([1, 3]);

    const { body: schedule } = await api('POST', '/exports/schedules', token, { ...validBody(`${unique('r')}@example.com`), filters: { status: 'unread' } });
    const { body: queued } = await api('POST', `/exports/schedules/${schedule.id}/run`, token);
    expect(await waitForRun(token, queued.runId)).toMatchObject({ status: 'succeeded', rows: 2 });
  });
});

describe('run now', () => {
  it('streams the inbox to S3, emails a link that downloads it, and records the run', async () => {
    const tenant = unique('t');
    const recipient = `${unique('r')}@example.com`;
    await seedInbox(tenant, 'ana', 120, (seq) => (seq === 7 ? { title: '=HYPERLINK("http://evil.example")' } : {}));
    const token = await devToken(tenant, 'ana');
    const { body: schedule } = await api('POST', '/exports/schedules', token, validBody(recipient));
    const { status, body } = await api('POST', `/exports/schedules/${schedule.id}/run`, token);
    expect(status).toBe(202);
    const run = await waitForRun(token, body.runId);
    expect(run).toMatchObject({ status: 'succeeded', rows: 120, attempts: 1, trigger: 'manual' });
    expect(run.bytes).toBeGreaterThan(0);

    const [email, ...more] = await eventually(async () => ((await emailsTo(recipient)).length > 0 ? emailsTo(recipient) : undefined));
    expect(more).toHaveLength(0);
    expect(email!.from).toBe('exports@herald.local');
    const link = linkIn(email!);
    expect(link).toContain(`/exports/runs/${body.runId}/download?token=`);

    const redirect = await fetch(link, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const file = await (await fetch(redirect.headers.get('location')!)).text();
    const lines = file
      .replace(/^\uFEFF/, '')
      .trimEnd()
      .split('\r\n');
    expect(lines).toHaveLength(121);
    expect(lines[0]).toBe('Seq,Id,Created at,Kind,Priority,Title,Body,Read,Data');
    // escape_formulas: the cell starts with a quote, so no spreadsheet evaluates it.
    expect(lines[7]).toContain(`"'=HYPERLINK(""http://evil.example"")"`);

    const history = await api('GET', `/exports/schedules/${schedule.id}/runs`, token);
    expect(history.body.items.map((item: { runId: string }) => item.runId)).toEqual([body.runId]);
    expect((await api('GET', `/exports/schedules/${schedule.id}`, token)).body.lastRun).toMatchObject({ runId: body.runId, status: 'succeeded' });
    const inbox = await api('GET', '/notifications?after=120', token);
    expect(inbox.body.items.map((item: { kind: string }) => item.kind)).toEqual(['export.ready']);
    // The owner's notification carries a link of its own that downloads the same file.
    const ownLink = inbox.body.items[0].data.downloadUrl as string;
    expect(ownLink).toContain(`/exports/runs/${body.runId}/download?token=`);
    const ownRedirect = await fetch(ownLink, { redirect: 'manual' });
    expect(ownRedirect.status).toBe(302);
    expect(await (await fetch(ownRedirect.headers.get('location')!)).text()).toBe(file);
  });

  it('refuses a tampered or foreign link and answers 404 for a run without a file', async () => {
    const tenant = unique('t');
    const recipient = `${unique('r')}@example.com`;
    await seedInbox(tenant, 'ana', 3);
    const token = await devToken(tenant, 'ana');
    const { body: schedule } = await api('POST', '/exports/schedules', token, { ...validBody(recipient), format: 'ndjson' });
    const { body } = await api('POST', `/exports/schedules/${schedule.id}/run`, token);
    await waitForRun(token, body.runId);
    const link = linkIn((await eventually(async () => (await emailsTo(recipient))[0]))!);
    const url = new URL(link);
    const tokenParam = url.searchParams.get('token')!;

    // <key id>.<claims>.<signature>
    const [keyId, payload, signature] = tokenParam.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = `${keyId}.${Buffer.from(JSON.stringify({ ...claims, e: claims.e + 86_400 })).toString('base64url')}.${signature}`;
    const refused = await fetch(`${url.origin}${url.pathname}?token=${encodeURIComponent(forged)}`, { redirect: 'manual' });
    expect(refused.status).toBe(403);
    const expired = `${keyId}.${Buffer.from(JSON.stringify({ ...claims, e: 1 })).toString('base64url')}.${signature}`;
    expect((await fetch(`${url.origin}${url.pathname}?token=${encodeURIComponent(expired)}`, { redirect: 'manual' })).status).toBe(403);
    const otherRun = url.pathname.replace(body.runId, `${schedule.id}-20200101T000000Z`);
    expect((await fetch(`${url.origin}${otherRun}?token=${encodeURIComponent(tokenParam)}`, { redirect: 'manual' })).status).toBe(403);
    expect((await fetch(`${url.origin}${url.pathname}`, { redirect: 'manual' })).status).toBe(403);

    const ok = await fetch(link, { redirect: 'manual' });
    expect(ok.status).toBe(302);
    const rows = (await (await fetch(ok.headers.get('location')!)).text())
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows.map((row) => row.seq)).toEqual([1, 2, 3]);
  });

  it('writes an XLSX that parses back, with formula-like cells as text', async () => {
    const tenant = unique('t');
    const recipient = `${unique('r')}@example.com`;
    await seedInbox(tenant, 'ana', 20, (seq) => (seq === 2 ? { title: '=1+2', body: '@SUM(A1)' } : {}));
    const token = await devToken(tenant, 'ana');
    const { body: schedule } = await api('POST', '/exports/schedules', token, { ...validBody(recipient), format: 'xlsx' });
    const { body } = await api('POST', `/exports/schedules/${schedule.id}/run`, token);
    expect(await waitForRun(token, body.runId)).toMatchObject({ status: 'succeeded', rows: 20 });
    const link = linkIn((await eventually(async () => (await emailsTo(recipient))[0]))!);
    const location = (await fetch(link, { redirect: 'manual' })).headers.get('location')!;
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(Buffer.from(await (await fetch(location)).arrayBuffer()) as never);
    const sheet = workbook.worksheets[0]!;
    expect(sheet.rowCount).toBe(21);
    const cell = sheet.getRow(3).getCell(6);
    expect(cell.formula).toBeUndefined();
    expect(cell.text).toBe('=1+2');
    expect(sheet.getRow(3).getCell(7).text).toBe('@SUM(A1)');
  });
});

describe('the exports DLQ', () => {
  it('marks a firing Scheduler could not deliver failed, and tells the owner and the tenant admins through the deployed path', async () => {
    const tenant = unique('t');
    const ownerToken = await devToken(tenant, 'ana');
    const adminToken = await devToken(tenant, 'root', ['admin']);
    expect((await api('PUT', '/topics/admins/members/boss', adminToken)).status).toBeLessThan(300);
    const { body: schedule } = await api('POST', '/exports/schedules', ownerToken, validBody(`${unique('r')}@example.com`));
    const scheduledTime = '2026-11-30T08:00:00Z';

    // What Scheduler's dead-letter config sends when it cannot reach the queue: the firing and the reason.
    const sqs = new SQSClient({ endpoint: urls().sqsUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'herald-exports-dlq' }));
      await sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: JSON.stringify({ scheduleId: schedule.id, tenant, owner: 'ana', scheduledTime, trigger: 'schedule' }),
          MessageAttributes: { ERROR_MESSAGE: { DataType: 'String', StringValue: 'queue unreachable' } },
        }),
      );
    } finally {
      sqs.destroy();
    }

    const failed = await eventually(async () => {
      const { body } = await api('GET', `/exports/schedules/${schedule.id}/runs`, ownerToken);
      return body.items?.find((run: { status: string }) => run.status === 'failed');
    }, 15_000);
    expect(failed.error).toContain('queue unreachable');
    const bossToken = await devToken(tenant, 'boss');
    for (const token of [ownerToken, bossToken]) {
      const inbox = await eventually(async () => {
        const { body } = await api('GET', '/notifications?after=0', token);
        return body.items?.some((item: { kind: string }) => item.kind === 'export.failed') ? body.items : undefined;
      });
      expect(inbox.filter((item: { kind: string }) => item.kind === 'export.failed')).toHaveLength(1);
    }
  });
});

describe('export quotas', () => {
  it('refuses a schedule past the per-user quota with a 403 naming the limit, and takes one again once a schedule is deleted', async () => {
    const { EXPORT_QUOTAS } = await import('#functions/exports/limits');
    const tenant = unique('t');
    const token = await devToken(tenant, 'ana');
    const ids: string[] = [];
    for (let index = 0; index < EXPORT_QUOTAS.schedulesPerUser; index += 1) {
      const { status, body } = await api('POST', '/exports/schedules', token, validBody('ana@example.com'));
      expect(status).toBe(201);
      ids.push(body.id);
    }
    const refused = await api('POST', '/exports/schedules', token, validBody('ana@example.com'));
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: { code: 'limit_exceeded' }, limit: { name: 'schedulesPerUser', max: EXPORT_QUOTAS.schedulesPerUser } });
    expect(refused.body.error.message).toContain(`At most ${EXPORT_QUOTAS.schedulesPerUser} export schedules`);
    // Another user of the same tenant has a quota of their own.
    expect((await api('POST', '/exports/schedules', await devToken(tenant, 'bob'), validBody('bob@example.com'))).status).toBe(201);

    expect((await api('DELETE', `/exports/schedules/${ids[0]}`, token)).status).toBe(204);
    expect((await api('POST', '/exports/schedules', token, validBody('ana@example.com'))).status).toBe(201);
  }, 60_000);

  it('answers 429 naming the limit and when to retry once a user has started the most runs by hand a minute allows', async () => {
    const { EXPORT_QUOTAS } = await import('#functions/exports/limits');
    const tenant = unique('t');
    const token = await devToken(tenant, 'ana');
    const { body: schedule } = await api('POST', '/exports/schedules', token, validBody(`${unique('r')}@example.com`));
    const answers: number[] = [];
    for (let index = 0; index <= EXPORT_QUOTAS.runsNowPerMinute; index += 1) {
      const { status, body, headers } = await api('POST', `/exports/schedules/${schedule.id}/run`, token);
      answers.push(status);
      if (status === 429) {
        expect(body).toMatchObject({ error: { code: 'limit_exceeded' }, limit: { name: 'runsNowPerMinute', max: EXPORT_QUOTAS.runsNowPerMinute } });
        expect(body.limit.retryAfterSeconds).toBeGreaterThan(0);
        expect(body.limit.retryAfterSeconds).toBeLessThanOrEqual(60);
        expect(headers.get('retry-after')).toBe(String(body.limit.retryAfterSeconds));
      }
    }
    // The minute can turn during the loop and free the slots again; at most one 429 either way.
    const refusals = answers.filter((status) => status === 429).length;
    expect(answers.filter((status) => status === 202).length + refusals).toBe(answers.length);
    if (new Date().getUTCSeconds() > 5) expect(refusals).toBe(1);
  }, 60_000);
});
