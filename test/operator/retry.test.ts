import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteArgs, upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { parseConfig } from "../../src/config.ts";
import { createOperator } from "../../src/operator/index.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { previewRequest } from "../../src/operator/requests.ts";
import { ensureState } from "../../src/state/migrations.ts";
import { freshObanPrefix, insertJob } from "../support/db.ts";
import { failDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const actor = { id: "U_ALICE", context: { channel: "C1" } };

describe("retrySyncWork over real Postgres", () => {
  let d: TestDeployment;
  let live: string;

  beforeAll(async () => {
    d = await testDeployment([postsSchema({ obanMaxAttempts: 5 })]);
    live = `${d.indexPrefix}_post`;
  });
  afterAll(() => d?.close());

  const jobRow = async (id: number) =>
    (
      await d.oban.pool.query(
        `SELECT id::int, state::text, queue, worker, args, meta, errors, attempt, max_attempts, priority, tags,
           attempted_by, inserted_at, scheduled_at, attempted_at, completed_at, discarded_at, cancelled_at
         FROM "${d.oban.prefix}".oban_jobs WHERE id = $1`,
        [id],
      )
    ).rows[0];
  const audits = async () =>
    (
      await d.oban.pool.query(
        `SELECT actor, action, outcome, reason, target, context FROM scrypath_bot_${d.indexPrefix}.audit_log ORDER BY id`,
      )
    ).rows;

  it("inserts one new available job with rebuilt args and leaves the failed job untouched", async () => {
    const failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [7, 8], {
        meilisearch_api_key: "sk-old",
        meilisearch_url: "http://old:7700",
      }),
      errors: [obanError("** (RuntimeError) boom")],
      attempt: 8,
      maxAttempts: 8,
      attemptedAt: new Date("2026-11-20T10:00:00Z"),
      discardedAt: new Date("2026-11-20T10:00:01Z"),
    });
    const before = await jobRow(failed);
    const result = await d.operator.retrySyncWork("posts", failed, actor);
    expect(result).toMatchObject({
      id: failed,
      status: "accepted",
      mode: "oban",
      index: live,
      documentIds: [7, 8],
      documentCount: 2,
      job: {
        worker: "Scrypath.Oban.UpsertWorker",
        queue: QUEUE,
        state: "available",
        attempt: 0,
        maxAttempts: 5,
      },
    });
    expect(await jobRow(failed)).toEqual(before);

    const row = await jobRow(result.job.id);
    expect(row).toMatchObject({
      state: "available",
      queue: QUEUE,
      worker: "Scrypath.Oban.UpsertWorker",
      errors: [],
      attempt: 0,
      max_attempts: 5,
      priority: 0,
      tags: [],
      attempted_by: null,
      attempted_at: null,
      completed_at: null,
      discarded_at: null,
      cancelled_at: null,
      meta: { scrypath_bot: { replay_of: failed, requested_by: "U_ALICE" } },
    });
    expect(row.args).toEqual({
      operation: "upsert",
      schema: `Elixir.${POST}`,
      backend: "Elixir.Scrypath.Meilisearch",
      index: live,
      sync_mode: "oban",
      document_ids: [7, 8],
      document_count: 2,
      documents: [
        { id: 7, data: { id: 7, title: "Post 7" }, source: "fields" },
        { id: 8, data: { id: 8, title: "Post 8" }, source: "fields" },
      ],
      index_prefix: d.indexPrefix,
    });
    // Timestamps are UTC "now" (the column has no time zone).
    const { rows } = await d.oban.pool.query(
      `SELECT abs(extract(epoch FROM (timezone('UTC', now()) - inserted_at))) < 60 AS fresh,
         scheduled_at = inserted_at AS same FROM "${d.oban.prefix}".oban_jobs WHERE id = $1`,
      [result.job.id],
    );
    expect(rows[0]).toEqual({ fresh: true, same: true });

    const failedWork = await d.operator.failedSyncWork("posts");
    const replayed = failedWork.entries.find((e) => e.id === failed);
    expect(replayed?.replayedAs).toMatchObject({
      jobId: result.job.id,
      state: "available",
      requestedBy: "U_ALICE",
    });
    expect((await audits()).at(-1)).toMatchObject({
      actor: "U_ALICE",
      action: "scrypath.ops.failed_work_retry",
      outcome: "accepted",
      target: { source: "oban", id: failed, new_job_id: result.job.id },
      context: { channel: "C1" },
    });
  });

  it("replays a delete with the same document ids on the DeleteWorker", async () => {
    const failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "retryable",
      queue: QUEUE,
      args: deleteArgs(POST, live, [3, 4]),
      errors: [obanError("timeout")],
    });
    const result = await d.operator.retrySyncWork(POST, `oban:${failed}`, actor);
    const row = await jobRow(result.job.id);
    expect(row.worker).toBe("Scrypath.Oban.DeleteWorker");
    expect(row.args).toMatchObject({ operation: "delete", document_ids: [3, 4], document_count: 2 });
    expect(row.args.documents).toBeUndefined();
  });

  it("refuses with upstream's reasons and audits every refusal", async () => {
    const { pool, prefix } = d.oban;
    const cases: [string, number | string, RegExp][] = [];
    const noPayload = await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: { operation: "upsert", schema: `Elixir.${POST}`, index: live },
    });
    cases.push(["not_retryable", noPayload, /no replayable payload/]);
    const otherIndex = await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, "old_prefix_post"),
    });
    cases.push(["index_mismatch", otherIndex, /targets index old_prefix_post/]);
    const otherBackend = await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [1], { backend: "Elixir.MyApp.OtherBackend" }),
    });
    cases.push(["backend_mismatch", otherBackend, /OtherBackend/]);
    const badDocs = await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [1], { documents: [{ id: 1 }] }),
    });
    cases.push(["missing_retry_input", badDocs, /documents\[0\]/]);
    const completed = await insertJob(pool, prefix, {
      state: "completed",
      queue: QUEUE,
      args: upsertArgs(POST, live),
    });
    cases.push(["not_found", completed, /no failed work found for id \d+ \(job \d+ is completed\)/]);
    cases.push(["not_found", 999_999, /no failed work found for id 999999$/]);
    const task = await failDocumentTask(d.meili, live, "missing_primary_key");
    cases.push(["not_retryable", `meilisearch:${task.uid}`, /backend rows have no replay action/]);

    for (const [reason, id, message] of cases) {
      const before = await audits();
      const error = await d.operator.retrySyncWork("posts", id, actor).then(
        () => null,
        (e: unknown) => e,
      );
      expect({ id, error }).toMatchObject({ id, error: { code: "refused", reason } });
      expect((error as Error).message).toMatch(message);
      const after = await audits();
      expect(after.length).toBe(before.length + 1);
      expect(after.at(-1)).toMatchObject({
        outcome: "refused",
        reason,
        action: "scrypath.ops.failed_work_retry",
      });
    }
    await expect(d.operator.retrySyncWork("posts", "abc", actor)).rejects.toThrow(/invalid id "abc"/);
  });

  it("gives exactly one new job for 20 concurrent retries from two processes' pools; losers learn who won", async () => {
    const failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [42]),
      errors: [obanError("boom")],
    });
    // Two independent operators (as two bot replicas) sharing the database.
    const second = createOperator({
      config: d.config,
      db: createPool(d.config.database.url, { max: 6 }),
      meili: createMeiliClient(d.config.meilisearch),
    });
    try {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? second : d.operator).retrySyncWork("posts", failed, { id: `U_${i}` }),
        ),
      );
      const won = outcomes.filter((o) => o.status === "fulfilled");
      const lost = outcomes.filter((o) => o.status === "rejected") as PromiseRejectedResult[];
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(19);
      const winner = (won[0] as PromiseFulfilledResult<{ job: { id: number } }>).value;
      for (const l of lost) {
        expect(l.reason).toMatchObject({ reason: "already_replayed" });
        expect(l.reason.message).toContain(`as job ${winner.job.id} (available) by U_`);
      }
      const { rows } = await d.oban.pool.query(
        `SELECT count(*)::int AS n FROM "${d.oban.prefix}".oban_jobs WHERE meta @> $1::jsonb`,
        [JSON.stringify({ scrypath_bot: { replay_of: failed } })],
      );
      expect(rows[0].n).toBe(1);
    } finally {
      await second.close();
    }
  });

  it("allows a new replay once the previous replay itself failed", async () => {
    const failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [50]),
    });
    const first = await d.operator.retrySyncWork("posts", failed, actor);
    await d.oban.pool.query(`UPDATE "${d.oban.prefix}".oban_jobs SET state = 'discarded' WHERE id = $1`, [
      first.job.id,
    ]);
    const second = await d.operator.retrySyncWork("posts", failed, actor);
    expect(second.job.id).not.toBe(first.job.id);
  });

  it("writes the job, the replay link and the audit row together or not at all", async () => {
    const failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [60]),
    });
    const count = async () =>
      (await d.oban.pool.query(`SELECT count(*)::int AS n FROM "${d.oban.prefix}".oban_jobs`)).rows[0]
        .n as number;
    const links = async () =>
      (await d.oban.pool.query(`SELECT count(*)::int AS n FROM scrypath_bot_${d.indexPrefix}.replay_links`))
        .rows[0].n as number;
    await ensureState(operatorContext(d.operator).db, d.config.state.schema);
    const [jobsBefore, linksBefore] = [await count(), await links()];
    // Break the audit insert mid-transaction: the job insert before it must roll back.
    await d.oban.pool.query(
      `ALTER TABLE scrypath_bot_${d.indexPrefix}.audit_log ADD CONSTRAINT no_accepts CHECK (outcome <> 'accepted') NOT VALID`,
    );
    try {
      await expect(d.operator.retrySyncWork("posts", failed, actor)).rejects.toMatchObject({
        code: "postgres_error",
      });
    } finally {
      await d.oban.pool.query(
        `ALTER TABLE scrypath_bot_${d.indexPrefix}.audit_log DROP CONSTRAINT no_accepts`,
      );
    }
    expect(await count()).toBe(jobsBefore);
    expect(await links()).toBe(linksBefore);
  });

  it("does not create the bot's tables on reads", async () => {
    const fresh = await testDeployment([{ module: POST, syncMode: "oban", obanQueue: QUEUE }], {
      migrate: false,
    });
    try {
      await fresh.operator.failedSyncWork(POST);
      await fresh.operator.reconcileSync(POST);
      const { rows } = await fresh.oban.pool.query("SELECT to_regnamespace($1)::text AS s", [
        fresh.config.state.schema,
      ]);
      expect(rows[0].s).toBeNull();
    } finally {
      await fresh.close();
    }
  });

  it("previews only what retry would act on: a failed job of the schema's queue and module", async () => {
    const elsewhere = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: "other_queue",
      args: upsertArgs(POST, live, [70]),
    });
    const request = { kind: "retry" as const, schema: "posts", target: String(elsewhere) };
    await expect(previewRequest(operatorContext(d.operator), request)).rejects.toMatchObject({
      reason: "not_found",
    });
    await expect(d.operator.retrySyncWork("posts", elsewhere, actor)).rejects.toMatchObject({
      reason: "not_found",
    });
  });

  it("keys replay links by the Oban prefix: two prefixes sharing one state schema do not block each other", async () => {
    const other = await freshObanPrefix();
    const twin = parseConfig(
      { ...d.raw, database: { ...(d.raw.database as object), obanPrefix: other.prefix } },
      {},
    );
    const twinOperator = createOperator({
      config: twin,
      db: createPool(twin.database.url, { max: 2 }),
      meili: createMeiliClient(twin.meilisearch),
    });
    try {
      expect(twin.state.schema).toBe(d.config.state.schema);
      const here = await insertJob(d.oban.pool, d.oban.prefix, {
        state: "discarded",
        queue: QUEUE,
        args: upsertArgs(POST, live, [90]),
      });
      // The same job id in the other prefix (each prefix numbers its own jobs).
      await other.pool.query(`SELECT setval(pg_get_serial_sequence($1, 'id'), $2, false)`, [
        `"${other.prefix}".oban_jobs`,
        here,
      ]);
      const there = await insertJob(other.pool, other.prefix, {
        state: "discarded",
        queue: QUEUE,
        args: upsertArgs(POST, live, [91]),
      });
      expect(there).toBe(here);
      const first = await d.operator.retrySyncWork("posts", here, actor);
      expect(first.status).toBe("accepted");
      // The twin's row is not replayed: it lists as plain failed work and its retry is accepted.
      const listed = await twinOperator.failedSyncWork("posts", { limit: 50 });
      const row = listed.entries.find((e) => e.source === "oban" && e.id === there);
      expect(row).toMatchObject({ id: there, replayedAs: null });
      // Nor is it counted as replayed in the twin's tally, while this prefix counts its own.
      expect(listed.tally?.replayed.total).toBe(0);
      expect((await d.operator.failedSyncWork("posts", { limit: 50 })).tally?.replayed.total).toBeGreaterThan(
        0,
      );
      expect((await d.operator.failedSyncWork("posts", { limit: 50 })).entries).toContainEqual(
        expect.objectContaining({ id: here, replayedAs: expect.objectContaining({ jobId: first.job.id }) }),
      );
      const second = await twinOperator.retrySyncWork("posts", there, actor);
      expect(second.status).toBe("accepted");
      expect((await jobRow(first.job.id)).args.document_ids).toEqual([90]);
      const links = await d.oban.pool.query(
        `SELECT oban_prefix, failed_job_id::int AS failed, replay_job_id::int AS replay
         FROM scrypath_bot_${d.indexPrefix}.replay_links WHERE failed_job_id = $1 ORDER BY oban_prefix`,
        [here],
      );
      expect(links.rows).toEqual(
        [
          { oban_prefix: d.oban.prefix, failed: here, replay: first.job.id },
          { oban_prefix: other.prefix, failed: there, replay: second.job.id },
        ].sort((a, b) => a.oban_prefix.localeCompare(b.oban_prefix)),
      );
      // Each prefix still refuses a second replay of its own job while the first is pending.
      await expect(d.operator.retrySyncWork("posts", here, actor)).rejects.toMatchObject({
        reason: "already_replayed",
      });
      await expect(twinOperator.retrySyncWork("posts", there, actor)).rejects.toMatchObject({
        reason: "already_replayed",
      });
    } finally {
      await twinOperator.close();
      await other.close();
    }
  });

  it("keeps its state schema configurable", () => {
    const config = parseConfig({ ...d.raw, state: { schema: "ops_bot" } }, {});
    expect(config.state.schema).toBe("ops_bot");
  });
});
