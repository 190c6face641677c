/** The shapes Herald's HTTP API and WebSocket send (docs/protocol.md), as the client sees them. */

export type Priority = 'normal' | 'high' | 'critical';

export interface Notification {
  readonly seq: number;
  readonly id: string;
  readonly kind: string;
  readonly title: string;
  readonly body?: string;
  readonly data?: Record<string, unknown>;
  readonly priority: Priority;
  readonly createdAt: string;
  readonly groupKey?: string;
  /** Read state when fetched over HTTP; WebSocket frames may omit it (the client then stores `false`). */
  readonly read: boolean;
}

/** `GET /notifications?after=&limit=`; also what a WebSocket resume amounts to. */
export interface NotificationPage {
  readonly items: Notification[];
  readonly nextAfter: number;
  readonly more: boolean;
  /** Notifications right after `after` expired before this client saw them. */
  readonly gap: boolean;
  readonly unread: number;
}

export interface TopicEvent {
  readonly topic: string;
  readonly name: string;
  readonly data: unknown;
}

export interface Progress {
  readonly jobId: string;
  readonly done: number;
  /** Absent while the total is not known yet. */
  readonly total?: number;
  readonly version: number;
}

export type ServerFrame =
  | ({ type: 'notification' } & Omit<Notification, 'read'> & { read?: boolean })
  | { type: 'replayed'; upTo: number; more: boolean; gap?: boolean; unread?: number; id?: string }
  | { type: 'pong'; id?: string }
  | { type: 'subscribed'; topic: string; id?: string }
  | { type: 'unsubscribed'; topic: string; id?: string }
  | ({ type: 'event' } & TopicEvent)
  | ({ type: 'progress' } & Progress)
  | { type: 'error'; code: string; message: string; id?: string };

export type ClientFrame =
  | { action: 'resume'; after: number; id?: string }
  | { action: 'ack'; upTo: number }
  | { action: 'ping'; id?: string }
  | { action: 'subscribe'; topic: string; id?: string }
  | { action: 'unsubscribe'; topic: string; id?: string };

/**
 * Where the client stands:
 * - `closed`: not started, or stopped.
 * - `connecting`: getting a ticket and opening the WebSocket (first attempts, or after a drop).
 * - `open`: the WebSocket is up; notifications arrive live.
 * - `polling`: the WebSocket cannot connect; notifications arrive by `GET /notifications` every
 *   `pollIntervalMs` while the socket keeps being retried in the background.
 * - `offline`: neither the WebSocket nor a poll got through; both keep being retried.
 */
export type ConnectionState = 'closed' | 'connecting' | 'open' | 'polling' | 'offline';

export type MarkReadTarget = { readonly upTo: number } | { readonly ids: readonly string[] };
