// Following a bulk retry's new jobs as a group, over real Postgres and Meilisearch: failed rows are
// replayed with executeBulkRetry, the new jobs are moved on as Oban and the workers would (SQL, and
// the devkit worker writing real documents), and each observation counts them by state (failed by
// class, pruned) and checks a bounded sample of completed jobs' documents in the index.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteArgs, upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runScrypathJob } from "../../devkit/sandbox/worker.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { parseConfig } from "../../src/config.ts";
import { createOperator } from "../../src/operator/index.ts";
import { GROUP_SAMPLE_SIZE } from "../../src/operator/replayGroup.ts";
import { bulkReplaysOf, discardJobs, TRANSPORT } from "../support/bulk.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const actor = { id: "U_ALICE", context: { channel: "C1" } };
const VALIDATION = '** (Ecto.CastError) cannot cast "abc" to :integer';

describe("operator.watchReplayGroup: a bulk retry's replays observed as a group", () => {
  let d: TestDeployment;
  let live: string;
  let firstDoc = 5000;

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
  });
  afterAll(() => d?.close());

  const sql = (text: string, params: unknown[]) =>
    d.oban.pool.query(text.replaceAll("$T", `"${d.oban.prefix}".oban_jobs`), params);

  /** `n` failed transport rows (one document each, fresh ids), replayed in bulk: the new job ids. */
  const bulkReplays = (
    n: number,
    args: (schema: string, index: string, ids: number[]) => Record<string, unknown> = upsertArgs,
  ): Promise<number[]> =>
    bulkReplaysOf(
      d,
      live,
      Array.from({ length: n }, () => firstDoc++),
      { actor, args },
    );

  const discard = (ids: number[], error: string) => discardJobs(d, ids, error);
  const complete = (ids: number[]) =>
    sql(`UPDATE $T SET state = 'completed', completed_at = now() WHERE id = ANY($1::bigint[])`, [ids]);

  it("counts the group by state, failed ones by class, pruned ids, and verifies a bounded sample", async () => {
    const jobs = await bulkReplays(12);
    const watch = d.operator.watchReplayGroup(jobs, new Date());
    expect(await watch.observe()).toMatchObject({
      state: "following",
      total: 12,
      pending: 12,
      completed: 0,
      failed: 0,
      pruned: 0,
      sample: { sampled: 0, verified: 0 },
    });

    // Three ran through the worker (their documents are in the index), three completed without
    // their documents reaching the index, two failed on transport, one on validation, one is
    // retrying, one executing, and one was pruned from the table.
    const [a, b, c, e, f, g, h, i, j, k, l, m] = jobs as [number, ...number[]];
    for (const id of [a, b, c]) await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, id as number);
    await complete([e, f, g] as number[]);
    await discard([h, i] as number[], TRANSPORT);
    await discard([j] as number[], VALIDATION);
    await sql(`UPDATE $T SET state = 'retryable', attempt = 1 WHERE id = $1`, [k]);
    await sql(`UPDATE $T SET state = 'executing', attempt = 1 WHERE id = $1`, [l]);
    await sql(`DELETE FROM $T WHERE id = $1`, [m]);

    const seen = await watch.observe();
    expect(seen).toMatchObject({
      state: "following",
      total: 12,
      completed: 6,
      pending: 2,
      retrying: 1,
      failed: 3,
      failedByClass: { transport: 2, validation: 1 },
      pruned: 1,
      index: live,
    });
    // The sample is bounded: five of the six completed jobs, one document each; the three the
    // worker ran are observed, the two whose documents never reached the index are not.
    expect(GROUP_SAMPLE_SIZE).toBe(5);
    expect(seen.sample).toEqual({ sampled: 5, verified: 3 });

    // The missing documents arrive; the last pending jobs end: nothing pending, some failed.
    await d.meili
      .index(live)
      .addDocuments(await Promise.all([e, f].map(async (id) => documentOf(id as number))))
      .waitTask();
    await complete([k, l] as number[]);
    const ended = await watch.observe();
    expect(ended).toMatchObject({ state: "failed", completed: 8, pending: 0, failed: 3, pruned: 1 });
    expect(ended.sample).toEqual({ sampled: 5, verified: 5 });

    // Where following ended is kept on each replay link, as a single retry's follower keeps it.
    expect(await watch.record(ended)).toBe(12);
    expect(await verdicts(jobs)).toEqual({
      [a as number]: "verified",
      [b as number]: "verified",
      [c as number]: "verified",
      [e as number]: "verified",
      [f as number]: "verified",
      [g as number]: "queue_only_completed",
      [k as number]: "queue_only_completed",
      [l as number]: "queue_only_completed",
      [h as number]: "failed",
      [i as number]: "failed",
      [j as number]: "failed",
      [m as number]: "unknown",
    });
    // A weaker verdict never replaces a stronger one.
    expect(await watch.record({ ...ended, state: "timed_out" })).toBe(0);
  });

  it("is completed once every job completed and every sampled document is in the index", async () => {
    const jobs = await bulkReplays(3);
    const watch = d.operator.watchReplayGroup(jobs, new Date());
    await complete(jobs);
    // Completed in the queue is not searchable: the documents are not in the index yet.
    expect(await watch.observe()).toMatchObject({
      state: "following",
      completed: 3,
      sample: { sampled: 3, verified: 0 },
    });
    await d.meili
      .index(live)
      .addDocuments(await Promise.all(jobs.map(documentOf)))
      .waitTask();
    expect(await watch.observe()).toMatchObject({
      state: "completed",
      completed: 3,
      pending: 0,
      failed: 0,
      pruned: 0,
      sample: { sampled: 3, verified: 3 },
    });
  });

  it("checks the expected values, not only the id, and verifies a delete by the document being gone", async () => {
    const [upsert] = await bulkReplays(1);
    const watch = d.operator.watchReplayGroup([upsert as number], new Date());
    await complete([upsert as number]);
    const doc = await documentOf(upsert as number);
    await d.meili
      .index(live)
      .addDocuments([{ ...doc, title: "stale title" }])
      .waitTask();
    expect((await watch.observe()).sample).toEqual({ sampled: 1, verified: 0 });

    const deletes = await bulkReplays(2, deleteArgs);
    const gone = d.operator.watchReplayGroup(deletes, new Date());
    const [present] = deletes as [number];
    await d.meili
      .index(live)
      .addDocuments([{ id: await docIdOf(present), title: "still here" }])
      .waitTask();
    await complete(deletes);
    expect(await gone.observe()).toMatchObject({ state: "following", sample: { sampled: 2, verified: 1 } });
    // The delete reaches the index: the document is gone.
    await d.meili
      .index(live)
      .deleteDocument(await docIdOf(present))
      .waitTask();
    expect(await gone.observe()).toMatchObject({ state: "completed", sample: { sampled: 2, verified: 2 } });
  });

  it("records timed_out for the jobs still pending when following ran out of time, and nothing while following", async () => {
    const jobs = await bulkReplays(2);
    const watch = d.operator.watchReplayGroup(jobs, new Date());
    await complete(jobs.slice(0, 1));
    const seen = await watch.observe();
    expect(await watch.record(seen)).toBe(0);
    expect(await watch.record({ ...seen, state: "timed_out" })).toBe(2);
    expect(await verdicts(jobs)).toEqual({
      [jobs[0] as number]: "queue_only_completed",
      [jobs[1] as number]: "timed_out",
    });
  });

  it("says unknown when nothing failed but jobs vanished, and counts ids it never saw as pruned", async () => {
    const jobs = await bulkReplays(2);
    const watch = d.operator.watchReplayGroup([...jobs, ...jobs, 2_000_000_000], new Date());
    await sql(`DELETE FROM $T WHERE id = ANY($1::bigint[])`, [jobs]);
    expect(await watch.observe()).toMatchObject({
      state: "unknown",
      total: 3,
      pruned: 3,
      completed: 0,
      pending: 0,
    });
  });

  it("reads 1,000 replays in one aggregated statement per observation, classifying only the failed ones", async () => {
    // 1,000 failed rows in one INSERT, replayed in bulk (ten batches).
    const { rows } = await sql(
      `INSERT INTO $T (state, queue, worker, args, errors, attempt, max_attempts, attempted_at)
       SELECT 'discarded', $1, 'Scrypath.Oban.UpsertWorker',
         jsonb_build_object('operation', 'upsert', 'schema', $2::text, 'index', $3::text,
           'document_ids', jsonb_build_array(n), 'document_count', 1,
           'documents', jsonb_build_array(jsonb_build_object('id', n, 'data', jsonb_build_object('id', n, 'title', 'Post ' || n), 'source', 'fields'))),
         ARRAY[jsonb_build_object('at', now()::text, 'attempt', 3, 'error', $4::text)], 3, 3, now()
       FROM generate_series(100000, 100999) n RETURNING id`,
      [QUEUE, `Elixir.${POST}`, live, TRANSPORT],
    );
    const result = await d.operator.executeBulkRetry(
      "posts",
      rows.map((r) => Number(r.id)),
      actor,
    );
    expect(result.skipped).toEqual({});
    expect(result.replayed).toHaveLength(1000);
    const jobs = result.replayed.map((r) => r.jobId).sort((a, b) => a - b);
    await complete(jobs.slice(0, 640));
    await discard(jobs.slice(640, 650), TRANSPORT);
    await discard(jobs.slice(650, 652), "something odd happened");
    await sql(`UPDATE $T SET state = 'cancelled' WHERE id = $1`, [jobs[652]]);

    // The same operator on a pool that notes every statement it sends.
    const config = parseConfig(d.raw, {});
    const pool = createPool(config.database.url, { max: 2 });
    const statements: string[] = [];
    const query = pool.query.bind(pool);
    pool.query = ((text: unknown, ...rest: unknown[]) => {
      statements.push(typeof text === "string" ? text : String((text as { text?: string }).text));
      return (query as (...a: unknown[]) => unknown)(text, ...rest);
    }) as typeof pool.query;
    const op = createOperator({ config, db: pool, meili: createMeiliClient(config.meilisearch) });
    try {
      const watch = op.watchReplayGroup(jobs, new Date());
      const first = await watch.observe();
      expect(first).toMatchObject({
        total: 1000,
        completed: 640,
        pending: 347,
        failed: 13,
        failedByClass: { transport: 10, unknown: 1, queue_exhausted: 2 },
        pruned: 0,
        sample: { sampled: 5, verified: 0 },
      });
      statements.length = 0;
      await watch.observe();
      // The sample is full: one statement over oban_jobs, and it never reads args.
      const reads = statements.filter((s) => s.includes("oban_jobs"));
      expect(reads).toHaveLength(1);
      expect(reads[0]).toMatch(/j\.id = ANY\(\$1::bigint\[\]\)/);
      expect(reads[0]).not.toMatch(/args/);
    } finally {
      await op.close();
    }
  });

  /** The verdict recorded on each replay job's link. */
  async function verdicts(jobs: number[]): Promise<Record<number, string | null>> {
    const { rows } = await d.oban.pool.query(
      `SELECT replay_job_id::int AS job, verification FROM "${d.config.state.schema}".replay_links
       WHERE replay_job_id = ANY($1::bigint[])`,
      [jobs],
    );
    return Object.fromEntries(rows.map((r) => [r.job, r.verification]));
  }

  /** The document id a replay job carries (its first). */
  async function docIdOf(jobId: number): Promise<number> {
    const { rows } = await sql(`SELECT (args -> 'document_ids' ->> 0)::int AS doc FROM $T WHERE id = $1`, [
      jobId,
    ]);
    return rows[0].doc;
  }
  /** The document an upsert replay job writes. */
  async function documentOf(jobId: number): Promise<Record<string, unknown>> {
    const id = await docIdOf(jobId);
    return { id, title: `Post ${id}` };
  }
});
