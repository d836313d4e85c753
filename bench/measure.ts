// Timing, memory and I/O capture helpers.
import type pg from "pg";

export interface Timing {
  /** Runs that completed (failed runs are counted in `errors`, not timed). */
  runs: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
  /** Every sample, in the order taken (to see when outliers happened). */
  samplesMs: number[];
  errors?: { count: number; first: string };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

/** The nearest-rank `q` quantile of ascending `sorted`. */
function nearestRank(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}

/** Nearest-rank percentile of the samples, in ms (one decimal). */
export function percentile(samples: number[], q: number): number {
  return round(
    nearestRank(
      [...samples].sort((a, b) => a - b),
      q,
    ),
  );
}

/** Median and nearest-rank p95 of the samples, in ms (one decimal). */
export function summarize(samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median =
    sorted.length % 2 === 1
      ? (sorted[Math.floor(mid)] ?? 0)
      : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
  return {
    runs: sorted.length,
    medianMs: round(median),
    p95Ms: round(nearestRank(sorted, 0.95)),
    minMs: round(sorted[0] ?? 0),
    maxMs: round(sorted[sorted.length - 1] ?? 0),
    samplesMs: samples.map(round),
  };
}

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/** Collects the durations of successful runs and the failures (e.g. a statement timeout). */
class Samples {
  readonly ms: number[] = [];
  private errors = 0;
  private first = "";

  async time(fn: () => Promise<unknown>): Promise<void> {
    const start = performance.now();
    try {
      await fn();
      this.ms.push(performance.now() - start);
    } catch (error) {
      this.errors += 1;
      this.first ||= `${error instanceof Error ? error.message : String(error)} (after ${Math.round(performance.now() - start)} ms)`;
    }
  }

  summary(): Timing {
    const timing = summarize(this.ms);
    return this.errors > 0 ? { ...timing, errors: { count: this.errors, first: this.first } } : timing;
  }
}

/**
 * Times `op` and `floor` alternately (op first on even runs, floor first on odd ones, so neither
 * always runs on a warmer cache), after `warmups` untimed rounds of both. A run that throws is
 * counted as an error, not timed, and the measurement goes on.
 */
export async function compare(
  op: () => Promise<unknown>,
  floor: () => Promise<unknown>,
  options: { warmups: number; runs: number },
): Promise<{ op: Timing; floor: Timing }> {
  const ignore = async (fn: () => Promise<unknown>) => fn().catch(() => {});
  for (let i = 0; i < options.warmups; i++) {
    await ignore(op);
    await ignore(floor);
  }
  const opRuns = new Samples();
  const floorRuns = new Samples();
  for (let i = 0; i < options.runs; i++) {
    if (i % 2 === 0) {
      await opRuns.time(op);
      await floorRuns.time(floor);
    } else {
      await floorRuns.time(floor);
      await opRuns.time(op);
    }
  }
  return { op: opRuns.summary(), floor: floorRuns.summary() };
}

const MB = 1024 * 1024;

/** Samples `process.memoryUsage.rss()` every `everyMs` while running. */
export class RssSampler {
  private peak = 0;
  private timer: NodeJS.Timeout | undefined;

  start(everyMs = 10): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
    return this;
  }

  private sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }

  /** Stops sampling; returns the highest RSS seen, in MB. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return Math.round((this.peak / MB) * 10) / 10;
  }
}

/** `process.resourceUsage().maxRSS` (KB, the process's peak so far) in MB. */
export function maxRssMb(): number {
  return Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
}

export interface CapturedSql {
  /** Position among all the requests of the capture (SQL and HTTP), in the order they were sent. */
  seq: number;
  text: string;
  values: unknown[];
}

export interface CapturedHttp {
  seq: number;
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}

export interface Capture {
  sql: CapturedSql[];
  http: CapturedHttp[];
}

function headersOf(init: RequestInit | undefined): Record<string, string> {
  const headers = new Headers(init?.headers);
  return Object.fromEntries(headers.entries());
}

/**
 * Runs `fn` once while recording every `pool.query(text, values)` on `pool` and every `fetch`
 * (the meilisearch client calls the global fetch per request), exactly as sent.
 */
export async function capture(pool: pg.Pool, fn: () => Promise<unknown>): Promise<Capture> {
  const recorded: Capture = { sql: [], http: [] };
  let seq = 0;
  const query = pool.query;
  const fetch = globalThis.fetch;
  pool.query = function (this: pg.Pool, text: unknown, values?: unknown) {
    if (typeof text !== "string") throw new Error("bench capture expects pool.query(text, values)");
    recorded.sql.push({ seq: seq++, text, values: Array.isArray(values) ? [...values] : [] });
    return (query as (t: unknown, v?: unknown) => unknown).call(this, text, values);
  } as typeof pool.query;
  globalThis.fetch = (input: string | URL | Request, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    recorded.http.push({
      seq: seq++,
      url,
      method: init?.method ?? (input instanceof Request ? input.method : "GET"),
      headers: headersOf(init),
      ...(typeof init?.body === "string" ? { body: init.body } : {}),
    });
    return fetch(input, init);
  };
  try {
    await fn();
  } finally {
    pool.query = query;
    globalThis.fetch = fetch;
  }
  return recorded;
}
