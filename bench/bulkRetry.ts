// Bulk retry figures (issue 16), on the seeded 1M-row dataset. An outage is staged: 1,000
// replayable discarded upserts of the bench schema failing with a transport error after every
// seeded row, so the filter `--class transport --since <the outage>` matches exactly them among
// the schema's 40,000 terminal rows. Then:
//   (a) resolveBulkRetry of that filter: timed against its floor (the statements it sent, captured
//       from a run and replayed bare, one after another as it awaits them) and against the bare id
//       query alone (failedMatches' statement), with its database time;
//   (b) executeBulkRetry of the 1,000 ids in batches of 100, side by side with 1,000 single retries
//       (retrySyncWork one after another) of 1,000 rows staged the same way: wall time, database
//       time, transactions and statements;
//   (c) what the "Retry all N…" figures add to /scrypath failed: failedSyncWork with and without
//       `bulkRetryable`, alternated.
// Database time is the time the operator's pool spent in its statements (loopback round trips
// included; statements on two connections at once count twice). Transactions are counted on the
// pool's connections: each BEGIN … COMMIT is one, each statement outside one is one (autocommit).
import type pg from "pg";
import { createPool } from "../src/backends/postgres.ts";
import type { Operator } from "../src/operator/index.ts";
import { operatorContext } from "../src/operator/internal.ts";
import { ERROR_TEXTS } from "./dataset.ts";
import { sqlName } from "./floor.ts";
import { type CapturedSql, compare, summarize, type Timing } from "./measure.ts";

interface Seeded {
  pool: pg.Pool;
  prefix: string;
  module: string;
  alias: string;
  queue: string;
  live: string;
}

export interface IoCount {
  statements: number;
  transactions: number;
  dbMs: number;
  /** Statements and database time by statement (bench/floor.ts names, else the text's start). */
  byStatement: Record<string, { n: number; ms: number }>;
}

export interface RunFigures extends IoCount {
  replays: number;
  wallMs: number;
}

export interface BulkRetryBenchFigures {
  resolve: {
    matching: number;
    terminalRowsOfSchema: number;
    op: Timing;
    /** Every statement the resolve sent, replayed bare in its order. */
    floor: Timing;
    ratio: number;
    /** failedMatches' statement alone (the class + since filter to ids). */
    idQuery: Timing;
    ratioToIdQuery: number;
    dbMs: Timing;
    statements: number;
  };
  execute: { bulk: RunFigures & { batches: number; batchSize: number }; single: RunFigures };
  failedFigure: { without: Timing; with: Timing; ratio: number; blockedStatement: Timing };
  /** The statements to EXPLAIN: the resolve's and the figures' replay-links statement. */
  captured: { op: string; sql: CapturedSql }[];
}

const round = (n: number) => Math.round(n * 10) / 10;
const ratio = (op: Timing, floor: Timing) => Math.round((op.medianMs / floor.medianMs) * 100) / 100;

/** Counts and times every statement of `pool`'s connections while `on` is true. */
function meter(pool: pg.Pool) {
  const totals = { statements: 0, transactions: 0, dbMs: 0 };
  let byStatement: IoCount["byStatement"] = {};
  const log: { text: string; values: unknown[] }[] = [];
  const state = { on: false, capture: false };
  const wrapped = new WeakSet<object>();
  const inTx = new WeakMap<object, boolean>();
  const onAcquire = (client: pg.PoolClient) => {
    if (wrapped.has(client)) return;
    wrapped.add(client);
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      if (!state.on) return query(...args);
      const first = args[0];
      const text = typeof first === "string" ? first : ((first as { text?: string })?.text ?? "");
      const head = text.trimStart().slice(0, 8).toUpperCase();
      if (head.startsWith("BEGIN")) {
        inTx.set(client, true);
        totals.transactions += 1;
      } else if (head.startsWith("COMMIT") || head.startsWith("ROLLBACK")) {
        inTx.set(client, false);
      } else if (!inTx.get(client)) {
        totals.transactions += 1;
      }
      totals.statements += 1;
      if (state.capture) log.push({ text, values: Array.isArray(args[1]) ? [...args[1]] : [] });
      const start = performance.now();
      const name = sqlName(text);
      const key = name !== "unrecognised" ? name : text.replace(/\s+/g, " ").trim().slice(0, 40);
      const done = () => {
        const ms = performance.now() - start;
        totals.dbMs += ms;
        const entry = byStatement[key] ?? { n: 0, ms: 0 };
        entry.n += 1;
        entry.ms += ms;
        byStatement[key] = entry;
      };
      const last = args[args.length - 1];
      if (typeof last === "function") {
        // Callback style (pg-pool's own pool.query).
        const cb = last as (...r: unknown[]) => void;
        return query(...args.slice(0, -1), (...r: unknown[]) => {
          done();
          cb(...r);
        });
      }
      const result = query(...args) as Promise<unknown>;
      return result.finally(done);
    };
  };
  pool.on("acquire", onAcquire);
  return {
    async run<T>(
      fn: () => Promise<T>,
      options: { capture?: boolean } = {},
    ): Promise<{ value: T; io: IoCount; wallMs: number; sql: typeof log }> {
      totals.statements = 0;
      totals.transactions = 0;
      totals.dbMs = 0;
      byStatement = {};
      log.length = 0;
      state.on = true;
      state.capture = options.capture === true;
      const start = performance.now();
      try {
        const value = await fn();
        return {
          value,
          io: {
            ...totals,
            dbMs: round(totals.dbMs),
            byStatement: Object.fromEntries(
              Object.entries(byStatement).map(([k, v]) => [k, { n: v.n, ms: round(v.ms) }]),
            ),
          },
          wallMs: round(performance.now() - start),
          sql: [...log],
        };
      } finally {
        state.on = false;
      }
    },
    stop() {
      pool.removeListener("acquire", onAcquire);
    },
  };
}

/**
 * Stage `n` replayable discarded upserts of the bench schema failing with a transport timeout at
 * `at` (UTC wall time, as Oban stores it); returns their ids.
 */
async function stageOutage(s: Seeded, n: number, at: string): Promise<number[]> {
  const { rows } = await s.pool.query<{ id: string }>(
    `INSERT INTO "${s.prefix}".oban_jobs (state, queue, worker, args, errors, attempt, max_attempts, inserted_at, scheduled_at, attempted_at, discarded_at)
     SELECT 'discarded', $1, 'Scrypath.Oban.UpsertWorker',
       jsonb_build_object('operation', 'upsert', 'schema', $2::text, 'backend', 'Elixir.Scrypath.Meilisearch',
         'index', $3::text, 'sync_mode', 'oban', 'document_ids', jsonb_build_array(9000000 + g),
         'document_count', 1, 'documents', jsonb_build_array(jsonb_build_object('id', 9000000 + g,
           'data', jsonb_build_object('id', 9000000 + g, 'title', 'outage ' || g), 'source', 'fields'))),
       ARRAY[jsonb_build_object('at', $5::timestamp, 'attempt', 8, 'error', $6::text)],
       8, 8, $5::timestamp - interval '1 minute', $5::timestamp - interval '1 minute', $5::timestamp, $5::timestamp
     FROM generate_series(1, $4) g RETURNING id`,
    [s.queue, `Elixir.${s.module}`, s.live, n, at, ERROR_TEXTS.timeout.text],
  );
  return rows.map((r) => Number(r.id));
}

export async function benchBulkRetry(
  operator: Operator,
  seeded: Seeded,
  options: { runs: number; warmups: number; log: (line: string) => void },
): Promise<BulkRetryBenchFigures> {
  const { log } = options;
  const actor = { id: "bench", context: { via: "bench" } };
  const db = operatorContext(operator).db;
  const m = meter(db);
  // The floor's own pool, of the same size and type parsers (as bench/calls.ts).
  const floorPool = createPool(operatorContext(operator).config.database.url, {
    max: 5,
    applicationName: "scrypath-bench-floor",
  });
  try {
    // The outage: one minute after the newest attempt of any seeded row.
    const { rows } = await seeded.pool.query<{ at: string; terminal: number }>(
      `SELECT to_char(max(attempted_at) + interval '1 minute', 'YYYY-MM-DD HH24:MI:SS.US') AS at,
         count(*) FILTER (WHERE state IN ('discarded', 'cancelled') AND queue = $1 AND args @> $2::jsonb)::int AS terminal
       FROM "${seeded.prefix}".oban_jobs`,
      [seeded.queue, JSON.stringify({ schema: `Elixir.${seeded.module}` })],
    );
    const at = rows[0]?.at as string;
    const since = new Date(`${at.replace(" ", "T")}Z`);
    const outage = await stageOutage(seeded, 1000, at);
    const filter = { reasonClass: "transport" as const, since };

    // (a) Resolve.
    log("bulk retry: resolving a 1,000-row filter");
    const resolve = () => operator.resolveBulkRetry(seeded.alias, filter, actor);
    const first = await resolve();
    if (first.ids.length !== 1000 || first.ids.some((id, i) => id !== outage[i])) {
      throw new Error(`the staged filter resolved to ${first.ids.length} ids, not the 1,000 staged rows`);
    }
    const captured = await m.run(resolve, { capture: true });
    const bare = (sql: typeof captured.sql) => async () => {
      for (const q of sql) await floorPool.query(q.text, q.values);
    };
    const idStatement = captured.sql.filter((q) => /ORDER BY x\.id DESC/.test(q.text));
    if (idStatement.length !== 1) throw new Error("bulk retry bench: failedMatches' statement not found");
    const timing = await compare(resolve, bare(captured.sql), options);
    const idOnly = await compare(resolve, bare(idStatement), options);
    const dbMs: number[] = [];
    for (let i = 0; i < options.runs; i++) dbMs.push((await m.run(resolve)).io.dbMs);

    // (b) Execute: 1,000 replays in batches of 100, then 1,000 single retries.
    log("bulk retry: executing 1,000 replays in batches of 100");
    const batchSize = 100;
    const bulk = await m.run(() => operator.executeBulkRetry(seeded.alias, first.ids, actor, { batchSize }));
    if (bulk.value.replayed.length !== 1000 || bulk.value.error) {
      throw new Error(
        `bulk execution replayed ${bulk.value.replayed.length} (${bulk.value.error?.message ?? "no error"})`,
      );
    }
    log("bulk retry: 1,000 single retries one after another");
    const singles = await stageOutage(seeded, 1000, at);
    const single = await m.run(async () => {
      for (const id of singles) await operator.retrySyncWork(seeded.alias, id, actor);
    });

    // (c) The figures behind the "Retry all N…" buttons, with 2,000+ replay links now.
    log("bulk retry: /scrypath failed with and without the Retry all figures");
    const plain = () => operator.failedSyncWork(seeded.alias, { limit: 10 });
    const withFigures = () => operator.failedSyncWork(seeded.alias, { limit: 10, bulkRetryable: true });
    const figure = await compare(withFigures, plain, options);
    const figureRun = await m.run(withFigures, { capture: true });
    const blocked = figureRun.sql.filter((q) => /replay_links/.test(q.text) && /reason_class/.test(q.text));
    if (blocked.length !== 1) throw new Error("bulk retry bench: the blocked-replays statement not found");
    const blockedMs: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      const start = performance.now();
      await bare(blocked)();
      blockedMs.push(performance.now() - start);
    }

    return {
      resolve: {
        matching: first.ids.length,
        terminalRowsOfSchema: (rows[0]?.terminal ?? 0) + 1000,
        op: timing.op,
        floor: timing.floor,
        ratio: ratio(timing.op, timing.floor),
        idQuery: idOnly.floor,
        ratioToIdQuery: ratio(idOnly.op, idOnly.floor),
        dbMs: summarize(dbMs),
        statements: captured.io.statements,
      },
      execute: {
        bulk: {
          replays: bulk.value.replayed.length,
          wallMs: bulk.wallMs,
          ...bulk.io,
          batches: bulk.value.batches,
          batchSize,
        },
        single: { replays: singles.length, wallMs: single.wallMs, ...single.io },
      },
      failedFigure: {
        without: figure.floor,
        with: figure.op,
        ratio: ratio(figure.op, figure.floor),
        blockedStatement: summarize(blockedMs),
      },
      captured: [
        ...captured.sql.map((q, seq) => ({ op: "bulkResolve", sql: { seq, ...q } })),
        ...blocked.map((q, seq) => ({ op: "failedWithBulkFigures", sql: { seq, ...q } })),
      ],
    };
  } finally {
    m.stop();
    await floorPool.end();
  }
}
