// Digest benchmark: 200 configured schemas (a few with real failed Oban jobs and real failed
// Meilisearch tasks, a few with a declared contract, most with no data at all), timed while one
// digest is built through the operator (bounded concurrency) and posted to the fake Slack Web API
// with the real WebClient, paced at one message per second per channel as in production.
// `benchDigest()` returns the figures; `tsx bench/digest.ts` prints them as JSON. Target: < 10 s.
//
// Environment: DATABASE_URL / MEILISEARCH_URL (+ MEILISEARCH_API_KEY) reuse existing servers,
// otherwise embedded ones start (devkit/services/services.ts). Everything seeded is dropped at the end.
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import { LogLevel, WebClient } from "@slack/web-api";
import { Meilisearch } from "meilisearch";
import pg from "pg";
import { FakeSlack } from "../devkit/fakeSlack/index.ts";
import { createObanSchema } from "../devkit/oban/schema.ts";
import { type Services, startServices } from "../devkit/services/services.ts";
import { createMeiliClient } from "../src/backends/meilisearch.ts";
import { createPool } from "../src/backends/postgres.ts";
import { parseConfig } from "../src/config.ts";
import { diffDigest } from "../src/core/digest.ts";
import { buildDigest, DIGEST_CONCURRENCY } from "../src/digest/content.ts";
import { createPacer, postDigest, realSleep } from "../src/digest/poster.ts";
import { createOperator } from "../src/operator/index.ts";
import { digestDetails, digestParent } from "../views/digest.ts";

export interface DigestBenchFigures {
  schemas: number;
  buildMs: number;
  postMs: number;
  totalMs: number;
  /** Messages posted: the parent and its thread replies. */
  messages: number;
}

export interface DigestBenchOptions {
  /** Existing servers; when left out, those of the environment or embedded ones are used. */
  databaseUrl?: string;
  meilisearchUrl?: string;
  meilisearchApiKey?: string | null;
  schemas?: number;
  log?: (line: string) => void;
}

const SCHEMAS = 200;
/** Schemas with real failed Oban jobs, with real failed Meilisearch tasks, with a declared contract. */
const WITH_FAILED_JOBS = 12;
const WITH_FAILED_TASKS = 3;
const WITH_CONTRACT = 5;
const QUEUE = "search_sync";

const moduleOf = (i: number) => `BenchApp.Digest.Schema${i}`;
const ms = (start: number) => Math.round(performance.now() - start);

export async function benchDigest(options: DigestBenchOptions = {}): Promise<DigestBenchFigures> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[bench:digest] ${line}\n`));
  const count = options.schemas ?? SCHEMAS;
  const runId = randomBytes(4).toString("hex");
  const prefix = `bench_digest_${runId}`;
  const indexPrefix = `benchdigest${runId}`;
  let services: Services | undefined;
  if (!options.databaseUrl || !options.meilisearchUrl) services = await startServices({ env: process.env });
  const databaseUrl = options.databaseUrl ?? (services as Services).databaseUrl;
  const meilisearchUrl = options.meilisearchUrl ?? (services as Services).meilisearchUrl;
  const apiKey = options.meilisearchApiKey ?? services?.meilisearchApiKey ?? null;

  const admin = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  admin.on("error", () => {});
  const meili = new Meilisearch({ host: meilisearchUrl, apiKey: apiKey ?? undefined });
  const fake = await FakeSlack.start();
  const config = parseConfig(
    {
      meilisearch: { url: meilisearchUrl, ...(apiKey ? { apiKey } : {}) },
      database: { url: databaseUrl, obanPrefix: prefix },
      indexPrefix,
      state: { schema: `${prefix}_state` },
      schemas: Array.from({ length: count }, (_, i) => ({
        module: moduleOf(i),
        ...(i % 2 === 0 ? { syncMode: "oban", obanQueue: QUEUE } : { syncMode: "inline" }),
        ...(i < WITH_CONTRACT ? { contract: { fields: ["title"], filterable: ["status"] } } : {}),
      })),
      digests: [{ name: "bench", channel: "C0BENCH01", cron: "0 9 * * *", when: "always" }],
    },
    {},
  );
  const operator = createOperator({
    config,
    db: createPool(databaseUrl, { max: 5 }),
    meili: createMeiliClient(config.meilisearch),
  });
  const liveIndex = (i: number) => `${indexPrefix}_schema${i}`;
  try {
    log(`seeding ${count} schemas under ${prefix} / ${indexPrefix}_*`);
    await createObanSchema(admin, prefix);
    // Real failed jobs (retryable and discarded, two classes) for the first few oban schemas.
    await admin.query(
      `INSERT INTO "${prefix}".oban_jobs (state, queue, worker, args, errors, attempt, max_attempts)
       SELECT (CASE WHEN k = 1 THEN 'discarded' ELSE 'retryable' END)::"${prefix}".oban_job_state, $1,
              'Scrypath.Oban.UpsertWorker',
              jsonb_build_object('operation', 'upsert', 'schema', 'Elixir.BenchApp.Digest.Schema' || (g * 2),
                'index', $2 || '_schema' || (g * 2), 'document_ids', jsonb_build_array(k)),
              ARRAY[jsonb_build_object('at', '2026-11-20T07:00:00Z', 'attempt', 1,
                'error', CASE WHEN k = 1 THEN '** (Req.TransportError) timeout' ELSE '** (Ecto.CastError) bad' END)],
              1, 3
       FROM generate_series(0, $3::int - 1) g, generate_series(1, 2) k`,
      [QUEUE, indexPrefix, WITH_FAILED_JOBS],
    );
    // Real failed document tasks (a document without its primary key), and contract indexes.
    const enqueued = await Promise.all([
      ...Array.from({ length: WITH_FAILED_TASKS }, (_, i) =>
        meili.index(liveIndex(i + 1)).addDocuments([{ title: "no id" }], { primaryKey: "id" }),
      ),
      ...Array.from({ length: WITH_CONTRACT }, (_, i) =>
        meili.index(liveIndex(i)).updateSettings({ filterableAttributes: i % 2 === 0 ? ["status"] : [] }),
      ),
    ]);
    await meili.tasks.waitForTasks(
      enqueued.map((t) => t.taskUid),
      { timeout: 60_000, interval: 50 },
    );

    const client = new WebClient("xoxb-bench", {
      slackApiUrl: fake.apiUrl,
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
    });
    const digest = config.digests[0] as (typeof config.digests)[number];
    log(`building one digest of ${count} schemas (${DIGEST_CONCURRENCY} at a time)`);
    const t0 = performance.now();
    const snapshot = await buildDigest(operator, digest, config, new Date());
    const buildMs = ms(t0);
    const t1 = performance.now();
    const ctx = {
      now: new Date(snapshot.checkedAt),
      dashboardLinks: {},
      digest: digest.name,
    };
    const messages = [
      digestParent(snapshot, diffDigest(null, snapshot), { ...ctx, late: false, slotAt: new Date() }),
      ...digestDetails(snapshot, ctx),
    ];
    await postDigest({
      client,
      channel: digest.channel,
      messages,
      posted: [],
      record: async () => true,
      pacer: createPacer({ sleep: realSleep }),
      sleep: realSleep,
    });
    const postMs = ms(t1);
    const posted = fake.callsTo("chat.postMessage").length;
    const figures = { schemas: count, buildMs, postMs, totalMs: ms(t0), messages: posted };
    log(`built in ${buildMs} ms, posted ${posted} messages in ${postMs} ms`);
    return figures;
  } finally {
    await operator.close().catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS "${prefix}" CASCADE`).catch(() => {});
    await admin.query(`DROP SCHEMA IF EXISTS "${prefix}_state" CASCADE`).catch(() => {});
    await admin.end().catch(() => {});
    const indexes = Array.from({ length: Math.max(WITH_FAILED_TASKS + 1, WITH_CONTRACT) }, (_, i) =>
      liveIndex(i),
    );
    await meili.tasks
      .deleteTasks({ indexUids: indexes })
      .waitTask()
      .catch(() => {});
    await Promise.all(indexes.map((uid) => meili.deleteIndex(uid).catch(() => {})));
    await fake.close();
    await services?.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await benchDigest();
  process.stdout.write(
    `${JSON.stringify({ benchmark: "scheduled digest", targetMs: 10_000, ...figures, pass: figures.totalMs < 10_000 }, null, 2)}\n`,
  );
}
