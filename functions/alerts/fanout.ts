import { createHash } from 'node:crypto';
import type { DeliverOptions } from '../notifications/deliver';
import { recipientKey, type DeliveryOutcome, type DeliveryRequest, type Recipient } from '../notifications/model';
import { countMetric, logger } from '../shared/instrumentation';
import pMap from 'p-map';
import { EmailRejected, type Mailer } from '../shared/email';
import { alertEmail } from './email';
import { ALERT_CHUNK_GROUPS, ALERT_CHUNK_RECIPIENTS, ALERT_CHUNK_SOCKETS, ALERT_INLINE_RECIPIENTS } from './chunks';
import { alertView, priorityOf, type Alert } from './model';

/**
 * Claims on "this alert version was emailed to this user", so a replayed stream record cannot
 * email twice (adapters: conditional puts in the Dedupe table).
 */
export interface EmailLedger {
  /** True for the first claim of `key`; false when it was claimed before. */
  claim(key: string): Promise<boolean>;
  /** Gives a claim back after the send failed, so the retry can send. */
  release(key: string): Promise<void>;
}

/** Some of an alert change's recipients, delivered by the chunk function (docs/architecture.md, "Large topics"). */
export interface RecipientChunk {
  readonly alert: Alert;
  readonly recipients: readonly string[];
  /** The socket ids of those recipients who had any when the fan-out read them, by user id. */
  readonly connections: Readonly<Record<string, readonly string[]>>;
  /** The message group: `tenant#n`, n a hash of each recipient's user id, so a user's chunks keep their order. */
  readonly group: string;
  /**
   * Names the alert version, the group and the chunk's recipients: a chunk sent twice carries the
   * same id, and a retry that splits the recipients differently (members or sockets changed
   * meanwhile) sends new ids rather than have SQS drop a chunk holding someone not yet sent.
   */
  readonly chunkId: string;
}

/** The FIFO queue of chunks. */
export interface ChunkQueue {
  send(chunks: readonly RecipientChunk[]): Promise<void>;
}

/** What delivering to some of an alert's recipients needs: deliver(), SES and its email claims. */
export interface AlertDeliveryDeps {
  readonly deliver: (requests: readonly DeliveryRequest[], options?: DeliverOptions) => Promise<DeliveryOutcome[]>;
  readonly mailer: Mailer;
  readonly emails: EmailLedger;
}

export interface FanoutDeps extends AlertDeliveryDeps {
  /** The topic's members: one paged Query per alert change. */
  readonly members: (tenant: string, topic: string) => Promise<string[]>;
  /** The recipients' socket sets by recipient key (batched reads), for a large topic's chunks: connected members first. */
  readonly connectionsOf: (recipients: readonly Recipient[]) => Promise<Map<string, string[]>>;
  /** The ephemeral `event` frame to the topic's live subscribers. */
  readonly publishEvent: (tenant: string, topic: string, name: string, data: Record<string, unknown>) => Promise<void>;
  readonly chunks: ChunkQueue;
}

export interface DeliveryResult {
  readonly recipients: number;
  readonly delivered: number;
  readonly emailed: number;
  /** Recipients SES refused (MessageRejected): recorded and counted, never retried. */
  readonly emailRejected: number;
}

export interface FanoutResult extends DeliveryResult {
  /** Chunk messages queued for the chunk function (0 when delivered here). */
  readonly chunks: number;
}

/** SES's default send rate is 14/s; a few at a time keeps a large topic from tripping it at once. */
const EMAIL_CONCURRENCY = 8;

/**
 * One alert change to everyone concerned: the assignee (and, on reassignment, the one before) and
 * the topic's members, once each. Up to ALERT_INLINE_RECIPIENTS are delivered here; more are
 * split into chunks for the chunk queue, delivered in parallel by deliverAlertChunk. Safe to
 * repeat: notifications dedupe on alert id, version and recipient, emails on a claim of the
 * same, a chunk queued twice within five minutes is dropped by its id, and the live event is
 * idempotent for a board.
 */
export async function fanOutAlertChange(deps: FanoutDeps, alert: Alert): Promise<FanoutResult> {
  const members = await deps.members(alert.tenant, alert.topic);
  const recipients = [...new Set([alert.assigneeId, alert.previousAssigneeId, ...members].filter((id): id is string => id !== undefined))];
  let result: FanoutResult;
  if (recipients.length > ALERT_INLINE_RECIPIENTS) {
    const sockets = await deps.connectionsOf(recipients.map((userId) => ({ tenant: alert.tenant, userId })));
    const connections = new Map(
      recipients.flatMap((userId) => {
        const ids = sockets.get(recipientKey({ tenant: alert.tenant, userId })) ?? [];
        return ids.length > 0 ? [[userId, ids] as const] : [];
      }),
    );
    const chunks = recipientChunks(alert, recipients, connections);
    // The connected members' chunks first, so each group's is ahead of its others in the queue
    // whatever order the parallel batch calls land in: people online hear first.
    const isOnline = (chunk: RecipientChunk) => Object.keys(chunk.connections).length > 0;
    await deps.chunks.send(chunks.filter(isOnline));
    await deps.chunks.send(chunks.filter((chunk) => !isOnline(chunk)));
    result = { recipients: recipients.length, delivered: 0, emailed: 0, emailRejected: 0, chunks: chunks.length };
  } else {
    result = { ...(await deliverToRecipients(deps, alert, recipients)), chunks: 0 };
  }
  await deps.publishEvent(alert.tenant, alert.topic, 'alert', alertView(alert));
  return result;
}

/**
 * One chunk of a large topic's recipients: deliver() and the critical emails, as the inline path
 * does. The sockets the fan-out read ride along, so deliver() does not read them again before its
 * commit (a chunk queued before they did reads them itself).
 */
export async function deliverAlertChunk(
  deps: AlertDeliveryDeps,
  chunk: Pick<RecipientChunk, 'alert' | 'recipients'> & Partial<Pick<RecipientChunk, 'connections'>>,
): Promise<DeliveryResult> {
  const { alert, recipients, connections } = chunk;
  const options =
    connections === undefined
      ? undefined
      : { connectionIds: new Map(recipients.map((userId) => [recipientKey({ tenant: alert.tenant, userId }), connections[userId] ?? []])) };
  return deliverToRecipients(deps, alert, recipients, options);
}

/**
 * The recipients by message group (a hash of the user id, so one user is always in the same
 * group and their chunks arrive in stream order), each group in chunks of at most
 * ALERT_CHUNK_RECIPIENTS: first those with sockets (`connections`, by user id; at most
 * ALERT_CHUNK_SOCKETS sockets a chunk), then the rest. A group's chunks are delivered one after
 * another, so its connected members are not kept waiting behind its offline ones' writes.
 */
export function recipientChunks(
  alert: Alert,
  recipients: readonly string[],
  connections: ReadonlyMap<string, readonly string[]> = new Map(),
): RecipientChunk[] {
  const groups = new Map<number, string[]>();
  for (const userId of recipients) {
    const group = createHash('sha256').update(userId).digest().readUInt32BE(0) % ALERT_CHUNK_GROUPS;
    const members = groups.get(group);
    if (members === undefined) groups.set(group, [userId]);
    else members.push(userId);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([group, users]) => {
      const online = users.filter((userId) => connections.has(userId));
      const offline = users.filter((userId) => !connections.has(userId));
      return [...split(online, (userId) => connections.get(userId)?.length ?? 0), ...split(offline, () => 0)].map((part) => ({
        alert,
        recipients: part,
        connections: Object.fromEntries(part.flatMap((userId) => (connections.has(userId) ? [[userId, connections.get(userId) as readonly string[]]] : []))),
        group: `${alert.tenant}#${group}`,
        chunkId: `${alert.tenant}#${alert.id}#v${alert.version}#${group}#${createHash('sha256').update(part.join('\n')).digest('hex').slice(0, 32)}`,
      }));
    });
}

/** Consecutive parts of at most ALERT_CHUNK_RECIPIENTS users and ALERT_CHUNK_SOCKETS sockets (a user with more alone). */
function split(users: readonly string[], socketsOf: (userId: string) => number): string[][] {
  const parts: string[][] = [];
  let part: string[] = [];
  let sockets = 0;
  for (const userId of users) {
    const own = socketsOf(userId);
    if (part.length > 0 && (part.length === ALERT_CHUNK_RECIPIENTS || sockets + own > ALERT_CHUNK_SOCKETS)) {
      parts.push(part);
      part = [];
      sockets = 0;
    }
    part.push(userId);
    sockets += own;
  }
  if (part.length > 0) parts.push(part);
  return parts;
}

async function deliverToRecipients(deps: AlertDeliveryDeps, alert: Alert, recipients: readonly string[], options?: DeliverOptions): Promise<DeliveryResult> {
  const critical = alert.severity === 'critical';
  const data = {
    alertId: alert.id,
    topic: alert.topic,
    rule: alert.rule,
    subject: alert.subject,
    severity: alert.severity,
    status: alert.status,
    version: alert.version,
    ...(alert.assigneeId !== undefined && { assigneeId: alert.assigneeId }),
  };
  const outcomes = await deps.deliver(
    recipients.map((userId) => ({
      recipient: { tenant: alert.tenant, userId },
      kind: `alert.${alert.change}`,
      title: notificationTitle(alert),
      body: alert.message ?? `${alert.subject} (${alert.rule})`,
      data,
      priority: priorityOf(alert.severity),
      // The inbox keeps one entry per alert: its latest state.
      groupKey: alert.id,
      dedupeKey: `alert:${alert.id}:v${alert.version}`,
      email: critical,
    })),
    options,
  );

  let emailed = 0;
  let emailRejected = 0;
  const failures: unknown[] = [];
  const toEmail = outcomes.flatMap((outcome, index) => (outcome.emailTo === undefined ? [] : [{ userId: recipients[index] as string, to: outcome.emailTo }]));
  const withoutAddress = outcomes.filter((outcome) => outcome.email && outcome.emailTo === undefined).length;
  if (withoutAddress > 0) {
    // Not silent: the users asked for email (or did not opt out) but never gave an address.
    logger.warn('Critical alert recipients without an email address', { alertId: alert.id, count: withoutAddress });
    countMetric('AlertEmailsWithoutAddress', withoutAddress);
  }
  await pMap(
    toEmail,
    async ({ userId, to }) => {
      const key = `alert-email#${alert.tenant}#${alert.id}#${alert.version}#${userId}`;
      if (!(await deps.emails.claim(key))) return;
      try {
        await deps.mailer.send(alertEmail(alert, to));
        emailed++;
      } catch (error) {
        if (error instanceof EmailRejected) {
          // Final for this recipient (in the SES sandbox, an address not verified): the claim is
          // kept, so a replay does not ask again, and the record goes on for everyone else.
          emailRejected++;
          logger.warn('Alert email refused by SES', { alertId: alert.id, version: alert.version, userId, reason: error.reason });
          return;
        }
        await deps.emails.release(key);
        failures.push(error);
      }
    },
    { concurrency: EMAIL_CONCURRENCY },
  );
  if (emailRejected > 0) countMetric('AlertEmailsRejected', emailRejected);
  if (failures.length > 0) {
    countMetric('AlertEmailsFailed', failures.length);
    // The record fails and is retried: delivered notifications and sent emails are not repeated.
    // The log shows the message, not the aggregated errors: the first one says what went wrong.
    throw new AggregateError(
      failures,
      `${failures.length} of ${toEmail.length} alert emails failed; the first: ${(failures[0] as Error | undefined)?.message ?? String(failures[0])}`,
    );
  }
  if (emailed > 0) countMetric('AlertEmailsSent', emailed);
  return { recipients: recipients.length, delivered: outcomes.filter((outcome) => outcome.status === 'delivered').length, emailed, emailRejected };
}

function notificationTitle(alert: Alert): string {
  const prefix = {
    raised: alert.severity === 'critical' ? 'CRITICAL' : alert.severity === 'high' ? 'High' : 'Alert',
    acknowledged: 'Acknowledged',
    reopened: 'Reopened',
    resolved: 'Resolved',
    reassigned: alert.assigneeId === undefined ? 'Unassigned' : `Assigned to ${alert.assigneeId}`,
  }[alert.change];
  // The stored title is at most 200 characters, as is a notification's.
  return `${prefix}: ${alert.title}`.slice(0, 200);
}
