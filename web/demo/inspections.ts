/**
 * The Inspections page: offline-first records (web/client/records/, docs/sync.md "The client").
 * A list of a scope's inspections, an edit form, an offline indicator with the pending-changes
 * count, and field-by-field conflict resolution. Edits apply at once and wait in the outbox until
 * they reach the server; the `inspections` collection's fields show every merge strategy
 * (docs/local.md): status server-wins, notes last-writer-wins, items merge-by-id, verdict manual.
 */
import { HeraldRecords, StorageQuotaError, type Conflict, type LocalRecord, type OpPriority, type RecordEdit } from '../client';
import { apiCall, h } from './http';
import type { PageMount } from './session';

const COLLECTION = 'inspections';

const STYLE = `
#inspections .insp-bar { display: flex; gap: .75rem; align-items: baseline; flex-wrap: wrap; }
#inspections [data-online="false"] { color: #b00; } #inspections [data-online="true"] { color: #080; }
#inspections .insp-list { list-style: none; padding: 0; } #inspections .insp-list li { padding: .3rem .5rem; border-bottom: 1px solid #eee; cursor: pointer; }
#inspections .insp-list li[data-pending]:not([data-pending="0"]) { font-style: italic; } #inspections .insp-list li[data-conflicts]:not([data-conflicts="0"]) { color: #a60; }
#inspections form { display: grid; grid-template-columns: 8rem 1fr; gap: .3rem .5rem; max-width: 32rem; }
#inspections .insp-error:empty { display: none; } #inspections .insp-error { color: #b00; }
#inspections .insp-conflicts li { padding: .3rem 0; }
`;

const show = (value: unknown) => (value === undefined || value === null ? '—' : typeof value === 'string' ? value : JSON.stringify(value));

export const mountInspections: PageMount = (root, session) => {
  const records = new HeraldRecords({ httpUrl: session.httpUrl, getToken: () => session.token(), client: session.client, account: session });
  let scope: string | undefined;
  let editing: LocalRecord | undefined;
  let stopped = false;

  const scopeInput = h('input', { id: 'insp-scope', value: 'site-1' });
  const join = h('button', { id: 'insp-join', type: 'button' }, 'Sync scope');
  const online = h('strong', { id: 'insp-online' });
  const pending = h('span', { id: 'insp-pending', class: 'badge' }, '0');
  const error = h('p', { id: 'insp-error', class: 'insp-error', role: 'alert' });
  const list = h('ul', { id: 'insp-list', class: 'insp-list' });
  const conflicts = h('ul', { id: 'insp-conflicts', class: 'insp-conflicts' });
  const field = (id: string, label: string, input: HTMLElement) => [h('label', { for: id }, label), input];
  const idInput = h('input', { id: 'insp-id', required: true });
  const status = h('select', { id: 'insp-status' }, ...['', 'open', 'in-progress', 'done'].map((value) => h('option', { value }, value || '(none)')));
  const notes = h('textarea', { id: 'insp-notes', rows: 2 });
  const verdict = h('input', { id: 'insp-verdict' });
  const itemId = h('input', { id: 'insp-item', placeholder: 'photo-1' });
  const priority = h('select', { id: 'insp-priority' }, ...['normal', 'critical', 'low'].map((value) => h('option', { value }, value)));
  const save = h('button', { id: 'insp-save', type: 'submit', disabled: true }, 'Save');
  const remove = h('button', { id: 'insp-delete', type: 'button', disabled: true }, 'Delete');
  const blank = h('button', { id: 'insp-new', type: 'button' }, 'New');
  const form = h(
    'form',
    { id: 'insp-form' },
    ...field('insp-id', 'Inspection id', idInput),
    ...field('insp-status', 'Status', status),
    ...field('insp-notes', 'Notes', notes),
    ...field('insp-verdict', 'Verdict', verdict),
    ...field('insp-item', 'Add item (id)', itemId),
    ...field('insp-priority', 'Priority', priority),
    h('span'),
    h('span', {}, save, ' ', remove, ' ', blank),
  );
  root.append(
    h('style', {}, STYLE),
    h('h2', {}, 'Inspections (offline-first records)'),
    h('p', { class: 'insp-bar' }, h('label', {}, 'Scope ', scopeInput), join, online, h('span', {}, 'pending changes ', pending)),
    error,
    list,
    form,
    h('h3', {}, 'Conflicts'),
    conflicts,
  );

  const fail = (problem: unknown) => {
    const message = problem instanceof Error ? problem.message : String(problem);
    error.textContent = message;
    error.dataset.code = problem instanceof StorageQuotaError ? 'quota' : ((problem as { code?: string })?.code ?? 'error');
    session.log(`inspections: ${message}`);
  };
  const renderOnline = () => {
    const up = navigator.onLine;
    online.textContent = up ? 'online' : 'offline';
    online.dataset.online = String(up);
  };

  async function render(): Promise<void> {
    if (!scope || stopped) return;
    const views = (await records.list(scope, COLLECTION)).filter((view) => !view.deleted);
    list.replaceChildren(
      ...views.map((view) => {
        const item = h(
          'li',
          { 'data-id': view.id, 'data-version': view.version, 'data-pending': view.pending, 'data-conflicts': view.conflicts.length },
          `${view.id} · ${show(view.fields.status)} · ${show(view.fields.notes)} · verdict ${show(view.fields.verdict)} · items ${
            Array.isArray(view.fields.items) ? (view.fields.items as Array<{ id: string }>).map((element) => element.id).join(',') : '—'
          }${view.pending > 0 ? ` · ${view.pending} unsent` : ''}${view.conflicts.length > 0 ? ' · conflict' : ''}`,
        );
        item.addEventListener('click', () => load(view));
        return item;
      }),
    );
    conflicts.replaceChildren(...views.flatMap((view) => view.conflicts.map((conflict) => conflictRow(view, conflict))));
  }

  function conflictRow(view: LocalRecord, conflict: Conflict): HTMLElement {
    const resolve = (resolution: Parameters<HeraldRecords['resolve']>[3]) =>
      records
        .resolve(view.scope, view.collection, view.id, resolution)
        .then(() => (error.textContent = ''))
        .catch(fail);
    const value = h('input', { class: 'edit-value', value: show(conflict.mine) });
    const mine = h('button', { type: 'button', class: 'keep-mine' }, 'Keep mine');
    const theirs = h('button', { type: 'button', class: 'keep-theirs' }, 'Keep theirs');
    const edit = h('button', { type: 'button', class: 'use-edit' }, 'Use this');
    mine.addEventListener('click', () => resolve({ field: conflict.field, choose: 'mine', opId: conflict.opId }));
    theirs.addEventListener('click', () => resolve({ field: conflict.field, choose: 'theirs' }));
    edit.addEventListener('click', () => resolve({ field: conflict.field, choose: 'edit', value: value.value }));
    return h(
      'li',
      { 'data-id': view.id, 'data-field': conflict.field },
      `${view.id}.${conflict.field}: theirs ${show(conflict.theirs)} · mine ${show(conflict.mine)} (${conflict.by}) `,
      mine,
      theirs,
      value,
      edit,
    );
  }

  function load(view: LocalRecord): void {
    editing = view;
    idInput.value = view.id;
    status.value = typeof view.fields.status === 'string' ? view.fields.status : '';
    notes.value = typeof view.fields.notes === 'string' ? view.fields.notes : '';
    verdict.value = typeof view.fields.verdict === 'string' ? view.fields.verdict : '';
    itemId.value = '';
  }

  /** Only what the form changed from the record it loaded: an untouched field must not compete with other devices' edits. */
  function editFromForm(base: LocalRecord | undefined): RecordEdit {
    const set: Record<string, unknown> = {};
    const changed = (name: string, value: string) => {
      if (value !== (base?.fields[name] ?? '')) set[name] = value;
    };
    changed('status', status.value);
    changed('notes', notes.value);
    changed('verdict', verdict.value);
    const item = itemId.value.trim();
    return { set, ...(item ? { upsert: { items: [{ id: item, at: new Date().toISOString() }] } } : {}) };
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (!scope) return;
    const id = idInput.value.trim();
    form.dataset.busy = 'true'; // until the edit is stored and shown (tests wait for it)
    try {
      await started;
      const base = editing?.id === id ? editing : await records.get(scope, COLLECTION, id);
      const view = await records.edit(scope, COLLECTION, id, editFromForm(base), { priority: priority.value as OpPriority });
      error.textContent = '';
      load(view);
      await render();
    } catch (problem) {
      fail(problem);
    } finally {
      delete form.dataset.busy;
    }
  });

  blank.addEventListener('click', () => {
    editing = undefined;
    form.reset();
    idInput.value = Math.random().toString(36).slice(2, 10);
  });

  remove.addEventListener('click', async () => {
    const id = idInput.value.trim();
    if (!scope || !id) return;
    try {
      await records.delete(scope, COLLECTION, id, { priority: priority.value as OpPriority });
      error.textContent = '';
      await render();
    } catch (problem) {
      fail(problem);
    }
  });

  join.addEventListener('click', async () => {
    try {
      await started;
      const topic = scopeInput.value.trim();
      // Scopes are topics: join as a member (an admin's call, made here for the demo), then sync.
      await apiCall(session, 'PUT', `/topics/${encodeURIComponent(topic)}/members/${encodeURIComponent(session.user)}`, {
        as: { user: 'demo-admin', roles: ['admin'] },
      });
      if (scope && scope !== topic) records.leave(scope);
      scope = topic;
      await records.sync(topic);
      save.disabled = remove.disabled = false;
      root.dataset.scope = topic;
      await render();
    } catch (problem) {
      fail(problem);
    }
  });

  const rerender = () => void render().catch(fail);
  records.on('record', rerender);
  records.on('reset', rerender);
  records.on('pending', (count) => (pending.textContent = String(count)));
  records.on('conflict', ({ record }) => session.log(`inspections: conflict on ${record.id} (${record.conflicts.map((c) => c.field).join(', ')})`));
  records.on('rejected', ({ op, reason, message }) => fail(new Error(`${op.id} was refused (${reason}): ${message}`)));
  records.on('error', (problem) => session.log(`inspections: ${problem.message}`));
  addEventListener('online', renderOnline);
  addEventListener('offline', renderOnline);
  renderOnline();
  const started = records.start().then(() => (pending.textContent = String(records.pending)));
  started.catch(fail);

  return () => {
    stopped = true;
    removeEventListener('online', renderOnline);
    removeEventListener('offline', renderOnline);
    void records.stop();
    root.replaceChildren();
  };
};
