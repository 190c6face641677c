import {
  ConflictException,
  CreateScheduleCommand,
  CreateScheduleGroupCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  GetScheduleGroupCommand,
  ListScheduleGroupsCommand,
  ListSchedulesCommand,
  paginateListSchedules,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { startFauxqsEmulator, type RunningEmulator } from '#lib/local/emulators';
import { RETRY_BACKOFF, startLocalScheduler, type LocalScheduler } from '#lib/local/scheduler';

const local = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
const ROLE = 'arn:aws:iam::000000000000:role/herald-scheduler';
let fauxqs: RunningEmulator;
let sqs: SQSClient;
const running: Array<{ scheduler: LocalScheduler; client: SchedulerClient }> = [];
let names = 0;
const uniqueName = (prefix: string): string => `${prefix}-${++names}-${Date.now().toString(36)}`;

beforeAll(async () => {
  // Its own fauxqs, so this file does not depend on the shared runtime.
  fauxqs = await startFauxqsEmulator({ port: 0 });
  sqs = new SQSClient({ ...local, endpoint: fauxqs.url, useQueueUrlAsEndpoint: false });
});

afterEach(async () => {
  for (const { scheduler, client } of running.splice(0)) {
    client.destroy();
    await scheduler.stop();
  }
});

afterAll(async () => {
  sqs?.destroy();
  await fauxqs?.stop();
});

async function newScheduler(clock: 'real' | Date = new Date('2026-03-27T12:00:00Z')): Promise<{ scheduler: LocalScheduler; client: SchedulerClient }> {
  const scheduler = await startLocalScheduler({ port: 0, sqs, clock });
  const client = new SchedulerClient({ ...local, endpoint: scheduler.url, maxAttempts: 1 });
  running.push({ scheduler, client });
  return { scheduler, client };
}

async function newQueue(prefix = 'exports'): Promise<{ url: string; arn: string }> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName(prefix) }))).QueueUrl!;
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: Attributes!.QueueArn! };
}

async function receiveAll(queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageAttributeNames: ['All'] }),
    );
    if (Messages.length === 0) return messages;
    messages.push(...Messages);
  }
}

function scheduleInput(name: string, queueArn: string, overrides: Partial<CreateScheduleCommandInput> = {}): CreateScheduleCommandInput {
  return {
    Name: name,
    ScheduleExpression: 'cron(0 9 * * ? *)',
    ScheduleExpressionTimezone: 'Europe/Berlin',
    FlexibleTimeWindow: { Mode: 'OFF' },
    Target: { Arn: queueArn, RoleArn: ROLE, Input: '{"scheduledAt":"<aws.scheduler.scheduled-time>"}' },
    ...overrides,
  };
}

describe('local EventBridge Scheduler API', () => {
  it('creates, reads, updates, lists and deletes schedules through the real SDK', async () => {
    const { client } = await newScheduler();
    const queue = await newQueue();
    const { ScheduleGroupArn } = await client.send(new CreateScheduleGroupCommand({ Name: 'exports' }));
    expect(ScheduleGroupArn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule-group/exports');
    expect(await client.send(new GetScheduleGroupCommand({ Name: 'exports' }))).toMatchObject({
      Name: 'exports',
      State: 'ACTIVE',
      CreationDate: expect.any(Date),
    });
    const groups = await client.send(new ListScheduleGroupsCommand({}));
    expect(groups.ScheduleGroups?.map((group) => group.Name)).toEqual(['default', 'exports']);

    const created = await client.send(
      new CreateScheduleCommand(
        scheduleInput('daily-report', queue.arn, {
          GroupName: 'exports',
          Description: 'daily report',
          StartDate: new Date('2026-04-01T00:00:00Z'),
          EndDate: new Date('2027-04-01T00:00:00Z'),
          Target: { Arn: queue.arn, RoleArn: ROLE, Input: '{}', RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 600 } },
        }),
      ),
    );
    expect(created.ScheduleArn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule/exports/daily-report');
    const read = await client.send(new GetScheduleCommand({ Name: 'daily-report', GroupName: 'exports' }));
    expect(read).toMatchObject({
      Arn: created.ScheduleArn,
      Name: 'daily-report',
      GroupName: 'exports',
      ScheduleExpression: 'cron(0 9 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      Description: 'daily report',
      State: 'ENABLED',
      StartDate: new Date('2026-04-01T00:00:00Z'),
      EndDate: new Date('2027-04-01T00:00:00Z'),
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'NONE',
      Target: { Arn: queue.arn, RoleArn: ROLE, Input: '{}', RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 600 } },
    });
    expect(read.CreationDate).toEqual(new Date('2026-03-27T12:00:00Z'));

    await client.send(
      new UpdateScheduleCommand({ ...scheduleInput('daily-report', queue.arn), GroupName: 'exports', ScheduleExpression: 'rate(1 hour)', State: 'DISABLED' }),
    );
    expect(await client.send(new GetScheduleCommand({ Name: 'daily-report', GroupName: 'exports' }))).toMatchObject({
      ScheduleExpression: 'rate(1 hour)',
      State: 'DISABLED',
    });

    for (const name of ['weekly-a', 'weekly-b', 'weekly-c', 'monthly-a']) await client.send(new CreateScheduleCommand(scheduleInput(name, queue.arn)));
    const weekly: string[] = [];
    let pages = 0;
    for await (const page of paginateListSchedules({ client, pageSize: 2 }, { NamePrefix: 'weekly-' })) {
      pages++;
      weekly.push(...(page.Schedules ?? []).map((schedule) => schedule.Name!));
    }
    expect(weekly).toEqual(['weekly-a', 'weekly-b', 'weekly-c']);
    expect(pages).toBe(2);
    const inGroup = await client.send(new ListSchedulesCommand({ GroupName: 'exports' }));
    expect(inGroup.Schedules).toEqual([expect.objectContaining({ Name: 'daily-report', GroupName: 'exports', State: 'DISABLED', Target: { Arn: queue.arn } })]);
    expect((await client.send(new ListSchedulesCommand({ State: 'DISABLED' }))).Schedules?.map((schedule) => schedule.Name)).toEqual(['daily-report']);

    await client.send(new DeleteScheduleCommand({ Name: 'daily-report', GroupName: 'exports' }));
    await expect(client.send(new GetScheduleCommand({ Name: 'daily-report', GroupName: 'exports' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('accepts a flexible time window of 1 to 1440 minutes, keeps it, and fires at the scheduled time, which is inside the window', async () => {
    const { scheduler, client } = await newScheduler(new Date('2026-01-01T00:00:00Z'));
    const queue = await newQueue();
    for (const minutes of [1, 1440]) {
      const name = `flexible-${minutes}`;
      await client.send(
        new CreateScheduleCommand(
          scheduleInput(name, queue.arn, { ScheduleExpressionTimezone: 'UTC', FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: minutes } }),
        ),
      );
      expect((await client.send(new GetScheduleCommand({ Name: name }))).FlexibleTimeWindow).toEqual({ Mode: 'FLEXIBLE', MaximumWindowInMinutes: minutes });
    }
    const fired = await scheduler.advanceTo(new Date('2026-01-01T12:00:00Z'));
    expect(fired.map((invocation) => [invocation.name, invocation.scheduledTime, invocation.attemptedAt])).toEqual([
      ['flexible-1', '2026-01-01T09:00:00Z', ['2026-01-01T09:00:00.000Z']],
      ['flexible-1440', '2026-01-01T09:00:00Z', ['2026-01-01T09:00:00.000Z']],
    ]);
    expect(await receiveAll(queue.url)).toHaveLength(2);
  });

  it('answers missing and duplicate resources with the SDK’s exception classes', async () => {
    const { client } = await newScheduler();
    const queue = await newQueue();
    await client.send(new CreateScheduleCommand(scheduleInput('once', queue.arn)));
    const duplicate = client.send(new CreateScheduleCommand(scheduleInput('once', queue.arn)));
    await expect(duplicate).rejects.toBeInstanceOf(ConflictException);
    await expect(duplicate).rejects.toMatchObject({ message: 'Schedule once already exists.', $metadata: { httpStatusCode: 409 } });
    await expect(client.send(new GetScheduleCommand({ Name: 'never' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Schedule never does not exist.',
    });
    await expect(client.send(new UpdateScheduleCommand(scheduleInput('never', queue.arn)))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new DeleteScheduleCommand({ Name: 'never' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new CreateScheduleCommand({ ...scheduleInput('grouped', queue.arn), GroupName: 'nope' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: 'Schedule group nope does not exist.',
    });
    await expect(client.send(new CreateScheduleGroupCommand({ Name: 'default' }))).rejects.toBeInstanceOf(ConflictException);
  });

  it('refuses a bad time zone, a bad expression and a flexible window out of range with ValidationException', async () => {
    const { client } = await newScheduler();
    const queue = await newQueue();
    const refusal = (overrides: Partial<CreateScheduleCommandInput>) =>
      client.send(new CreateScheduleCommand(scheduleInput(uniqueName('bad'), queue.arn, overrides))).then(
        () => 'accepted',
        (error: Error) => `${error instanceof ValidationException ? 'ValidationException' : error.name}: ${error.message}`,
      );
    expect(await refusal({ ScheduleExpressionTimezone: 'Mars/Olympus' })).toBe(
      'ValidationException: Invalid timezone Mars/Olympus: use an IANA time zone name such as Europe/Berlin',
    );
    expect(await refusal({ ScheduleExpression: 'cron(0 9 * * * *)' })).toBe(
      'ValidationException: Invalid Schedule Expression cron(0 9 * * * *): cron: day-of-month or day-of-week must be "?" (exactly one of them)',
    );
    expect(await refusal({ ScheduleExpression: 'rate(1 minutes)' })).toBe(
      'ValidationException: Invalid Schedule Expression rate(1 minutes): rate: use the singular for 1: "1 minute"',
    );
    for (const minutes of [undefined, 0, 1441, 2.5]) {
      expect(await refusal({ FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: minutes } })).toBe(
        'ValidationException: FlexibleTimeWindow.MaximumWindowInMinutes must be 1-1440 when Mode is FLEXIBLE',
      );
    }
    expect(await refusal({ FlexibleTimeWindow: { Mode: 'SOMETIMES' as 'OFF' } })).toBe(
      'ValidationException: FlexibleTimeWindow.Mode must be OFF or FLEXIBLE, got SOMETIMES',
    );
    expect(await refusal({ Target: { Arn: 'arn:aws:lambda:us-east-1:000000000000:function:f', RoleArn: ROLE } })).toMatch(
      /^ValidationException: Target.Arn .* only delivers to SQS queues/,
    );
    expect(await refusal({})).toBe('accepted');
  });
});

describe('local EventBridge Scheduler firing', () => {
  it('fires cron in Europe/Berlin at the right instants across the March DST change, with the scheduled time substituted', async () => {
    const { scheduler, client } = await newScheduler(new Date('2026-03-27T12:00:00Z'));
    const queue = await newQueue();
    const { ScheduleArn } = await client.send(
      new CreateScheduleCommand(
        scheduleInput('nightly', queue.arn, {
          ScheduleExpression: 'cron(30 2 * * ? *)',
          Target: {
            Arn: queue.arn,
            RoleArn: ROLE,
            Input: JSON.stringify({
              at: '<aws.scheduler.scheduled-time>',
              arn: '<aws.scheduler.schedule-arn>',
              attempt: '<aws.scheduler.attempt-number>',
              id: '<aws.scheduler.execution-id>',
            }),
          },
        }),
      ),
    );
    const fired = await scheduler.advanceTo(new Date('2026-03-31T12:00:00Z'));
    // 02:30 CET, (no 02:30 on the 29th: clocks jump from 02:00 to 03:00), 02:30 CEST, 02:30 CEST.
    expect(fired.map((invocation) => [invocation.scheduledTime, invocation.outcome])).toEqual([
      ['2026-03-28T01:30:00Z', 'delivered'],
      ['2026-03-30T00:30:00Z', 'delivered'],
      ['2026-03-31T00:30:00Z', 'delivered'],
    ]);
    const bodies = (await receiveAll(queue.url)).map((message) => JSON.parse(message.Body!) as Record<string, string>);
    expect(bodies.map((body) => body.at).sort()).toEqual(['2026-03-28T01:30:00Z', '2026-03-30T00:30:00Z', '2026-03-31T00:30:00Z']);
    for (const body of bodies) {
      expect(body).toMatchObject({ arn: ScheduleArn, attempt: '1', id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    }
    expect(new Set(bodies.map((body) => body.id)).size).toBe(3);
    expect(scheduler.now()).toEqual(new Date('2026-03-31T12:00:00Z'));
  });

  it('does not fire a disabled schedule', async () => {
    const { scheduler, client } = await newScheduler(new Date('2026-01-01T00:00:00Z'));
    const queue = await newQueue();
    await client.send(new CreateScheduleCommand(scheduleInput('paused', queue.arn, { State: 'DISABLED', ScheduleExpression: 'rate(1 hour)' })));
    await client.send(
      new CreateScheduleCommand(scheduleInput('running', queue.arn, { ScheduleExpression: 'rate(1 hour)', StartDate: new Date('2026-01-01T00:30:00Z') })),
    );
    const fired = await scheduler.advanceTo(new Date('2026-01-01T03:00:00Z'));
    expect(fired.map((invocation) => `${invocation.name} ${invocation.scheduledTime}`)).toEqual([
      'running 2026-01-01T00:30:00Z',
      'running 2026-01-01T01:30:00Z',
      'running 2026-01-01T02:30:00Z',
    ]);
    expect(await receiveAll(queue.url)).toHaveLength(3);
  });

  it('retries a target whose queue does not exist, then sends the event to the dead-letter queue', async () => {
    const { scheduler, client } = await newScheduler(new Date('2026-01-01T00:00:00Z'));
    const dlq = await newQueue('exports-dlq');
    const missing = 'arn:aws:sqs:us-east-1:000000000000:no-such-queue';
    const { ScheduleArn } = await client.send(
      new CreateScheduleCommand(
        scheduleInput('doomed', missing, {
          ScheduleExpression: 'cron(0 9 * * ? *)',
          ScheduleExpressionTimezone: 'UTC',
          Target: {
            Arn: missing,
            RoleArn: ROLE,
            Input: '{"at":"<aws.scheduler.scheduled-time>"}',
            RetryPolicy: { MaximumRetryAttempts: 2 },
            DeadLetterConfig: { Arn: dlq.arn },
          },
        }),
      ),
    );
    const fired = await scheduler.advanceTo(new Date('2026-01-01T10:00:00Z'));
    expect(fired).toEqual([expect.objectContaining({ scheduledTime: '2026-01-01T09:00:00Z', outcome: 'dead-lettered', attempts: 3 })]);
    const [dead, ...more] = await receiveAll(dlq.url);
    expect(more).toEqual([]);
    expect(JSON.parse(dead!.Body!)).toEqual({ at: '2026-01-01T09:00:00Z' });
    const attributes = Object.fromEntries(Object.entries(dead!.MessageAttributes ?? {}).map(([name, value]) => [name, value.StringValue]));
    expect(attributes).toMatchObject({
      EXHAUSTED_RETRY_CONDITION: 'MaximumRetryAttempts',
      RETRY_ATTEMPTS: '2',
      SCHEDULE_ARN: ScheduleArn,
      TARGET_ARN: missing,
      ERROR_CODE: expect.stringMatching(/QueueDoesNotExist|NonExistentQueue/),
    });
  });

  it('backs off exponentially with jitter between retries, bounded, while other schedules keep firing', async () => {
    const { scheduler, client } = await newScheduler(new Date('2026-01-01T00:00:00Z'));
    const dlq = await newQueue('backoff-dlq');
    const healthy = await newQueue();
    const missing = 'arn:aws:sqs:us-east-1:000000000000:no-such-queue';
    await client.send(
      new CreateScheduleCommand(
        scheduleInput('flaky', missing, {
          ScheduleExpression: 'at(2026-01-01T09:00:00)',
          ScheduleExpressionTimezone: 'UTC',
          Target: { Arn: missing, RoleArn: ROLE, Input: '{}', RetryPolicy: { MaximumRetryAttempts: 12 }, DeadLetterConfig: { Arn: dlq.arn } },
        }),
      ),
    );
    await client.send(
      new CreateScheduleCommand(
        scheduleInput('steady', healthy.arn, {
          ScheduleExpression: 'cron(* * * * ? *)',
          ScheduleExpressionTimezone: 'UTC',
          StartDate: new Date('2026-01-01T09:00:30Z'),
        }),
      ),
    );

    // Ten seconds in, the first retries are done and the rest are still waiting.
    const early = await scheduler.advanceTo(new Date('2026-01-01T09:00:10Z'));
    expect(early).toEqual([]);
    const fired = await scheduler.advanceTo(new Date('2026-01-01T12:00:00Z'));
    const flaky = fired.find((invocation) => invocation.name === 'flaky')!;
    expect(flaky).toMatchObject({ outcome: 'dead-lettered', attempts: 13 });
    const times = flaky.attemptedAt.map((at) => Date.parse(at));
    const gaps = times.slice(1).map((at, index) => at - times[index]!);
    gaps.forEach((gap, index) => {
      const ceiling = Math.min(RETRY_BACKOFF.capMs, RETRY_BACKOFF.baseMs * 2 ** index);
      expect(gap).toBeGreaterThanOrEqual(ceiling / 2);
      expect(gap).toBeLessThanOrEqual(ceiling);
    });
    // Bounded: the later retries wait at most the cap, and the whole run is minutes, not hours.
    expect(Math.max(...gaps)).toBeLessThanOrEqual(RETRY_BACKOFF.capMs);
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(4 * 60_000);
    // The minutely schedule fired on time throughout, between the flaky one's retries.
    const steady = fired.filter((invocation) => invocation.name === 'steady');
    expect(steady[0]).toMatchObject({ scheduledTime: '2026-01-01T09:01:00Z', attemptedAt: ['2026-01-01T09:01:00.000Z'], outcome: 'delivered' });
    expect(steady.length).toBeGreaterThanOrEqual(179);
  });

  it('stops retrying when the next retry would pass MaximumEventAgeInSeconds', async () => {
    const { scheduler, client } = await newScheduler(new Date('2026-01-01T00:00:00Z'));
    const dlq = await newQueue('age-dlq');
    const missing = 'arn:aws:sqs:us-east-1:000000000000:no-such-queue';
    await client.send(
      new CreateScheduleCommand(
        scheduleInput('aging', missing, {
          ScheduleExpression: 'at(2026-01-01T09:00:00)',
          ScheduleExpressionTimezone: 'UTC',
          Target: {
            Arn: missing,
            RoleArn: ROLE,
            Input: '{}',
            RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 60 },
            DeadLetterConfig: { Arn: dlq.arn },
          },
        }),
      ),
    );
    const [aging] = await scheduler.advanceTo(new Date('2026-01-01T10:00:00Z'));
    expect(aging).toMatchObject({ outcome: 'dead-lettered' });
    // 0.5-1, 1-2, 2-4, 4-8, 8-16, 16-32 s: five to seven attempts fit in a minute.
    expect(aging!.attempts).toBeGreaterThanOrEqual(6);
    expect(aging!.attempts).toBeLessThanOrEqual(8);
    expect(Date.parse(aging!.attemptedAt.at(-1)!) - Date.parse('2026-01-01T09:00:00Z')).toBeLessThanOrEqual(60_000);
    const [dead] = await receiveAll(dlq.url);
    expect(dead!.MessageAttributes?.EXHAUSTED_RETRY_CONDITION?.StringValue).toBe('MaximumEventAgeInSeconds');
  });

  it('fires an at() schedule once and deletes it when ActionAfterCompletion is DELETE', async () => {
    const { scheduler, client } = await newScheduler(new Date('2026-06-01T00:00:00Z'));
    const queue = await newQueue();
    await client.send(
      new CreateScheduleCommand(
        scheduleInput('one-off', queue.arn, {
          ScheduleExpression: 'at(2026-06-01T09:00:00)',
          ScheduleExpressionTimezone: 'America/New_York',
          ActionAfterCompletion: 'DELETE',
        }),
      ),
    );
    expect(await scheduler.advanceTo(new Date('2026-06-01T12:59:59Z'))).toEqual([]);
    const fired = await scheduler.advanceTo(new Date('2026-06-02T00:00:00Z'));
    expect(fired.map((invocation) => invocation.scheduledTime)).toEqual(['2026-06-01T13:00:00Z']);
    await expect(client.send(new GetScheduleCommand({ Name: 'one-off' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    expect(await scheduler.advanceTo(new Date('2027-01-01T00:00:00Z'))).toEqual([]);
    expect(await receiveAll(queue.url)).toHaveLength(1);
  });

  it('moves the manual clock over the wire with POST /_local/clock', async () => {
    const { scheduler, client } = await newScheduler(new Date('2026-01-01T00:00:00Z'));
    const queue = await newQueue();
    await client.send(
      new CreateScheduleCommand(scheduleInput('quarterly-hour', queue.arn, { ScheduleExpression: 'cron(0/15 * * * ? *)', ScheduleExpressionTimezone: 'UTC' })),
    );
    const response = await fetch(`${scheduler.url}/_local/clock`, { method: 'POST', body: JSON.stringify({ now: '2026-01-01T00:45:00Z' }) });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { now: string; fired: Array<{ scheduledTime: string }> };
    expect(answer.now).toBe('2026-01-01T00:45:00.000Z');
    expect(answer.fired.map((invocation) => invocation.scheduledTime)).toEqual(['2026-01-01T00:15:00Z', '2026-01-01T00:30:00Z', '2026-01-01T00:45:00Z']);
    const backwards = await fetch(`${scheduler.url}/_local/clock`, { method: 'POST', body: JSON.stringify({ now: '2025-01-01T00:00:00Z' }) });
    expect(backwards.status).toBe(400);
    expect(backwards.headers.get('x-amzn-errortype')).toBe('ValidationException');
  });

  it('fires on the real clock: a rate schedule without StartDate starts at once', async () => {
    const { client } = await newScheduler('real');
    const queue = await newQueue();
    await client.send(new CreateScheduleCommand(scheduleInput('now', queue.arn, { ScheduleExpression: 'rate(1 hour)', ScheduleExpressionTimezone: 'UTC' })));
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.url, WaitTimeSeconds: 5 }));
    expect(Messages).toHaveLength(1);
    expect(JSON.parse(Messages[0]!.Body!).scheduledAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});
