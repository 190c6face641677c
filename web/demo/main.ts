/**
 * The demo field app's shell: sign in once with the local issuer, which starts this tab's one
 * HeraldClient and builds the DemoSession every page gets; then a navigation between pages, each
 * a PageMount (session.ts) mounted into #page and torn down when the user leaves it or signs out.
 * Pages live at `#/<page>`, so a reload or a link returns to the same page after signing in.
 */
import { HeraldClient } from '../client';
import { mountDeveloper } from './developer';
import { mountExports } from './exports';
import { h, showFormError } from './http';
import { mountInbox } from './inbox';
import { mountInspections } from './inspections';
import { mountPreferences } from './preferences';
import type { DemoSession, PageMount } from './session';

interface Page {
  readonly id: string;
  readonly title: string;
  readonly mount: PageMount;
  /** The id of the element the page mounts into (its styles and tests may name it); `<id>-page` by default. */
  readonly rootId?: string;
}

const PAGES: readonly Page[] = [
  { id: 'inspections', title: 'Inspections', mount: mountInspections, rootId: 'inspections' },
  { id: 'inbox', title: 'Inbox & alerts', mount: mountInbox },
  { id: 'exports', title: 'Exports', mount: mountExports },
  { id: 'preferences', title: 'Preferences', mount: mountPreferences },
  { id: 'developer', title: 'Developer', mount: mountDeveloper },
];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function log(line: string): void {
  const target = $('log');
  target.textContent = `${new Date().toLocaleTimeString()}  ${line}\n${target.textContent}`;
}

async function postJson<T>(url: string, body: unknown): Promise<T> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`${url}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

/** Local dev tokens last an hour; each (user, roles) is fetched again well before that. */
function tokenSource(httpUrl: string, tenant: string, user: string): DemoSession['token'] {
  const cache = new Map<string, { token: string; at: number }>();
  return async (options = {}) => {
    const who = { tenant, user: options.user ?? user, roles: options.roles ?? [] };
    const key = JSON.stringify(who);
    const cached = cache.get(key);
    if (cached && Date.now() - cached.at < 50 * 60_000) return cached.token;
    const { token } = await postJson<{ token: string }>(`${httpUrl}/dev/token`, who);
    cache.set(key, { token, at: Date.now() });
    return token;
  };
}

let session: DemoSession | undefined;
let unmountPage: (() => void) | undefined;
const shellListeners: Array<() => void> = [];

function currentPage(): Page {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.find((page) => page.id === id) ?? (PAGES[0] as Page);
}

function renderNav(active: Page): void {
  $('nav').replaceChildren(
    ...PAGES.map((page) => h('a', { href: `#/${page.id}`, id: `nav-${page.id}`, 'aria-current': page === active ? 'page' : false }, page.title)),
  );
}

function showPage(): void {
  unmountPage?.();
  unmountPage = undefined;
  const root = $('page');
  root.replaceChildren();
  if (!session) return;
  const page = currentPage();
  renderNav(page);
  document.title = `${page.title} · Herald field app`;
  root.dataset.page = page.id;
  const pageRoot = h('section', { id: page.rootId ?? `${page.id}-page`, 'aria-label': page.title });
  root.append(pageRoot);
  unmountPage = page.mount(pageRoot, session);
}

async function signIn(tenant: string, user: string): Promise<void> {
  const { httpUrl } = (await (await fetch('/config.json')).json()) as { httpUrl: string };
  const token = tokenSource(httpUrl, tenant, user);
  const client = new HeraldClient({ httpUrl, getToken: () => token() });
  shellListeners.push(
    client.on('state', (state) => {
      $('client-state').textContent = state;
      $('client-state').dataset.state = state;
    }),
    client.on('role', (role) => ($('role').textContent = role)),
    client.on('unread', (unread) => ($('unread').textContent = String(unread))),
    client.on('error', (error) => log(`client: ${error.message}`)),
  );
  await client.start();
  session = { tenant, user, httpUrl, token, client, log };
  $('signed-in-as').textContent = `${user} @ ${tenant}`;
  $('sign-in-form').hidden = true;
  $('who').hidden = $('nav').hidden = false;
  log(`signed in as ${user} of ${tenant}`);
  showPage();
}

async function signOut(): Promise<void> {
  const client = session?.client;
  session = undefined;
  showPage();
  for (const off of shellListeners.splice(0)) off();
  await client?.stop();
  $('who').hidden = $('nav').hidden = true;
  $('sign-in-form').hidden = false;
  $('role').textContent = 'not started';
  $('client-state').textContent = 'closed';
  $('client-state').dataset.state = 'closed';
  $('unread').textContent = '0';
  log('signed out');
}

$<HTMLFormElement>('sign-in-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget as HTMLFormElement;
  const tenant = $<HTMLInputElement>('tenant').value.trim();
  const user = $<HTMLInputElement>('user').value.trim();
  $<HTMLButtonElement>('sign-in').disabled = true;
  showFormError(form, undefined, {});
  try {
    await signIn(tenant, user);
  } catch (error) {
    for (const off of shellListeners.splice(0)) off();
    showFormError(form, error, {});
    log(String(error));
  } finally {
    $<HTMLButtonElement>('sign-in').disabled = false;
  }
});
$('sign-out').addEventListener('click', () => void signOut().catch((error) => log(String(error))));
window.addEventListener('hashchange', showPage);
