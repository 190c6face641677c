/**
 * Deployment settings, read from cdk.json context (or `-c key=value`) and validated before any
 * construct is built, so a bad value fails synth with its name instead of a broken deploy.
 */

export interface HeraldConfig {
  /** OIDC issuer of user JWTs. @default a Cognito user pool created by the stack */
  readonly jwtIssuer?: string;
  /** Audience (client id) user JWTs must carry. Required together with jwtIssuer. */
  readonly jwtAudience?: string;
  /** Browser origins allowed to open a WebSocket, matched exactly. @default none */
  readonly allowedOrigins: readonly string[];
  /** JWT claim holding the user's tenant. @default 'tenant' ('custom:tenant' with the Cognito pool) */
  readonly tenantClaim: string;
  /** JWT claim holding the user's roles. @default 'roles' ('cognito:groups' with the Cognito pool) */
  readonly rolesClaim: string;
  /** CloudWatch log retention of every function, in days. @default 30 */
  readonly logRetentionDays: number;
  /** Days a notification is kept (DynamoDB TTL); resume past it answers `gap: true`. @default 30 */
  readonly notificationRetentionDays: number;
  /**
   * The verified SES identity export emails come from. Required to synthesize the stack (see
   * requireExportSender): there is no sensible default, and SES refuses unverified senders.
   */
  readonly exportSender?: string;
  /** Days an export file is kept (S3 lifecycle); its download link lives as long. @default 7 */
  readonly exportRetentionDays: number;
  /** Steady-state WebSocket and HTTP API request rate per second. @default 500 */
  readonly throttleRateLimit: number;
  /** Burst of WebSocket and HTTP API requests. @default 1000 */
  readonly throttleBurstLimit: number;
}

/** Lifetime of a WebSocket ticket. DESIGN.md fixes it at 30 s. */
export const TICKET_TTL_SECONDS = 30;
/** API Gateway closes every WebSocket after 2 h; the row outlives it by 10 min before TTL removes it. */
export const CONNECTION_TTL_SECONDS = 2 * 60 * 60 + 10 * 60;

const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Context = (key: string) => unknown;

export function readConfig(context: Context): HeraldConfig {
  const jwtIssuer = optionalString(context, 'jwtIssuer');
  const jwtAudience = optionalString(context, 'jwtAudience');
  if ((jwtIssuer === undefined) !== (jwtAudience === undefined)) {
    throw new ConfigError('Context "jwtIssuer" and "jwtAudience" go together: set both (your OIDC provider) or neither (a Cognito user pool is created).');
  }
  if (jwtIssuer !== undefined && !/^https:\/\/[^\s/]+/.test(jwtIssuer)) {
    throw new ConfigError(`Context "jwtIssuer" must be an https URL, got "${jwtIssuer}".`);
  }
  const cognito = jwtIssuer === undefined;
  const allowedOrigins = stringList(context, 'allowedOrigins');
  for (const origin of allowedOrigins) {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError(`Context "allowedOrigins" has "${origin}", which is not an origin such as https://app.example.com.`);
    }
    if (parsed.origin !== origin) {
      throw new ConfigError(`Context "allowedOrigins" has "${origin}"; write it exactly as browsers send it: "${parsed.origin}".`);
    }
  }
  const logRetentionDays = positiveInteger(context, 'logRetentionDays', 30);
  if (!RETENTION_DAYS.includes(logRetentionDays)) {
    throw new ConfigError(`Context "logRetentionDays" must be one of CloudWatch's values (${RETENTION_DAYS.join(', ')}), got ${logRetentionDays}.`);
  }
  const notificationRetentionDays = positiveInteger(context, 'notificationRetentionDays', 30);
  if (notificationRetentionDays > 365) {
    throw new ConfigError(`Context "notificationRetentionDays" must be at most 365, got ${notificationRetentionDays}.`);
  }
  const exportSender = optionalString(context, 'exportSender');
  if (exportSender !== undefined && !EMAIL.test(exportSender)) {
    throw new ConfigError(`Context "exportSender" must be one email address such as exports@example.com, got "${exportSender}".`);
  }
  const exportRetentionDays = positiveInteger(context, 'exportRetentionDays', 7);
  if (exportRetentionDays > 365) {
    throw new ConfigError(`Context "exportRetentionDays" must be at most 365, got ${exportRetentionDays}.`);
  }
  return {
    jwtIssuer,
    jwtAudience,
    allowedOrigins,
    tenantClaim: optionalString(context, 'tenantClaim') ?? (cognito ? 'custom:tenant' : 'tenant'),
    rolesClaim: optionalString(context, 'rolesClaim') ?? (cognito ? 'cognito:groups' : 'roles'),
    logRetentionDays,
    notificationRetentionDays,
    exportSender,
    exportRetentionDays,
    throttleRateLimit: positiveInteger(context, 'throttleRateLimit', 500),
    throttleBurstLimit: positiveInteger(context, 'throttleBurstLimit', 1000),
  };
}

/** One plain address: no display name, no whitespace or line breaks that could reach a mail header. */
export const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** The sender address, or a ConfigError that says how to set it: the stack cannot be built without one. */
export function requireExportSender(config: HeraldConfig): string {
  if (config.exportSender === undefined) {
    throw new ConfigError(
      'Context "exportSender" is not set: scheduled exports email their download links from it. Set it in cdk.json or with -c exportSender=exports@your-domain.example (an address or domain verified in SES).',
    );
  }
  return config.exportSender;
}

function optionalString(context: Context, key: string): string | undefined {
  const value = context(key);
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw new ConfigError(`Context "${key}" must be a string.`);
  return value;
}

/** Accepts a JSON array (cdk.json) or a comma-separated string (`-c key=a,b`). */
function stringList(context: Context, key: string): string[] {
  const value = context(key);
  if (value === undefined || value === null || value === '') return [];
  if (typeof value === 'string') return value.split(',').map((item) => item.trim()).filter(Boolean);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  throw new ConfigError(`Context "${key}" must be a list of strings.`);
}

function positiveInteger(context: Context, key: string, fallback: number): number {
  const value = context(key);
  if (value === undefined || value === null || value === '') return fallback;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number <= 0) {
    throw new ConfigError(`Context "${key}" must be a positive whole number, got ${JSON.stringify(value)}.`);
  }
  return number;
}
