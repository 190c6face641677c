/**
 * The names of the environment variables a function reads its configuration from: the contract
 * between a function and whatever deploys it. lib/description gives each function the variables
 * its entry names; the function reads them once, at cold start (config.ts).
 */
export const environment = {
  /** Physical table names. */
  tables: {
    connections: 'CONNECTIONS_TABLE',
    userConnections: 'USER_CONNECTIONS_TABLE',
    tickets: 'TICKETS_TABLE',
    notifications: 'NOTIFICATIONS_TABLE',
    dedupe: 'DEDUPE_TABLE',
    preferences: 'PREFERENCES_TABLE',
    memberships: 'MEMBERSHIPS_TABLE',
    subscriptions: 'SUBSCRIPTIONS_TABLE',
    exports: 'EXPORTS_TABLE',
    alerts: 'ALERTS_TABLE',
    records: 'RECORDS_TABLE',
  },
  /** Queue URLs. */
  queues: { exports: 'EXPORTS_QUEUE_URL', alertChunks: 'ALERT_CHUNKS_QUEUE_URL' },
  /** Bucket names. */
  buckets: { exports: 'EXPORTS_BUCKET' },
  /** Settings, each encoded as lib/description's encodeSettings encodes it. */
  settings: {
    allowedOrigins: 'ALLOWED_ORIGINS',
    ticketTtlSeconds: 'TICKET_TTL_SECONDS',
    connectionTtlSeconds: 'CONNECTION_TTL_SECONDS',
    tenantClaim: 'TENANT_CLAIM',
    rolesClaim: 'ROLES_CLAIM',
    webSocketUrl: 'WEBSOCKET_URL',
    notificationRetentionDays: 'NOTIFICATION_RETENTION_DAYS',
    emailSender: 'EMAIL_SENDER',
    /** The SES configuration set every send names (its events feed the bounce and complaint alarms). */
    emailConfigurationSet: 'EMAIL_CONFIGURATION_SET',
    exportRetentionDays: 'EXPORT_RETENTION_DAYS',
    /** JSON `{table, tenantKey, sortKey?, role?}` of the records dataset's table, or empty when none is configured. */
    exportRecords: 'EXPORT_RECORDS',
    /** JSON list of the domains any address of which may receive exports, besides the tenant's users. */
    exportRecipientDomains: 'EXPORT_RECIPIENT_DOMAINS',
    exportScheduleGroup: 'EXPORT_SCHEDULE_GROUP',
    exportSchedulerRoleArn: 'EXPORT_SCHEDULER_ROLE_ARN',
    exportQueueArn: 'EXPORT_QUEUE_ARN',
    exportDeadLetterQueueArn: 'EXPORT_DEAD_LETTER_QUEUE_ARN',
    /** `secret:<ARN>` (deployed: read from Secrets Manager at cold start) or `key:<base64>` (local). */
    exportLinkKey: 'EXPORT_LINK_KEY',
    httpApiUrl: 'HTTP_API_URL',
    /** Per-user caps of the realtime API (functions/realtime/limits.ts). */
    socketsPerUser: 'SOCKETS_PER_USER',
    ticketsPerMinute: 'TICKETS_PER_MINUTE',
    /** JSON of the deployment's record collection declarations (functions/records/collections.ts), `{}` when none. */
    recordCollections: 'RECORD_COLLECTIONS',
    recordRetentionDays: 'RECORD_RETENTION_DAYS',
  },
  /** The @connections endpoint, for functions that post to or close sockets. */
  connectionsEndpoint: 'CONNECTIONS_ENDPOINT',
} as const;
