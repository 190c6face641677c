import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  UpdateScheduleCommand,
  type CreateScheduleCommandInput,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import type { ExportSchedule } from '../exports/model';
import type { ScheduleGateway } from '../exports/service';

export interface SchedulerSettings {
  readonly groupName: string;
  readonly roleArn: string;
  readonly queueArn: string;
  readonly deadLetterQueueArn: string;
}

/** How long Scheduler keeps trying to reach the queue; a firing later than this is stale anyway. */
const RETRY_POLICY = { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3_600 };

export function scheduleName(scheduleId: string): string {
  return `export-${scheduleId}`;
}

/**
 * One EventBridge Scheduler schedule per export schedule, in Herald's group, targeting the exports
 * queue. The message is the worker's RunMessage, with the firing's own time substituted by
 * Scheduler (`<aws.scheduler.scheduled-time>`), so a redelivered firing names the same run.
 * What Scheduler cannot deliver goes to the exports DLQ, where the failed-run handler reports it.
 */
export function eventBridgeScheduleGateway(client: SchedulerClient, settings: SchedulerSettings): ScheduleGateway {
  const input = (schedule: ExportSchedule): CreateScheduleCommandInput => ({
    Name: scheduleName(schedule.id),
    GroupName: settings.groupName,
    ScheduleExpression: schedule.expression,
    ScheduleExpressionTimezone: schedule.timezone,
    FlexibleTimeWindow: { Mode: 'OFF' },
    State: 'ENABLED',
    Description: `Herald export ${schedule.id} of ${schedule.tenant}`.slice(0, 512),
    // A rate series starts at the schedule's creation, which is also how nextRunAt is computed.
    ...(schedule.expression.startsWith('rate(') && { StartDate: new Date(schedule.createdAt) }),
    Target: {
      Arn: settings.queueArn,
      RoleArn: settings.roleArn,
      // JSON.stringify escapes the ids; the placeholder is substituted by Scheduler verbatim.
      Input: JSON.stringify({
        scheduleId: schedule.id,
        tenant: schedule.tenant,
        owner: schedule.owner,
        scheduledTime: '<aws.scheduler.scheduled-time>',
        trigger: 'schedule',
      }),
      RetryPolicy: RETRY_POLICY,
      DeadLetterConfig: { Arn: settings.deadLetterQueueArn },
    },
  });
  return {
    async put(schedule, mode) {
      if (mode === 'create') {
        try {
          await client.send(new CreateScheduleCommand(input(schedule)));
          return;
        } catch (error) {
          if (!(error instanceof ConflictException)) throw error;
          // A retried create whose first answer was lost: the schedule exists, make it current.
        }
      }
      await client.send(new UpdateScheduleCommand(input(schedule)));
    },
    async delete(scheduleId) {
      try {
        await client.send(new DeleteScheduleCommand({ Name: scheduleName(scheduleId), GroupName: settings.groupName }));
      } catch (error) {
        if (!(error instanceof ResourceNotFoundException)) throw error;
      }
    },
  };
}
