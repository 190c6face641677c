import { describe, expect, it } from 'vitest';
import {
  isTimeZone,
  nextRunAt,
  parseScheduleExpression,
  scheduleInput,
  ScheduleExpressionError,
  timeZoneName,
  toScheduleExpression,
  type ScheduleInput,
} from '#functions/exports/schedule';
import * as z from '#functions/shared/validation';

const body = z.strictObject({ schedule: scheduleInput, timezone: timeZoneName });

/** The message a caller sees for a request body holding this schedule, or the parsed schedule. */
function validate(schedule: unknown, timezone = 'Europe/Berlin'): { ok: true; schedule: ScheduleInput } | { ok: false; message: string } {
  const result = z.safeParse(body, { schedule, timezone });
  return result.success ? { ok: true, schedule: result.data.schedule } : { ok: false, message: z.describeIssues(result.error) };
}

/** The first `count` firings strictly after `from`, as ISO strings. */
function runs(expression: string, timeZone: string, from: string, count: number, startDate?: Date): string[] {
  const out: string[] = [];
  let cursor: Date | undefined = new Date(from);
  while (out.length < count) {
    cursor = nextRunAt(expression, timeZone, cursor, startDate);
    if (!cursor) break;
    out.push(cursor.toISOString());
  }
  return out;
}

describe('schedule input', () => {
  it('turns each kind into its EventBridge expression', () => {
    const expressions = [
      { cron: '0 9 ? * MON-FRI *' },
      { rate: '1 hour' },
      { rate: '15 minutes' },
      { rate: '2 days' },
      { preset: 'daily', at: '07:05' },
      { preset: 'weekly', at: '09:00' },
      { preset: 'weekly', at: '18:30', weekday: 'FRI' },
      { preset: 'monthly', at: '00:00' },
      { preset: 'monthly', at: '23:59', dayOfMonth: 28 },
    ].map((schedule) => {
      const parsed = validate(schedule);
      if (!parsed.ok) throw new Error(parsed.message);
      return toScheduleExpression(parsed.schedule);
    });
    expect(expressions).toEqual([
      'cron(0 9 ? * MON-FRI *)',
      'rate(1 hour)',
      'rate(15 minutes)',
      'rate(2 days)',
      'cron(5 7 * * ? *)',
      'cron(0 9 ? * MON *)',
      'cron(30 18 ? * FRI *)',
      'cron(0 0 1 * ? *)',
      'cron(59 23 28 * ? *)',
    ]);
  });

  it('names the cron field at fault', () => {
    const messages = [
      '0 9 * * * *',
      '0 9 ? * ? *',
      '0 9 * *',
      '60 9 * * ? *',
      '0 24 * * ? *',
      '0 9 32 * ? *',
      '0 9 ? * 8 *',
      '0 9 ? * 0 *',
      '0 9 ? * FUNDAY *',
      '0 9 ? JANUARY * *',
      '0 9 1 * ? 1969',
      '0 9 ? * 2#6 *',
      '0 9 1,L * ? *',
      '0 17-9 * * ? *',
      '? 9 * * ? *',
      '0/0 9 * * ? *',
      '0 9W * * ? *',
    ].map((cron) => {
      const parsed = validate({ cron });
      return parsed.ok ? 'accepted' : parsed.message;
    });
    expect(messages).toEqual([
      'schedule.cron: day-of-month or day-of-week must be "?" (exactly one of them)',
      'schedule.cron: day-of-month or day-of-week must be "?" (exactly one of them)',
      'schedule.cron: expected 6 fields (minutes hours day-of-month month day-of-week year), got 4',
      'schedule.cron: minutes: 60 is out of range 0-59',
      'schedule.cron: hours: 24 is out of range 0-23',
      'schedule.cron: day-of-month: 32 is out of range 1-31',
      'schedule.cron: day-of-week: 8 is out of range 1-7 (or SUN-SAT)',
      'schedule.cron: day-of-week: 0 is out of range 1-7 (or SUN-SAT)',
      'schedule.cron: day-of-week: "FUNDAY" is not a number or one of SUN-SAT',
      'schedule.cron: month: "JANUARY" is not a number or one of JAN-DEC',
      'schedule.cron: year: 1969 is out of range 1970-2199',
      'schedule.cron: day-of-week: "2#6": the number after # must be 1-5',
      'schedule.cron: day-of-month: "L": L, W and # cannot be part of a list',
      'schedule.cron: hours: "17-9": the range runs backwards',
      'schedule.cron: minutes: "?" is allowed only in day-of-month and day-of-week',
      'schedule.cron: minutes: "0/0": the increment must be a positive number',
      'schedule.cron: hours: "9W": L, W and # are not allowed here',
    ]);
  });

  it('accepts EventBridge cron syntax: names, ranges, lists, increments, L, W and #', () => {
    for (const cron of [
      '0 9 ? * MON-FRI *',
      '0,30 8-18/2 ? * 2,4,6 *',
      '0 9 L * ? *',
      '0 9 LW * ? *',
      '0 9 15W * ? *',
      '0 9 ? * 6L *',
      '0 9 ? * 2#1 2026-2030',
      '0/15 * * JAN-MAR ? *',
    ]) {
      expect(validate({ cron }), cron).toMatchObject({ ok: true });
    }
  });

  it('applies EventBridge’s singular-for-one rate rule', () => {
    expect(validate({ rate: '1 hours' })).toEqual({ ok: false, message: 'schedule.rate: use the singular for 1: "1 hour"' });
    expect(validate({ rate: '2 day' })).toEqual({ ok: false, message: 'schedule.rate: use the plural for 2: "2 days"' });
    expect(validate({ rate: '0 minutes' })).toMatchObject({ ok: false, message: expect.stringContaining('schedule.rate:') });
    expect(validate({ rate: 'every hour' })).toEqual({ ok: false, message: 'schedule.rate: expected "<value> minutes|hours|days", got "every hour"' });
  });

  it('refuses anything that fires more often than every 15 minutes, and says so', () => {
    expect(validate({ rate: '14 minutes' })).toEqual({ ok: false, message: 'schedule.rate: fires every 14 minutes; exports run at most every 15 minutes' });
    expect(validate({ cron: '0/5 * * * ? *' })).toEqual({ ok: false, message: 'schedule.cron: fires every 5 minutes; exports run at most every 15 minutes' });
    expect(validate({ cron: '* 9 * * ? *' })).toEqual({ ok: false, message: 'schedule.cron: fires every 1 minute; exports run at most every 15 minutes' });
    // 09:50 then 10:00: the gap across the hour counts.
    expect(validate({ cron: '0,50 9,10 * * ? *' })).toEqual({
      ok: false,
      message: 'schedule.cron: fires every 10 minutes; exports run at most every 15 minutes',
    });
    expect(validate({ cron: '0,50 9,11 * * ? *' })).toMatchObject({ ok: true });
    expect(validate({ cron: '0/15 * * * ? *' })).toMatchObject({ ok: true });
  });

  it('checks that exactly one kind is given and preset options fit the preset', () => {
    expect(validate({ cron: '0 9 * * ? *', rate: '1 hour' })).toEqual({ ok: false, message: 'schedule.rate: give exactly one of cron, rate or preset' });
    expect(validate({})).toEqual({ ok: false, message: 'schedule.cron: give exactly one of cron, rate or preset' });
    expect(validate({ preset: 'daily' })).toEqual({ ok: false, message: 'schedule.at: a daily preset needs the time of day, HH:MM' });
    expect(validate({ preset: 'daily', at: '9:00' })).toEqual({ ok: false, message: 'schedule.at: must be HH:MM (24-hour)' });
    expect(validate({ preset: 'daily', at: '09:00', weekday: 'MON' })).toEqual({
      ok: false,
      message: 'schedule.weekday: only a weekly preset takes a weekday',
    });
    expect(validate({ preset: 'monthly', at: '09:00', dayOfMonth: 31 })).toEqual({
      ok: false,
      message: 'schedule.dayOfMonth: must be 1-28, so that every month has it',
    });
    expect(validate({ preset: 'weekly', at: '09:00', weekday: 'MONDAY' })).toMatchObject({ ok: false, message: expect.stringContaining('schedule.weekday:') });
    expect(validate({ rate: '1 hour', at: '09:00' })).toEqual({ ok: false, message: 'schedule.at: only a preset takes this' });
    expect(validate({ preset: 'hourly', at: '09:00' })).toMatchObject({ ok: false, message: expect.stringContaining('schedule.preset:') });
  });
});

describe('time zones', () => {
  it('accepts IANA names and UTC, refuses unknown zones and raw offsets', () => {
    expect(['Europe/Berlin', 'America/New_York', 'UTC', 'Asia/Kolkata', 'EST5EDT'].filter(isTimeZone)).toEqual([
      'Europe/Berlin',
      'America/New_York',
      'UTC',
      'Asia/Kolkata',
      'EST5EDT',
    ]);
    expect(['Mars/Olympus', '+01:00', '', 'Europe/Berlin '].filter(isTimeZone)).toEqual([]);
    expect(validate({ rate: '1 hour' }, 'Mars/Olympus')).toEqual({ ok: false, message: 'timezone: must be an IANA time zone such as Europe/Berlin or UTC' });
  });
});

describe('nextRunAt', () => {
  it('counts day-of-week 1-7 from Sunday, as EventBridge does', () => {
    // 2026-01-04 is a Sunday.
    expect(runs('cron(0 9 ? * 1 *)', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-04T09:00:00.000Z']);
    expect(runs('cron(0 9 ? * 2 *)', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-05T09:00:00.000Z']);
    expect(runs('cron(0 9 ? * SAT *)', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-03T09:00:00.000Z']);
    expect(runs('cron(0 9 ? * 7 *)', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-03T09:00:00.000Z']);
  });

  it('handles L, W, # and the year field', () => {
    expect(runs('cron(0 9 ? * 6L *)', 'UTC', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-30T09:00:00.000Z', '2026-02-27T09:00:00.000Z']);
    expect(runs('cron(0 9 ? * 2#1 *)', 'UTC', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-05T09:00:00.000Z', '2026-02-02T09:00:00.000Z']);
    expect(runs('cron(0 9 L * ? *)', 'UTC', '2026-02-01T00:00:00Z', 2)).toEqual(['2026-02-28T09:00:00.000Z', '2026-03-31T09:00:00.000Z']);
    // 2026-02-15 is a Sunday: the nearest weekday is Monday the 16th.
    expect(runs('cron(0 9 15W * ? *)', 'UTC', '2026-02-01T00:00:00Z', 1)).toEqual(['2026-02-16T09:00:00.000Z']);
    expect(runs('cron(0 9 L 12 ? 2026)', 'UTC', '2026-01-01T00:00:00Z', 3)).toEqual(['2026-12-31T09:00:00.000Z']);
  });

  it('reads cron in the schedule’s time zone', () => {
    expect(runs('cron(0 9 * * ? *)', 'Europe/Berlin', '2026-01-10T00:00:00Z', 1)).toEqual(['2026-01-10T08:00:00.000Z']);
    expect(runs('cron(0 9 * * ? *)', 'America/New_York', '2026-07-10T00:00:00Z', 1)).toEqual(['2026-07-10T13:00:00.000Z']);
  });

  it('skips a local time that does not exist on the spring-forward day (Europe/Berlin, 29 March 2026)', () => {
    // 02:30 never happens in Berlin on 29 March; EventBridge skips that day's run.
    expect(runs('cron(30 2 * * ? *)', 'Europe/Berlin', '2026-03-27T12:00:00Z', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET (+01:00)
      '2026-03-30T00:30:00.000Z', // 02:30 CEST (+02:00)
      '2026-03-31T00:30:00.000Z',
    ]);
  });

  it('skips the spring-forward gap in America/New_York (8 March 2026) and keeps the times around it', () => {
    expect(runs('cron(30 2 * * ? *)', 'America/New_York', '2026-03-07T12:00:00Z', 2)).toEqual(['2026-03-09T06:30:00.000Z', '2026-03-10T06:30:00.000Z']);
    // Every 20 minutes: 02:00-02:40 local do not exist, 01:40 EST is followed by 03:00 EDT.
    expect(runs('cron(0/20 * * * ? *)', 'America/New_York', '2026-03-08T06:30:00Z', 3)).toEqual([
      '2026-03-08T06:40:00.000Z',
      '2026-03-08T07:00:00.000Z',
      '2026-03-08T07:20:00.000Z',
    ]);
  });

  it('fires once on a repeated local time on the fall-back day (America/New_York, 1 November 2026)', () => {
    // 01:30 happens at 05:30Z (EDT) and again at 06:30Z (EST); EventBridge fires the first only.
    expect(runs('cron(30 1 * * ? *)', 'America/New_York', '2026-10-31T12:00:00Z', 3)).toEqual([
      '2026-11-01T05:30:00.000Z',
      '2026-11-02T06:30:00.000Z',
      '2026-11-03T06:30:00.000Z',
    ]);
    // Asked from between the two occurrences, the repeat is not a new firing.
    expect(runs('cron(30 1 * * ? *)', 'America/New_York', '2026-11-01T05:45:00Z', 1)).toEqual(['2026-11-02T06:30:00.000Z']);
  });

  it('fires once on a repeated local time on the fall-back day (Europe/Berlin, 25 October 2026)', () => {
    expect(runs('cron(30 2 * * ? *)', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('runs rate schedules from their start, in fixed durations whatever DST does', () => {
    const start = new Date('2026-03-28T10:00:00Z');
    expect(runs('rate(1 day)', 'Europe/Berlin', '2026-03-28T00:00:00Z', 3, start)).toEqual([
      '2026-03-28T10:00:00.000Z',
      '2026-03-29T10:00:00.000Z',
      '2026-03-30T10:00:00.000Z',
    ]);
    expect(runs('rate(15 minutes)', 'UTC', '2026-03-28T10:20:00Z', 2, start)).toEqual(['2026-03-28T10:30:00.000Z', '2026-03-28T10:45:00.000Z']);
    // On a boundary, the next firing is the following one.
    expect(runs('rate(2 hours)', 'UTC', '2026-03-28T12:00:00Z', 1, start)).toEqual(['2026-03-28T14:00:00.000Z']);
  });

  it('starts cron no earlier than StartDate', () => {
    expect(runs('cron(0 9 * * ? *)', 'UTC', '2026-01-01T00:00:00Z', 1, new Date('2026-01-05T09:00:00Z'))).toEqual(['2026-01-05T09:00:00.000Z']);
    expect(runs('cron(0 9 * * ? *)', 'UTC', '2026-01-01T00:00:00Z', 1, new Date('2026-01-05T09:00:01Z'))).toEqual(['2026-01-06T09:00:00.000Z']);
  });

  it('fires at() once, in its time zone', () => {
    expect(runs('at(2026-06-01T09:00:00)', 'Europe/Berlin', '2026-01-01T00:00:00Z', 2)).toEqual(['2026-06-01T07:00:00.000Z']);
    expect(nextRunAt('at(2026-06-01T09:00:00)', 'Europe/Berlin', new Date('2026-06-01T07:00:00Z'))).toBeUndefined();
  });
});

describe('parseScheduleExpression', () => {
  it('throws a ScheduleExpressionError naming the field', () => {
    const failure = (expression: string) => {
      try {
        parseScheduleExpression(expression);
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(ScheduleExpressionError);
        return (error as Error).message;
      }
    };
    expect(failure('every day')).toBe('expression: expected cron(...), rate(...) or at(...), got "every day"');
    expect(failure('at(2026-02-30T09:00:00)')).toBe('at: "2026-02-30T09:00:00" is not a valid date and time');
    expect(failure('at(2026-02-03 09:00)')).toBe('at: expected yyyy-mm-ddThh:mm:ss, got "2026-02-03 09:00"');
    expect(failure('cron(0 9 ? * 9 *)')).toBe('day-of-week: 9 is out of range 1-7 (or SUN-SAT)');
    expect(failure('rate(5 minutes)')).toBe('accepted');
  });
});
