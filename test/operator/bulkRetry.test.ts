// Bulk retry over real Postgres: the filter resolved once to the ids a single retry would accept
// (exactly the failed-work listing, minus the exclusions, counted), the cap, batches that are
// each one transaction (a backend killed mid-batch leaves whole batches only, and asking again
// finishes the rest with no duplicate), and concurrent executions over two pools replaying once.
import type pg from "pg";
import { describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { RefusedError } from "../../src/errors.ts";
import { bulkDeployments, insertFailedJobs, TRANSPORT, VALIDATION } from "../support/bulk.ts";
import { insertJob, testPool } from "../support/db.ts";
import { obanError, type TestDeployment } from "../support/operator.ts";
import { POST, QUEUE } from "../support/posts.ts";

const actor = { id: "U_ALICE", context: { channel: "C1" } };

const { deployment, replica, onClose } = bulkDeployments();
const failed = insertFailedJobs;

async function links(d: TestDeployment): Promise<{ failed: number; replay: number }[]> {
  const { rows } = await d.oban.pool.query(
    `SELECT failed_job_id::int AS failed, replay_job_id::int AS replay FROM "${d.config.state.schema}".replay_links ORDER BY failed_job_id`,
  );
  return rows;
}

async function replayJobs(d: TestDeployment): Promise<number[]> {
  const { rows } = await d.oban.pool.query(
    `SELECT (meta->'scrypath_bot'->>'replay_of')::int AS of FROM "${d.oban.prefix}".oban_jobs
     WHERE meta ? 'scrypath_bot' ORDER BY 1`,
  );
  return rows.map((r) => r.of);
}

async function refusal(promise: Promise<unknown>): Promise<RefusedError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RefusedError);
    return error as RefusedError;
  }
  throw new Error("expected a refusal");
}

describe("resolveBulkRetry", () => {
  it("resolves exactly the failed-work listing of the class, minus the exclusions, counted by reason", async () => {
    const { d, live } = await deployment();
    const terminal = await failed(d, live, 6);
    const retrying = await failed(d, live, 2, { state: "retryable" });
    const cancelled = await failed(d, live, 1, { state: "cancelled" });
    // Other classes, another schema's rows: not in the filter.
    await failed(d, live, 3, { error: VALIDATION });
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs("MyApp.Other", live, [1]),
      errors: [obanError(TRANSPORT)],
    });
    // Matching rows a single retry refuses: no payload, the wrong index, already replayed.
    const [noPayload] = await failed(d, live, 1, {
      args: { ...upsertArgs(POST, live, [5]), documents: undefined },
    });
    const [otherIndex] = await failed(d, live, 1, { args: upsertArgs(POST, "old_post", [6]) });
    const alreadyReplayed = terminal[0] as number;
    await d.operator.retrySyncWork("posts", alreadyReplayed, actor);

    const plan = await d.operator.resolveBulkRetry(
      "posts",
      { reasonClass: "transport", state: "all" },
      actor,
    );
    const listing = await d.operator.failedSyncWork("posts", {
      source: "oban",
      reasonClass: "transport",
      limit: 1000,
    });
    const listed = listing.entries.map((e) => e.id);
    const left = new Set([noPayload, otherIndex, alreadyReplayed]);
    expect(plan.ids).toEqual(listed.filter((id) => !left.has(id)).sort((a, b) => a - b));
    expect(plan.ids).toEqual([...terminal.slice(1), ...retrying, ...cancelled].sort((a, b) => a - b));
    expect(plan.excluded).toEqual({ not_retryable: 1, index_mismatch: 1, already_replayed: 1 });
    expect(plan.byClass).toEqual({ transport: 8 });
    expect(plan.byState).toEqual({ discarded: 5, retryable: 2, cancelled: 1 });
    expect(plan.queue).toBe(QUEUE);
    expect(plan.sample).toHaveLength(5);
    expect(plan.sample[0]?.lastError).toContain("Req.TransportError");

    // The default state is terminal: the retryable rows are left to Oban.
    const terminalPlan = await d.operator.resolveBulkRetry("posts", { reasonClass: "transport" }, actor);
    expect(terminalPlan.ids).toEqual([...terminal.slice(1), ...cancelled].sort((a, b) => a - b));
    expect(terminalPlan.byState).toEqual({ discarded: 5, cancelled: 1 });
  });

  it("keeps only rows that failed since the given time, with the oldest and newest failure", async () => {
    const { d, live } = await deployment();
    await failed(d, live, 2, { at: new Date("2026-11-20T08:00:00Z") });
    const recent = await failed(d, live, 1, { at: new Date("2026-11-20T11:00:00Z") });
    const newer = await failed(d, live, 1, { at: new Date("2026-11-20T12:30:00Z") });
    const plan = await d.operator.resolveBulkRetry("posts", {
      reasonClass: "transport",
      since: new Date("2026-11-20T10:00:00Z"),
    });
    expect(plan.ids).toEqual([...recent, ...newer]);
    expect(plan.oldestFailure?.toISOString()).toBe("2026-11-20T11:00:00.000Z");
    expect(plan.newestFailure?.toISOString()).toBe("2026-11-20T12:30:00.000Z");
  });

  it("refuses above access.bulkRetryLimit, saying how many match, and audits the refusal", async () => {
    const { d, live } = await deployment();
    await failed(d, live, 4);
    const capped = replica(d, { access: { bulkRetryLimit: 3 } });
    const e = await refusal(capped.resolveBulkRetry("posts", { reasonClass: "transport" }, actor));
    expect(e.reason).toBe("bulk_limit");
    expect(e.message).toContain("4 failed jobs");
    expect(e.message).toContain("limit of 3");
    expect(e.message).toContain("--since");
    const at = replica(d, { access: { bulkRetryLimit: 4 } });
    expect((await at.resolveBulkRetry("posts", { reasonClass: "transport" })).ids).toHaveLength(4);
    const audit = await d.operator.auditLog({ limit: 5 });
    expect(audit[0]).toMatchObject({ actor: "U_ALICE", outcome: "refused", reason: "bulk_limit" });
  });

  it("refuses a filter nothing matches", async () => {
    const { d, live } = await deployment();
    await failed(d, live, 2, { error: VALIDATION });
    const e = await refusal(d.operator.resolveBulkRetry("posts", { reasonClass: "transport" }, actor));
    expect(e.reason).toBe("nothing_to_retry");
  });
});

describe("executeBulkRetry", () => {
  it("replays in batches with progress, one audit row per replay; a second run replays nothing", async () => {
    const { d, live } = await deployment();
    const ids = await failed(d, live, 7);
    const plan = await d.operator.resolveBulkRetry("posts", { reasonClass: "transport" });
    const progress: unknown[] = [];
    const result = await d.operator.executeBulkRetry("posts", plan.ids, actor, {
      batchSize: 3,
      onProgress: (p) => progress.push(p),
    });
    expect(result.replayed.map((r) => r.id)).toEqual(ids);
    expect(result).toMatchObject({ batches: 3, failedBatches: 0, skipped: {}, notAttempted: 0 });
    expect(progress).toEqual([
      { done: 3, total: 7, skipped: 0 },
      { done: 6, total: 7, skipped: 0 },
      { done: 7, total: 7, skipped: 0 },
    ]);
    expect((await links(d)).map((l) => l.failed)).toEqual(ids);
    const { rows } = await d.oban.pool.query(
      `SELECT count(*)::int AS n FROM "${d.config.state.schema}".audit_log WHERE outcome = 'accepted' AND details->>'bulk' = 'true'`,
    );
    expect(rows[0].n).toBe(7);

    // Executing the same ids again: every one is skipped as already replayed.
    const again = await d.operator.executeBulkRetry("posts", plan.ids, actor);
    expect(again.replayed).toEqual([]);
    expect(again.skipped).toEqual({ already_replayed: 7 });
    expect(await replayJobs(d)).toEqual(ids);
  });

  it("skips, and counts, rows that stopped being failed after the resolve", async () => {
    const { d, live } = await deployment();
    const ids = await failed(d, live, 3);
    const plan = await d.operator.resolveBulkRetry("posts", { reasonClass: "transport" });
    await d.oban.pool.query(`UPDATE "${d.oban.prefix}".oban_jobs SET state = 'completed' WHERE id = $1`, [
      ids[1],
    ]);
    const result = await d.operator.executeBulkRetry("posts", plan.ids, actor);
    expect(result.replayed.map((r) => r.id)).toEqual([ids[0], ids[2]]);
    expect(result.skipped).toEqual({ not_found: 1 });
  });

  it("leaves whole batches only when the backend is killed mid-batch; asking again finishes the rest once", async () => {
    const { d, live } = await deployment();
    const ids = await failed(d, live, 9);
    const plan = await d.operator.resolveBulkRetry("posts", { reasonClass: "transport" });
    const admin: pg.Pool = testPool(2);
    onClose(() => admin.end());
    // Hold the lock of the 5th id: batch 2 (ids 4-6) has replayed id 4 and waits there when killed.
    const lockClient = await admin.connect();
    lockClient.on("error", () => {});
    await lockClient.query("BEGIN");
    await lockClient.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
      `scrypath_bot:retry:${d.oban.prefix}:${ids[4]}`,
    ]);
    const holder = (await lockClient.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    const run = d.operator.executeBulkRetry("posts", plan.ids, actor, { batchSize: 3 });
    let victim: number | null = null;
    for (let i = 0; i < 400 && victim === null; i++) {
      const { rows } = await admin.query(
        "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
        [holder],
      );
      victim = rows[0]?.pid ?? null;
      if (victim === null) await new Promise((r) => setTimeout(r, 25));
    }
    expect(victim).not.toBeNull();
    await admin.query("SELECT pg_terminate_backend($1)", [victim]);
    const result = await run;
    await lockClient.query("ROLLBACK");
    lockClient.release();

    expect(result.batches).toBe(1);
    expect(result.failedBatches).toBe(1);
    expect(result.notAttempted).toBe(6);
    expect(result.error?.code).toMatch(/^postgres_/);
    expect(result.replayed.map((r) => r.id)).toEqual(ids.slice(0, 3));
    // Whole batches only: nothing of batch 2 (id 4 was replayed inside it, then rolled back).
    expect(await replayJobs(d)).toEqual(ids.slice(0, 3));
    expect((await links(d)).map((l) => l.failed)).toEqual(ids.slice(0, 3));

    // Asking again: the resolve excludes what was replayed, the execution finishes the rest.
    const rest = await d.operator.resolveBulkRetry("posts", { reasonClass: "transport" });
    expect(rest.ids).toEqual(ids.slice(3));
    expect(rest.excluded).toEqual({ already_replayed: 3 });
    const second = await d.operator.executeBulkRetry("posts", rest.ids, actor, { batchSize: 3 });
    expect(second.replayed.map((r) => r.id)).toEqual(ids.slice(3));
    expect(await replayJobs(d)).toEqual(ids);
    expect((await links(d)).map((l) => l.failed)).toEqual(ids);
  });

  it("replays each row once under 20 concurrent executions of the same ids over two pools", async () => {
    const { d, live } = await deployment();
    const ids = await failed(d, live, 12);
    const plan = await d.operator.resolveBulkRetry("posts", { reasonClass: "transport" });
    const other = replica(d);
    const runs = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? d.operator : other).executeBulkRetry("posts", plan.ids, actor, { batchSize: 5 }),
      ),
    );
    expect(runs.every((r) => r.failedBatches === 0)).toBe(true);
    const replayed = runs.flatMap((r) => r.replayed.map((x) => x.id)).sort((a, b) => a - b);
    expect(replayed).toEqual(ids);
    const skipped = runs.reduce((n, r) => n + (r.skipped.already_replayed ?? 0), 0);
    expect(skipped).toBe(19 * 12);
    expect(await replayJobs(d)).toEqual(ids);
    expect((await links(d)).map((l) => l.failed)).toEqual(ids);
  });
});
