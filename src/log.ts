// Structured logs: one JSON object per line (`level`, `time`, `msg`, then fields), secrets and
// control characters removed before anything is written (core/redact's `secretScrubber`, the same
// function the CLI uses). `boltLogger` adapts it to Bolt's Logger interface so that Bolt's,
// the Web API client's and the Socket Mode client's own lines come out as JSON too.
import type { Logger as BoltLogger } from "@slack/bolt";
import { LogLevel } from "@slack/bolt";
import { redactValue, secretScrubber } from "./core/redact.ts";
import { stripControls } from "./core/sanitize.ts";

export type Level = "debug" | "info" | "warn" | "error";

const SEVERITY: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: Fields): Logger;
  level: Level;
}

export interface LoggerOptions {
  level?: Level;
  /** Where lines go; default stdout. */
  write?: (line: string) => void;
  /** Exact secret values (tokens, signing secret, API keys) to scrub wherever they appear. */
  secrets?: (string | null | undefined)[];
  now?: () => Date;
}

const MAX_STRING = 4000;

export function parseLevel(value: string | undefined, fallback: Level = "info"): Level {
  const v = value?.trim().toLowerCase();
  return v === "debug" || v === "info" || v === "warn" || v === "error" ? v : fallback;
}

/**
 * Scrubs one string: known secret values, then the shape rules (Slack tokens, response_url and
 * webhook paths, URL passwords…), then terminal escapes and bidi controls; cut to MAX_STRING.
 */
function scrubber(secrets: (string | null | undefined)[]): (text: string) => string {
  const redact = secretScrubber(secrets);
  return (text) => {
    const out = stripControls(redact(text));
    return out.length > MAX_STRING ? `${out.slice(0, MAX_STRING)}…` : out;
  };
}

/** Errors become plain objects (name, message, code, stack, cause) so they survive JSON. */
function plain(value: unknown, depth = 0): unknown {
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; cause?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(e.code !== undefined ? { code: e.code } : {}),
      ...(e.stack ? { stack: e.stack } : {}),
      ...(e.cause !== undefined && depth < 3 ? { cause: plain(e.cause, depth + 1) } : {}),
    };
  }
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return depth > 6 ? "[…]" : value.map((v) => plain(v, depth + 1));
  if (value && typeof value === "object" && !(value instanceof Date)) {
    if (depth > 6) return "[…]";
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v, depth + 1)]));
  }
  return value;
}

function scrubDeep(value: unknown, scrub: (text: string) => string): unknown {
  if (typeof value === "string") return scrub(value);
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, scrub));
  if (value && typeof value === "object" && !(value instanceof Date)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubDeep(v, scrub)]));
  }
  return value;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const scrub = scrubber(options.secrets ?? []);
  const now = options.now ?? (() => new Date());
  const state = { level: options.level ?? "info" };

  const emit = (level: Level, msg: string, fields: Fields) => {
    if (SEVERITY[level] < SEVERITY[state.level]) return;
    // redactValue hides secret-named keys (token, apiKey, password…); scrub catches values in text.
    const safe = scrubDeep(redactValue(plain(fields)), scrub) as Fields;
    const { level: _l, time: _t, msg: _m, ...rest } = safe;
    let line: string;
    try {
      line = JSON.stringify({ level, time: now().toISOString(), msg: scrub(msg), ...rest });
    } catch {
      line = JSON.stringify({
        level,
        time: now().toISOString(),
        msg: scrub(msg),
        fields: "[unserialisable]",
      });
    }
    try {
      write(line);
    } catch {
      // A closed stdout must not take the bot down.
    }
  };

  const make = (bound: Fields): Logger => ({
    debug: (msg, fields = {}) => emit("debug", msg, { ...bound, ...fields }),
    info: (msg, fields = {}) => emit("info", msg, { ...bound, ...fields }),
    warn: (msg, fields = {}) => emit("warn", msg, { ...bound, ...fields }),
    error: (msg, fields = {}) => emit("error", msg, { ...bound, ...fields }),
    child: (fields) => make({ ...bound, ...fields }),
    get level() {
      return state.level;
    },
    set level(value: Level) {
      state.level = value;
    },
  });
  return make({});
}

/** Bolt passes any values; strings are kept, errors and objects go to fields. */
function boltLine(args: unknown[]): { msg: string; fields: Fields } {
  const words: string[] = [];
  const fields: Fields = {};
  let extra = 0;
  for (const arg of args) {
    if (typeof arg === "string") words.push(arg);
    else if (arg instanceof Error) {
      words.push(arg.message);
      fields.error = arg;
    } else if (typeof arg === "number" || typeof arg === "boolean" || arg == null) words.push(String(arg));
    else fields[`detail${extra++ || ""}`] = arg;
  }
  return { msg: words.join(" "), fields };
}

/** Bolt's Logger interface over a JSON logger; `logger` on each line names the Bolt component. */
export function boltLogger(logger: Logger, name = "bolt"): BoltLogger {
  let component = name;
  const log = (level: Level, args: unknown[]) => {
    const { msg, fields } = boltLine(args);
    logger[level](msg, { logger: component, ...fields });
  };
  return {
    debug: (...msg: unknown[]) => log("debug", msg),
    info: (...msg: unknown[]) => log("info", msg),
    warn: (...msg: unknown[]) => log("warn", msg),
    error: (...msg: unknown[]) => log("error", msg),
    setLevel: (level: LogLevel) => {
      logger.level = parseLevel(level, logger.level);
    },
    getLevel: () => toBoltLevel(logger.level),
    setName: (value: string) => {
      component = value;
    },
  };
}

export function toBoltLevel(level: Level): LogLevel {
  return { debug: LogLevel.DEBUG, info: LogLevel.INFO, warn: LogLevel.WARN, error: LogLevel.ERROR }[level];
}
