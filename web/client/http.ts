import type { MarkReadTarget, NotificationPage, Ticket } from './types';

/** A non-2xx answer from Herald's HTTP API, with the `{error:{code,message}}` it carried. */
export class HeraldHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HeraldHttpError';
  }
}

/** Herald's HTTP routes the client uses; the token is fetched per request so a refreshed one is picked up. */
export class HeraldHttp {
  constructor(
    private readonly baseUrl: string,
    private readonly getToken: () => Promise<string>,
    private readonly fetchImpl: typeof fetch = (...args) => fetch(...args),
  ) {}

  ticket(): Promise<Ticket> {
    return this.request('POST', '/realtime/ticket', {});
  }

  notifications(after: number, limit: number): Promise<NotificationPage> {
    return this.request('GET', `/notifications?after=${after}&limit=${limit}`);
  }

  markRead(target: MarkReadTarget): Promise<{ unread: number }> {
    return this.request('POST', '/notifications/read', 'upTo' in target ? { upTo: target.upTo } : { ids: [...target.ids] });
  }

  /** Any route of the API (the records library's, say), answering the parsed JSON or throwing HeraldHttpError. */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.fetchImpl(`${this.baseUrl.replace(/\/+$/, '')}${path}`, {
      method,
      headers: { authorization: `Bearer ${await this.getToken()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // API Gateway's own answers (a 401 from the JWT authorizer, a 5xx) need not be Herald's JSON.
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
      throw new HeraldHttpError(
        response.status,
        typeof error?.code === 'string' ? error.code : `http_${response.status}`,
        `${method} ${path}: ${response.status} ${typeof error?.message === 'string' ? error.message : text.slice(0, 200)}`,
      );
    }
    return parsed as T;
  }
}
