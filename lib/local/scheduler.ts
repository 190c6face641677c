/**
 * The local EventBridge Scheduler: its REST-JSON API, close enough that the unchanged
 * `@aws-sdk/client-scheduler` works against it (point the client's `endpoint`, or
 * AWS_ENDPOINT_URL_SCHEDULER, here), and the firing of schedules into SQS.
 *
 * Hand-written because no emulator for EventBridge Scheduler exists (LocalStack's is a paid
 * feature), and the local runtime must run scheduled exports end to end (docs/local.md). The wire shapes (paths, query names, epoch-second
 * timestamps, `x-amzn-ErrorType` errors) are read off the SDK's own schemas
 * (@aws-sdk/client-scheduler dist-es/schemas/schemas_0.js). Expression arithmetic, DST rules
 * included, is functions/exports/schedule.ts, the same code the product uses.
 *
 * Served: Create/Update/Get/Delete/ListSchedules, Create/Get/List/DeleteScheduleGroup (a `default`
 * group always exists); cron(), rate() and at() in ScheduleExpressionTimezone; State; StartDate and
 * EndDate; FlexibleTimeWindow OFF and FLEXIBLE (1-1440 minutes; it fires at the scheduled time,
 * which is inside any window); ActionAfterCompletion DELETE; SQS targets with Input, the context
 * attributes (<aws.scheduler.scheduled-time> and friends), SqsParameters.MessageGroupId,
 * RetryPolicy with exponential backoff and jitter, and DeadLetterConfig (the dead-letter event
 * carries AWS's ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS, SCHEDULE_ARN
 * and TARGET_ARN attributes).
 *
 * Limits: only SQS targets (others are refused at create); a firing happens within a second of
 * its time (AWS: within the minute, or anywhere in a flexible window); AWS publishes no backoff
 * constants, so the delays are this emulator's own (RETRY_BACKOFF); no tags, no KMS; RoleArn is
 * stored, and firings are sent as the stack's scheduler role whatever it names (the runtime checks
 * that role's trust and grants, docs/local-iam.md); state lives in memory, and occurrences while the emulator was
 * down are not caught up.
 *
 * Time: the real clock checks every second. A manual clock (tests) fires nothing until moved by
 * `advanceTo(date)` or `POST /_local/clock {"now": "<ISO>"}`, and then fires every occurrence and
 * retry due up to that time, in time order. On a real clock, the first `POST /_local/clock {now}`
 * switches to a manual one starting there, and `{"real": true}` switches back.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { SendMessageCommand, type SQSClient, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import { isTimeZone, nextRunAt, parseScheduleExpression, ScheduleExpressionError, type ParsedExpression } from '#functions/exports/schedule';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './aws-local';
import { closeServer, listenOnLoopback, readBody } from './http-server';

export interface LocalSchedulerOptions {
  /** 0 lets the OS choose. */
  readonly port: number;
  /**
   * Sends to the targets' queues, as the schedule's role would. Against fauxqs it must be made with
   * `useQueueUrlAsEndpoint: false`: queues are addressed by their AWS URL, which fauxqs resolves.
   */
  readonly sqs: SQSClient;
  /** 'real' fires what is due every second; a Date starts a manual clock there. @default 'real' */
  readonly clock?: 'real' | Date;
  /** The jitter's source, 0 to 1. @default Math.random */
  readonly random?: () => number;
  readonly log?: (message: string) => void;
}

export interface SchedulerInvocation {
  readonly scheduleArn: string;
  readonly groupName: string;
  readonly name: string;
  /** ISO-8601 UTC, seconds precision, as in <aws.scheduler.scheduled-time>. */
  readonly scheduledTime: string;
  /** `delivered` to the target, `dead-lettered` after failed retries, `dropped` with no DLQ (or a failing one). */
  readonly outcome: 'delivered' | 'dead-lettered' | 'dropped';
  /** Sends tried against the target, the first included. */
  readonly attempts: number;
  /** When each send was tried (ISO-8601, ms), on the scheduler's clock. */
  readonly attemptedAt: readonly string[];
  readonly error?: string;
}

export interface LocalScheduler {
  readonly url: string;
  now(): Date;
  /**
   * Manual clock only: fires every occurrence and retry due up to `date`, in time order, and
   * resolves with the invocations that concluded (delivered, dead-lettered or dropped) on the way.
   * One still retrying at `date` concludes in a later advance.
   */
  advanceTo(date: Date): Promise<SchedulerInvocation[]>;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
const DEFAULT_GROUP = 'default';
const NAME = /^[0-9a-zA-Z\-_.]{1,64}$/;
const SQS_ARN = /^arn:aws(-[a-z]+)?:sqs:([a-z0-9-]+):(\d{12}):([a-zA-Z0-9\-_]+(\.fifo)?)$/;
/** AWS's RetryPolicy defaults. */
const DEFAULT_RETRY = { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86_400 };
/**
 * Scheduler retries "with exponential backoff" and jitter without publishing its constants. Here
 * retry n waits between half and all of min(capMs, baseMs * 2^(n-1)): 0.5-1 s, 1-2 s, 2-4 s, ...
 * up to 2.5-5 min, so the default 185 retries span most of the default 24-hour event age.
 */
export const RETRY_BACKOFF = { baseMs: 1_000, capMs: 5 * 60_000 };

export function retryDelayMs(retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RETRY_BACKOFF.capMs, RETRY_BACKOFF.baseMs * 2 ** (retry - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

interface Target {
  Arn: string;
  RoleArn: string;
  Input?: string;
  RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
  DeadLetterConfig?: { Arn?: string };
  SqsParameters?: { MessageGroupId?: string };
}

type FlexibleTimeWindow = { Mode: 'OFF' } | { Mode: 'FLEXIBLE'; MaximumWindowInMinutes: number };

/** One firing of a schedule, from its first send until it is delivered or given up. */
interface Delivery {
  readonly schedule: Schedule;
  readonly scheduledTime: string;
  readonly executionId: string;
  /** Clock times of the sends tried so far. */
  readonly attemptedAt: number[];
  /** When the next retry is due, while one is pending. */
  dueAt: number;
  error?: { code: string; message: string };
}

interface Schedule {
  readonly name: string;
  readonly groupName: string;
  readonly arn: string;
  readonly expression: string;
  readonly parsed: ParsedExpression;
  readonly timeZone: string;
  readonly startDate?: Date;
  readonly endDate?: Date;
  readonly description?: string;
  readonly state: 'ENABLED' | 'DISABLED';
  readonly target: Target;
  readonly flexibleTimeWindow: FlexibleTimeWindow;
  readonly actionAfterCompletion: 'NONE' | 'DELETE';
  readonly kmsKeyArn?: string;
  readonly creationDate: Date;
  readonly lastModificationDate: Date;
  /** Rate series start: StartDate, else the time of the last create or update. */
  readonly anchor: Date;
  /** Occurrences strictly after this are still to fire. */
  cursor: number;
}

interface Group {
  readonly name: string;
  readonly arn: string;
  readonly creationDate: Date;
}

/** An API error as Scheduler sends it: status, `x-amzn-ErrorType`, `{"Message"}`. */
class SchedulerApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: 'ValidationException' | 'ResourceNotFoundException' | 'ConflictException' | 'InternalServerException',
    message: string,
  ) {
    super(message);
  }
}
const invalid = (message: string) => new SchedulerApiError(400, 'ValidationException', message);
const notFound = (message: string) => new SchedulerApiError(404, 'ResourceNotFoundException', message);
const conflict = (message: string) => new SchedulerApiError(409, 'ConflictException', message);

export async function startLocalScheduler(options: LocalSchedulerOptions): Promise<LocalScheduler> {
  const scheduler = new SchedulerState(options);
  const server = createServer((request, response) => {
    void scheduler.handle(request, response);
  });
  const port = await listenOnLoopback(server, options.port);
  const ticker = options.clock instanceof Date ? undefined : setInterval(() => void scheduler.tick(), 1000);
  return {
    url: `http://127.0.0.1:${port}`,
    now: () => scheduler.now(),
    advanceTo: (date) => scheduler.advanceTo(date),
    stop: async () => {
      if (ticker) clearInterval(ticker);
      scheduler.stopped = true;
      await scheduler.idle();
      await closeServer(server);
    },
  };
}

class SchedulerState {
  private readonly schedules = new Map<string, Schedule>();
  private readonly groups = new Map<string, Group>();
  private readonly log: (message: string) => void;
  private readonly random: () => number;
  private manualNow: number | undefined;
  /** Deliveries waiting for their next retry. */
  private readonly retries: Delivery[] = [];
  /** Firing runs one batch at a time, so ticks, advances and the clock endpoint never overlap. */
  private firing: Promise<unknown> = Promise.resolve();
  stopped = false;

  constructor(private readonly options: LocalSchedulerOptions) {
    this.log = options.log ?? (() => undefined);
    this.random = options.random ?? Math.random;
    this.manualNow = options.clock instanceof Date ? options.clock.getTime() : undefined;
    this.groups.set(DEFAULT_GROUP, { name: DEFAULT_GROUP, arn: groupArn(DEFAULT_GROUP), creationDate: new Date(this.now()) });
  }

  now(): Date {
    return new Date(this.manualNow ?? Date.now());
  }

  idle(): Promise<unknown> {
    return this.firing.catch(() => undefined);
  }

  tick(): Promise<unknown> {
    if (this.stopped) return Promise.resolve();
    return this.serialized(async () => (this.manualNow === undefined ? this.fireDue(Date.now()) : []));
  }

  advanceTo(date: Date): Promise<SchedulerInvocation[]> {
    if (this.manualNow === undefined) return Promise.reject(new Error('advanceTo needs the manual clock: start the scheduler with clock: <Date>'));
    if (Number.isNaN(date.getTime())) return Promise.reject(new Error('advanceTo needs a valid date'));
    return this.serialized(async () => {
      if (date.getTime() < this.manualNow!) throw new Error(`The clock only moves forward: it is ${this.now().toISOString()}, asked for ${date.toISOString()}`);
      const fired = await this.fireDue(date.getTime());
      this.manualNow = date.getTime();
      return fired;
    });
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.firing.catch(() => undefined).then(work);
    this.firing = run;
    return run;
  }

  // -------------------------------------------------------------------------------------------
  // Firing

  private nextOccurrence(schedule: Schedule): number | undefined {
    if (schedule.state !== 'ENABLED') return undefined;
    const next = nextRunAt(
      schedule.parsed,
      schedule.timeZone,
      new Date(schedule.cursor),
      schedule.parsed.kind === 'rate' ? schedule.anchor : schedule.startDate,
    );
    if (!next || (schedule.endDate && next.getTime() >= schedule.endDate.getTime())) return undefined;
    return next.getTime();
  }

  /** Fires every occurrence and retry due up to `until`, earliest first (retries, then schedules by group and name, on ties). */
  private async fireDue(until: number): Promise<SchedulerInvocation[]> {
    const concluded: SchedulerInvocation[] = [];
    for (;;) {
      if (this.stopped) return concluded;
      let occurrence: { schedule: Schedule; at: number } | undefined;
      for (const schedule of [...this.schedules.values()].sort((a, b) => a.arn.localeCompare(b.arn))) {
        const at = this.nextOccurrence(schedule);
        if (at !== undefined && at <= until && (!occurrence || at < occurrence.at)) occurrence = { schedule, at };
      }
      const retry = this.retries.reduce<Delivery | undefined>(
        (earliest, delivery) => (delivery.dueAt <= until && (!earliest || delivery.dueAt < earliest.dueAt) ? delivery : earliest),
        undefined,
      );
      if (retry && (!occurrence || retry.dueAt <= occurrence.at)) {
        this.retries.splice(this.retries.indexOf(retry), 1);
        if (this.manualNow !== undefined) this.manualNow = retry.dueAt;
        const outcome = await this.attempt(retry);
        if (outcome) concluded.push(outcome);
        continue;
      }
      if (!occurrence) return concluded;
      const { schedule, at } = occurrence;
      if (this.manualNow !== undefined) this.manualNow = at;
      schedule.cursor = at;
      const scheduledTime = new Date(Math.floor(at / 1000) * 1000).toISOString().replace('.000Z', 'Z');
      const outcome = await this.attempt({ schedule, scheduledTime, executionId: randomUUID(), attemptedAt: [], dueAt: at });
      if (outcome) concluded.push(outcome);
      if (
        schedule.actionAfterCompletion === 'DELETE' &&
        this.nextOccurrence(schedule) === undefined &&
        this.schedules.get(key(schedule.groupName, schedule.name)) === schedule
      ) {
        this.schedules.delete(key(schedule.groupName, schedule.name));
        this.log(`scheduler: ${schedule.groupName}/${schedule.name} completed and was deleted (ActionAfterCompletion DELETE)`);
      }
    }
  }

  /**
   * One send to the target. A failure is retried after a backoff (queued, so other schedules fire
   * meanwhile) until the retry policy runs out; then the event goes to the dead-letter queue.
   * Resolves with the invocation once it has concluded, undefined while a retry is pending.
   */
  private async attempt(delivery: Delivery): Promise<SchedulerInvocation | undefined> {
    const { schedule, scheduledTime, executionId } = delivery;
    const now = this.now().getTime();
    delivery.attemptedAt.push(now);
    const attempts = delivery.attemptedAt.length;
    const base = {
      scheduleArn: schedule.arn,
      groupName: schedule.groupName,
      name: schedule.name,
      scheduledTime,
      attempts,
      attemptedAt: delivery.attemptedAt.map((at) => new Date(at).toISOString()),
    };
    const body = substitute(schedule.target.Input ?? '{}', { schedule, scheduledTime, executionId, attempt: attempts });
    try {
      await this.send(schedule.target.Arn, body, schedule.target.SqsParameters?.MessageGroupId);
      this.log(`scheduler: ${schedule.groupName}/${schedule.name} fired for ${scheduledTime}`);
      return { ...base, outcome: 'delivered' };
    } catch (caught) {
      delivery.error = { code: (caught as Error).name || 'Error', message: (caught as Error).message };
    }
    const error = delivery.error;
    const maxRetries = schedule.target.RetryPolicy?.MaximumRetryAttempts ?? DEFAULT_RETRY.MaximumRetryAttempts;
    const maxAgeMs = (schedule.target.RetryPolicy?.MaximumEventAgeInSeconds ?? DEFAULT_RETRY.MaximumEventAgeInSeconds) * 1000;
    let exhausted: 'MaximumRetryAttempts' | 'MaximumEventAgeInSeconds' | undefined;
    if (attempts > maxRetries) {
      exhausted = 'MaximumRetryAttempts';
    } else {
      const dueAt = now + retryDelayMs(attempts, this.random);
      if (dueAt - delivery.attemptedAt[0]! > maxAgeMs) {
        exhausted = 'MaximumEventAgeInSeconds';
      } else {
        delivery.dueAt = dueAt;
        this.retries.push(delivery);
        this.log(`scheduler: ${schedule.groupName}/${schedule.name} at ${scheduledTime}: ${error.code}; retry ${attempts} at ${new Date(dueAt).toISOString()}`);
        return undefined;
      }
    }
    const description = `${schedule.groupName}/${schedule.name} at ${scheduledTime}: ${error.code}: ${error.message} (${attempts} attempts)`;
    const dlq = schedule.target.DeadLetterConfig?.Arn;
    if (!dlq) {
      this.log(`scheduler: dropped ${description}; no dead-letter queue`);
      return { ...base, outcome: 'dropped', error: error.message };
    }
    try {
      await this.send(dlq, body, undefined, {
        ERROR_CODE: text(error.code),
        ERROR_MESSAGE: text(error.message),
        EXHAUSTED_RETRY_CONDITION: text(exhausted),
        RETRY_ATTEMPTS: text(String(attempts - 1)),
        SCHEDULE_ARN: text(schedule.arn),
        TARGET_ARN: text(schedule.target.Arn),
      });
      this.log(`scheduler: dead-lettered ${description}`);
      return { ...base, outcome: 'dead-lettered', error: error.message };
    } catch (dlqError) {
      this.log(`scheduler: dropped ${description}; the dead-letter queue failed too: ${(dlqError as Error).message}`);
      return { ...base, outcome: 'dropped', error: error.message };
    }
  }

  /** Keeps pending retries as far ahead as they were when the clock jumps from one time base to another. */
  private shiftRetries(from: number, to: number): void {
    for (const delivery of this.retries) {
      delivery.dueAt += to - from;
      for (let index = 0; index < delivery.attemptedAt.length; index++) delivery.attemptedAt[index]! += to - from;
    }
  }

  private async send(queueArn: string, body: string, messageGroupId?: string, attributes?: Record<string, MessageAttributeValue>): Promise<void> {
    // Scheduler addresses the target by its ARN and only sends (the role needs nothing but
    // sqs:SendMessage), so the URL is derived rather than looked up with GetQueueUrl.
    const [, , region, account, queueName] = SQS_ARN.exec(queueArn) ?? [];
    const QueueUrl = `https://sqs.${region}.amazonaws.com/${account}/${queueName}`;
    await this.options.sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: body,
        ...(messageGroupId && { MessageGroupId: messageGroupId }),
        ...(attributes && { MessageAttributes: attributes }),
      }),
    );
  }

  // -------------------------------------------------------------------------------------------
  // HTTP

  async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const method = request.method ?? 'GET';
      const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const raw = await readBody(request, MAX_BODY_BYTES);
      if (!raw) throw invalid(`Request body is larger than ${MAX_BODY_BYTES} bytes`);
      const body = raw.length > 0 ? parseJson(raw) : {};
      const result = await this.route(method, segments, url.searchParams, body);
      respond(response, 200, result);
    } catch (error) {
      if (error instanceof SchedulerApiError) {
        respond(response, error.status, { Message: error.message }, error.type);
      } else {
        this.log(`scheduler: internal error: ${String(error)}`);
        respond(response, 500, { Message: 'Internal error in the local scheduler' }, 'InternalServerException');
      }
    }
  }

  private async route(method: string, segments: readonly string[], query: URLSearchParams, body: Record<string, unknown>): Promise<unknown> {
    const [collection, name, extra] = segments;
    if (extra !== undefined) throw notFound(`No route for ${method} /${segments.join('/')}`);
    if (collection === '_local' && name === 'clock' && method === 'POST') {
      if (body.real === true) {
        // Back to the real clock: occurrences between then and now are not caught up (as after downtime).
        await this.serialized(async () => {
          if (this.manualNow !== undefined) this.shiftRetries(this.manualNow, Date.now());
          this.manualNow = undefined;
          for (const schedule of this.schedules.values()) schedule.cursor = Math.max(schedule.cursor, Date.now());
        });
        return { now: this.now().toISOString(), real: true };
      }
      const now = new Date(String(body.now));
      if (Number.isNaN(now.getTime())) throw invalid('now must be an ISO-8601 date');
      // A real clock becomes manual at `now` (tests of a shared runtime); ticks then fire nothing.
      if (this.manualNow === undefined) {
        // Cursors stay: schedules made earlier fire only once the clock passes where they were.
        await this.serialized(async () => {
          this.shiftRetries(Date.now(), now.getTime());
          this.manualNow = now.getTime();
        });
        return { now: this.now().toISOString(), fired: [] };
      }
      if (now.getTime() < this.manualNow) throw invalid(`The clock only moves forward: it is ${this.now().toISOString()}`);
      const fired = await this.advanceTo(now);
      return { now: this.now().toISOString(), fired };
    }
    if (collection === 'schedules') {
      if (name === undefined && method === 'GET') return this.listSchedules(query);
      if (name !== undefined) {
        if (method === 'POST') return this.putSchedule(name, body, 'create');
        if (method === 'PUT') return this.putSchedule(name, body, 'update');
        if (method === 'GET') return this.describe(this.find(query.get('groupName'), name));
        if (method === 'DELETE') {
          const schedule = this.find(query.get('groupName'), name);
          this.schedules.delete(key(schedule.groupName, schedule.name));
          return {};
        }
      }
    }
    if (collection === 'schedule-groups') {
      if (name === undefined && method === 'GET') return this.listGroups(query);
      if (name !== undefined) {
        if (method === 'POST') return this.createGroup(name);
        if (method === 'GET') return describeGroup(this.group(name));
        if (method === 'DELETE') return this.deleteGroup(name);
      }
    }
    throw notFound(`No route for ${method} /${segments.join('/')}`);
  }

  private find(groupName: string | null, name: string): Schedule {
    const group = groupName || DEFAULT_GROUP;
    const schedule = this.schedules.get(key(group, name));
    if (!schedule) throw notFound(`Schedule ${name} does not exist.`);
    return schedule;
  }

  private group(name: string): Group {
    const group = this.groups.get(name);
    if (!group) throw notFound(`Schedule group ${name} does not exist.`);
    return group;
  }

  private putSchedule(name: string, body: Record<string, unknown>, mode: 'create' | 'update'): { ScheduleArn: string } {
    if (!NAME.test(name)) throw invalid(`Name must be 1-64 characters of [0-9a-zA-Z-_.]: "${name}"`);
    const groupName = optionalString(body, 'GroupName') ?? DEFAULT_GROUP;
    this.group(groupName);
    const existing = this.schedules.get(key(groupName, name));
    if (mode === 'create' && existing) throw conflict(`Schedule ${name} already exists.`);
    if (mode === 'update' && !existing) throw notFound(`Schedule ${name} does not exist.`);

    const expression = requiredString(body, 'ScheduleExpression');
    let parsed: ParsedExpression;
    try {
      parsed = parseScheduleExpression(expression);
    } catch (error) {
      if (error instanceof ScheduleExpressionError) throw invalid(`Invalid Schedule Expression ${expression}: ${error.message}`);
      throw error;
    }
    const timeZone = optionalString(body, 'ScheduleExpressionTimezone') ?? 'UTC';
    if (!isTimeZone(timeZone)) throw invalid(`Invalid timezone ${timeZone}: use an IANA time zone name such as Europe/Berlin`);
    const flexibleTimeWindow = validateFlexibleTimeWindow(body.FlexibleTimeWindow);
    const state = optionalString(body, 'State') ?? 'ENABLED';
    if (state !== 'ENABLED' && state !== 'DISABLED') throw invalid(`State must be ENABLED or DISABLED, got ${state}`);
    const actionAfterCompletion = optionalString(body, 'ActionAfterCompletion') ?? 'NONE';
    if (actionAfterCompletion !== 'NONE' && actionAfterCompletion !== 'DELETE')
      throw invalid(`ActionAfterCompletion must be NONE or DELETE, got ${actionAfterCompletion}`);
    const startDate = optionalDate(body, 'StartDate');
    const endDate = optionalDate(body, 'EndDate');
    if (startDate && endDate && endDate.getTime() <= startDate.getTime()) throw invalid('EndDate must be after StartDate');
    const target = validateTarget(body.Target);

    const now = this.now();
    const arn = scheduleArn(groupName, name);
    const anchor = startDate ?? now;
    const description = optionalString(body, 'Description');
    const kmsKeyArn = optionalString(body, 'KmsKeyArn');
    this.schedules.set(key(groupName, name), {
      name,
      groupName,
      arn,
      expression,
      parsed,
      timeZone,
      ...(startDate && { startDate }),
      ...(endDate && { endDate }),
      ...(description !== undefined && { description }),
      state,
      target,
      flexibleTimeWindow,
      actionAfterCompletion,
      ...(kmsKeyArn !== undefined && { kmsKeyArn }),
      creationDate: existing?.creationDate ?? now,
      lastModificationDate: now,
      anchor,
      // A rate schedule without a StartDate fires at once (AWS: "starts invoking the target immediately").
      cursor: parsed.kind === 'rate' && !startDate ? now.getTime() - 1 : now.getTime(),
    });
    return { ScheduleArn: arn };
  }

  private describe(schedule: Schedule): Record<string, unknown> {
    return {
      Arn: schedule.arn,
      GroupName: schedule.groupName,
      Name: schedule.name,
      ScheduleExpression: schedule.expression,
      ScheduleExpressionTimezone: schedule.timeZone,
      ...(schedule.startDate && { StartDate: epochSeconds(schedule.startDate) }),
      ...(schedule.endDate && { EndDate: epochSeconds(schedule.endDate) }),
      ...(schedule.description !== undefined && { Description: schedule.description }),
      State: schedule.state,
      CreationDate: epochSeconds(schedule.creationDate),
      LastModificationDate: epochSeconds(schedule.lastModificationDate),
      ...(schedule.kmsKeyArn !== undefined && { KmsKeyArn: schedule.kmsKeyArn }),
      Target: schedule.target,
      FlexibleTimeWindow: schedule.flexibleTimeWindow,
      ActionAfterCompletion: schedule.actionAfterCompletion,
    };
  }

  private listSchedules(query: URLSearchParams): Record<string, unknown> {
    const group = query.get('ScheduleGroup');
    const prefix = query.get('NamePrefix') ?? '';
    const state = query.get('State');
    if (state && state !== 'ENABLED' && state !== 'DISABLED') throw invalid(`State must be ENABLED or DISABLED, got ${state}`);
    const matching = [...this.schedules.values()]
      .filter((schedule) => (!group || schedule.groupName === group) && schedule.name.startsWith(prefix) && (!state || schedule.state === state))
      .sort((a, b) => a.arn.localeCompare(b.arn));
    const { page, nextToken } = paginate(matching, (schedule) => schedule.arn, query);
    return {
      Schedules: page.map((schedule) => ({
        Arn: schedule.arn,
        Name: schedule.name,
        GroupName: schedule.groupName,
        State: schedule.state,
        CreationDate: epochSeconds(schedule.creationDate),
        LastModificationDate: epochSeconds(schedule.lastModificationDate),
        Target: { Arn: schedule.target.Arn },
      })),
      ...(nextToken && { NextToken: nextToken }),
    };
  }

  private createGroup(name: string): { ScheduleGroupArn: string } {
    if (!NAME.test(name)) throw invalid(`Name must be 1-64 characters of [0-9a-zA-Z-_.]: "${name}"`);
    if (this.groups.has(name)) throw conflict(`Schedule group ${name} already exists.`);
    const group = { name, arn: groupArn(name), creationDate: this.now() };
    this.groups.set(name, group);
    return { ScheduleGroupArn: group.arn };
  }

  private deleteGroup(name: string): Record<string, never> {
    if (name === DEFAULT_GROUP) throw invalid('The default schedule group cannot be deleted.');
    this.group(name);
    this.groups.delete(name);
    for (const schedule of [...this.schedules.values()]) if (schedule.groupName === name) this.schedules.delete(key(name, schedule.name));
    return {};
  }

  private listGroups(query: URLSearchParams): Record<string, unknown> {
    const prefix = query.get('NamePrefix') ?? '';
    const matching = [...this.groups.values()].filter((group) => group.name.startsWith(prefix)).sort((a, b) => a.name.localeCompare(b.name));
    const { page, nextToken } = paginate(matching, (group) => group.name, query);
    return { ScheduleGroups: page.map(describeGroup), ...(nextToken && { NextToken: nextToken }) };
  }
}

/** A flexible window is accepted and kept; firing at the scheduled time is inside any window. */
function validateFlexibleTimeWindow(value: unknown): FlexibleTimeWindow {
  if (!value || typeof value !== 'object') throw invalid('FlexibleTimeWindow is required');
  const { Mode: mode, MaximumWindowInMinutes: minutes } = value as { Mode?: unknown; MaximumWindowInMinutes?: unknown };
  if (mode === 'OFF') return { Mode: 'OFF' };
  if (mode !== 'FLEXIBLE') throw invalid(`FlexibleTimeWindow.Mode must be OFF or FLEXIBLE, got ${String(mode)}`);
  if (!(Number.isInteger(minutes) && (minutes as number) >= 1 && (minutes as number) <= 1440)) {
    throw invalid('FlexibleTimeWindow.MaximumWindowInMinutes must be 1-1440 when Mode is FLEXIBLE');
  }
  return { Mode: 'FLEXIBLE', MaximumWindowInMinutes: minutes as number };
}

function validateTarget(value: unknown): Target {
  if (!value || typeof value !== 'object') throw invalid('Target is required');
  const target = value as Record<string, unknown>;
  const arn = requiredString(target, 'Arn', 'Target.Arn');
  requiredString(target, 'RoleArn', 'Target.RoleArn');
  if (!SQS_ARN.test(arn)) throw invalid(`Target.Arn ${arn}: the local runtime only delivers to SQS queues (arn:aws:sqs:<region>:<account>:<queue>)`);
  const dlq = (target.DeadLetterConfig as { Arn?: unknown } | undefined)?.Arn;
  if (dlq !== undefined && (typeof dlq !== 'string' || !SQS_ARN.test(dlq)))
    throw invalid(`Target.DeadLetterConfig.Arn must be an SQS queue ARN, got ${String(dlq)}`);
  const retry = target.RetryPolicy as Record<string, unknown> | undefined;
  if (retry) {
    const { MaximumRetryAttempts: attempts, MaximumEventAgeInSeconds: age } = retry;
    if (attempts !== undefined && !(Number.isInteger(attempts) && (attempts as number) >= 0 && (attempts as number) <= 185)) {
      throw invalid('Target.RetryPolicy.MaximumRetryAttempts must be 0-185');
    }
    if (age !== undefined && !(Number.isInteger(age) && (age as number) >= 60 && (age as number) <= 86_400)) {
      throw invalid('Target.RetryPolicy.MaximumEventAgeInSeconds must be 60-86400');
    }
  }
  if (target.Input !== undefined && typeof target.Input !== 'string') throw invalid('Target.Input must be a string');
  return target as unknown as Target;
}

function substitute(input: string, context: { schedule: Schedule; scheduledTime: string; executionId: string; attempt: number }): string {
  return input
    .replaceAll('<aws.scheduler.schedule-arn>', context.schedule.arn)
    .replaceAll('<aws.scheduler.scheduled-time>', context.scheduledTime)
    .replaceAll('<aws.scheduler.execution-id>', context.executionId)
    .replaceAll('<aws.scheduler.attempt-number>', String(context.attempt));
}

function text(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value };
}

function paginate<T>(items: readonly T[], idOf: (item: T) => string, query: URLSearchParams): { page: T[]; nextToken?: string } {
  const max = query.has('MaxResults') ? Number(query.get('MaxResults')) : 100;
  if (!Number.isInteger(max) || max < 1 || max > 100) throw invalid('MaxResults must be 1-100');
  const token = query.get('NextToken');
  let start = 0;
  if (token) {
    const after = Buffer.from(token, 'base64url').toString('utf8');
    start = items.findIndex((item) => idOf(item) > after);
    if (start < 0) start = items.length;
  }
  const page = items.slice(start, start + max);
  const more = start + max < items.length;
  return more ? { page, nextToken: Buffer.from(idOf(page.at(-1)!)).toString('base64url') } : { page };
}

function describeGroup(group: Group): Record<string, unknown> {
  const created = epochSeconds(group.creationDate);
  return { Arn: group.arn, Name: group.name, State: 'ACTIVE', CreationDate: created, LastModificationDate: created };
}

function key(groupName: string, name: string): string {
  return `${groupName}/${name}`;
}

function scheduleArn(groupName: string, name: string): string {
  return `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule/${groupName}/${name}`;
}

function groupArn(name: string): string {
  return `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule-group/${name}`;
}

/** restJson1's default timestamp format. */
function epochSeconds(date: Date): number {
  return date.getTime() / 1000;
}

function parseJson(raw: Buffer): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw invalid('The request body must be a JSON object');
}

function requiredString(body: Record<string, unknown>, field: string, label = field): string {
  const value = body[field];
  if (typeof value !== 'string' || value === '') throw invalid(`${label} is required`);
  return value;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`${field} must be a string`);
  return value;
}

function optionalDate(body: Record<string, unknown>, field: string): Date | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(String(value));
  if (Number.isNaN(date.getTime())) throw invalid(`${field} must be a timestamp`);
  return date;
}

function respond(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': randomUUID(),
    ...(errorType && { 'x-amzn-errortype': errorType }),
  });
  response.end(payload);
}
