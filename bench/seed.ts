// Seeding: 1,000,000+ `oban_jobs` rows with set-based SQL (INSERT … SELECT FROM generate_series,
// a few large statements, not a million round trips), then the indexes and VACUUM ANALYZE; and
// 5,000+ real Meilisearch tasks, enqueued as many small parallel calls.
import type { Meilisearch } from "meilisearch";
import type pg from "pg";
import { classifyQueueJob } from "../src/core/reasonClass.ts";
import { mapLimited } from "../src/operator/posture.ts";
import {
  BENCH_SCHEMA,
  ERROR_MIX,
  ERROR_TEXTS,
  type ErrorPick,
  JOB_MIX,
  MEILI_TASKS,
  type MixEntry,
  SCHEMAS,
  scrypathArgTemplates,
  WORKERS,
} from "./dataset.ts";

const log = (line: string) => process.stderr.write(`[seed] ${line}\n`);

export function liveIndexOf(indexPrefix: string, suffix: string): string {
  return `${indexPrefix}_${suffix}`;
}

// ---------------------------------------------------------------------------------------------
// Postgres

/** The error texts the seed SQL indexes into (1-based), and each pick's index (0 = no error). */
function errorTable() {
  const keys = Object.keys(ERROR_TEXTS) as (keyof typeof ERROR_TEXTS)[];
  const texts = keys.map((k) => ERROR_TEXTS[k].text);
  const indexOf = (pick: ErrorPick) => (pick === "none" ? 0 : keys.indexOf(pick) + 1);
  // The texts must classify as dataset.ts says, or the figures would not cover every class.
  for (const key of keys) {
    const want = ERROR_TEXTS[key].cls;
    const got = classifyQueueJob("retryable", { at: "", attempt: 1, error: ERROR_TEXTS[key].text });
    if (got !== want) throw new Error(`error text ${key} classifies as ${got}, expected ${want}`);
  }
  return { texts, indexOf };
}

function mixRows(indexPrefix: string) {
  const { indexOf } = errorTable();
  let lo = 0;
  const rows = JOB_MIX.map((m: MixEntry) => {
    const kind = m.kind;
    const schema = "scrypath" in kind ? SCHEMAS.find((x) => x.alias === kind.scrypath) : undefined;
    const worker = "worker" in kind ? kind.worker : null;
    const templates = schema
      ? scrypathArgTemplates(schema.module, liveIndexOf(indexPrefix, schema.indexSuffix))
      : null;
    const failed = m.state === "retryable" || m.state === "discarded" || m.state === "cancelled";
    const mix = !failed ? [] : schema ? ERROR_MIX[m.state as "retryable"] : ERROR_MIX.other;
    const row = {
      lo,
      hi: lo + m.per1000,
      kind: worker ?? "scrypath",
      label: schema ? schema.module.split(".").pop() : null,
      queue: m.queue,
      state: m.state,
      worker: worker ? WORKERS[worker] : null,
      max_attempts: schema?.maxAttempts ?? (worker === "mailer" ? 5 : 20),
      upsert_base: templates?.upsert ?? null,
      delete_base: templates?.delete ?? null,
      errmix: mix.map(indexOf),
    };
    lo += m.per1000;
    return row;
  });
  if (lo !== 1000) throw new Error(`JOB_MIX adds up to ${lo} per 1,000, not 1,000`);
  return rows;
}

const LOREM =
  "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.";

/**
 * One INSERT … SELECT for ids [lo, hi]. Per row g: its mix entry from the slot (g·7919 mod 1000);
 * independent pseudo-random numbers h, h2 from hashint8extended(g, seed); documents and errors
 * built with correlated generate_series subqueries.
 */
function insertSql(p: string): string {
  const ts = (expr: string) => `to_char(${expr}, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
  return `
WITH r AS (
  SELECT g, m.*,
    (hashint8extended(g, 11) & 1073741823)::int AS h,
    (hashint8extended(g, 23) & 1073741823)::int AS h2,
    $3::timestamp + g * $4::interval AS ins
  FROM generate_series($1::bigint, $2::bigint) g
  JOIN "${p}"._bench_mix m ON (g * 7919) % 1000 >= m.lo AND (g * 7919) % 1000 < m.hi
), s AS (
  SELECT r.*,
    CASE WHEN r.kind <> 'scrypath' THEN NULL WHEN r.h % 100 < 85 THEN 'upsert' ELSE 'delete' END AS op,
    CASE WHEN r.h % 20 = 0 THEN 20 + r.h % 31 ELSE 1 + r.h % 4 END AS ndocs,
    r.errmix[1 + (r.h2 % greatest(cardinality(r.errmix), 1))::int] AS last_err,
    CASE r.state
      WHEN 'retryable' THEN 1 + r.h % (r.max_attempts - 1)
      WHEN 'discarded' THEN r.max_attempts
      WHEN 'cancelled' THEN CASE WHEN r.errmix[1 + (r.h2 % cardinality(r.errmix))::int] = 0 THEN 0 ELSE 1 END
      WHEN 'available' THEN 0
      WHEN 'scheduled' THEN 0
      ELSE 1 END AS attempt
  FROM r
), t AS (
  SELECT s.*,
    COALESCE(s.worker, CASE s.op WHEN 'upsert' THEN '${WORKERS.upsert}' ELSE '${WORKERS.delete}' END) AS w,
    CASE WHEN s.attempt > 0 THEN s.ins + (1 + s.attempt * 17) * interval '1 second' + (s.h % 3000) * interval '1 millisecond' END AS att
  FROM s
)
INSERT INTO "${p}".oban_jobs
  (state, queue, worker, args, errors, attempt, max_attempts, inserted_at, scheduled_at,
   attempted_at, completed_at, attempted_by, discarded_at, priority, cancelled_at)
SELECT
  t.state::"${p}".oban_job_state,
  t.queue,
  t.w,
  CASE t.kind
    WHEN 'scrypath' THEN
      CASE t.op
        WHEN 'upsert' THEN t.upsert_base || jsonb_build_object('document_ids', d.ids, 'document_count', t.ndocs, 'documents', d.docs)
        ELSE t.delete_base || jsonb_build_object('document_ids', d.ids, 'document_count', t.ndocs)
      END
    WHEN 'mailer' THEN jsonb_build_object('email_id', 1000000 + t.g, 'template', (ARRAY['welcome','digest','password_reset','invoice'])[1 + t.h % 4],
      'to', 'user' || (10000 + t.h % 90000) || '@example.com', 'locale', 'en')
    ELSE jsonb_build_object('invoice_id', 1000000 + t.g, 'customer_id', 10000 + t.h % 90000, 'amount_cents', 1000 + t.h2 % 99000, 'currency', 'EUR')
  END,
  CASE WHEN t.attempt = 0 OR COALESCE(t.last_err, 0) = 0 THEN ARRAY[]::jsonb[]
    ELSE ARRAY(
      SELECT jsonb_build_object(
        'at', ${ts("t.att - (t.attempt - a) * interval '17 second'")},
        'attempt', a,
        'error', replace(replace(($5::text[])[CASE WHEN a = t.attempt THEN t.last_err
                                                ELSE COALESCE(NULLIF(t.errmix[1 + ((t.h2 + a * 7) % cardinality(t.errmix))::int], 0), t.last_err) END],
                         '{{worker}}', t.w), '{{op}}', COALESCE(t.op, 'upsert')))
      FROM generate_series(1, t.attempt) a ORDER BY a)
  END,
  t.attempt,
  t.max_attempts,
  t.ins,
  CASE t.state
    WHEN 'scheduled' THEN $6::timestamp + (60 + t.h % 3600) * interval '1 second'
    WHEN 'retryable' THEN $6::timestamp + (t.h % 900) * interval '1 second'
    ELSE t.ins END,
  t.att,
  CASE WHEN t.state = 'completed' THEN t.att + (40 + t.h2 % 900) * interval '1 millisecond' END,
  CASE WHEN t.attempt > 0 THEN ARRAY['scrypath-app@10.0.3.' || (10 + t.h % 8), md5(t.g::text)::uuid::text] END,
  CASE WHEN t.state = 'discarded' THEN t.att + interval '2 millisecond' END,
  0,
  CASE WHEN t.state = 'cancelled' THEN COALESCE(t.att, t.ins) + interval '5 second' END
FROM t
LEFT JOIN LATERAL (
  SELECT jsonb_agg(i.id ORDER BY k) AS ids,
         jsonb_agg(jsonb_build_object(
           'id', i.id,
           'data', jsonb_build_object('id', i.id, 'title', t.label || ' ' || i.id,
             'body', substr($7::text, 1 + (t.h + k) % 150, 80 + (t.h2 + k) % 120),
             'status', (ARRAY['draft','published','archived'])[1 + (t.h + k) % 3],
             'updated_at', ${ts("t.ins")}),
           'source', 'fields') ORDER BY k) AS docs
  FROM generate_series(1, t.ndocs) k
  CROSS JOIN LATERAL (SELECT 100000 + (t.g * 7 + k * 131) % 900000 AS id) i
) d ON t.kind = 'scrypath'`;
}

export interface PostgresSeed {
  rows: number;
  seconds: { insert: number; indexes: number; vacuumAnalyze: number; total: number };
}

/** Runs `tasks` with at most `n` in flight (the operator's own limiter). */
export function inParallel<T>(n: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  return mapLimited(tasks, n, (task) => task());
}

/**
 * Seeds `rows` jobs into `"<prefix>".oban_jobs` (created beforehand with createObanSchema). The
 * secondary indexes are dropped during the load and rebuilt with their exact definitions, as a
 * bulk load would; then VACUUM ANALYZE leaves the table as autovacuum would in production.
 */
export async function seedPostgres(
  pool: pg.Pool,
  prefix: string,
  indexPrefix: string,
  rows: number,
): Promise<PostgresSeed> {
  const t0 = performance.now();
  const p = prefix;
  const { texts } = errorTable();
  await pool.query(`CREATE TABLE "${p}"._bench_mix (lo int, hi int, kind text, label text, queue text, state text,
    worker text, max_attempts int, upsert_base jsonb, delete_base jsonb, errmix int[])`);
  await pool.query(
    `INSERT INTO "${p}"._bench_mix SELECT * FROM jsonb_populate_recordset(NULL::"${p}"._bench_mix, $1::jsonb)`,
    [JSON.stringify(mixRows(indexPrefix))],
  );

  const { rows: indexes } = await pool.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes
     WHERE schemaname = $1 AND tablename = 'oban_jobs' AND indexname <> 'oban_jobs_pkey'`,
    [p],
  );
  for (const index of indexes) await pool.query(`DROP INDEX "${p}"."${index.name}"`);

  // Spread over 7 days up to now (UTC wall time, as Oban stores it).
  const now = new Date();
  const utc = (d: Date) => d.toISOString().replace("T", " ").replace("Z", "");
  const base = utc(new Date(now.getTime() - 7 * 86_400_000));
  const step = `${(7 * 86_400) / rows} seconds`;
  const chunk = 50_000;
  const chunks: (() => Promise<unknown>)[] = [];
  let done = 0;
  for (let lo = 1; lo <= rows; lo += chunk) {
    const hi = Math.min(rows, lo + chunk - 1);
    chunks.push(async () => {
      await pool.query(insertSql(p), [lo, hi, base, step, texts, utc(now), LOREM]);
      done += hi - lo + 1;
      if (done % 200_000 === 0 || done === rows) log(`oban_jobs: ${done.toLocaleString("en")} rows`);
    });
  }
  await inParallel(2, chunks);
  const t1 = performance.now();

  // Rebuild the indexes Oban's migrations create (two at a time, the GIN index is the slow one).
  await inParallel(
    2,
    indexes.map((index) => async () => {
      const client = await pool.connect();
      try {
        await client.query("SET maintenance_work_mem = '256MB'");
        await client.query(index.def);
      } finally {
        client.release();
      }
    }),
  );
  const t2 = performance.now();
  await pool.query(`DROP TABLE "${p}"._bench_mix`);
  await pool.query(`VACUUM (ANALYZE) "${p}".oban_jobs`);
  const t3 = performance.now();
  log(`oban_jobs indexed and analyzed`);
  const sec = (ms: number) => Math.round(ms / 100) / 10;
  return {
    rows,
    seconds: {
      insert: sec(t1 - t0),
      indexes: sec(t2 - t1),
      vacuumAnalyze: sec(t3 - t2),
      total: sec(t3 - t0),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Meilisearch

export interface MeiliSeed {
  tasks: number;
  seconds: { enqueue: number; processed: number };
}

function document(id: number, label: string) {
  return {
    id,
    title: `${label} ${id}`,
    body: LOREM.slice(id % 150, (id % 150) + 80 + (id % 120)),
    status: ["draft", "published", "archived"][id % 3],
  };
}

/**
 * Real Meilisearch tasks for the deployment: on the benchmarked schema's live index, succeeded
 * document additions and deletions plus real failures (documents without their primary key,
 * invalid ids); on its `__reindex` target an indexCreation, settingsUpdates and additions (some
 * failed); and document tasks on the other schemas' indexes. Enqueued as many small calls, 32 in
 * flight, interleaved across indexes; Meilisearch auto-batches them. Then waits for the last task.
 */
export async function seedMeilisearch(client: Meilisearch, indexPrefix: string): Promise<MeiliSeed> {
  const t0 = performance.now();
  const live = liveIndexOf(indexPrefix, BENCH_SCHEMA.indexSuffix);
  const target = `${live}__reindex`;
  const others = SCHEMAS.filter((s) => s !== BENCH_SCHEMA).map((s) =>
    liveIndexOf(indexPrefix, s.indexSuffix),
  );
  const created = await Promise.all(
    [live, target, ...others].map((uid) => client.createIndex(uid, { primaryKey: "id" })),
  );
  const uids: number[] = created.map((t) => t.taskUid);
  await client.tasks.waitForTasks(uids, { timeout: 60_000, interval: 50 });

  type Call = () => Promise<{ taskUid: number }>;
  const lanes: Call[][] = [];
  const lane = (n: number, make: (i: number) => Call) =>
    lanes.push(Array.from({ length: n }, (_, i) => make(i)));
  const add = (uid: string, docs: Record<string, unknown>[]) => () => client.index(uid).addDocuments(docs);

  const L = MEILI_TASKS.live;
  lane(L.succeededAdds, (i) =>
    add(
      live,
      [1, 2, 3].slice(0, 1 + (i % 3)).map((k) => document(200_000 + i * 3 + k, "Post")),
    ),
  );
  lane(L.missingPrimaryKey, (i) => add(live, [{ title: `Post without its id ${i}` }]));
  lane(L.invalidId, (i) => add(live, [{ id: `post ${i}!`, title: "an invalid document id" }]));
  lane(L.deletions, (i) => () => client.index(live).deleteDocuments([String(200_000 + i * 3 + 1)]));
  const R = MEILI_TASKS.reindex;
  lane(
    R.settingsUpdates,
    (i) => () =>
      client
        .index(target)
        .updateSettings(
          i === 0
            ? { filterableAttributes: ["status"], sortableAttributes: ["id"] }
            : { searchableAttributes: ["title", "body"] },
        ),
  );
  lane(R.succeededAdds, (i) => add(target, [document(200_000 + i, "Post")]));
  lane(R.invalidId, (i) => add(target, [{ id: `reindex ${i}?`, title: "an invalid document id" }]));
  const O = MEILI_TASKS.others;
  for (const uid of others) {
    lane(O.succeededAdds, (i) => add(uid, [document(300_000 + i, uid)]));
    lane(O.missingPrimaryKey, (i) => add(uid, [{ name: `no id ${i}` }]));
    lane(O.deletions, (i) => () => client.index(uid).deleteDocuments([String(300_000 + i)]));
  }
  // Interleave the lanes so indexes and outcomes alternate, as concurrent producers would.
  const calls: Call[] = [];
  for (let i = 0; lanes.some((l) => i < l.length); i++)
    for (const l of lanes) if (i < l.length) calls.push(l[i] as Call);

  const enqueued = await inParallel(
    32,
    calls.map((call) => async () => (await call()).taskUid),
  );
  uids.push(...enqueued);
  const t1 = performance.now();
  log(`meilisearch: ${uids.length.toLocaleString("en")} tasks enqueued`);
  // Meilisearch processes tasks in uid order; when the newest is done, all are.
  await client.tasks.waitForTask(Math.max(...uids), { timeout: 900_000, interval: 200 });
  const pending = await client.tasks.getTasks({
    indexUids: [live, target, ...others],
    statuses: ["enqueued", "processing"],
    limit: 0,
  });
  if (pending.total > 0) throw new Error(`${pending.total} seeded Meilisearch tasks are still pending`);
  const t2 = performance.now();
  log(`meilisearch: all tasks processed`);
  const sec = (ms: number) => Math.round(ms / 100) / 10;
  return { tasks: uids.length, seconds: { enqueue: sec(t1 - t0), processed: sec(t2 - t0) } };
}
