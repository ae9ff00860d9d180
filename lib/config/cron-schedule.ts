/**
 * Cron schedules as the API server reads a CronJob's: robfig/cron v3's standard parser (five fields,
 * names JAN-DEC and SUN-SAT in any case, `*` or `?`, ranges, steps, lists, the @ macros), and no TZ= or
 * CRON_TZ= prefix, which the API server refuses when spec.timeZone is set (the stack sets Etc/UTC). A
 * schedule is also refused when it never runs, or when cron-parser, with which plane-k3s verify
 * computes a schedule's period (ops/verify.ts), cannot read it.
 */
import { CronExpressionParser } from 'cron-parser';
import { shown } from './primitives';

const EXPECTED = 'expected a five-field cron schedule such as "30 2 * * *" (UTC)';

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  readonly help: string;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59, help: '0-59' },
  { name: 'hour', min: 0, max: 23, help: '0-23' },
  { name: 'day of month', min: 1, max: 31, help: '1-31' },
  { name: 'month', min: 1, max: 12, names: MONTHS, help: '1-12 or JAN-DEC' },
  { name: 'day of week', min: 0, max: 6, names: WEEKDAYS, help: '0-6 or SUN-SAT; Sunday is 0, not 7' },
];
/** Days in each month, February in a leap year. */
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The macros both Kubernetes and cron-parser read; @midnight and @every are refused with their fix. */
export const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly'] as const;

/** A field's values, and whether it was written `*` or `?` (robfig's star bit: AND instead of OR of the two day fields). */
interface FieldValues {
  readonly values: Set<number>;
  readonly star: boolean;
}

class CronFieldError extends Error {}

function valueOf(text: string, field: CronField): number {
  const named = field.names?.indexOf(text.toLowerCase()) ?? -1;
  if (named >= 0) return named + (field.name === 'month' ? 1 : 0);
  if (!/^\d{1,9}$/.test(text)) {
    throw new CronFieldError(`the ${field.name} ${shown(text)} is not a number${field.names ? ' or a name' : ''} (${field.help})`);
  }
  return Number(text);
}

/** One comma-separated entry: value, range, value/step or range/step (robfig/cron's getRange). */
function entryValues(entry: string, field: CronField, into: Set<number>): boolean {
  const outOfRange = (what: string) => new CronFieldError(`a field is out of range: ${field.name} ${what} (${field.help})`);
  const [range, stepText, ...more] = entry.split('/');
  if (more.length > 0) throw new CronFieldError(`the ${field.name} ${shown(entry)} has more than one "/"`);
  const bounds = range.split('-');
  let start: number;
  let end: number;
  const star = range === '*' || range === '?';
  if (star) {
    [start, end] = [field.min, field.max];
  } else {
    if (bounds.length > 2) throw new CronFieldError(`the ${field.name} ${shown(entry)} has more than one "-"`);
    start = valueOf(bounds[0], field);
    end = bounds.length === 2 ? valueOf(bounds[1], field) : start;
  }
  let step = 1;
  if (stepText !== undefined) {
    if (!/^\d{1,9}$/.test(stepText)) throw new CronFieldError(`the ${field.name} step ${shown(stepText)} is not a number`);
    step = Number(stepText);
    if (step === 0) throw new CronFieldError(`the ${field.name} step in ${shown(entry)} is 0: a step is at least 1`);
    // "N/step" means N-max/step.
    if (!star && bounds.length === 1) end = field.max;
  }
  if (start < field.min) throw outOfRange(`${start} is below ${field.min}`);
  if (end > field.max) throw outOfRange(`${end} is above ${field.max}`);
  if (start > end) throw new CronFieldError(`the ${field.name} range ${shown(range)} runs backwards: write the smaller value first`);
  if (step > 1 && step > end - start) {
    throw new CronFieldError(
      `a field is out of range: ${field.name} step ${step} is longer than ${start}-${end} and keeps only ${start}: write ${start}, or a shorter step`,
    );
  }
  for (let value = start; value <= end; value += step) into.add(value);
  return star && step === 1;
}

function fieldValues(text: string, field: CronField): FieldValues {
  const entries = text.split(',');
  if (entries.some((e) => e === '')) throw new CronFieldError(`the ${field.name} ${shown(text)} has an empty entry between commas`);
  const values = new Set<number>();
  let star = false;
  for (const entry of entries) star = entryValues(entry, field, values) || star;
  return { values, star };
}

/** Whether a day-of-month restriction can ever match, given the months (robfig: with a `*` day of week, both must match). */
function neverRuns(dom: FieldValues, month: FieldValues, dow: FieldValues): boolean {
  if (dom.star || !dow.star) return false;
  return ![...month.values].some((m) => [...dom.values].some((d) => d <= MONTH_DAYS[m - 1]));
}

/** Why `schedule` is not a schedule the API server and plane-k3s verify both read, or undefined. */
export function cronScheduleIssue(schedule: string): string | undefined {
  if (schedule.trim() === '') return EXPECTED;
  if (schedule.includes('TZ')) {
    return "must not set TZ= or CRON_TZ=: the CronJob's timeZone is Etc/UTC and the API server refuses both; write the time in UTC";
  }
  if (schedule.startsWith('@')) {
    if (schedule === '@midnight') return "@midnight is @daily, a name plane-k3s verify's cron reader does not know: write @daily";
    if (schedule.startsWith('@every')) {
      return `${shown(schedule)} is an interval, not a time of day: plane-k3s verify cannot tell its period; ${EXPECTED}`;
    }
    if (!(CRON_MACROS as readonly string[]).includes(schedule)) {
      return `${shown(schedule)} is not a macro Kubernetes knows: ${EXPECTED} or one of ${CRON_MACROS.join(', ')}`;
    }
  } else {
    const texts = schedule.trim().split(/\s+/);
    if (texts.length !== FIELDS.length) {
      const seconds = texts.length === 6 ? ' (there is no seconds field: minute hour day-of-month month day-of-week)' : '';
      return `${EXPECTED}, found ${texts.length} field${texts.length === 1 ? '' : 's'}${seconds}`;
    }
    let fields: FieldValues[];
    try {
      fields = texts.map((text, i) => fieldValues(text, FIELDS[i]));
    } catch (error) {
      if (error instanceof CronFieldError) return `${EXPECTED}: ${error.message}`;
      throw error;
    }
    if (neverRuns(fields[2], fields[3], fields[4])) {
      return `${shown(schedule)} never runs: none of its months has day ${texts[2]}; ${EXPECTED}`;
    }
  }
  try {
    CronExpressionParser.parse(schedule, { tz: 'UTC' }).next();
  } catch {
    return `${shown(schedule)} is valid for Kubernetes but plane-k3s verify's cron reader (cron-parser) cannot read it: write it with plain numbers, ranges and steps`;
  }
  return undefined;
}
