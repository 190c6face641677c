/**
 * The Inspections page: offline-first records (web/client/records/, docs/sync.md "The client").
 * A list of a scope's inspections, an edit form, an offline indicator with the pending-changes
 * count, and field-by-field conflict resolution. Edits apply at once and wait in the outbox until
 * they reach the server; the `inspections` collection's fields show every merge strategy
 * (docs/local.md): status server-wins, notes last-writer-wins, items merge-by-id, verdict manual.
 */
import { HeraldRecords, StorageQuotaError, type Conflict, type LocalRecord, type OpPriority, type RecordEdit } from '../client';
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

type Props = Record<string, unknown> & { dataset?: Record<string, string> };

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const { dataset, ...rest } = props;
  const element = Object.assign(document.createElement(tag), rest);
  Object.assign(element.dataset, dataset ?? {});
  element.append(...children);
  return element;
}

const show = (value: unknown) => (value === undefined || value === null ? '—' : typeof value === 'string' ? value : JSON.stringify(value));

export const mountInspections: PageMount = (root, session) => {
  const records = new HeraldRecords({ httpUrl: session.httpUrl, getToken: () => session.token(), client: session.client, account: session });
  let scope: string | undefined;
  let editing: LocalRecord | undefined;
  let stopped = false;

  const scopeInput = el('input', { id: 'insp-scope', value: 'site-1' });
  const join = el('button', { id: 'insp-join', type: 'button', textContent: 'Sync scope' });
  const online = el('strong', { id: 'insp-online' });
  const pending = el('span', { id: 'insp-pending', className: 'badge', textContent: '0' });
  const error = el('p', { id: 'insp-error', className: 'insp-error', role: 'alert' });
  const list = el('ul', { id: 'insp-list', className: 'insp-list' });
  const conflicts = el('ul', { id: 'insp-conflicts', className: 'insp-conflicts' });
  const field = (id: string, label: string, input: HTMLElement) => [el('label', { htmlFor: id, textContent: label }), input];
  const idInput = el('input', { id: 'insp-id', required: true });
  const status = el(
    'select',
    { id: 'insp-status' },
    ...['', 'open', 'in-progress', 'done'].map((value) => el('option', { value, textContent: value || '(none)' })),
  );
  const notes = el('textarea', { id: 'insp-notes', rows: 2 });
  const verdict = el('input', { id: 'insp-verdict' });
  const itemId = el('input', { id: 'insp-item', placeholder: 'photo-1' });
  const priority = el('select', { id: 'insp-priority' }, ...['normal', 'critical', 'low'].map((value) => el('option', { value, textContent: value })));
  const save = el('button', { id: 'insp-save', type: 'submit', textContent: 'Save', disabled: true });
  const form = el(
    'form',
    { id: 'insp-form' },
    ...field('insp-id', 'Inspection id', idInput),
    ...field('insp-status', 'Status', status),
    ...field('insp-notes', 'Notes', notes),
    ...field('insp-verdict', 'Verdict', verdict),
    ...field('insp-item', 'Add item (id)', itemId),
    ...field('insp-priority', 'Priority', priority),
    el('span'),
    save,
  );
  root.append(
    el('style', { textContent: STYLE }),
    el('h2', { textContent: 'Inspections (offline-first records)' }),
    el('p', { className: 'insp-bar' }, el('label', {}, 'Scope ', scopeInput), join, online, el('span', {}, 'pending changes ', pending)),
    error,
    list,
    form,
    el('h3', { textContent: 'Conflicts' }),
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
        const item = el(
          'li',
          { dataset: { id: view.id, version: String(view.version), pending: String(view.pending), conflicts: String(view.conflicts.length) } },
          `${view.id} · ${show(view.fields.status)} · ${show(view.fields.notes)} · verdict ${show(view.fields.verdict)} · items ${
            Array.isArray(view.fields.items) ? (view.fields.items as Array<{ id: string }>).map((element) => element.id).join(',') : '—'
          }`,
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
    const value = el('input', { className: 'edit-value', value: show(conflict.mine) });
    const mine = el('button', { type: 'button', className: 'keep-mine', textContent: 'Keep mine' });
    const theirs = el('button', { type: 'button', className: 'keep-theirs', textContent: 'Keep theirs' });
    const edit = el('button', { type: 'button', className: 'use-edit', textContent: 'Use this' });
    mine.addEventListener('click', () => resolve({ field: conflict.field, choose: 'mine', opId: conflict.opId }));
    theirs.addEventListener('click', () => resolve({ field: conflict.field, choose: 'theirs' }));
    edit.addEventListener('click', () => resolve({ field: conflict.field, choose: 'edit', value: value.value }));
    return el(
      'li',
      { dataset: { id: view.id, field: conflict.field } },
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
    try {
      await started;
      const base = editing?.id === id ? editing : await records.get(scope, COLLECTION, id);
      const view = await records.edit(scope, COLLECTION, id, editFromForm(base), { priority: priority.value as OpPriority });
      error.textContent = '';
      load(view);
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
      const admin = await session.token({ user: 'demo-admin', roles: ['admin'] });
      const response = await fetch(`${session.httpUrl}/topics/${encodeURIComponent(topic)}/members/${encodeURIComponent(session.user)}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${admin}` },
      });
      if (!response.ok) throw new Error(`Joining ${topic}: ${response.status} ${await response.text()}`);
      if (scope && scope !== topic) records.leave(scope);
      scope = topic;
      await records.sync(topic);
      save.disabled = false;
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
