// What the bulk-retry tests over real Postgres share: a deployment per test (closed after it, with
// every replica opened for it), replicas on their own pools, and failed `posts` jobs seeded as
// Oban leaves them after a last attempt.
import { afterEach, expect } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool, type DbClient, type DbPool } from "../../src/backends/postgres.ts";
import { parseConfig } from "../../src/config.ts";
import { createOperator, type Operator } from "../../src/operator/index.ts";
import { lockTarget } from "../../src/operator/mutation.ts";
import { insertJob } from "./db.ts";
import { eventually } from "./eventually.ts";
import { obanError, type TestDeployment, testDeployment } from "./operator.ts";
import { POST, postsSchema, QUEUE } from "./posts.ts";

export const TRANSPORT = "** (Req.TransportError) timeout connecting to 127.0.0.1:7700";
export const VALIDATION = '** (Ecto.CastError) cannot cast "abc" to :integer';
/** When the seeded jobs failed, unless a test says otherwise. */
export const FAILED_AT = new Date("2026-11-20T10:00:00Z");

/**
 * Call once at the top of a test file: `deployment()` gives each test its own deployment and
 * `replica()` another operator over it; both, and what `onClose` is given, are closed after the test.
 */
export function bulkDeployments() {
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (closers.length > 0) await closers.pop()?.();
  });
  return {
    /** Run `close` after the test (a pool, a held connection). */
    onClose(close: () => Promise<void>): void {
      closers.push(close);
    },
    async deployment(): Promise<{ d: TestDeployment; live: string }> {
      const d = await testDeployment([postsSchema()]);
      closers.push(() => d.close());
      return { d, live: `${d.indexPrefix}_post` };
    },
    /** Another operator over the same deployment, on its own pool (another replica). */
    replica(
      d: TestDeployment,
      options: { access?: Record<string, unknown>; onPool?: (pool: DbPool) => void } = {},
    ): Operator {
      const config = parseConfig(options.access ? { ...d.raw, access: options.access } : d.raw, {});
      const pool = createPool(config.database.url, { max: 4 });
      options.onPool?.(pool);
      const op = createOperator({ config, db: pool, meili: createMeiliClient(config.meilisearch) });
      closers.push(() => op.close());
      return op;
    },
  };
}

export interface FailedFields {
  state?: string;
  error?: string;
  /** The attempt number the seeded error names (Oban's `errors[].attempt`). */
  errorAttempt?: number;
  at?: Date;
  args?: Record<string, unknown>;
}

/** One failed `posts` job after its third and last attempt (discarded, transport, unless told). */
export function insertFailed(d: TestDeployment, args: Record<string, unknown>, fields: FailedFields = {}) {
  const at = fields.at ?? FAILED_AT;
  return insertJob(d.oban.pool, d.oban.prefix, {
    state: fields.state ?? "discarded",
    queue: QUEUE,
    args: fields.args ?? args,
    errors: [obanError(fields.error ?? TRANSPORT, fields.errorAttempt ?? 1, at)],
    attempt: 3,
    maxAttempts: 3,
    attemptedAt: at,
  });
}

/** `n` of them, upserts of documents 1000, 1001, … of the live index, in id order. */
export async function insertFailedJobs(
  d: TestDeployment,
  live: string,
  n: number,
  fields: FailedFields = {},
): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) ids.push(await insertFailed(d, upsertArgs(POST, live, [1000 + i]), fields));
  return ids;
}

/**
 * The replays a bulk retry makes of failed transport rows, one document each (`docs`, upserts
 * unless `args` builds another payload): the new job ids, lowest first.
 */
export async function bulkReplaysOf(
  d: TestDeployment,
  live: string,
  docs: readonly number[],
  options: {
    actor: { id: string; context?: Record<string, unknown> };
    args?: (schema: string, index: string, ids: number[]) => Record<string, unknown>;
  },
): Promise<number[]> {
  const failed: number[] = [];
  for (const doc of docs) {
    failed.push(
      await insertJob(d.oban.pool, d.oban.prefix, {
        state: "discarded",
        queue: QUEUE,
        args: (options.args ?? upsertArgs)(POST, live, [doc]),
        errors: [obanError(TRANSPORT)],
        attempt: 3,
        maxAttempts: 3,
      }),
    );
  }
  const result = await d.operator.executeBulkRetry("posts", failed, options.actor);
  expect(result.error).toBeNull();
  expect(result.replayed).toHaveLength(docs.length);
  return result.replayed.map((r) => r.jobId).sort((a, b) => a - b);
}

/** Jobs ended as Oban discards them after one attempt that failed with `error`. */
export function discardJobs(d: TestDeployment, ids: readonly number[], error: string) {
  return d.oban.pool.query(
    `UPDATE "${d.oban.prefix}".oban_jobs SET state = 'discarded', attempt = 1, discarded_at = now(),
       errors = array_append(errors, jsonb_build_object('at', now()::text, 'attempt', 1, 'error', $2::text))
     WHERE id = ANY($1::bigint[])`,
    [ids, error],
  );
}

/** The per-job lock a retry of `id` takes, held on a connection of its own until `release()`. */
export async function holdRetryLock(d: TestDeployment, id: number): Promise<{ release(): Promise<void> }> {
  const client = await d.oban.pool.connect();
  await client.query("BEGIN");
  await lockTarget(client as unknown as DbClient, "retry", d.oban.prefix, id);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await client.query("ROLLBACK").catch(() => {});
      client.release();
    },
  };
}

/** The pid of a session waiting on an advisory lock: a batch queued behind a held retry lock. */
export function advisoryWaiter(d: TestDeployment): Promise<number> {
  return eventually(
    async () => {
      const { rows } = await d.oban.pool.query(
        `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND pid <> pg_backend_pid()`,
      );
      return rows[0]?.pid as number | undefined;
    },
    20_000,
    "a batch waiting on the held retry lock",
  );
}
