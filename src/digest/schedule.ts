// Digest slots: the moments a digest's cron expression names, in its IANA time zone, computed from
// an injected "now" (no timers). node-cron does the matching (`createTask(...).match`, which reads
// the wall time in the zone through Intl); this module only enumerates candidate wall times from
// node-cron's own parsed fields and turns them into instants.
//
// A slot is identified by its local wall time plus the zone: `2026-10-25T02:30 Europe/Berlin`.
// - Spring forward: a wall time that does not exist that day (02:30 on 2026-03-29 in Berlin) has
//   no slot; the digest skips that day, as node-cron's own scheduler does.
// - Fall back: a wall time that happens twice (02:30 on 2026-10-25 in Berlin) is ONE slot, due at
//   its first occurrence; the second occurrence has the same key, so it can never post again.
import cron, { type ScheduledTask } from "node-cron";
import { cronProblem } from "../core/cron.ts";

export interface Slot {
  /** When the slot is due (the first occurrence of its wall time). */
  at: Date;
  /** `YYYY-MM-DDTHH:MM <zone>`: the local wall time and the zone, unique per slot. */
  key: string;
}

/** What slot arithmetic needs of a digest. */
export interface SlotSchedule {
  cron: string;
  timezone: string;
}

/** How far back `latestSlot` looks: a weekly digest always has a slot in range. */
export const LOOKBACK_DAYS = 8;
/** How far ahead `nextSlot` looks before giving up (a Feb 29 schedule can be years away). */
export const LOOKAHEAD_DAYS = 400;

const MINUTE = 60_000;
const DAY = 86_400_000;

// ── Wall time ⇄ instants ────────────────────────────────────────────────────────────────────

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall time (to the second) an instant reads as in `zone`. */
function wallAt(ms: number, zone: string): Wall & { second: number } {
  const out = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(zone).formatToParts(new Date(ms))) {
    if (part.type in out) out[part.type as keyof typeof out] = Number(part.value);
  }
  return out;
}

/** Minutes `zone` is ahead of UTC at instant `ms`. */
function offsetAt(ms: number, zone: string): number {
  const w = wallAt(ms, zone);
  const floored = Math.floor(ms / 1000) * 1000;
  return (Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - floored) / MINUTE;
}

const wallUtc = (w: Wall): number => Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute);

/**
 * The first instant `zone` reads as wall time `w`, or null when that wall time does not exist
 * (a spring-forward gap). Offsets are sampled ±14 h around the naive guess: every real offset
 * lies within that window, and zones do not change offset twice in 28 hours.
 */
function firstInstant(w: Wall, zone: string): number | null {
  const guess = wallUtc(w);
  const offsets = new Set([14 * -60, 0, 14 * 60].map((shift) => offsetAt(guess + shift * MINUTE, zone)));
  let first: number | null = null;
  for (const offset of offsets) {
    const candidate = guess - offset * MINUTE;
    const back = wallAt(candidate, zone);
    const same =
      back.year === w.year &&
      back.month === w.month &&
      back.day === w.day &&
      back.hour === w.hour &&
      back.minute === w.minute;
    if (same && (first === null || candidate < first)) first = candidate;
  }
  return first;
}

interface DayConverter {
  /** The instant of a wall time on this day (null in a spring-forward gap). */
  instant(hour: number, minute: number): number | null;
  /** Bounds of that instant without computing it exactly: cheap, for skipping. */
  bounds(hour: number, minute: number): [low: number, high: number];
}

/** Instants of the wall times of one local day; a fast path when the day has no offset change. */
function dayConverter(day: Wall, zone: string): DayConverter {
  const start = Date.UTC(day.year, day.month - 1, day.day);
  const before = offsetAt(start - 14 * 60 * MINUTE, zone);
  const after = offsetAt(start + DAY + 14 * 60 * MINUTE, zone);
  const naive = (hour: number, minute: number, offset: number) =>
    start + (hour * 60 + minute - offset) * MINUTE;
  return {
    instant:
      before === after
        ? (hour, minute) => naive(hour, minute, before)
        : (hour, minute) => firstInstant({ ...day, hour, minute }, zone),
    bounds: (hour, minute) => [
      naive(hour, minute, Math.max(before, after)),
      naive(hour, minute, Math.min(before, after)),
    ],
  };
}

function shiftDay(day: Wall, by: number): Wall {
  const d = new Date(Date.UTC(day.year, day.month - 1, day.day + by));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate(), hour: 0, minute: 0 };
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** The slot key of an instant: its wall time in `zone` to the minute, and the zone. */
export function slotKey(at: Date, zone: string): string {
  const w = wallAt(at.getTime(), zone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)} ${zone}`;
}

// ── Matching ────────────────────────────────────────────────────────────────────────────────

interface Matcher {
  /** node-cron's matcher for the expression in the zone. */
  matches(ms: number): boolean;
  hours: number[];
  minutes: number[];
}

const matchers = new Map<string, Matcher>();

function matcherFor(schedule: SlotSchedule): Matcher {
  const cacheKey = `${schedule.timezone}\u0000${schedule.cron}`;
  let m = matchers.get(cacheKey);
  if (!m) {
    const problem = cronProblem(schedule.cron);
    if (problem) throw new Error(`invalid cron expression "${schedule.cron}": ${problem}`);
    const fields = cron.parse(schedule.cron);
    // A task that is never started sets no timer; destroying it at once only takes it out of
    // node-cron's global registry, its matcher keeps working.
    const task: ScheduledTask = cron.createTask(schedule.cron, () => {}, { timezone: schedule.timezone });
    void task.destroy();
    m = {
      matches: (ms) => task.match(new Date(ms)),
      hours: [...new Set(fields.hour)].sort((a, b) => a - b),
      minutes: [...new Set(fields.minute)].sort((a, b) => a - b),
    };
    matchers.set(cacheKey, m);
  }
  return m;
}

/**
 * Walks local days from `now`'s day in `direction`, wall times in order, and returns the first slot
 * after `now` (forward) or at or before it (backward, not before `floor`). A candidate node-cron
 * rejects fails on its day fields (the wall time itself is in the hour and minute lists), so the
 * rest of that day is skipped.
 */
function walk(
  schedule: SlotSchedule,
  now: Date,
  direction: 1 | -1,
  days: number,
  floor = Number.NEGATIVE_INFINITY,
): Slot | null {
  const m = matcherFor(schedule);
  const zone = schedule.timezone;
  const t = now.getTime();
  const hours = direction === 1 ? m.hours : [...m.hours].reverse();
  const minutes = direction === 1 ? m.minutes : [...m.minutes].reverse();
  // Wall times on the wrong side of `now`, cheaply ruled out before the exact conversion.
  const wrongSide = ([low, high]: [number, number]) => (direction === 1 ? high <= t : low > t);
  let day: Wall = wallAt(t, zone);
  for (let i = 0; i <= days; i++, day = shiftDay(day, direction)) {
    const convert = dayConverter(day, zone);
    dayLoop: for (const hour of hours) {
      for (const minute of minutes) {
        if (wrongSide(convert.bounds(hour, minute))) continue;
        const at = convert.instant(hour, minute);
        if (at === null || (direction === 1 ? at <= t : at > t)) continue;
        if (at < floor) return null;
        if (!m.matches(at)) break dayLoop;
        return { at: new Date(at), key: slotKey(new Date(at), zone) };
      }
    }
  }
  return null;
}

/** The newest slot at or before `now`, within the last LOOKBACK_DAYS days; null when none. */
export function latestSlot(schedule: SlotSchedule, now: Date): Slot | null {
  return walk(schedule, now, -1, LOOKBACK_DAYS + 1, now.getTime() - LOOKBACK_DAYS * DAY);
}

/** The first slot after `now`, within LOOKAHEAD_DAYS days; null when none. */
export function nextSlot(schedule: SlotSchedule, now: Date): Slot | null {
  return walk(schedule, now, 1, LOOKAHEAD_DAYS);
}
