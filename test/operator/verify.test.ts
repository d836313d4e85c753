import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteArgs, upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runScrypathJob } from "../../devkit/sandbox/worker.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { observeReplay, receiptFor, recordReplayVerdict, replayVerdict } from "../../src/operator/verify.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

describe("observeReplay (§9.6) with a real index", () => {
  let d: TestDeployment;
  let live: string;

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
  });
  afterAll(() => d?.close());

  const retry = async (args: Record<string, unknown>) => {
    const failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args,
      errors: [obanError("boom")],
    });
    const result = await d.operator.retrySyncWork("posts", failed, { id: "U_A" });
    const { rows } = await d.oban.pool.query(`SELECT args FROM "${d.oban.prefix}".oban_jobs WHERE id = $1`, [
      result.job.id,
    ]);
    return receiptFor(
      result.job.id,
      live,
      args.operation as "upsert" | "delete",
      rows[0].args,
      new Date(Date.now() - 1000),
    );
  };

  it("goes accepted → running → verified when the documents are in the index", async () => {
    const receipt = await retry(upsertArgs(POST, live, [1, 2]));
    expect((await observeReplay(operatorContext(d.operator), receipt)).state).toBe("accepted");
    await d.oban.pool.query(`UPDATE "${d.oban.prefix}".oban_jobs SET state = 'executing' WHERE id = $1`, [
      receipt.jobId,
    ]);
    expect((await observeReplay(operatorContext(d.operator), receipt)).state).toBe("running");
    await d.oban.pool.query(`UPDATE "${d.oban.prefix}".oban_jobs SET state = 'available' WHERE id = $1`, [
      receipt.jobId,
    ]);
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, receipt.jobId);
    const seen = await observeReplay(operatorContext(d.operator), receipt);
    expect(seen).toMatchObject({
      state: "verified",
      jobState: "completed",
      documents: { checked: 2, matched: 2 },
    });
    expect(seen.task).toMatchObject({ status: "succeeded" });
  });

  it("says queue_only_completed while the documents are not observable", async () => {
    const receipt = await retry(upsertArgs(POST, live, [3]));
    await d.oban.pool.query(
      `UPDATE "${d.oban.prefix}".oban_jobs SET state = 'completed', completed_at = now() WHERE id = $1`,
      [receipt.jobId],
    );
    expect(await observeReplay(operatorContext(d.operator), receipt)).toMatchObject({
      state: "queue_only_completed",
      documents: { checked: 1, matched: 0 },
    });
  });

  it("verifies a delete by the documents being gone", async () => {
    await d.meili
      .index(live)
      .addDocuments([{ id: 9, title: "to delete" }])
      .waitTask();
    const receipt = await retry(deleteArgs(POST, live, [9]));
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, receipt.jobId);
    expect((await observeReplay(operatorContext(d.operator), receipt)).state).toBe("verified");
  });

  it("reports a failed replay with its error", async () => {
    const receipt = await retry(upsertArgs(POST, live, [4]));
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, receipt.jobId, "fail");
    expect(await observeReplay(operatorContext(d.operator), receipt)).toMatchObject({
      state: "failed",
      lastError: "** (RuntimeError) worker crashed",
    });
  });

  it("records the verdict a follower reached; failed work and its tally then say verified", async () => {
    const receipt = await retry(upsertArgs(POST, live, [5]));
    const failedId = Number(
      (
        await d.oban.pool.query(
          `SELECT meta->'scrypath_bot'->>'replay_of' AS id FROM "${d.oban.prefix}".oban_jobs WHERE id = $1`,
          [receipt.jobId],
        )
      ).rows[0].id,
    );
    const ctx = operatorContext(d.operator);
    // Still in flight: nothing to record.
    expect(await recordReplayVerdict(ctx, receipt.jobId, await observeReplay(ctx, receipt))).toBeNull();
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, receipt.jobId);
    const before = await d.operator.failedSyncWork("posts", { limit: 100 });
    expect(before.entries.find((e) => e.id === failedId)?.replayedAs).toMatchObject({
      state: "completed",
      verification: null,
    });
    const verifiedBefore = before.tally?.replayed.verified ?? Number.NaN;
    const seen = await observeReplay(ctx, receipt);
    expect(seen.state).toBe("verified");
    expect(await recordReplayVerdict(ctx, receipt.jobId, seen)).toMatchObject({ verdict: "verified" });
    // Another replica that ran out of time before seeing the documents does not undo it.
    expect(
      await recordReplayVerdict(ctx, receipt.jobId, { state: "timed_out", jobState: "completed" }),
    ).toMatchObject({ verdict: "verified" });
    const after = await d.operator.failedSyncWork("posts", { limit: 100 });
    expect(after.entries.find((e) => e.id === failedId)?.replayedAs).toMatchObject({
      jobId: receipt.jobId,
      state: "completed",
      verification: "verified",
    });
    expect(after.tally?.replayed.verified).toBe(verifiedBefore + 1);
    expect(after.tally?.resolved).toBe(before.tally?.resolved);
    // A second retry of the row is refused, naming the replay as verified.
    await expect(d.operator.retrySyncWork("posts", failedId, { id: "U_B" })).rejects.toMatchObject({
      reason: "already_replayed",
      message: expect.stringContaining(`already replayed as job ${receipt.jobId} (verified) by U_A`),
    });
  });

  it("names the verdict of a follower's last observation", () => {
    expect(replayVerdict({ state: "verified", jobState: "completed" })).toBe("verified");
    expect(replayVerdict({ state: "failed", jobState: "discarded" })).toBe("failed");
    expect(replayVerdict({ state: "unknown", jobState: null })).toBe("unknown");
    // Out of time after the job completed: the documents were not observed in time.
    expect(replayVerdict({ state: "timed_out", jobState: "completed" })).toBe("queue_only_completed");
    expect(replayVerdict({ state: "timed_out", jobState: "executing" })).toBe("timed_out");
    for (const state of ["accepted", "running"] as const) {
      expect(replayVerdict({ state, jobState: "available" })).toBeNull();
    }
  });
});
