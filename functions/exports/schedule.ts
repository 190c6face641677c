/**
 * When an export runs: the schedule a user asks for (`{cron}`, `{rate}` or a preset), its IANA time
 * zone, the EventBridge Scheduler expression it becomes, and the next time it fires.
 *
 * The arithmetic follows EventBridge Scheduler, not Unix cron, because the deployed system runs on
 * it and the local emulator (lib/local/scheduler.ts) reuses this module:
 * - cron has six fields (minutes hours day-of-month month day-of-week year); day-of-week 1-7 is
 *   SUN-SAT; one of day-of-month and day-of-week is `?`.
 * - Daylight saving: a cron time that does not exist locally (spring forward) is skipped, and a
 *   local time that occurs twice (fall back) fires once, on its first occurrence (AWS: "your
 *   schedule runs only once and doesn't repeat its invocation").
 * - rate is a fixed duration from the schedule's start (a day is 24 h, whatever DST does).
 */
import { CronPattern, Cron } from 'croner';
import * as z from '../shared/validation';

/** Exports read whole datasets; anything more frequent would mostly queue up behind itself. */
export const MIN_INTERVAL_MINUTES = 15;

export const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export type ScheduleInput =
  | { cron: string }
  | { rate: string }
  | { preset: 'daily'; at: string }
  | { preset: 'weekly'; at: string; weekday?: Weekday }
  | { preset: 'monthly'; at: string; dayOfMonth?: number };

/** A schedule expression that breaks EventBridge's rules; `field` names the part at fault. */
export class ScheduleExpressionError extends Error {
  override name = 'ScheduleExpressionError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Expressions: cron(...), rate(...), at(...)

interface CronFieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  /** Suffixes and forms EventBridge allows in this field only. */
  readonly question?: boolean;
  readonly lastAndWeekday?: boolean;
  readonly lastAndNth?: boolean;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
/** EventBridge numbers day-of-week 1-7 from Sunday. */
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const CRON_FIELDS: readonly CronFieldSpec[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31, question: true, lastAndWeekday: true },
  { name: 'month', min: 1, max: 12, names: MONTH_NAMES },
  { name: 'day-of-week', min: 1, max: 7, names: DAY_NAMES, question: true, lastAndNth: true },
  { name: 'year', min: 1970, max: 2199 },
];

export type ParsedExpression =
  | { readonly kind: 'cron'; readonly fields: readonly string[]; readonly pattern: CronPattern; readonly cronerPattern: string }
  | { readonly kind: 'rate'; readonly value: number; readonly unit: 'minute' | 'hour' | 'day'; readonly intervalMs: number }
  | { readonly kind: 'at'; readonly local: LocalDateTime };

export interface LocalDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** Parses an EventBridge Scheduler expression, or throws a ScheduleExpressionError naming the field. */
export function parseScheduleExpression(expression: string): ParsedExpression {
  const match = /^(cron|rate|at)\((.*)\)$/.exec(expression.trim());
  if (!match) throw new ScheduleExpressionError('expression', `expected cron(...), rate(...) or at(...), got "${truncate(expression)}"`);
  const [, kind, body] = match as unknown as [string, 'cron' | 'rate' | 'at', string];
  if (kind === 'cron') return parseCron(body);
  if (kind === 'rate') return parseRate(body);
  return { kind: 'at', local: parseAt(body) };
}

function parseCron(body: string): ParsedExpression {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new ScheduleExpressionError('cron', `expected 6 fields (minutes hours day-of-month month day-of-week year), got ${fields.length}`);
  }
  for (const [index, field] of fields.entries()) validateCronField(field, CRON_FIELDS[index]!);
  const [, , dayOfMonth, , dayOfWeek] = fields as [string, string, string, string, string, string];
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    throw new ScheduleExpressionError('cron', 'day-of-month or day-of-week must be "?" (exactly one of them)');
  }
  const cronerPattern = toCronerPattern(fields);
  let pattern: CronPattern;
  try {
    pattern = new CronPattern(cronerPattern, undefined, CRONER_OPTIONS);
  } catch (error) {
    throw new ScheduleExpressionError('cron', (error as Error).message.replace(/^CronPattern: /, ''));
  }
  return { kind: 'cron', fields, pattern, cronerPattern };
}

const CRONER_OPTIONS = { mode: '7-part', alternativeWeekdays: true, sloppyRanges: true } as const;

function validateCronField(field: string, spec: CronFieldSpec): void {
  const fail = (reason: string): never => {
    throw new ScheduleExpressionError(spec.name, reason);
  };
  if (field === '?') {
    if (!spec.question) fail('"?" is allowed only in day-of-month and day-of-week');
    return;
  }
  const value = (text: string): number => {
    const upper = text.toUpperCase();
    const named = spec.names?.indexOf(upper) ?? -1;
    const number = named >= 0 ? named + spec.min : /^\d+$/.test(text) ? Number(text) : NaN;
    if (Number.isNaN(number)) fail(`"${text}" is not a number${spec.names ? ` or one of ${spec.names[0]}-${spec.names.at(-1)}` : ''}`);
    if (number < spec.min || number > spec.max)
      fail(`${text} is out of range ${spec.min}-${spec.max}${spec.names ? ` (or ${spec.names[0]}-${spec.names.at(-1)})` : ''}`);
    return number;
  };
  const items = field.split(',');
  for (const item of items) {
    if (item === '') fail(`empty list item in "${field}"`);
    if (item === '?') fail('"?" must stand alone');
    const special = validateSpecialItem(item, spec, value, fail);
    if (special) {
      if (items.length > 1) fail(`"${item}": L, W and # cannot be part of a list`);
      continue;
    }
    const [range = '', step, extra] = item.split('/');
    if (extra !== undefined) fail(`"${item}" has more than one "/"`);
    if (step !== undefined && !(/^\d+$/.test(step) && Number(step) > 0)) fail(`"${item}": the increment must be a positive number`);
    if (range === '*') continue;
    const bounds = range.split('-');
    if (bounds.length > 2) fail(`"${item}" is not a valid range`);
    const [low, high] = bounds.map((bound) => value(bound)) as [number, number | undefined];
    if (high !== undefined && high < low) fail(`"${item}": the range runs backwards`);
  }
}

/** L, LW and nW in day-of-month; L, nL and n#k in day-of-week. True when `item` is one of them. */
function validateSpecialItem(item: string, spec: CronFieldSpec, value: (text: string) => number, fail: (reason: string) => never): boolean {
  const upper = item.toUpperCase();
  if (spec.lastAndWeekday) {
    if (upper === 'L' || upper === 'LW') return true;
    if (/^\d+W$/.test(upper)) return value(item.slice(0, -1)) >= 0;
  }
  if (spec.lastAndNth) {
    if (upper === 'L') return true;
    if (/^\w+L$/.test(upper) && !spec.names?.includes(upper)) return value(item.slice(0, -1)) >= 0;
    if (item.includes('#')) {
      const [day = '', nth = ''] = item.split('#');
      value(day);
      if (!/^[1-5]$/.test(nth)) fail(`"${item}": the number after # must be 1-5`);
      return true;
    }
  }
  if (/[LW#]/.test(upper.replace(/[A-Z]{3}/g, ''))) fail(`"${item}": L, W and # are not allowed here`);
  return false;
}

/** EventBridge's six fields as croner's seven (seconds first), with `?` as croner's `*`. */
function toCronerPattern(fields: readonly string[]): string {
  const [minutes, hours, dayOfMonth, month, dayOfWeek, year] = fields.map((field) => (field === '?' ? '*' : field)) as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  // A lone L in day-of-week is the week's last day, Saturday (7 in EventBridge's numbering).
  const weekday = dayOfWeek.toUpperCase() === 'L' ? '7' : dayOfWeek;
  return ['0', minutes, hours, dayOfMonth, month, weekday, year].join(' ');
}

const RATE_UNITS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

function parseRate(body: string): ParsedExpression {
  const match = /^(\d+) (minute|hour|day)(s?)$/.exec(body.trim());
  if (!match) throw new ScheduleExpressionError('rate', `expected "<value> minutes|hours|days", got "${truncate(body)}"`);
  const [, digits, unit, plural] = match as unknown as [string, string, keyof typeof RATE_UNITS, string];
  const value = Number(digits);
  if (value < 1) throw new ScheduleExpressionError('rate', 'the value must be a positive whole number');
  if ((value === 1) !== (plural === '')) {
    throw new ScheduleExpressionError('rate', value === 1 ? `use the singular for 1: "1 ${unit}"` : `use the plural for ${value}: "${value} ${unit}s"`);
  }
  return { kind: 'rate', value, unit, intervalMs: value * RATE_UNITS[unit] };
}

function parseAt(body: string): LocalDateTime {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})$/.exec(body.trim());
  if (!match) throw new ScheduleExpressionError('at', `expected yyyy-mm-ddThh:mm:ss, got "${truncate(body)}"`);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const check = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new ScheduleExpressionError('at', `"${body}" is not a valid date and time`);
  }
  return { year, month, day, hour, minute, second };
}

/** The shortest gap between two firings, in minutes; DST only ever lengthens a gap. */
export function minimumIntervalMinutes(parsed: ParsedExpression): number {
  if (parsed.kind === 'at') return Infinity;
  if (parsed.kind === 'rate') return parsed.intervalMs / 60_000;
  const minutes = setIndices(parsed.pattern.minute);
  const hours = setIndices(parsed.pattern.hour);
  let gap = 60;
  for (let i = 1; i < minutes.length; i++) gap = Math.min(gap, minutes[i]! - minutes[i - 1]!);
  // From the last minute of one hour to the first of the next, when two hours in a row fire.
  const consecutiveHours = hours.some((hour) => hours.includes((hour + 1) % 24));
  if (minutes.length > 1 && consecutiveHours) gap = Math.min(gap, 60 - minutes.at(-1)! + minutes[0]!);
  return gap;
}

function setIndices(flags: readonly number[]): number[] {
  return flags.flatMap((flag, index) => (flag ? [index] : []));
}

// ---------------------------------------------------------------------------------------------
// Time zones

const SUPPORTED_TIME_ZONES = new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);

/**
 * An IANA zone name. Node's own list misses aliases (EST5EDT, Europe/Kyiv on older ICU), so a name
 * Intl accepts is fine too; UTC offsets like "+01:00" are not zone names and are refused.
 */
export function isTimeZone(name: string): boolean {
  if (SUPPORTED_TIME_ZONES.has(name)) return true;
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// The input schema

export const timeZoneName = z.string().check(z.refine(isTimeZone, { message: 'must be an IANA time zone such as Europe/Berlin or UTC' }));

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

const scheduleShape = z.strictObject({
  cron: z.optional(z.string().check(z.maxLength(256))),
  rate: z.optional(z.string().check(z.maxLength(64))),
  preset: z.optional(z.enum(['daily', 'weekly', 'monthly'])),
  at: z.optional(z.string().check(z.regex(HH_MM, 'must be HH:MM (24-hour)'))),
  weekday: z.optional(z.enum(WEEKDAYS)),
  dayOfMonth: z.optional(z.int().check(z.minimum(1), z.maximum(28, 'must be 1-28, so that every month has it'))),
});

/** `{cron}`, `{rate}` or `{preset, at, weekday?, dayOfMonth?}`; each issue names its field. */
export const scheduleInput = z.pipe(
  scheduleShape.check(
    z.superRefine((value, context) => {
      const issue = (path: string, message: string) => context.addIssue({ code: 'custom', path: [path], message, input: value });
      const kinds = (['cron', 'rate', 'preset'] as const).filter((key) => value[key] !== undefined);
      if (kinds.length !== 1) {
        issue(kinds[1] ?? 'cron', 'give exactly one of cron, rate or preset');
        return;
      }
      const preset = value.preset;
      if (preset === undefined) {
        for (const key of ['at', 'weekday', 'dayOfMonth'] as const) if (value[key] !== undefined) issue(key, 'only a preset takes this');
      } else {
        if (value.at === undefined) issue('at', `a ${preset} preset needs the time of day, HH:MM`);
        if (value.weekday !== undefined && preset !== 'weekly') issue('weekday', 'only a weekly preset takes a weekday');
        if (value.dayOfMonth !== undefined && preset !== 'monthly') issue('dayOfMonth', 'only a monthly preset takes a day of the month');
        return;
      }
      const kind = kinds[0]!;
      const expression = kind === 'cron' ? `cron(${value.cron})` : `rate(${value.rate})`;
      let parsed: ParsedExpression;
      try {
        parsed = parseScheduleExpression(expression);
      } catch (error) {
        if (!(error instanceof ScheduleExpressionError)) throw error;
        issue(kind, error.field === kind ? error.reason : error.message);
        return;
      }
      const interval = minimumIntervalMinutes(parsed);
      if (interval < MIN_INTERVAL_MINUTES) {
        issue(kind, `fires every ${interval} minute${interval === 1 ? '' : 's'}; exports run at most every ${MIN_INTERVAL_MINUTES} minutes`);
      }
    }),
  ),
  z.transform((value) => value as ScheduleInput),
);

/** The EventBridge Scheduler expression for a validated schedule. */
export function toScheduleExpression(schedule: ScheduleInput): string {
  if ('cron' in schedule) return `cron(${schedule.cron.trim().split(/\s+/).join(' ')})`;
  if ('rate' in schedule) return `rate(${schedule.rate.trim()})`;
  const [hours, minutes] = schedule.at.split(':').map(Number) as [number, number];
  switch (schedule.preset) {
    case 'daily':
      return `cron(${minutes} ${hours} * * ? *)`;
    case 'weekly':
      return `cron(${minutes} ${hours} ? * ${schedule.weekday ?? 'MON'} *)`;
    case 'monthly':
      return `cron(${minutes} ${hours} ${schedule.dayOfMonth ?? 1} * ? *)`;
  }
}

// ---------------------------------------------------------------------------------------------
// Next run

/**
 * The first firing strictly after `after`, or undefined when there is none (a past `at`, a cron
 * whose years have passed). `startDate` is the schedule's StartDate: no firing before it, and for
 * rate the anchor of the series (pass the creation time when the schedule has none).
 */
export function nextRunAt(expression: string | ParsedExpression, timeZone: string, after: Date, startDate?: Date): Date | undefined {
  const parsed = typeof expression === 'string' ? parseScheduleExpression(expression) : expression;
  const notBefore = startDate && startDate.getTime() > after.getTime() ? startDate.getTime() - 1 : after.getTime();
  switch (parsed.kind) {
    case 'rate': {
      const anchor = startDate?.getTime() ?? after.getTime();
      if (anchor > after.getTime()) return new Date(anchor);
      const periods = Math.floor((after.getTime() - anchor) / parsed.intervalMs) + 1;
      return new Date(anchor + periods * parsed.intervalMs);
    }
    case 'at': {
      const instants = instantsOf(parsed.local, timeZone);
      // A nonexistent local time is read as the instant after the gap, as java.time does.
      const instant = instants[0] ?? afterGap(parsed.local, timeZone);
      return instant > notBefore ? new Date(instant) : undefined;
    }
    case 'cron':
      return nextCronRun(parsed, timeZone, notBefore);
  }
}

/** Longest DST shift anywhere (Antarctica/Troll moves two hours): how far back to start looking. */
const MAX_DST_SHIFT_MS = 3 * 3_600_000;

function nextCronRun(parsed: Extract<ParsedExpression, { kind: 'cron' }>, timeZone: string, afterMs: number): Date | undefined {
  // croner walks local wall-clock times (encoded as UTC); each is then placed in the zone, where a
  // time in a DST gap has no instant (skipped) and a repeated time takes its first instant.
  const walker = new Cron(parsed.cronerPattern, { ...CRONER_OPTIONS, timezone: 'UTC' });
  let wall: Date | null = new Date(wallClockMs(afterMs, timeZone) - MAX_DST_SHIFT_MS);
  for (let step = 0; step < 100_000; step++) {
    wall = walker.nextRun(wall);
    if (!wall) return undefined;
    const instant = instantsOf(fromWallMs(wall.getTime()), timeZone)[0];
    if (instant !== undefined && instant > afterMs) return new Date(instant);
  }
  return undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at an instant, in ms. */
function offsetMs(instantMs: number, timeZone: string): number {
  return wallClockMs(instantMs, timeZone) - Math.floor(instantMs / 1000) * 1000;
}

/** The local wall-clock time at an instant, encoded as if it were UTC (seconds precision). */
function wallClockMs(instantMs: number, timeZone: string): number {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  const parts = Object.fromEntries(formatter.formatToParts(new Date(instantMs)).map((part) => [part.type, Number(part.value)]));
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

function fromWallMs(ms: number): LocalDateTime {
  const date = new Date(ms);
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
  };
}

/** Every instant at which the zone's clocks show `local`: none in a gap, two in an overlap. */
export function instantsOf(local: LocalDateTime, timeZone: string): number[] {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  const offsets = new Set([-86_400_000, 0, 86_400_000].map((shift) => offsetMs(wall + shift, timeZone)));
  return [...offsets]
    .map((offset) => wall - offset)
    .filter((instant) => wallClockMs(instant, timeZone) === wall)
    .sort((a, b) => a - b);
}

function afterGap(local: LocalDateTime, timeZone: string): number {
  const wall = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second);
  // The offset before the gap places the time past it, shifted by the gap's length.
  return wall - offsetMs(wall - 86_400_000, timeZone);
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
