// Alert latency benchmark (issue 15): the time from a new terminal failure (a real Oban row) to its
// card in the fake Slack channel, with the real alert runner ticking on real timers at
// `alerts.interval`, the real WebClient and the state tables migrated. Failures land at random
// moments of the interval, one schema each (each opens its own card). Target: under the interval
// plus 2 s. Also the wall time of a runner tick over every schema when nothing changed.
// `benchAlertLatency()` returns the figures; `tsx bench/alertLatency.ts` prints them as JSON.
//
// Environment: DATABASE_URL / MEILISEARCH_URL (+ MEILISEARCH_API_KEY) reuse existing servers,
// otherwise embedded ones start (devkit/services/services.ts). Everything seeded is dropped at the end.
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { LogLevel, WebClient } from "@slack/web-api";
import pg from "pg";
import { FakeSlack } from "../devkit/fakeSlack/index.ts";
import { upsertArgs } from "../devkit/oban/jobArgs.ts";
import { insertJob } from "../devkit/oban/rows.ts";
import { createObanSchema } from "../devkit/oban/schema.ts";
import { type Services, startServices } from "../devkit/services/services.ts";
import { createAlertRunner } from "../src/alerts/runner.ts";
import { createMeiliClient } from "../src/backends/meilisearch.ts";
import { createPool } from "../src/backends/postgres.ts";
import { parseConfig } from "../src/config.ts";
import { createOperator } from "../src/operator/index.ts";
import { summarize, type Timing } from "./measure.ts";

export interface AlertLatencyFigures {
  intervalSeconds: number;
  schemas: number;
  /** Milliseconds from the failure's insert to its card in the channel. */
  latencyMs: Timing;
  /** The worst latency minus the interval: what the check and the post add (target < 2000). */
  overIntervalMs: number;
  /** A tick over every schema when nothing changed (each check keeps its previous observation). */
  steadyTickMs: Timing;
}

export interface AlertLatencyOptions {
  databaseUrl?: string;
  meilisearchUrl?: string;
  meilisearchApiKey?: string | null;
  intervalSeconds?: number;
  samples?: number;
  log?: (line: string) => void;
}

const QUEUE = "search_sync";
const moduleOf = (i: number) => `BenchApp.Alert.Schema${i}`;
const channelOf = (i: number) => `C0BENCHAL${String(i).padStart(2, "0")}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function benchAlertLatency(options: AlertLatencyOptions = {}): Promise<AlertLatencyFigures> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[bench:alert-latency] ${line}\n`));
  const interval = options.intervalSeconds ?? 10;
  const samples = options.samples ?? 8;
  const schemas = samples + 4;
  const runId = randomBytes(4).toString("hex");
  const prefix = `bench_alert_${runId}`;
  const indexPrefix = `benchalert${runId}`;
  let services: Services | undefined;
  if (!options.databaseUrl || !options.meilisearchUrl) services = await startServices({ env: process.env });
  const databaseUrl = options.databaseUrl ?? (services as Services).databaseUrl;
  const meilisearchUrl = options.meilisearchUrl ?? (services as Services).meilisearchUrl;
  const apiKey = options.meilisearchApiKey ?? services?.meilisearchApiKey ?? null;

  const admin = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  admin.on("error", () => {});
  const fake = await FakeSlack.start({ realTime: true });
  const config = parseConfig(
    {
      meilisearch: { url: meilisearchUrl, ...(apiKey ? { apiKey } : {}) },
      database: { url: databaseUrl, obanPrefix: prefix },
      indexPrefix,
      state: { schema: `${prefix}_state` },
      schemas: Array.from({ length: schemas }, (_, i) => ({
        module: moduleOf(i),
        syncMode: "oban",
        obanQueue: QUEUE,
      })),
      alerts: {
        interval,
        subscriptions: Array.from({ length: schemas }, (_, i) => ({
          channel: channelOf(i),
          schemas: [moduleOf(i)],
          on: ["failures"],
        })),
      },
    },
    {},
  );
  const operator = createOperator({
    config,
    db: createPool(databaseUrl, { max: 5 }),
    meili: createMeiliClient(config.meilisearch),
  });
  const client = new WebClient("xoxb-bench", {
    slackApiUrl: fake.apiUrl,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    logLevel: LogLevel.ERROR,
  });
  const runner = createAlertRunner({
    operator,
    config,
    client,
    clock: () => new Date(),
    subscriptions: () => operator.alertSubscriptions.effective(),
    instanceId: "bench",
  });
  try {
    log(`seeding ${schemas} schemas under ${prefix}`);
    await createObanSchema(admin, prefix);
    await operator.migrate();
    // Steady state: every schema checked once, then ticks where nothing moved.
    await runner.tick();
    const steady: number[] = [];
    for (let n = 0; n < 5; n++) {
      await sleep(interval * 1000);
      const t = performance.now();
      await runner.tick();
      steady.push(performance.now() - t);
    }
    log(`steady tick over ${schemas} schemas: ${steady.map((ms) => Math.round(ms)).join(", ")} ms`);

    runner.start();
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      await sleep(Math.random() * interval * 1000);
      const at = new Date();
      const t = performance.now();
      await insertJob(admin, prefix, {
        state: "discarded",
        queue: QUEUE,
        args: upsertArgs(moduleOf(i), `${indexPrefix}_schema${i}`, [i + 1]),
        errors: [{ at: at.toISOString(), attempt: 3, error: "** (Req.TransportError) timeout" }],
        attempt: 3,
        maxAttempts: 3,
        attemptedAt: at,
        discardedAt: at,
      });
      await fake.until(
        () => fake.listMessages(channelOf(i)).length > 0,
        interval * 1000 + 30_000,
        () => `no card for schema ${i}`,
      );
      latencies.push(performance.now() - t);
      log(`failure → card ${Math.round(latencies.at(-1) as number)} ms`);
    }
    const latencyMs = summarize(latencies);
    return {
      intervalSeconds: interval,
      schemas,
      latencyMs,
      overIntervalMs: Math.round(Math.max(...latencies) - interval * 1000),
      steadyTickMs: summarize(steady),
    };
  } finally {
    await runner.stop().catch(() => {});
    await operator.close().catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS "${prefix}" CASCADE`).catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS "${prefix}_state" CASCADE`).catch(() => {});
    await admin.end().catch(() => {});
    await fake.close();
    await services?.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await benchAlertLatency({
    ...(process.env.ALERT_INTERVAL ? { intervalSeconds: Number(process.env.ALERT_INTERVAL) } : {}),
  });
  process.stdout.write(
    `${JSON.stringify({ benchmark: "alert latency", ...figures, pass: figures.overIntervalMs < 2000 }, null, 2)}\n`,
  );
}
