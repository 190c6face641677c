/**
 * The walk itself: three steps through Herald's public contract (docs/protocol.md,
 * docs/exports.md), the same against the local runtime and a deployed stack. Where a deployed
 * stack offers nothing to read (its mail), the check is skipped and says why.
 */
import { Walk, type SmokeReport, type Step } from './report';
import { brief, eventually, FrameSocket, HttpApi, Mismatch, parseCsv, sleep, type Mailbox, type StoredEmail } from './wire';

/** The people of a run: tokens and the member's id; all of one tenant. */
export interface SmokeUsers {
  readonly admin: string;
  readonly publisher: string;
  readonly member: string;
  readonly memberId: string;
  /** The member's address for critical alerts and the export's recipient. */
  readonly email: string;
  /** Shown on the tokens line, e.g. the tenant made up for the run. */
  readonly description: string;
}

export interface SmokeTarget {
  /** "local runtime started in this process", "deployed stack Herald", … */
  readonly label: string;
  readonly httpUrl: string;
  /** The stage URL every ticket's `url` must start with. */
  readonly webSocketUrl: string;
  /** Added to what a check expected where tokens of different tenants would explain a miss. */
  readonly tenantHint?: string;
  /** Added to a failure to reach the HTTP API, e.g. "is npm start still running?". */
  readonly unreachable?: string;
  /** Where sent mail can be read; undefined deployed, with `noMailbox` saying why. */
  readonly mailbox?: Mailbox;
  readonly noMailbox?: string;
  /** Tokens for this run (locally minted by POST /dev/token for made-up ids). */
  users(api: HttpApi, runId: string): Promise<SmokeUsers>;
}

export interface SmokeOptions {
  /** Aborted when the overall limit runs out (with an OutOfTime reason). */
  readonly signal: AbortSignal;
  readonly limitSeconds: number;
  /** Unique per run: the topic, schedule name and dedupe keys carry it. */
  readonly runId: string;
  readonly out: (line: string) => void;
  /** How long to wait for a push, an email, an export run. */
  readonly waits?: Partial<Waits>;
}

interface Waits {
  readonly frameMs: number;
  readonly mailMs: number;
  readonly runMs: number;
}

const DEFAULT_WAITS: Waits = { frameMs: 20_000, mailMs: 20_000, runMs: 90_000 };

interface Context {
  readonly target: SmokeTarget;
  readonly api: HttpApi;
  readonly signal: AbortSignal;
  readonly runId: string;
  readonly waits: Waits;
  users: SmokeUsers;
}

/** Asserts `ok`, or fails the check showing `expected` and `seen`. */
function expectThat(ok: unknown, expected: string, seen: () => unknown): asserts ok {
  if (!ok) {
    const value = seen();
    throw new Mismatch(expected, typeof value === 'string' ? value : brief(value));
  }
}

export async function runSmoke(target: SmokeTarget, options: SmokeOptions): Promise<SmokeReport> {
  const walk = new Walk(options.signal, options.limitSeconds, target.httpUrl, options.out);
  walk.print(`Herald smoke test · ${target.label} · run ${options.runId} · limit ${options.limitSeconds} s`);
  walk.print(`   HTTP API ${target.httpUrl}`);
  const api = new HttpApi(target.httpUrl, options.signal);
  const context = { target, api, signal: options.signal, runId: options.runId, waits: { ...DEFAULT_WAITS, ...options.waits } } as Context;

  let ready = false;
  await walk.step(0, 'The system answers, and who takes part', async (step) => {
    await step.check('GET /notifications without a token is refused (401)', async () => {
      try {
        await api.expect(401, 'GET', '/notifications', undefined);
      } catch (error) {
        if (error instanceof Mismatch && error.seen.startsWith('no answer') && target.unreachable)
          throw new Mismatch(error.expected, `${error.seen} (${target.unreachable})`);
        throw error;
      }
    });
    context.users = await step.check('tokens', async (note) => {
      const users = await target.users(api, options.runId);
      note(users.description);
      return users;
    });
    ready = true;
  });
  if (ready) {
    await walk.step(1, 'A notification over the WebSocket', (step) => notificationOverSocket(step, context));
    await walk.step(2, 'A critical alert to a member: socket and email', (step) => criticalAlert(step, context));
    await walk.step(3, 'An export: run now, email, download link, file', (step) => exportRun(step, context));
  }
  return walk.summary();
}

/** POST /realtime/ticket and open its url: the socket, closed when the step ends. */
async function openSocket(step: Step, context: Context, who: string): Promise<FrameSocket> {
  const { api, users, target } = context;
  const ticket = await step.check(`ticket for ${who}: POST /realtime/ticket`, async (note) => {
    const { body } = await api.expect(200, 'POST', '/realtime/ticket', users.member);
    expectThat(typeof body?.ticket === 'string' && typeof body.url === 'string' && typeof body.expiresAt === 'string', '{ticket, expiresAt, url}', () => body);
    const shown = body.url.replace(body.ticket, '…');
    expectThat(
      body.url === `${target.webSocketUrl}?ticket=${encodeURIComponent(body.ticket)}` || body.url === `${target.webSocketUrl}?ticket=${body.ticket}`,
      `url ${target.webSocketUrl}?ticket=…`,
      () => shown,
    );
    note(`${body.ticket.length}-character ticket until ${body.expiresAt.slice(11, 19)}Z`);
    return body as { url: string };
  });
  const socket = await step.check(`socket: open the ticket's url`, async (note) => {
    const opened = await FrameSocket.open(ticket.url, context.signal);
    note(ticket.url.replace(/\?ticket=.*/, '?ticket=…'));
    return opened;
  });
  step.defer('close the socket', async () => void (await socket.close()), { silent: true });
  return socket;
}

async function notificationOverSocket(step: Step, context: Context): Promise<void> {
  const { api, users, runId, waits, signal } = context;
  const hint = context.target.tenantHint ?? '';
  const socket = await openSocket(step, context, 'the member');

  const replayed = await step.check('resume after 0: replayed', async (note) => {
    socket.send({ action: 'resume', after: 0, id: 'smoke-resume' });
    const frame = await socket.waitFor(
      (f) => f?.type === 'replayed' && f.id === 'smoke-resume',
      'a replayed frame with id smoke-resume',
      waits.frameMs,
      signal,
    );
    expectThat(
      Number.isInteger(frame.upTo) && typeof frame.more === 'boolean' && Number.isInteger(frame.unread),
      'replayed {upTo, more, gap, unread}',
      () => frame,
    );
    const replayedCount = socket.frames.filter((f) => f?.type === 'notification').length;
    note(`upTo ${frame.upTo}, more ${frame.more}, ${replayedCount} replayed`);
    return frame as { upTo: number; more: boolean };
  });

  const published = await step.check('POST /notifications (publisher) reaches the socket', async (note) => {
    const title = `Smoke check ${runId}`;
    const { body } = await api.expect(202, 'POST', '/notifications', users.publisher, {
      userId: users.memberId,
      kind: 'smoke.check',
      title,
      body: 'Sent by npm run smoke.',
      data: { runId },
      dedupeKey: `${runId}:notification`,
    });
    expectThat(body?.status === 'delivered' && Number.isInteger(body.seq), '202 {status: "delivered", id, seq}', () => body);
    if (!replayed.more) expectThat(body.seq === replayed.upTo + 1, `seq ${replayed.upTo + 1} (the one after replayed's upTo)${hint}`, () => `seq ${body.seq}`);
    const frame = await socket.waitFor(
      (f) => f?.type === 'notification' && f.seq === body.seq,
      `a notification frame with seq ${body.seq}${hint}`,
      waits.frameMs,
      signal,
    );
    expectThat(
      frame.id === body.id && frame.kind === 'smoke.check' && frame.title === title,
      `frame {id: ${body.id}, kind: smoke.check, title: "${title}"}`,
      () => frame,
    );
    note(`seq ${body.seq}, id ${body.id}`);
    return body as { seq: number };
  });

  await step.check(`ack upTo ${published.seq}`, async (note) => {
    socket.send({ action: 'ack', upTo: published.seq, id: 'smoke-ack' });
    // An ack is silent; one beyond the last seq is refused, which shows the route ran and
    // that the server's last seq is ours.
    socket.send({ action: 'ack', upTo: published.seq + 1, id: 'smoke-ack-beyond' });
    const refused = await socket.waitFor(
      (f) => f?.type === 'error' && f.id === 'smoke-ack-beyond',
      `an invalid_frame error for ack upTo ${published.seq + 1}`,
      waits.frameMs,
      signal,
    );
    expectThat(refused.code === 'invalid_frame', 'error code invalid_frame', () => refused);
    await sleep(300, signal);
    const error = socket.frames.find((f) => f?.type === 'error' && f.id === 'smoke-ack');
    expectThat(!error, `no answer to ack upTo ${published.seq}`, () => error);
    note(`silent; upTo ${published.seq + 1} refused as beyond the last seq`);
  });
}

async function criticalAlert(step: Step, context: Context): Promise<void> {
  const { api, users, runId, waits, signal, target } = context;
  const topic = runId;

  await step.check(`PUT /topics/${topic}/members/${users.memberId} (admin)`, async () => {
    await api.expect(201, 'PUT', `/topics/${topic}/members/${encodeURIComponent(users.memberId)}`, users.admin);
  });
  step.defer(`remove the membership: DELETE /topics/${topic}/members/…`, async (cleanupApi) => {
    await cleanupApi.expect(204, 'DELETE', `/topics/${topic}/members/${encodeURIComponent(users.memberId)}`, users.admin);
  });

  await step.check(`PUT /me/preferences {email} (member)`, async (note) => {
    await api.expect(200, 'PUT', '/me/preferences', users.member, { email: users.email });
    const { body } = await api.expect(200, 'GET', '/me/preferences', users.member);
    // Stored lowercase (export recipients are looked up by address).
    expectThat(body?.email === users.email.toLowerCase(), `GET /me/preferences with email ${users.email.toLowerCase()}`, () => body);
    note(users.email);
  });

  const socket = await openSocket(step, context, 'the member');

  const alert = await step.check('POST /alerts severity critical (publisher)', async (note) => {
    const { body, headers } = await api.expect(201, 'POST', '/alerts', users.publisher, {
      topic,
      rule: 'smoke-critical',
      subject: runId,
      severity: 'critical',
      title: `Smoke critical alert ${runId}`,
      message: 'Raised by npm run smoke; resolved when the run ends.',
    });
    expectThat(
      typeof body?.id === 'string' && body.status === 'active' && body.version === 1,
      '201 with the alert {id, status: active, version: 1}',
      () => body,
    );
    expectThat(headers.get('etag') === '"1"', 'ETag "1"', () => headers.get('etag'));
    note(`alert ${body.id}`);
    return body as { id: string; title: string };
  });
  step.defer('resolve the alert: PATCH /alerts/{id} {status: resolved}', async (cleanupApi) => {
    const current = await cleanupApi.expect(200, 'GET', `/alerts/${alert.id}`, users.publisher);
    if (current.body?.status === 'resolved') return 'already resolved';
    await cleanupApi.expect(200, 'PATCH', `/alerts/${alert.id}`, users.publisher, { status: 'resolved' }, { 'if-match': current.headers.get('etag') ?? '' });
  });

  await step.check(`alert.* notification on the member's socket`, async (note) => {
    const frame = await socket.waitFor(
      (f) => f?.type === 'notification' && f.data?.alertId === alert.id,
      `a notification frame of kind alert.* with data.alertId ${alert.id}${target.tenantHint ?? ''}`,
      waits.frameMs,
      signal,
    );
    expectThat(
      frame.kind === 'alert.raised' && frame.priority === 'critical' && frame.groupKey === alert.id,
      `{kind: alert.raised, priority: critical, groupKey: ${alert.id}}`,
      () => frame,
    );
    note(`${frame.kind}, priority ${frame.priority}, seq ${frame.seq}`);
  });

  const mailbox = target.mailbox;
  if (!mailbox) {
    step.skip(
      `the alert email to ${users.email}`,
      `${target.noMailbox ?? 'no mailbox to read'}; the API does not show whether it went (the metrics AlertEmailsSent and AlertEmailsRejected do)`,
    );
    return;
  }
  await step.check(`the alert email to ${users.email}`, async (note) => {
    const email = await eventually(
      async () => {
        const emails = await mailbox.emailsTo(users.email, signal);
        const found = emails.find((e) => e.subject.startsWith('[CRITICAL] Alert raised:') && (e.body.text ?? '').includes(`Alert ${alert.id}, version 1.`));
        return {
          value: found,
          seen: emails.length ? `${emails.length} email(s): ${emails.map((e) => JSON.stringify(e.subject)).join(', ')}` : 'no email to that address',
        };
      },
      `an email "[CRITICAL] Alert raised: …" naming alert ${alert.id}`,
      waits.mailMs,
      signal,
    );
    note(`"${email.subject}"`);
  });
}

const EXPORT_ROWS = 3;

async function exportRun(step: Step, context: Context): Promise<void> {
  const { api, users, runId, waits, signal, target } = context;
  const name = `Smoke test ${runId}`;

  const rows = await step.check(`${EXPORT_ROWS} notifications to export (publisher)`, async (note) => {
    const published: Array<{ seq: number; title: string }> = [];
    for (let row = 1; row <= EXPORT_ROWS; row++) {
      const title = `Smoke export row ${row} ${runId}`;
      const { body } = await api.expect(202, 'POST', '/notifications', users.publisher, {
        userId: users.memberId,
        kind: 'smoke.export',
        title,
        dedupeKey: `${runId}:export-row-${row}`,
      });
      expectThat(body?.status === 'delivered', '202 {status: "delivered"}', () => body);
      published.push({ seq: body.seq, title });
    }
    // The export covers the time from the first row to the last. Whatever else reached the
    // member in between (a straggling alert change, other traffic deployed) is in the window too,
    // so the expected rows are what the inbox holds from the first seq to the last.
    const [first, last] = [published[0]!.seq, published[published.length - 1]!.seq];
    const { body } = await api.expect(200, 'GET', `/notifications?after=${first - 1}&limit=100`, users.member);
    const inbox = ((body?.items ?? []) as Array<{ seq: number; createdAt: string; kind: string; title: string }>).filter((item) => item.seq <= last);
    const ours = published.map(({ seq, title }) => inbox.find((item) => item.seq === seq && item.title === title));
    expectThat(
      ours.every(Boolean),
      `the member's inbox to hold seqs ${published.map((p) => p.seq).join(', ')} with their titles${target.tenantHint ?? ''}`,
      () => inbox.map(({ seq, title }) => ({ seq, title })),
    );
    const others = inbox.length - published.length;
    note(`seqs ${published.map((p) => p.seq).join(', ')}${others > 0 ? ` (and ${others} other notification(s) in between)` : ''}`);
    return { published, expected: inbox, from: ours[0]!.createdAt, to: new Date(Date.parse(ours[ours.length - 1]!.createdAt) + 1).toISOString() };
  });

  const schedule = await step.check('POST /exports/schedules (member)', async (note) => {
    const { body } = await api.expect(201, 'POST', '/exports/schedules', users.member, {
      name,
      dataset: 'notifications',
      filters: { from: rows.from, to: rows.to },
      format: 'csv',
      schedule: { preset: 'weekly', at: '09:00', weekday: 'MON' },
      timezone: 'UTC',
      recipients: [users.email],
    });
    expectThat(typeof body?.id === 'string' && typeof body.nextRunAt === 'string', '201 {id, nextRunAt, …}', () => body);
    note(`schedule ${body.id}, next run ${body.nextRunAt}`);
    return body as { id: string };
  });
  step.defer(`delete the schedule: DELETE /exports/schedules/{id}`, async (cleanupApi) => {
    await cleanupApi.expect(204, 'DELETE', `/exports/schedules/${schedule.id}`, users.member);
  });

  const runIdOfExport = await step.check('POST /exports/schedules/{id}/run', async (note) => {
    const { body } = await api.expect(202, 'POST', `/exports/schedules/${schedule.id}/run`, users.member);
    expectThat(typeof body?.runId === 'string', '202 {runId}', () => body);
    note(`run ${body.runId}`);
    return body.runId as string;
  });

  const run = await step.check('GET /exports/runs/{id} until it succeeds', async (note) => {
    const finished = await eventually(
      async () => {
        const { status, body } = await api.call('GET', `/exports/runs/${runIdOfExport}`, users.member);
        // A failed attempt puts the run back to queued with its error; the retry waits for the
        // queue's visibility timeout (minutes), so the first error is the answer.
        const done =
          status === 200 && (['succeeded', 'failed', 'skipped'].includes(body?.status) || (body?.status === 'queued' && typeof body.error === 'string'));
        return { value: done ? body : undefined, seen: `${status} ${brief(body)}` };
      },
      'the run to finish (succeeded, failed or skipped)',
      waits.runMs,
      signal,
      500,
    );
    expectThat(
      finished.status === 'succeeded',
      'status succeeded',
      () =>
        `${finished.status}, attempt ${finished.attempts}: ${finished.error ?? brief(finished)}${/AccessDenied|not authorized to perform/.test(finished.error ?? '') ? ' (a missing IAM permission of the export worker)' : ''}`,
    );
    expectThat(finished.rows === rows.expected.length, `rows ${rows.expected.length}`, () => `rows ${finished.rows}`);
    expectThat(
      typeof finished.emailedAt === 'string' && typeof finished.fileExpiresAt === 'string',
      'emailedAt and fileExpiresAt set (the email was sent; the file is in S3)',
      () => finished,
    );
    // A succeeded run with an error is one whose email some recipients did not get (SES refused them).
    expectThat(finished.error === undefined, `no error (the email reached ${users.email})`, () => finished.error);
    note(`succeeded: ${finished.rows} rows, ${finished.bytes} B, emailed at ${finished.emailedAt.slice(11, 19)}Z`);
    return finished as { rows: number; bytes: number };
  });

  await step.check('GET /exports/runs/{id}/download without its token is refused (403)', async () => {
    await api.expect(403, 'GET', `/exports/runs/${runIdOfExport}/download`, undefined);
  });

  await step.check("export.ready notification in the member's inbox", async (note) => {
    const last = rows.published[rows.published.length - 1]!.seq;
    const ready = await eventually(
      async () => {
        const { status, body } = await api.call('GET', `/notifications?after=${last}&limit=100`, users.member);
        const items = (body?.items ?? []) as Array<{ kind: string; seq: number; data?: { runId?: string } }>;
        return {
          value: items.find((item) => item.kind === 'export.ready' && item.data?.runId === runIdOfExport),
          seen: `${status} ${brief(items.map(({ seq, kind }) => ({ seq, kind })))}`,
        };
      },
      `a notification of kind export.ready with data.runId ${runIdOfExport}`,
      waits.frameMs,
      signal,
    );
    expectThat(!(ready.data as { notEmailed?: number }).notEmailed, 'no notEmailed in its data (everyone got the email)', () => ready);
    note(`seq ${ready.seq}`);
  });

  const mailbox = target.mailbox;
  if (!mailbox) {
    step.skip(
      `the export email to ${users.email}`,
      `${target.noMailbox ?? 'no mailbox to read'}; the run's emailedAt without an error (above) shows SES accepted it`,
    );
    const why = "the download link is only in the email (its token is signed with the stack's key), and the export.ready notification carries none";
    step.skip('follow the download link (302 to a pre-signed URL)', why);
    step.skip('download the file and check its rows', why);
    return;
  }

  const link = await step.check(`the export email to ${users.email}`, async (note) => {
    const email: StoredEmail = await eventually(
      async () => {
        const emails = await mailbox.emailsTo(users.email, signal);
        const found = emails.find((e) => e.subject === `Herald export ready: ${name}`);
        return {
          value: found,
          seen: emails.length ? `${emails.length} email(s): ${emails.map((e) => JSON.stringify(e.subject)).join(', ')}` : 'no email to that address',
        };
      },
      `an email "Herald export ready: ${name}"`,
      waits.mailMs,
      signal,
    );
    const link = /Download: (\S+)/.exec(email.body.text ?? '')?.[1];
    expectThat(link, 'a "Download: <link>" line in the text', () => email.body.text ?? '(no text part)');
    const expected = `${target.httpUrl}/exports/runs/${runIdOfExport}/download?token=`;
    expectThat(link.startsWith(expected), `a link starting ${expected}`, () => link);
    note(`"${email.subject}"`);
    return link;
  });

  const location = await step.check('follow the download link: 302 to a pre-signed URL', async (note) => {
    const answer = await api.call('GET', link, undefined);
    const location = answer.headers.get('location');
    expectThat(answer.status === 302 && location && /^https?:\/\//.test(location), '302 with a Location URL', () => `${answer.status} ${brief(answer.body)}`);
    note(`${new URL(location).host}, ${answer.headers.get('cache-control') ?? 'no cache-control'}`);
    return location;
  });

  await step.check('download the file: CSV with a header and the exported rows', async (note) => {
    let response: Response;
    try {
      response = await fetch(location, { signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]) });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new Mismatch('the pre-signed URL to answer', (error as Error).message);
    }
    const file = Buffer.from(await response.arrayBuffer());
    const text = file.toString('utf8');
    expectThat(response.status === 200, 'the pre-signed URL to answer 200', () => `${response.status} ${text.slice(0, 200)}`);
    let table: string[][];
    try {
      table = parseCsv(text);
    } catch (error) {
      throw new Mismatch('a file that parses as CSV', `${(error as Error).message}: ${brief(text, 200)}`);
    }
    const [header = [], ...data] = table;
    const column = (title: string) => header.indexOf(title);
    expectThat(
      ['Seq', 'Kind', 'Title'].every((title) => column(title) >= 0),
      'a header row with Seq, Kind and Title',
      () => header.join(','),
    );
    const bytes = file.byteLength;
    expectThat(bytes === run.bytes, `${run.bytes} bytes (the run's bytes)`, () => `${bytes} bytes`);
    expectThat(data.length === run.rows, `${run.rows} data rows (the run's rows)`, () => `${data.length} rows`);
    const got = data.map((row) => ({ seq: Number(row[column('Seq')]), kind: row[column('Kind')], title: row[column('Title')] }));
    const want = rows.expected.map(({ seq, kind, title }) => ({ seq, kind, title }));
    expectThat(JSON.stringify(got) === JSON.stringify(want), `rows ${brief(want)}`, () => got);
    note(`${bytes} bytes, a header of ${header.length} columns, ${data.length} rows`);
  });
}
