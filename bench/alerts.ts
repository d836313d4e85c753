// Alert check figures (issue 15), on the seeded 1M-row dataset: what one alert check of the bench
// schema costs the application's database when nothing changed (the change fingerprint only), what
// it costs when something did (the full rollup), and the fingerprint's bare statements (its floor).
// Database time is the time the operator's pool spent in `query` (loopback round trips included),
// per check and per schema per minute at the configured interval. And the time from a new terminal
// failure (a real Oban row in the bench schema) to the card that shows it (its first post, then an
// edit with the new count) with the real alert runner ticking on real timers at `alerts.interval`.
import { LogLevel, WebClient } from "@slack/web-api";
import type pg from "pg";
import { FakeSlack } from "../devkit/fakeSlack/index.ts";
import { upsertArgs } from "../devkit/oban/jobArgs.ts";
import { insertJob } from "../devkit/oban/rows.ts";
import { createAlertRunner } from "../src/alerts/runner.ts";
import type { Config } from "../src/config.ts";
import type { Operator } from "../src/operator/index.ts";
import { operatorContext } from "../src/operator/internal.ts";
import { summarize, type Timing } from "./measure.ts";

export interface AlertCheckFigures {
  /** Wall time of one check, and the database time and statements inside it. */
  wall: Timing;
  dbMs: Timing;
  statements: number;
  /** Whether every run took the full read (true) or kept the previous observation (false). */
  full: boolean;
}

export interface AlertBenchFigures {
  intervalSeconds: number;
  steady: AlertCheckFigures;
  changed: AlertCheckFigures;
  /** The fingerprint's own statements replayed with pool.query (the floor of a steady check). */
  floorMs: Timing;
  /** Database time per schema per minute with nothing changing, at the interval (median). */
  steadyDbMsPerMinute: number;
  /** The same, if every check took the full read (what the fingerprint saves). */
  fullDbMsPerMinute: number;
}

const round = (n: number) => Math.round(n * 10) / 10;

export async function benchAlerts(
  operator: Operator,
  options: { module: string; runs?: number; intervalSeconds: number },
): Promise<AlertBenchFigures> {
  const runs = options.runs ?? 20;
  const db = operatorContext(operator).db;
  // Time every statement the operator's pool runs (the bench process is the pool's only user).
  const captured: { sql: string; params: unknown[]; ms: number }[] = [];
  const query = db.query.bind(db) as (...args: unknown[]) => Promise<unknown>;
  (db as { query: unknown }).query = async (...args: unknown[]) => {
    const start = performance.now();
    try {
      return await query(...args);
    } finally {
      const [text, params] = args as [string | { text: string }, unknown[] | undefined];
      captured.push({
        sql: typeof text === "string" ? text : text.text,
        params: params ?? [],
        ms: performance.now() - start,
      });
    }
  };

  async function measure(previous: () => Parameters<Operator["observeSchema"]>[1]) {
    const wall: number[] = [];
    const dbMs: number[] = [];
    let statements = 0;
    let full = true;
    let last: Awaited<ReturnType<Operator["observeSchema"]>> | null = null;
    for (let i = 0; i < runs + 2; i++) {
      captured.length = 0;
      const start = performance.now();
      last = await operator.observeSchema(options.module, previous());
      const elapsed = performance.now() - start;
      if (last.problems.length > 0) throw new Error(`alert check failed: ${last.problems[0]?.message}`);
      if (i < 2) continue; // warm-up
      wall.push(elapsed);
      dbMs.push(captured.reduce((sum, c) => sum + c.ms, 0));
      statements = captured.length;
      full = last.full;
    }
    return { wall: summarize(wall), dbMs: summarize(dbMs), statements, full, last, sql: [...captured] };
  }

  const changed = await measure(() => null);
  const memory = { fingerprint: changed.last?.fingerprint ?? null, observation: changed.last };
  const steady = await measure(() => memory);
  if (steady.full) throw new Error("the steady checks took the full read: the fingerprint moved");

  // The floor: the steady check's statements, replayed bare.
  const floor: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await Promise.all(steady.sql.map((c) => query(c.sql, c.params)));
    floor.push(performance.now() - start);
  }
  (db as { query: unknown }).query = query;

  const perMinute = 60 / options.intervalSeconds;
  const strip = ({ wall, dbMs, statements, full }: typeof steady): AlertCheckFigures => ({
    wall,
    dbMs,
    statements,
    full,
  });
  return {
    intervalSeconds: options.intervalSeconds,
    steady: strip(steady),
    changed: strip(changed),
    floorMs: summarize(floor),
    steadyDbMsPerMinute: round(steady.dbMs.medianMs * perMinute),
    fullDbMsPerMinute: round(changed.dbMs.medianMs * perMinute),
  };
}

export interface CardLatencyFigures {
  intervalSeconds: number;
  /** Milliseconds from each failure's insert to the card change showing it (the first: its post). */
  latencyMs: Timing;
  /** The worst latency minus the interval: what the check and the post add (target < 2000 ms). */
  overIntervalMs: number;
}

/**
 * Failure → card on the seeded dataset: the runner (its own operator, the fake Slack through the
 * real WebClient) watches the bench schema; each sample inserts one discarded row at a random
 * moment of the interval and waits for the card's post or edit.
 */
export async function benchCardLatency(
  operator: Operator,
  config: Config,
  seeded: { pool: pg.Pool; prefix: string; module: string; queue: string; live: string; samples?: number },
  log: (line: string) => void,
): Promise<CardLatencyFigures> {
  const interval = config.alerts.interval;
  const channel = "C0BENCHALERT";
  const withSubscription: Config = {
    ...config,
    alerts: {
      ...config.alerts,
      subscriptions: [{ channel, schemas: [seeded.module], on: ["failures"], minFailures: 1, mention: null }],
    },
  };
  const fake = await FakeSlack.start({ realTime: true });
  const client = new WebClient("xoxb-bench", {
    slackApiUrl: fake.apiUrl,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    logLevel: LogLevel.ERROR,
  });
  const subscriptions = async () =>
    withSubscription.alerts.subscriptions.map((sub, i) => ({
      ...sub,
      key: `config:${i}`,
      source: "config" as const,
      createdBy: null,
      createdAt: null,
    }));
  const runner = createAlertRunner({
    operator,
    config: withSubscription,
    client,
    clock: () => new Date(),
    subscriptions,
    instanceId: "bench",
  });
  const cardChanges = () =>
    fake.callsTo("chat.postMessage").filter((c) => c.body.channel === channel && !c.body.thread_ts).length +
    fake.callsTo("chat.update").filter((c) => c.body.channel === channel).length;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  try {
    // A first check records the observation (and any card the seeded failures already open).
    await runner.tick();
    runner.start();
    await sleep(interval * 1000);
    const latencies: number[] = [];
    for (let i = 0; i < (seeded.samples ?? 4); i++) {
      await sleep(Math.random() * interval * 1000);
      const before = cardChanges();
      const at = new Date();
      const start = performance.now();
      await insertJob(seeded.pool, seeded.prefix, {
        state: "discarded",
        queue: seeded.queue,
        args: upsertArgs(seeded.module, seeded.live, [10_000_000 + i]),
        errors: [{ at: at.toISOString(), attempt: 3, error: "** (Req.TransportError) timeout" }],
        attempt: 3,
        maxAttempts: 3,
        attemptedAt: at,
        discardedAt: at,
      });
      await fake.until(
        () => cardChanges() > before,
        interval * 1000 + 60_000,
        () => `no card change for failure ${i}`,
      );
      latencies.push(performance.now() - start);
      log(`failure → card ${Math.round(latencies.at(-1) as number)} ms`);
    }
    return {
      intervalSeconds: interval,
      latencyMs: summarize(latencies),
      overIntervalMs: Math.round(Math.max(...latencies) - interval * 1000),
    };
  } finally {
    await runner.stop().catch(() => {});
    await fake.close();
  }
}
