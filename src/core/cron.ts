// Whether a digest's schedule can run: its cron expression (node-cron's own parser, five fields, at
// most once a minute) and its IANA time zone. Pure: config validation and the slot arithmetic of
// src/digest/schedule.ts both take it from here.
import cron from "node-cron";

/** Why `expression` cannot schedule a digest (node-cron's field error), or null when it can. */
export function cronProblem(expression: string): string | null {
  const result = cron.validateDetailed(expression);
  if (!result.valid) {
    const e = result.errors[0];
    return e ? `${e.field === "expression" ? "" : `${e.field}: `}${e.message}` : "invalid cron expression";
  }
  const seconds = result.fields?.second ?? [0];
  if (seconds.length !== 1 || seconds[0] !== 0) {
    return "digests run at most once a minute: use five fields (minute hour day-of-month month day-of-week)";
  }
  return null;
}

/** Whether `zone` is an IANA time zone name this runtime knows. */
export function isTimeZone(zone: string): boolean {
  if (zone.trim() === "" || /^[+-]/.test(zone)) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
