/**
 * Realtime connections: the $connect authorizer and routes, pings, unknown frames, tickets (docs/protocol.md).
 */
import { frameAccess, mergeAccess, claimSettings, topicEventAccess, type FunctionSpec } from './access';

export const realtimeFunctions = {
  wsAuthorizer: {
    entry: 'functions/realtime/handlers/authorize-connect.ts',
    description: 'Redeems a single-use ticket and checks Origin before a WebSocket connects',
    trigger: { kind: 'websocket-authorizer', identitySource: ['route.request.querystring.ticket'] },
    // Redeeming is one conditional DeleteItem returning the old item: it consumes, never writes.
    tables: { tickets: ['DeleteItem'] },
    settings: ['allowedOrigins'],
  },
  wsConnect: {
    entry: 'functions/realtime/handlers/connect.ts',
    description: 'Records an authorized WebSocket connection',
    trigger: { kind: 'websocket', route: '$connect' },
    // Over the socket cap, the other sockets are checked with GET @connections, and this one is
    // taken back out of its row and its user's set.
    tables: { connections: ['PutItem', 'DeleteItem'], userConnections: ['UpdateItem'] },
    manageConnections: true,
    settings: ['connectionTtlSeconds', 'socketsPerUser'],
  },
  wsDisconnect: {
    entry: 'functions/realtime/handlers/disconnect.ts',
    description: 'Removes a closed WebSocket connection and leaves its topics',
    trigger: { kind: 'websocket', route: '$disconnect' },
    ...mergeAccess(topicEventAccess, { tables: { connections: ['DeleteItem'], userConnections: ['UpdateItem'], subscriptions: ['DeleteItem'] } }),
  },
  wsPing: {
    entry: 'functions/realtime/handlers/ping.ts',
    description: 'Answers ping with pong, keeping the socket inside the idle timeout; records the watermark a ping acks',
    trigger: { kind: 'websocket', route: 'ping', returnResponse: true },
    // UpdateItem: the delivered watermark a ping may carry (`ack`) on the user's counter item.
    // Query: an ack beyond the hint asks the newest item, since the hint may lag it (docs/protocol.md, "How seqs are allocated").
    ...mergeAccess(frameAccess, { tables: { notifications: ['UpdateItem', 'Query'] } }),
  },
  wsDefault: {
    entry: 'functions/realtime/handlers/default.ts',
    description: 'Answers unknown or malformed frames with an error frame',
    trigger: { kind: 'websocket', route: '$default', returnResponse: true },
    ...frameAccess,
  },
  issueTicket: {
    entry: 'functions/realtime/handlers/issue-ticket.ts',
    description: 'Issues a single-use 30-second WebSocket ticket to an authenticated user',
    trigger: { kind: 'http', method: 'POST', path: '/realtime/ticket', auth: 'jwt' },
    // The per-minute issue counter (UpdateItem), the user's socket set and, at the cap, GET
    // @connections on each of its sockets (functions/realtime/caps.ts).
    tables: { tickets: ['PutItem', 'UpdateItem'], userConnections: ['BatchGetItem'] },
    manageConnections: true,
    settings: ['ticketTtlSeconds', ...claimSettings, 'webSocketUrl', 'socketsPerUser', 'ticketsPerMinute'],
  },
} as const satisfies Record<string, FunctionSpec>;
