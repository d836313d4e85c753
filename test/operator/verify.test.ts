import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteArgs, upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runScrypathJob } from "../../devkit/sandbox/worker.ts";
import { observeReplay, receiptFor } from "../../src/operator/verify.ts";
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
    expect((await observeReplay(d.operator.context, receipt)).state).toBe("accepted");
    await d.oban.pool.query(`UPDATE "${d.oban.prefix}".oban_jobs SET state = 'executing' WHERE id = $1`, [
      receipt.jobId,
    ]);
    expect((await observeReplay(d.operator.context, receipt)).state).toBe("running");
    await d.oban.pool.query(`UPDATE "${d.oban.prefix}".oban_jobs SET state = 'available' WHERE id = $1`, [
      receipt.jobId,
    ]);
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, receipt.jobId);
    const seen = await observeReplay(d.operator.context, receipt);
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
    expect(await observeReplay(d.operator.context, receipt)).toMatchObject({
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
    expect((await observeReplay(d.operator.context, receipt)).state).toBe("verified");
  });

  it("reports a failed replay with its error", async () => {
    const receipt = await retry(upsertArgs(POST, live, [4]));
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, receipt.jobId, "fail");
    expect(await observeReplay(d.operator.context, receipt)).toMatchObject({
      state: "failed",
      lastError: "** (RuntimeError) worker crashed",
    });
  });
});
