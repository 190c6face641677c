/** Herald's client library: see web/client/README.md. */
export { HeraldClient, accountFromToken, type HeraldClientOptions, type HeraldEvents } from './client';
export { HeraldHttpError } from './http';
export { indexedDbStore, memoryStore, DEFAULT_INBOX_LIMIT, type Account, type NotificationStore, type StoreFactory } from './store';
export { DEFAULT_TIMING, HeraldFrameError, type SocketLike, type Timing, type WebSocketConstructor } from './transport';
export type { ConnectionState, MarkReadTarget, Notification, NotificationPage, Priority, Progress, RecordChange, TopicEvent } from './types';
export * from './records';
