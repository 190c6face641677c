/**
 * Settings every deployment gives its functions, and the one encoding of them into environment
 * strings (the variable names are the functions' own, functions/shared/environment.ts); also the
 * WebSocket stage and the HTTP API's CORS, the same deployed and local.
 */
import type { RecordsTable } from '#functions/exports/datasets';
import type { CollectionDeclarations } from '#functions/records/collections';

export type { CollectionDeclarations };
import { environment } from '#functions/shared/environment';
import { REALTIME_LIMIT_DEFAULTS, type RealtimeLimits } from '#functions/realtime/limits';

/** The per-user caps of the realtime API when a deployment sets none (docs/protocol.md, "Limits"). */
export { REALTIME_LIMIT_DEFAULTS, type RealtimeLimits };

/** The WebSocket API's stage: clients connect to wss://…/live, functions post to …/live/@connections. */
export const webSocketStageName = 'live';

/** CORS of the HTTP API for the allowed origins, the same deployed and local. */
export const corsPolicy = {
  allowMethods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
  allowHeaders: ['authorization', 'content-type', 'if-match'],
  // retry-after: a browser app may read when a 429 says to try again (it is in the body as well).
  exposeHeaders: ['etag', 'retry-after'],
  maxAgeSeconds: 3600,
} as const;

/**
 * Settings passed to functions as environment variables. The value of each comes from
 * lib/config.ts (cdk.json context when deployed, the local runtime's own values locally).
 */
export const settingEnvVars = environment.settings;
export type SettingName = keyof typeof settingEnvVars;

export interface SettingValues {
  readonly allowedOrigins: readonly string[];
  readonly ticketTtlSeconds: number;
  readonly connectionTtlSeconds: number;
  readonly tenantClaim: string;
  readonly rolesClaim: string;
  readonly webSocketUrl: string;
  readonly notificationRetentionDays: number;
  readonly emailSender: string;
  readonly emailConfigurationSet: string;
  readonly exportRetentionDays: number;
  readonly exportRecords: RecordsTable | undefined;
  /** Domains (lowercase) any address at which may receive exports. */
  readonly exportRecipientDomains: readonly string[];
  readonly exportScheduleGroup: string;
  readonly exportSchedulerRoleArn: string;
  readonly exportQueueArn: string;
  readonly exportDeadLetterQueueArn: string;
  readonly exportLinkKey: string;
  readonly httpApiUrl: string;
  readonly socketsPerUser: number;
  readonly ticketsPerMinute: number;
  readonly recordCollections: CollectionDeclarations;
  readonly recordRetentionDays: number;
}

/** The one encoding of settings into environment strings, used by the CDK and the local runtime. */
export function encodeSettings(values: SettingValues): Record<SettingName, string> {
  return {
    // JSON, so that an empty allowlist is a value rather than a missing variable.
    allowedOrigins: JSON.stringify(values.allowedOrigins),
    ticketTtlSeconds: String(values.ticketTtlSeconds),
    connectionTtlSeconds: String(values.connectionTtlSeconds),
    tenantClaim: values.tenantClaim,
    rolesClaim: values.rolesClaim,
    webSocketUrl: values.webSocketUrl,
    notificationRetentionDays: String(values.notificationRetentionDays),
    emailSender: values.emailSender,
    emailConfigurationSet: values.emailConfigurationSet,
    exportRetentionDays: String(values.exportRetentionDays),
    exportRecords: values.exportRecords === undefined ? '' : JSON.stringify(values.exportRecords),
    // JSON, so that no domains is a value rather than a missing variable.
    exportRecipientDomains: JSON.stringify(values.exportRecipientDomains),
    exportScheduleGroup: values.exportScheduleGroup,
    exportSchedulerRoleArn: values.exportSchedulerRoleArn,
    exportQueueArn: values.exportQueueArn,
    exportDeadLetterQueueArn: values.exportDeadLetterQueueArn,
    exportLinkKey: values.exportLinkKey,
    // No trailing slash, so `${url}/exports/...` is one slash whatever the stage URL ends with.
    httpApiUrl: values.httpApiUrl.replace(/\/+$/, ''),
    socketsPerUser: String(values.socketsPerUser),
    ticketsPerMinute: String(values.ticketsPerMinute),
    recordCollections: JSON.stringify(values.recordCollections),
    recordRetentionDays: String(values.recordRetentionDays),
  };
}

/** Environment variable carrying the @connections endpoint to functions that manage connections. */
export const connectionsEndpointEnvVar = environment.connectionsEndpoint;
