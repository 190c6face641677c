/**
 * The shapes Herald's HTTP API and WebSocket send, as the client sees them. They are the server's
 * own definitions (functions/protocol/, docs/protocol.md), imported as types only, so the client
 * bundle carries none of the server's code and cannot drift from it.
 */
import type { ClientFrame, ServerFrame } from '../../functions/protocol/frames';
import type { NotificationPage, Ticket } from '../../functions/protocol/http';
import type { Priority } from '../../functions/protocol/priorities';
import type { RecordChangeFrame } from '../../functions/protocol/records';

export type { ClientFrame, NotificationPage, Priority, ServerFrame, Ticket };

/** A committed record change in a subscribed scope, as the live `change` frame carries it (docs/sync.md). */
export type RecordChange = Omit<RecordChangeFrame, 'type'>;

/** A notification as the client keeps it: read state always known (a WebSocket frame without it is stored unread). */
export type Notification = NotificationPage['items'][number];

export type TopicEvent = Omit<Extract<ServerFrame, { type: 'event' }>, 'type'>;

export type Progress = Omit<Extract<ServerFrame, { type: 'progress' }>, 'type'>;

/**
 * Where the client stands:
 * - `closed`: not started, or stopped.
 * - `connecting`: getting a ticket and opening the WebSocket (first attempts, or after a drop).
 * - `open`: the WebSocket is up; notifications arrive live.
 * - `polling`: the WebSocket cannot connect; notifications arrive by `GET /notifications` every
 *   `pollIntervalMs` while the socket keeps being retried in the background.
 * - `offline`: the browser reports no network, or neither the WebSocket nor a poll got through;
 *   both keep being retried.
 */
export type ConnectionState = 'closed' | 'connecting' | 'open' | 'polling' | 'offline';

export type MarkReadTarget = { readonly upTo: number } | { readonly ids: readonly string[] };
