// Plays the Elixir application's Scrypath.Oban workers, the one component outside this project: in
// the tests (runScrypathJob, one job on demand) and in the sandbox (startJobRunner, which runs every
// job that becomes available, so a confirmed retry can be followed all the way to "verified"). A job
// runs the way UpsertWorker/DeleteWorker do: executing, write to the index named in args, wait for
// the Meilisearch task, then completed. A job that raised is retryable with a backoff while it has
// attempts left, else discarded, and Oban's stager makes due scheduled/retryable jobs available.
import { type Meilisearch, MeilisearchRequestTimeOutError } from "meilisearch";
import type pg from "pg";
import { DELETE_WORKER, UPSERT_WORKER } from "../../src/core/failedWork.ts";
import { ERRORS, elixirError, FRAMES } from "./elixirErrors.ts";

export async function runScrypathJob(
  pool: pg.Pool,
  prefix: string,
  meili: Meilisearch,
  jobId: number,
  outcome: "complete" | "fail" = "complete",
): Promise<void> {
  const { rows } = await pool.query(
    `UPDATE "${prefix}".oban_jobs SET state = 'executing', attempt = attempt + 1,
       attempted_at = timezone('UTC', now()) WHERE id = $1 AND state = 'available' RETURNING args`,
    [jobId],
  );
  const args = rows[0]?.args as Record<string, unknown> | undefined;
  if (!args) throw new Error(`job ${jobId} is not available`);
  if (outcome === "fail") {
    await discard(pool, prefix, jobId, "** (RuntimeError) worker crashed");
    return;
  }
  const index = meili.index(String(args.index));
  const task =
    args.operation === "upsert"
      ? await index.addDocuments(
          (args.documents as { data: Record<string, unknown> }[]).map((d) => d.data),
          {
            primaryKey: "id",
          },
        )
      : await index.deleteDocuments((args.document_ids as (string | number)[]).map(String));
  const done = await meili.tasks.waitForTask(task.taskUid, { timeout: 20_000, interval: 10 });
  if (done.status !== "succeeded") throw new Error(`worker write failed: ${JSON.stringify(done.error)}`);
  await pool.query(
    `UPDATE "${prefix}".oban_jobs SET state = 'completed', completed_at = timezone('UTC', now()) WHERE id = $1`,
    [jobId],
  );
}

/** Ends an executing job as Oban does when its worker raised: discarded, with the error appended. */
async function discard(pool: pg.Pool, prefix: string, jobId: number, error: string): Promise<void> {
  await pool.query(
    `UPDATE "${prefix}".oban_jobs SET state = 'discarded', discarded_at = timezone('UTC', now()),
       errors = array_append(errors, jsonb_build_object('at', $3::text, 'attempt', attempt, 'error', $2::text))
     WHERE id = $1 AND state = 'executing'`,
    [jobId, error, new Date().toISOString()],
  );
}

/**
 * Ends an executing job whose worker raised, as Oban does: retryable at now + backoff while it has
 * attempts left (backoff doubles from `backoffSeconds` with each attempt), else discarded; either
 * way with the error appended for this attempt.
 */
async function failAttempt(
  pool: pg.Pool,
  prefix: string,
  jobId: number,
  error: string,
  backoffSeconds: number,
): Promise<void> {
  const state = `"${prefix}".oban_job_state`;
  await pool.query(
    `UPDATE "${prefix}".oban_jobs SET
       state = CASE WHEN attempt < max_attempts THEN 'retryable'::${state} ELSE 'discarded'::${state} END,
       scheduled_at = CASE WHEN attempt < max_attempts
         THEN timezone('UTC', now()) + make_interval(secs => $4::float8 * power(2, attempt - 1))
         ELSE scheduled_at END,
       discarded_at = CASE WHEN attempt < max_attempts THEN discarded_at ELSE timezone('UTC', now()) END,
       errors = array_append(errors, jsonb_build_object('at', $3::text, 'attempt', attempt, 'error', $2::text))
     WHERE id = $1 AND state = 'executing'`,
    [jobId, error, new Date().toISOString(), backoffSeconds],
  );
}

/** What the Elixir worker would have raised for this failure (Req's texts for transport errors). */
export function elixirErrorOf(error: unknown): string {
  // The client wraps a transport failure: MeilisearchRequestError ← timeout / fetch failed ← errno.
  const chain: unknown[] = [];
  for (let e: unknown = error; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e);
  const frames = [FRAMES.req, FRAMES.client, FRAMES.upsert, FRAMES.executor, FRAMES.call];
  if (chain.some((e) => e instanceof MeilisearchRequestTimeOutError)) return ERRORS.timeout;
  const codes = chain.map((e) => (e as NodeJS.ErrnoException).code);
  if (codes.includes("ECONNREFUSED")) {
    return elixirError("** (Req.TransportError) connection refused", frames);
  }
  if (codes.some((c) => c === "ECONNRESET" || c === "UND_ERR_SOCKET")) {
    return elixirError("** (Req.TransportError) socket closed", frames);
  }
  const message = (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
  return elixirError(`** (Scrypath.Error) ${message}`, [FRAMES.client, FRAMES.upsert, FRAMES.executor]);
}

export interface JobRunnerOptions {
  pool: pg.Pool;
  prefix: string;
  meili: Meilisearch;
  /** The queues this "application" works. */
  queues: string[];
  /** Pause between looks at the queue; a new job also waits about this long before it runs. */
  intervalMs?: number;
  /** The first retry's backoff; it doubles with each attempt (Oban's default is far longer). */
  backoffSeconds?: number;
  onError?: (error: unknown, jobId: number) => void;
}

export interface JobRunner {
  /** Jobs run so far. */
  readonly ran: number;
  /** Stops looking; resolves when the job in hand (if any) has ended. */
  stop(): Promise<void>;
}

/**
 * Runs every available Scrypath upsert/delete job of `queues`, oldest first, one at a time: the
 * Elixir application's Oban, for the sandbox. A job whose write fails is retried after a backoff
 * until its max_attempts, then discarded, with each attempt's error (the Elixir text) recorded.
 */
export function startJobRunner(options: JobRunnerOptions): JobRunner {
  const { pool, prefix, meili, queues } = options;
  const interval = options.intervalMs ?? 750;
  const backoffSeconds = options.backoffSeconds ?? 2;
  let stopped = false;
  let ran = 0;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;

  const next = async (): Promise<number[]> => {
    // Oban's stager: scheduled and retryable jobs whose time has come become available.
    await pool.query(
      `UPDATE "${prefix}".oban_jobs SET state = 'available'
        WHERE state IN ('scheduled', 'retryable') AND queue = ANY($1::text[]) AND worker = ANY($2::text[])
          AND scheduled_at <= timezone('UTC', now())`,
      [queues, [UPSERT_WORKER, DELETE_WORKER]],
    );
    const { rows } = await pool.query<{ id: string }>(
      `SELECT id FROM "${prefix}".oban_jobs
        WHERE state = 'available' AND queue = ANY($1::text[]) AND worker = ANY($2::text[])
          AND scheduled_at <= timezone('UTC', now())
        ORDER BY priority, scheduled_at, id LIMIT 20`,
      [queues, [UPSERT_WORKER, DELETE_WORKER]],
    );
    return rows.map((r) => Number(r.id));
  };

  const loop = (async () => {
    while (!stopped) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(resolve, interval);
      });
      if (stopped) break;
      let ids: number[] = [];
      try {
        ids = await next();
      } catch (error) {
        options.onError?.(error, 0);
      }
      for (const id of ids) {
        if (stopped) break;
        try {
          await runScrypathJob(pool, prefix, meili, id);
          ran += 1;
        } catch (error) {
          options.onError?.(error, id);
          await failAttempt(pool, prefix, id, elixirErrorOf(error), backoffSeconds).catch((e: unknown) =>
            options.onError?.(e, id),
          );
        }
      }
    }
  })();

  return {
    get ran() {
      return ran;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      wake?.();
      await loop;
    },
  };
}
