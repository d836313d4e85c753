// Retry figures (issue 3): the time of one retry (re-read under a lock, insert the new job,
// the replay link and the audit row in one transaction) and of 100 concurrent retries of
// distinct failed jobs through one operator (its pool of 5 connections), on the seeded dataset.
import type pg from "pg";
import type { Operator } from "../src/operator/index.ts";
import { summarize, type Timing, timed } from "./measure.ts";

export interface RetryBenchFigures {
  /** One retry at a time. */
  single: Timing & { runs: number };
  /** 100 retries started together. */
  concurrent: { retries: number; wallMs: number; perRetryMs: number; newJobs: number };
}

interface Seeded {
  pool: pg.Pool;
  prefix: string;
  module: string;
  queue: string;
  live: string;
}

/** Insert `n` replayable discarded upserts for the bench schema; returns their ids. */
async function seedFailed(s: Seeded, n: number): Promise<number[]> {
  const { rows } = await s.pool.query<{ id: string }>(
    `INSERT INTO "${s.prefix}".oban_jobs (state, queue, worker, args, errors, attempt, max_attempts, attempted_at, discarded_at)
     SELECT 'discarded', $1, 'Scrypath.Oban.UpsertWorker',
       jsonb_build_object('operation', 'upsert', 'schema', $2::text, 'backend', 'Elixir.Scrypath.Meilisearch',
         'index', $3::text, 'sync_mode', 'oban', 'document_ids', jsonb_build_array(g),
         'document_count', 1, 'documents', jsonb_build_array(jsonb_build_object('id', g,
           'data', jsonb_build_object('id', g, 'title', 'bench ' || g), 'source', 'fields'))),
       ARRAY[jsonb_build_object('at', now(), 'attempt', 8, 'error', '** (RuntimeError) bench failure')],
       8, 8, timezone('UTC', now()), timezone('UTC', now())
     FROM generate_series(1, $4) g RETURNING id`,
    [s.queue, `Elixir.${s.module}`, s.live, n],
  );
  return rows.map((r) => Number(r.id));
}

export async function benchRetries(
  operator: Operator,
  seeded: Seeded,
  runs = 30,
): Promise<RetryBenchFigures> {
  const actor = { id: "bench", context: { via: "bench" } };
  // Warm the state tables and the connection pool, then time sequential retries.
  const [warm, ...single] = await seedFailed(seeded, runs + 1);
  await operator.retrySyncWork(seeded.module, warm as number, actor);
  const samples: number[] = [];
  for (const id of single) samples.push(await timed(() => operator.retrySyncWork(seeded.module, id, actor)));

  const concurrentIds = await seedFailed(seeded, 100);
  const started = performance.now();
  const results = await Promise.all(
    concurrentIds.map((id) => operator.retrySyncWork(seeded.module, id, actor)),
  );
  const wallMs = performance.now() - started;
  const newJobs = new Set(results.map((r) => r.job.id)).size;
  return {
    single: { ...summarize(samples), runs: samples.length },
    concurrent: {
      retries: concurrentIds.length,
      wallMs: round(wallMs),
      perRetryMs: round(wallMs / 100),
      newJobs,
    },
  };
}

const round = (n: number) => Math.round(n * 10) / 10;
