/**
 * Deployment settings, read from cdk.json context (or `-c key=value`) and validated before any
 * construct is built, so a bad value fails synth with its name instead of a broken deploy.
 */
import type { RecordsTable } from '../functions/exports/datasets';
import { parseCollectionDeclarations, type CollectionDeclarations } from '../functions/records/collections';
import { EMAIL } from '../functions/shared/email';
import { REALTIME_LIMIT_DEFAULTS } from '../functions/realtime/limits';

/**
 * Days a rotation interval must exceed the file retention by: Secrets Manager rotates at some hour
 * of the due day (so two rotations may be up to a day closer than the interval), and a warm export
 * worker keeps signing with the key it read at cold start for as long as it lives (hours).
 */
export const LINK_KEY_ROTATION_MARGIN_DAYS = 2;

/** The larger of 30 days and twice the retention: a monthly rotation, or slower when files live long. */
export function linkKeyRotationDefaultDays(fileRetentionDays: number): number {
  return Math.max(30, 2 * fileRetentionDays);
}

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
   * The address Herald's emails (export links, critical alerts) come from; the stack creates its
   * SES identity (see createEmailIdentity, emailIdentityDomain), which must be verified before SES
   * sends anything. Required to synthesize the stack (see requireEmailSender): there is no
   * sensible default, and a critical alert must never lose its email silently.
   */
  readonly emailSender?: string;
  /**
   * The deployer's own table behind the `records` export dataset: its name, the partition key
   * attribute that holds the tenant, and optionally a string sort key (ISO dates) that the
   * export's date range becomes a key condition on. @default none: the dataset answers 400
   */
  readonly exportRecords?: ExportRecordsConfig;
  /**
   * Domains any address at which may receive export emails, besides the users of the owner's
   * tenant (their preference address, or the owner's own token email). Exact domains: `example.com`
   * does not allow `mail.example.com`. @default none
   */
  readonly exportRecipientDomains: readonly string[];
  /**
   * An existing SNS topic every Herald alarm notifies (your pager's, say). Exactly one of this and
   * alarmEmail is required (see requireAlarmTarget): an alarm nobody hears of is no alarm.
   */
  readonly alarmTopicArn?: string;
  /**
   * The address of the person or list alarms reach: the stack creates an alarm topic with an email
   * subscription to it (SNS emails it a confirmation link). The other way to give alarms a target
   * than alarmTopicArn; exactly one of the two.
   */
  readonly alarmEmail?: string;
  /** Days an export file is kept (S3 lifecycle); its download link lives as long. @default 7 */
  readonly exportRetentionDays: number;
  /**
   * Days between automatic rotations of the download-link key; at least exportRetentionDays + 2
   * (docs/exports.md, "Download links"). @default the larger of 30 and 2 x exportRetentionDays
   */
  readonly exportLinkKeyRotationDays: number;
  /** Steady-state WebSocket and HTTP API request rate per second. @default 500 */
  readonly throttleRateLimit: number;
  /** Burst of WebSocket and HTTP API requests. @default 1000 */
  readonly throttleBurstLimit: number;
  /**
   * The CloudFormation stack name, which also prefixes the API and Scheduler group names. A second
   * stage in the same account, or a rename, is a new stack beside the old one. @default 'Herald'
   */
  readonly stackName: string;
  /**
   * Create API Gateway's account-level CloudWatch role (an IAM role and AWS::ApiGateway::Account)
   * for this account and region. Without it, the account must already have one, or the WebSocket
   * stage, which has access logging, fails to create (docs/deploy.md). @default false
   */
  readonly createApiGatewayAccountRole: boolean;
  /**
   * Create the sender's SES identity in this stack: the `emailSender` address, or the domain
   * `emailIdentityDomain`. False when the identity is managed elsewhere (another stage of Herald
   * in the same account and region, say). @default true
   */
  readonly createEmailIdentity: boolean;
  /**
   * Verify this domain (Easy DKIM, three CNAME records) instead of the single sender address.
   * `emailSender` must be an address at it or at one of its subdomains. @default unset: the address
   */
  readonly emailIdentityDomain?: string;
  /**
   * Delete the export files with the stack (S3 auto-delete custom resource) instead of retaining
   * the bucket. For throwaway stages only. @default false
   */
  readonly exportsBucketAutoDelete: boolean;
  /**
   * WebSocket connections one user may hold open at once; `POST /realtime/ticket` answers 403
   * past it and $connect refuses with 429. @default 30
   */
  readonly socketsPerUser: number;
  /** WebSocket tickets one user may be issued per minute; past it `POST /realtime/ticket` answers 429. @default 60 */
  readonly ticketsPerMinute: number;
  /**
   * Record collections and each field's merge strategy (docs/sync.md, "Declaring a collection"),
   * e.g. `{"inspections": {"fields": {"status": "server-wins", "items": "merge-by-id"}}}`.
   * @default none: every collection syncs with every field last-writer-wins
   */
  readonly recordCollections: CollectionDeclarations;
  /**
   * Days record tombstones, op answers and device rows are kept; a device whose last pull is
   * older answers `reset` and pulls everything again. @default 30
   */
  readonly recordRetentionDays: number;
}

/** Lifetime of a WebSocket ticket: 30 s (docs/protocol.md). */
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
  if (context('exportSender') !== undefined) {
    throw new ConfigError(
      'Context "exportSender" was renamed "emailSender": critical alerts are emailed from it too. Rename it in cdk.json or on the command line.',
    );
  }
  const emailSender = optionalString(context, 'emailSender');
  if (emailSender !== undefined && !EMAIL.test(emailSender)) {
    throw new ConfigError(`Context "emailSender" must be one email address such as herald@example.com, got "${emailSender}".`);
  }
  const alarmTopicArn = optionalString(context, 'alarmTopicArn');
  if (alarmTopicArn !== undefined && !/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(alarmTopicArn)) {
    throw new ConfigError(`Context "alarmTopicArn" must be an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ops, got "${alarmTopicArn}".`);
  }
  const alarmEmail = optionalString(context, 'alarmEmail');
  if (alarmEmail !== undefined && !EMAIL.test(alarmEmail)) {
    throw new ConfigError(`Context "alarmEmail" must be one email address such as ops@example.com, got "${alarmEmail}".`);
  }
  if (alarmEmail !== undefined && alarmTopicArn !== undefined) {
    throw new ConfigError(
      'Context "alarmEmail" and "alarmTopicArn" are both set: alarms notify either a topic the stack creates for alarmEmail, or your existing topic. Set one.',
    );
  }
  const exportRetentionDays = positiveInteger(context, 'exportRetentionDays', 7);
  if (exportRetentionDays > 365) {
    throw new ConfigError(`Context "exportRetentionDays" must be at most 365, got ${exportRetentionDays}.`);
  }
  const exportLinkKeyRotationDays = positiveInteger(context, 'exportLinkKeyRotationDays', linkKeyRotationDefaultDays(exportRetentionDays));
  if (exportLinkKeyRotationDays < exportRetentionDays + LINK_KEY_ROTATION_MARGIN_DAYS || exportLinkKeyRotationDays > 1000) {
    throw new ConfigError(
      `Context "exportLinkKeyRotationDays" must be from exportRetentionDays + ${LINK_KEY_ROTATION_MARGIN_DAYS} (${exportRetentionDays + LINK_KEY_ROTATION_MARGIN_DAYS}) to 1000, got ${exportLinkKeyRotationDays}: a link signed with a key two rotations old is refused.`,
    );
  }
  const recordRetentionDays = positiveInteger(context, 'recordRetentionDays', 30);
  if (recordRetentionDays > 365) {
    throw new ConfigError(`Context "recordRetentionDays" must be at most 365, got ${recordRetentionDays}.`);
  }
  const stackName = optionalString(context, 'stackName') ?? 'Herald';
  if (!STACK_NAME.test(stackName)) {
    throw new ConfigError(
      `Context "stackName" must start with a letter and hold only letters, digits and hyphens, at most 56 (it prefixes "<stackName>-exports", a Scheduler group name of at most 64), got "${stackName}".`,
    );
  }
  const createEmailIdentity = booleanSetting(context, 'createEmailIdentity', true);
  const emailIdentityDomain = optionalString(context, 'emailIdentityDomain')?.toLowerCase();
  if (emailIdentityDomain !== undefined) {
    if (!DOMAIN.test(emailIdentityDomain)) {
      throw new ConfigError(`Context "emailIdentityDomain" must be a domain name such as example.com, got "${emailIdentityDomain}".`);
    }
    if (!createEmailIdentity) {
      throw new ConfigError(
        'Context "emailIdentityDomain" chooses the SES identity the stack creates, and "createEmailIdentity" is false: set one or the other.',
      );
    }
    const senderDomain = emailSender?.split('@')[1]?.toLowerCase();
    if (senderDomain !== undefined && senderDomain !== emailIdentityDomain && !senderDomain.endsWith(`.${emailIdentityDomain}`)) {
      throw new ConfigError(
        `Context "emailIdentityDomain" is "${emailIdentityDomain}", but "emailSender" ${emailSender} is not an address at it or at one of its subdomains, so SES would not let Herald send from it.`,
      );
    }
  }
  const exportRecipientDomains = stringList(context, 'exportRecipientDomains').map((domain) => domain.toLowerCase());
  for (const domain of exportRecipientDomains) {
    if (!DOMAIN.test(domain)) {
      throw new ConfigError(`Context "exportRecipientDomains" has "${domain}", which is not a domain name such as example.com (no @, no wildcard).`);
    }
  }
  return {
    jwtIssuer,
    jwtAudience,
    allowedOrigins,
    tenantClaim: optionalString(context, 'tenantClaim') ?? (cognito ? 'custom:tenant' : 'tenant'),
    rolesClaim: optionalString(context, 'rolesClaim') ?? (cognito ? 'cognito:groups' : 'roles'),
    logRetentionDays,
    notificationRetentionDays,
    emailSender,
    exportRecords: readExportRecords(context),
    exportRecipientDomains,
    alarmTopicArn,
    alarmEmail,
    exportRetentionDays,
    exportLinkKeyRotationDays,
    throttleRateLimit: positiveInteger(context, 'throttleRateLimit', 500),
    throttleBurstLimit: positiveInteger(context, 'throttleBurstLimit', 1000),
    stackName,
    createApiGatewayAccountRole: booleanSetting(context, 'createApiGatewayAccountRole', false),
    createEmailIdentity,
    emailIdentityDomain,
    exportsBucketAutoDelete: booleanSetting(context, 'exportsBucketAutoDelete', false),
    socketsPerUser: boundedInteger(context, 'socketsPerUser', REALTIME_LIMIT_DEFAULTS.socketsPerUser, 1000),
    ticketsPerMinute: boundedInteger(context, 'ticketsPerMinute', REALTIME_LIMIT_DEFAULTS.ticketsPerMinute, 10_000),
    recordCollections: readRecordCollections(context),
    recordRetentionDays,
  };
}

/** Context `recordCollections`: an object in cdk.json, or the same as JSON text with `-c`. */
function readRecordCollections(context: Context): CollectionDeclarations {
  const value = context('recordCollections');
  if (value === undefined || value === null || value === '') return {};
  const parsed = parseCollectionDeclarations(typeof value === 'string' ? value : JSON.stringify(value));
  if (!parsed.ok) {
    throw new ConfigError(
      `Context "recordCollections" must be an object such as {"inspections": {"fields": {"status": "server-wins", "notes": "last-writer-wins", "items": "merge-by-id", "verdict": "manual"}}}: ${parsed.problem}.`,
    );
  }
  return parsed.value;
}

/** CloudFormation's stack name rule, capped so `<stackName>-exports` fits a Scheduler group name. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,55}$/;
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/** The sender address, or a ConfigError that says how to set it: the stack cannot be built without one. */
export function requireEmailSender(config: HeraldConfig): string {
  if (config.emailSender === undefined) {
    throw new ConfigError(
      'Context "emailSender" is not set: export download links and critical alerts are emailed from it. Set it in cdk.json or with -c emailSender=herald@your-domain.example; the stack creates its SES identity, which you then verify (docs/deploy.md).',
    );
  }
  return config.emailSender;
}

/** Where every alarm goes: a topic the stack creates with an email subscription, or an existing topic. */
export type AlarmTarget = { readonly email: string } | { readonly topicArn: string };

/** The alarm target, or a ConfigError that says how to set one: every alarm must reach a person. */
export function requireAlarmTarget(config: HeraldConfig): AlarmTarget {
  if (config.alarmEmail !== undefined) return { email: config.alarmEmail };
  if (config.alarmTopicArn !== undefined) return { topicArn: config.alarmTopicArn };
  throw new ConfigError(
    'Neither context "alarmEmail" nor "alarmTopicArn" is set: every alarm must reach a person. Set -c alarmEmail=ops@your-domain.example (the stack creates an alarm topic and subscribes that address; confirm the email SNS sends) or -c alarmTopicArn=<your existing SNS topic> (docs/deploy.md).',
  );
}

/** The deployer's table behind the `records` export dataset, as the functions read it. */
export type ExportRecordsConfig = RecordsTable;

const TABLE_NAME = /^[A-Za-z0-9_.-]{3,255}$/;
const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,255}$/;
/** A role as tokens carry it (a Cognito group name, say). */
const ROLE = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Context `exportRecords`: an object in cdk.json, or the same as JSON text with `-c`. */
function readExportRecords(context: Context): ExportRecordsConfig | undefined {
  let value = context('exportRecords');
  if (value === undefined || value === null || value === '') return undefined;
  const shape = 'an object such as {"table": "WorkOrders", "tenantKey": "tenantId", "sortKey": "createdAt", "role": "records-export"}';
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      throw new ConfigError(`Context "exportRecords" must be ${shape}; its text is not JSON.`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`Context "exportRecords" must be ${shape}.`);
  }
  const { table, tenantKey, sortKey, role, ...unknown } = value as Record<string, unknown>;
  const extra = Object.keys(unknown);
  if (extra.length > 0) throw new ConfigError(`Context "exportRecords" has unknown field "${extra[0]}"; it takes table, tenantKey, sortKey and role.`);
  if (role !== undefined && (typeof role !== 'string' || !ROLE.test(role))) {
    throw new ConfigError(`Context "exportRecords.role" must be a role name (letters, digits, _ . : -), got ${JSON.stringify(role)}.`);
  }
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    throw new ConfigError(`Context "exportRecords.table" must be a DynamoDB table name (3-255 letters, digits, _ . -), got ${JSON.stringify(table)}.`);
  }
  for (const [field, name, required] of [
    ['tenantKey', tenantKey, true],
    ['sortKey', sortKey, false],
  ] as const) {
    if ((name !== undefined || required) && (typeof name !== 'string' || !ATTRIBUTE_NAME.test(name))) {
      throw new ConfigError(`Context "exportRecords.${field}" must be an attribute name (letters, digits, _ . -), got ${JSON.stringify(name)}.`);
    }
  }
  return { table, tenantKey: tenantKey as string, ...(typeof sortKey === 'string' && { sortKey }), ...(typeof role === 'string' && { role }) };
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
  if (typeof value === 'string')
    return value
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
  throw new ConfigError(`Context "${key}" must be a list of strings.`);
}

/** Accepts a JSON boolean (cdk.json) or the text `true`/`false` (`-c key=true`). */
function booleanSetting(context: Context, key: string, fallback: boolean): boolean {
  const value = context(key);
  if (value === undefined || value === null || value === '') return fallback;
  if (value === true || value === 'true') return true;
  if (value === false || value === 'false') return false;
  throw new ConfigError(`Context "${key}" must be true or false, got ${JSON.stringify(value)}.`);
}

/** A positive whole number up to `max`: a cap above it would be no cap (a fan-out posts to every socket of a user). */
function boundedInteger(context: Context, key: string, fallback: number, max: number): number {
  const value = positiveInteger(context, key, fallback);
  if (value > max) throw new ConfigError(`Context "${key}" must be at most ${max}, got ${value}.`);
  return value;
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
