/**
 * The preferences page: the signed-in user's notification preferences (`GET` and `PUT
 * /me/preferences`, docs/protocol.md): per kind, in the app and by email; mute (everything but
 * critical); and the address critical alerts and exports may be emailed to. Saving replaces the
 * whole document; a kind with both channels on is left out, because that is the default.
 */
import type { PreferencesBody } from '../../functions/protocol/exports';
import { apiCall, ApiError, field, h, showFormError } from './http';
import type { PageMount } from './session';

/** The kinds Herald itself sends (docs/protocol.md, docs/exports.md); the user may add others. */
const KNOWN_KINDS: ReadonlyArray<[string, string]> = [
  ['alert.raised', 'An alert was raised'],
  ['alert.acknowledged', 'An alert was acknowledged'],
  ['alert.reassigned', 'An alert was reassigned'],
  ['alert.resolved', 'An alert was resolved'],
  ['alert.reopened', 'An alert was reopened'],
  ['export.ready', 'An export is ready'],
  ['export.failed', 'An export failed'],
  ['demo', 'Messages published from this demo'],
];

export const mountPreferences: PageMount = (root, session) => {
  let mounted = true;
  const email = h('input', { id: 'pref-email', name: 'email', type: 'email', autocomplete: 'email', placeholder: 'name@example.com' });
  const muted = h('input', { id: 'pref-muted', name: 'muted', type: 'checkbox' });
  const kindsBody = h('tbody', { id: 'pref-kinds' });
  const newKind = h('input', { id: 'pref-new-kind', placeholder: 'e.g. inspection.due' });
  const addKind = h('button', { id: 'pref-add-kind', type: 'button' }, 'Add kind');
  const save = h('button', { id: 'pref-save', class: 'primary', type: 'submit', disabled: true }, 'Save preferences');
  const status = h('span', { id: 'pref-status', class: 'form-ok', role: 'status' });
  const form = h(
    'form',
    { id: 'pref-form', class: 'card', novalidate: true, 'aria-labelledby': 'pref-heading' },
    h('h2', { id: 'pref-heading' }, 'Notification preferences'),
    h('div', { class: 'row' }, field('Email address', email, 'Where critical alerts and exports to you are emailed; leave empty for none.')),
    h('p', {}, h('label', { class: 'check' }, muted, 'Mute everything except critical alerts')),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { 'aria-label': 'Channels per kind' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col' }, 'In the app'), h('th', { scope: 'col' }, 'By email'))),
        kindsBody,
      ),
    ),
    h('div', { class: 'row' }, field('Another kind', newKind), addKind),
    h('div', { class: 'form-error', role: 'alert', hidden: true }),
    h('div', { class: 'row' }, save, status),
  );
  root.append(form);

  function kindRow(kind: string, description: string, channels: { inApp?: boolean; email?: boolean }): HTMLTableRowElement {
    const check = (channel: 'inApp' | 'email', label: string) =>
      h('input', {
        type: 'checkbox',
        class: `channel-${channel.toLowerCase()}`,
        'data-kind': kind,
        checked: channels[channel] ?? true,
        'aria-label': `${label}: ${kind}`,
      });
    return h(
      'tr',
      { 'data-kind': kind },
      h('td', {}, h('code', {}, kind), description ? h('div', { class: 'hint' }, description) : undefined),
      h('td', {}, check('inApp', 'In the app')),
      h('td', {}, check('email', 'By email')),
    );
  }

  function render(preferences: PreferencesBody) {
    email.value = preferences.email ?? '';
    muted.checked = preferences.muted;
    const described = new Map(KNOWN_KINDS);
    const kinds = [...new Set([...described.keys(), ...Object.keys(preferences.kinds)])];
    kindsBody.replaceChildren(...kinds.map((kind) => kindRow(kind, described.get(kind) ?? '', preferences.kinds[kind] ?? {})));
  }

  function collect(): PreferencesBody {
    const kinds: Record<string, { inApp: boolean; email: boolean }> = {};
    for (const row of kindsBody.querySelectorAll<HTMLTableRowElement>('tr[data-kind]')) {
      const inApp = (row.querySelector('.channel-inapp') as HTMLInputElement).checked;
      const byEmail = (row.querySelector('.channel-email') as HTMLInputElement).checked;
      if (!inApp || !byEmail) kinds[row.dataset.kind as string] = { inApp, email: byEmail };
    }
    const address = email.value.trim();
    return { kinds, muted: muted.checked, ...(address && { email: address }) };
  }

  addKind.addEventListener('click', () => {
    const kind = newKind.value.trim();
    if (!kind || kindsBody.querySelector(`tr[data-kind="${CSS.escape(kind)}"]`)) return;
    // Off in the app by default: adding a kind here is how a user silences it.
    kindsBody.append(kindRow(kind, '', { inApp: false, email: false }));
    newKind.value = '';
  });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    save.disabled = true;
    status.textContent = '';
    showFormError(form, undefined, {});
    try {
      render(await apiCall<PreferencesBody>(session, 'PUT', '/me/preferences', { body: collect() }));
      status.textContent = `Saved at ${new Date().toLocaleTimeString()}`;
      session.log('preferences saved');
    } catch (error) {
      showFormError(form, error, { email: 'pref-email', kinds: 'pref-kinds', muted: 'pref-muted' });
      session.log(error instanceof ApiError ? `${error.status} ${error.code}: ${error.message}` : String(error));
    } finally {
      save.disabled = false;
    }
  });

  apiCall<PreferencesBody>(session, 'GET', '/me/preferences')
    .then((preferences) => {
      if (!mounted) return;
      render(preferences);
      save.disabled = false;
    })
    .catch((error: unknown) => showFormError(form, error, {}));

  return () => {
    mounted = false;
  };
};
