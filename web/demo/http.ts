/**
 * Calls to Herald's HTTP API from the demo's pages. A 4xx or 5xx becomes an ApiError carrying
 * Herald's error body (`{error: {code, message}, ...}`, docs/protocol.md), so a form can show the
 * server's own words and point at the field they name.
 */
import type { ErrorBody } from '../../functions/protocol/http';
import type { DemoSession } from './session';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The whole body: some refusals add detail (`recipients`, `limit`). */
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Call as another user or with roles (a publisher, an admin); the signed-in user by default. */
  readonly as?: { user?: string; roles?: string[] };
}

export async function apiCall<T>(session: Pick<DemoSession, 'httpUrl' | 'token'>, method: string, path: string, options: ApiOptions = {}): Promise<T> {
  const response = await fetch(`${session.httpUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${await session.token(options.as)}`,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!response.ok) {
    const error = (parsed as Partial<ErrorBody> | undefined)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? 'http_error',
      error?.message ?? `${method} ${path}: ${response.status} ${text.slice(0, 200)}`,
      (parsed ?? {}) as Record<string, unknown>,
    );
  }
  return parsed as T;
}

/** An element with attributes and children, for building the pages without a framework. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Partial<Record<string, string | boolean | number>> = {},
  ...children: Array<Node | string | undefined | false>
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (name.startsWith('data-')) element.dataset[name.slice(5).replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())] = String(value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) if (child !== undefined && child !== false) element.append(child);
  return element;
}

/** A labelled form control: the label wraps its text and the control, so screen readers name it. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control, hint ? h('small', { class: 'hint' }, hint) : undefined);
}

/** Shows an API refusal in a form's alert area, and marks the fields it names as invalid. */
export function showFormError(form: HTMLFormElement, error: unknown, fieldsByPrefix: Record<string, string>): void {
  const alert = form.querySelector<HTMLElement>('.form-error');
  for (const invalid of form.querySelectorAll('[aria-invalid="true"]')) invalid.removeAttribute('aria-invalid');
  if (!alert) return;
  if (error === undefined) {
    alert.hidden = true;
    alert.textContent = '';
    delete alert.dataset.code;
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = error instanceof ApiError ? error.code : 'error';
  alert.hidden = false;
  alert.dataset.code = code;
  alert.textContent = error instanceof ApiError ? `${message} (${error.status} ${code})` : message;
  // Herald's messages name the field first (`schedule.cron: …`, `recipients: …`, `email: …`).
  for (const [prefix, id] of Object.entries(fieldsByPrefix)) {
    if (message.startsWith(prefix) || code.startsWith(prefix)) form.querySelector(`#${id}`)?.setAttribute('aria-invalid', 'true');
  }
}
