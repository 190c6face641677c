/**
 * The exports page (docs/exports.md): create a schedule, see each schedule's next run and runs,
 * run one now with a live progress bar, and download the file.
 *
 * The progress bar is fed by the `progress` frames the export worker pushes to the owner's sockets
 * (jobId = the run id; HeraldClient's `progress` event). The worker counts rows as they stream and
 * learns the total only at the end, so the bar shows the running count (indeterminate) and fills
 * when the last frame, `done = total`, arrives. Frames are best effort, so the run itself is also
 * read until it finishes: a bar that ends without its final frame says so (`data-source="polled"`).
 * The download link is the one the owner's `export.ready` notification carries (`data.downloadUrl`).
 */
import type { Notification, Progress } from '../client';
import type {
  CreateExportSchedule,
  ExportDataset,
  ExportFormat,
  ExportReadyData,
  ExportRunStarted,
  ExportRunView,
  ExportScheduleInput,
  ExportScheduleView,
  ExportWeekday,
} from '../../functions/protocol/exports';
import { apiCall, ApiError, field, h, showFormError } from './http';
import type { PageMount } from './session';

const FORMATS: readonly ExportFormat[] = ['csv', 'xlsx', 'json', 'ndjson'];
const DATASETS: ReadonlyArray<[ExportDataset, string]> = [
  ['notifications', 'My notifications'],
  ['alerts', 'Alerts of a topic'],
  ['records', 'Records (admins)'],
];
const WHEN: ReadonlyArray<[string, string]> = [
  ['daily', 'Every day at'],
  ['weekly', 'Every week on'],
  ['monthly', 'Every month on day'],
  ['cron', 'Cron expression'],
  ['rate', 'Every (rate)'],
];
const WEEKDAYS: readonly ExportWeekday[] = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];
const FINISHED = new Set(['succeeded', 'failed', 'skipped']);

function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

function inZone(iso: string, timeZone: string): string {
  try {
    return new Date(iso).toLocaleString(undefined, { timeZone, dateStyle: 'medium', timeStyle: 'short' });
  } catch {
    return iso;
  }
}

function bytesText(bytes: number | undefined): string {
  if (bytes === undefined) return '';
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function describeWhen(schedule: ExportScheduleInput): string {
  if ('cron' in schedule) return `cron(${schedule.cron})`;
  if ('rate' in schedule) return `every ${schedule.rate}`;
  if (schedule.preset === 'daily') return `daily at ${schedule.at}`;
  if (schedule.preset === 'weekly') return `weekly on ${schedule.weekday ?? 'MON'} at ${schedule.at}`;
  return `monthly on day ${schedule.dayOfMonth ?? 1} at ${schedule.at}`;
}

export const mountExports: PageMount = (root, session) => {
  const { client, log } = session;
  let mounted = true;
  const timers = new Set<ReturnType<typeof setTimeout>>();
  /** Download links by run id, from the owner's `export.ready` notifications. */
  const links = new Map<string, string>();
  const runsBySchedule = new Map<string, ExportRunView[]>();
  let schedules: ExportScheduleView[] = [];

  // --- The form ------------------------------------------------------------------------------

  const name = h('input', { id: 'export-name', name: 'name', value: 'Daily inbox', required: true, maxlength: 120 });
  const dataset = h('select', { id: 'export-dataset', name: 'dataset' }, ...DATASETS.map(([value, label]) => h('option', { value }, label)));
  const topic = h('input', { id: 'export-topic', name: 'topic', value: 'site-1' });
  const topicField = field('Topic', topic, 'Alerts: you must be a member of the topic.');
  const format = h('select', { id: 'export-format', name: 'format' }, ...FORMATS.map((value) => h('option', { value }, value.toUpperCase())));
  const when = h('select', { id: 'export-when', name: 'when' }, ...WHEN.map(([value, label]) => h('option', { value }, label)));
  const at = h('input', { id: 'export-at', name: 'at', type: 'time', value: '07:00' });
  const weekday = h('select', { id: 'export-weekday', name: 'weekday' }, ...WEEKDAYS.map((value) => h('option', { value }, value)));
  const dayOfMonth = h('input', { id: 'export-day', name: 'dayOfMonth', type: 'number', min: 1, max: 31, value: 1 });
  const cron = h('input', { id: 'export-cron', name: 'cron', value: '0 7 ? * MON-FRI *', spellcheck: 'false' });
  const rate = h('input', { id: 'export-rate', name: 'rate', value: '1 day' });
  const timezone = h('input', { id: 'export-timezone', name: 'timezone', value: browserTimeZone(), list: 'export-timezones', spellcheck: 'false' });
  const zones = h('datalist', { id: 'export-timezones' }, ...(Intl.supportedValuesOf?.('timeZone') ?? []).map((zone) => h('option', { value: zone })));
  const recipients = h('textarea', { id: 'export-recipients', name: 'recipients', rows: 2 }, `${session.user}@example.com`);
  const fields = {
    at: field('Time', at),
    weekday: field('Weekday', weekday),
    day: field('Day of month', dayOfMonth),
    cron: field('Cron expression', cron, 'EventBridge, six fields: minutes hours day month weekday year'),
    rate: field('Rate', rate, 'e.g. 30 minutes, 6 hours, 1 day (at least 15 minutes)'),
  };
  const create = h('button', { id: 'export-create', class: 'primary', type: 'submit' }, 'Create schedule');
  const form = h(
    'form',
    { id: 'export-form', class: 'card', novalidate: true, 'aria-labelledby': 'export-form-heading' },
    h('h2', { id: 'export-form-heading' }, 'New export schedule'),
    h('div', { class: 'row' }, field('Name', name), field('Data', dataset), topicField, field('Format', format)),
    h('div', { class: 'row' }, field('When', when), fields.at, fields.weekday, fields.day, fields.cron, fields.rate),
    h('div', { class: 'row' }, field('Time zone', timezone, 'IANA name, e.g. Europe/Berlin'), zones),
    h('div', { class: 'row' }, field('Email the link to', recipients, 'Addresses separated by commas or new lines; locally, any @example.com address.')),
    h('div', { class: 'form-error', role: 'alert', hidden: true }),
    create,
  );

  function showWhenFields() {
    const kind = when.value;
    fields.at.hidden = !['daily', 'weekly', 'monthly'].includes(kind);
    fields.weekday.hidden = kind !== 'weekly';
    fields.day.hidden = kind !== 'monthly';
    fields.cron.hidden = kind !== 'cron';
    fields.rate.hidden = kind !== 'rate';
    topicField.hidden = dataset.value !== 'alerts';
  }
  when.addEventListener('change', showWhenFields);
  dataset.addEventListener('change', showWhenFields);
  showWhenFields();

  function scheduleInput(): ExportScheduleInput {
    switch (when.value) {
      case 'cron':
        return { cron: cron.value.trim() };
      case 'rate':
        return { rate: rate.value.trim() };
      case 'weekly':
        return { preset: 'weekly', at: at.value, weekday: weekday.value as ExportWeekday };
      case 'monthly':
        return { preset: 'monthly', at: at.value, dayOfMonth: Number(dayOfMonth.value) };
      default:
        return { preset: 'daily', at: at.value };
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body: CreateExportSchedule = {
      name: name.value.trim(),
      dataset: dataset.value as ExportDataset,
      ...(dataset.value === 'alerts' && { filters: { topic: topic.value.trim() } }),
      format: format.value as ExportFormat,
      schedule: scheduleInput(),
      timezone: timezone.value.trim(),
      recipients: recipients.value
        .split(/[\s,;]+/)
        .map((address) => address.trim())
        .filter(Boolean),
    };
    create.disabled = true;
    showFormError(form, undefined, {});
    try {
      const created = await apiCall<ExportScheduleView>(session, 'POST', '/exports/schedules', { body });
      log(`schedule ${created.id} created: ${created.expression} ${created.timezone}, next ${created.nextRunAt}`);
      schedules = [created, ...schedules.filter((schedule) => schedule.id !== created.id)];
      runsBySchedule.set(created.id, []);
      renderSchedules();
    } catch (error) {
      // The refusal names the field first (`schedule.cron: …`, `timezone: …`, `recipients: <the refused addresses> …`).
      showFormError(form, error, {
        name: 'export-name',
        'schedule.cron': 'export-cron',
        'schedule.rate': 'export-rate',
        'schedule.at': 'export-at',
        'schedule.dayOfMonth': 'export-day',
        schedule: when.value === 'cron' ? 'export-cron' : when.value === 'rate' ? 'export-rate' : 'export-at',
        timezone: 'export-timezone',
        recipient: 'export-recipients',
        filters: 'export-topic',
        role_required: 'export-dataset',
        dataset: 'export-dataset',
      });
    } finally {
      create.disabled = false;
    }
  });

  // --- Schedules, runs and progress ------------------------------------------------------------

  const list = h('div', { id: 'schedules', 'aria-live': 'polite' });
  root.append(
    form,
    h('section', { class: 'card', 'aria-labelledby': 'schedules-heading' }, h('h2', { id: 'schedules-heading' }, 'Your export schedules'), list),
  );

  function runRow(run: ExportRunView, format: ExportFormat): HTMLTableRowElement {
    const link = links.get(run.runId);
    const linkCell =
      run.status === 'succeeded' && link
        ? h('a', { class: 'download', href: link, download: true, rel: 'noreferrer' }, `Download ${format.toUpperCase()}`)
        : run.status === 'succeeded'
          ? h('span', { class: 'hint' }, 'link in the email')
          : '';
    return h(
      'tr',
      { 'data-run-id': run.runId, 'data-status': run.status },
      h('td', {}, new Date(run.scheduledAt).toLocaleString()),
      h('td', {}, run.trigger === 'manual' ? 'by hand' : 'scheduled'),
      h('td', {}, h('span', { class: 'status', 'data-status': run.status }, run.status)),
      h('td', { class: 'rows' }, run.rows === undefined ? '' : String(run.rows)),
      h('td', {}, bytesText(run.bytes)),
      h('td', {}, linkCell, run.error ? h('div', { class: 'hint run-error' }, run.error) : undefined),
    );
  }

  function renderSchedules() {
    if (schedules.length === 0) {
      list.replaceChildren(h('p', { class: 'empty' }, 'No schedules yet: create one above.'));
      return;
    }
    // A run's progress bar outlives the re-render, so a bar being fed keeps its place.
    const bars = new Map([...list.querySelectorAll<HTMLElement>('.progress')].map((element) => [element.dataset.scheduleId, element]));
    list.replaceChildren(
      ...schedules.map((schedule) => {
        const runNow = h('button', { type: 'button', class: 'run-now primary' }, 'Run now');
        const remove = h('button', { type: 'button', class: 'delete' }, 'Delete');
        runNow.addEventListener('click', () => startRun(schedule, runNow));
        remove.addEventListener('click', () => deleteSchedule(schedule));
        const runs = runsBySchedule.get(schedule.id) ?? [];
        return h(
          'article',
          { class: 'schedule', 'data-id': schedule.id, 'aria-label': schedule.name },
          h(
            'header',
            {},
            h('h3', {}, schedule.name),
            h(
              'span',
              { class: 'hint' },
              `${schedule.dataset}${schedule.filters.topic ? ` (${schedule.filters.topic})` : ''} · ${schedule.format.toUpperCase()}`,
            ),
            h('div', { class: 'actions' }, runNow, remove),
          ),
          h(
            'p',
            { class: 'when' },
            `${describeWhen(schedule.schedule)} (${schedule.timezone}) · `,
            h(
              'span',
              { class: 'next-run', 'data-next-run': schedule.nextRunAt ?? '' },
              schedule.nextRunAt ? `next run ${inZone(schedule.nextRunAt, schedule.timezone)}` : 'no further runs',
            ),
            ` · to ${schedule.recipients.join(', ')}`,
          ),
          bars.get(schedule.id),
          runs.length === 0
            ? h('p', { class: 'empty runs-empty' }, 'No runs yet.')
            : h(
                'div',
                { class: 'table-wrap' },
                h(
                  'table',
                  { class: 'runs', 'aria-label': `Runs of ${schedule.name}` },
                  h('thead', {}, h('tr', {}, ...['Started', 'Trigger', 'Status', 'Rows', 'Size', 'File'].map((title) => h('th', { scope: 'col' }, title)))),
                  h('tbody', {}, ...runs.map((run) => runRow(run, schedule.format))),
                ),
              ),
        );
      }),
    );
  }

  async function loadRuns(schedule: ExportScheduleView): Promise<void> {
    const { items } = await apiCall<{ items: ExportRunView[] }>(session, 'GET', `/exports/schedules/${schedule.id}/runs?limit=10`);
    runsBySchedule.set(schedule.id, items);
  }

  async function refresh(): Promise<void> {
    const { items } = await apiCall<{ items: ExportScheduleView[] }>(session, 'GET', '/exports/schedules');
    await Promise.all(items.map(loadRuns));
    if (!mounted) return;
    schedules = items.sort((a, b) => (a.id < b.id ? 1 : -1));
    renderSchedules();
  }

  /** The bar of one run: queued until its first frame, then the rows so far, full at the last frame. */
  function progressOf(runId: string): HTMLElement | undefined {
    return list.querySelector<HTMLElement>(`.progress[data-run-id="${CSS.escape(runId)}"]`) ?? undefined;
  }

  function setProgress(runId: string, update: { state: string; done?: number; total?: number; source?: string }) {
    const box = progressOf(runId);
    if (!box) return;
    const bar = box.querySelector('progress') as HTMLProgressElement;
    const label = box.querySelector('.progress-label') as HTMLElement;
    if (box.dataset.state === 'done' && update.state !== 'done') return; // a late frame never moves a finished bar back
    box.dataset.state = update.state;
    if (update.source) box.dataset.source = update.source;
    if (update.done !== undefined) box.dataset.done = String(update.done);
    if (update.total !== undefined) {
      bar.max = Math.max(update.total, 1);
      bar.value = update.total === 0 ? 1 : (update.done ?? update.total);
      box.dataset.total = String(update.total);
    } else if (update.state !== 'running' || update.done === undefined) bar.removeAttribute('value');
    label.textContent =
      update.state === 'queued'
        ? 'Queued…'
        : update.state === 'running'
          ? `${update.done ?? 0} rows exported…`
          : update.state === 'done'
            ? `Done: ${update.done ?? 0} rows`
            : `Run ${update.state}`;
  }

  function onProgress(progress: Progress) {
    const box = progressOf(progress.jobId);
    // Frames may cross on the way: the highest version is the newest.
    if (!box || progress.version <= Number(box.dataset.version ?? 0)) return;
    box.dataset.version = String(progress.version);
    box.dataset.frames = String(Number(box.dataset.frames ?? 0) + 1);
    if (progress.total !== undefined && progress.done >= progress.total)
      setProgress(progress.jobId, { state: 'done', done: progress.done, total: progress.total, source: 'live' });
    else setProgress(progress.jobId, { state: 'running', done: progress.done, source: 'live' });
  }

  function onNotification(notification: Notification) {
    if (notification.kind !== 'export.ready' && notification.kind !== 'export.failed') return;
    const data = notification.data as Partial<ExportReadyData> | undefined;
    if (data?.runId && data.downloadUrl) links.set(data.runId, data.downloadUrl);
    const schedule = schedules.find((candidate) => candidate.id === data?.scheduleId);
    if (schedule) void loadRuns(schedule).then(() => mounted && renderSchedules(), report);
  }

  async function startRun(schedule: ExportScheduleView, button: HTMLButtonElement) {
    button.disabled = true;
    try {
      const { runId } = await apiCall<ExportRunStarted>(session, 'POST', `/exports/schedules/${schedule.id}/run`);
      log(`run ${runId} queued`);
      list.querySelector(`.progress[data-schedule-id="${schedule.id}"]`)?.remove();
      const box = h(
        'div',
        { class: 'progress', 'data-run-id': runId, 'data-schedule-id': schedule.id, 'data-state': 'queued', 'data-frames': 0 },
        h('progress', { 'aria-label': `Progress of ${schedule.name}` }),
        h('span', { class: 'progress-label', role: 'status' }),
      );
      list.querySelector(`.schedule[data-id="${schedule.id}"] .when`)?.after(box);
      setProgress(runId, { state: 'queued' });
      await followRun(schedule, runId);
    } catch (error) {
      report(error);
      if (error instanceof ApiError) alertInSchedule(schedule, error);
    } finally {
      button.disabled = false;
    }
  }

  function alertInSchedule(schedule: ExportScheduleView, error: ApiError) {
    const article = list.querySelector(`.schedule[data-id="${schedule.id}"]`);
    article?.querySelector('.form-error')?.remove();
    article
      ?.querySelector('header')
      ?.after(h('div', { class: 'form-error', role: 'alert', 'data-code': error.code }, `${error.message} (${error.status} ${error.code})`));
  }

  /** Reads the run until it finishes (progress frames are best effort), then lists it. */
  async function followRun(schedule: ExportScheduleView, runId: string) {
    const deadline = Date.now() + 5 * 60_000;
    while (mounted && Date.now() < deadline) {
      const run = await apiCall<ExportRunView>(session, 'GET', `/exports/runs/${encodeURIComponent(runId)}`).catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 404) return undefined; // not created by the worker yet
        throw error;
      });
      if (run && FINISHED.has(run.status)) {
        if (run.status === 'succeeded') {
          if (progressOf(runId)?.dataset.state !== 'done') setProgress(runId, { state: 'done', done: run.rows, total: run.rows, source: 'polled' });
        } else setProgress(runId, { state: run.status, source: 'polled' });
        await loadRuns(schedule);
        if (mounted) renderSchedules();
        return;
      }
      if (run?.status === 'running' && progressOf(runId)?.dataset.state === 'queued') setProgress(runId, { state: 'running' });
      await new Promise((resolve) => timers.add(setTimeout(resolve, 1_000)));
    }
  }

  async function deleteSchedule(schedule: ExportScheduleView) {
    if (!confirm(`Delete "${schedule.name}"? Its runs' download links stop working.`)) return;
    try {
      await apiCall(session, 'DELETE', `/exports/schedules/${schedule.id}`);
      schedules = schedules.filter((candidate) => candidate.id !== schedule.id);
      renderSchedules();
      log(`schedule ${schedule.id} deleted`);
    } catch (error) {
      report(error);
    }
  }

  const report = (error: unknown) => log(error instanceof ApiError ? `${error.status} ${error.code}: ${error.message}` : String(error));
  const listeners = [client.on('progress', onProgress), client.on('notification', onNotification)];

  renderSchedules();
  client
    .inbox()
    .then((stored) => {
      for (const notification of stored) {
        const data = notification.data as Partial<ExportReadyData> | undefined;
        if (notification.kind === 'export.ready' && data?.runId && data.downloadUrl) links.set(data.runId, data.downloadUrl);
      }
      return refresh();
    })
    .catch(report);

  return () => {
    mounted = false;
    for (const off of listeners) off();
    for (const timer of timers) clearTimeout(timer);
  };
};
