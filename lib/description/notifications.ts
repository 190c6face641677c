/**
 * Notifications: replay and acks on the socket, the inbox over HTTP, publishing, preferences.
 */
import { claimSettings, deliverAccess, frameAccess, mergeAccess, pushAccess, type FunctionSpec } from './access';

export const notificationsFunctions = {
  wsResume: {
    entry: 'functions/notifications/handlers/resume.ts',
    description: 'Replays the notifications after a seq on the socket, then answers replayed',
    trigger: { kind: 'websocket', route: 'resume', returnResponse: true },
    // UpdateItem: a resume's `after` is the client's delivered watermark, recorded as an ack.
    ...mergeAccess(frameAccess, pushAccess, { tables: { notifications: ['GetItem', 'Query', 'QueryIndex', 'UpdateItem'] } }),
  },
  wsAck: {
    entry: 'functions/notifications/handlers/ack.ts',
    description: 'Records the delivered watermark a client acknowledges',
    trigger: { kind: 'websocket', route: 'ack', returnResponse: true },
    // Query: an ack beyond the hint asks the newest item, since the hint may lag it (docs/protocol.md, "How seqs are allocated").
    ...mergeAccess(frameAccess, { tables: { notifications: ['UpdateItem', 'Query'] } }),
  },
  listNotifications: {
    entry: 'functions/notifications/handlers/list-notifications.ts',
    description: 'Pages the caller inbox after a seq, with the unread count (polling fallback)',
    trigger: { kind: 'http', method: 'GET', path: '/notifications', auth: 'jwt' },
    // UpdateItem: a page that finds items above a lagging hint repairs it before showing them.
    tables: { notifications: ['GetItem', 'Query', 'QueryIndex', 'UpdateItem'] },
    settings: claimSettings,
  },
  readNotifications: {
    entry: 'functions/notifications/handlers/read-notifications.ts',
    description: 'Marks the caller notifications read, up to a seq or by id',
    trigger: { kind: 'http', method: 'POST', path: '/notifications/read', auth: 'jwt' },
    tables: { notifications: ['QueryIndex', 'UpdateItem'] },
    settings: claimSettings,
  },
  publishNotification: {
    entry: 'functions/notifications/handlers/publish-notification.ts',
    description: 'Delivers a notification from a publisher to one user',
    trigger: { kind: 'http', method: 'POST', path: '/notifications', auth: 'jwt' },
    ...mergeAccess(deliverAccess, { settings: claimSettings }),
  },
  getPreferences: {
    entry: 'functions/notifications/handlers/get-preferences.ts',
    description: 'Returns the caller notification preferences',
    trigger: { kind: 'http', method: 'GET', path: '/me/preferences', auth: 'jwt' },
    tables: { preferences: ['BatchGetItem'] },
    settings: claimSettings,
  },
  putPreferences: {
    entry: 'functions/notifications/handlers/put-preferences.ts',
    description: 'Replaces the caller notification preferences',
    trigger: { kind: 'http', method: 'PUT', path: '/me/preferences', auth: 'jwt' },
    tables: { preferences: ['PutItem'] },
    settings: claimSettings,
  },
} as const satisfies Record<string, FunctionSpec>;
