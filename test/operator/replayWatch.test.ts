import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteArgs, upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runScrypathJob } from "../../devkit/sandbox/worker.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, QUEUE } from "../support/posts.ts";

describe("operator.watchReplay: a follower's view of a replay, through the operator", () => {
  let d: TestDeployment;
  let live: string;

  beforeAll(async () => {
    d = await testDeployment([{ module: POST, alias: "posts", syncMode: "oban", obanQueue: QUEUE }]);
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
  });
  afterAll(() => d?.close());

  const replayOf = async (args: Record<string, unknown>) => {
    const failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args,
      errors: [obanError("boom")],
    });
    return (await d.operator.retrySyncWork("posts", failed, { id: "U_A" })).job.id;
  };

  it("reads the receipt from the replay job's args and observes it to verified", async () => {
    const jobId = await replayOf(upsertArgs(POST, live, [7, 8]));
    const startedAt = new Date(Date.now() - 1000);
    const watch = await d.operator.watchReplay(jobId, startedAt);
    expect(watch).not.toBeNull();
    if (!watch) return;
    expect(watch.queue).toBe(QUEUE);
    expect(watch.receipt).toMatchObject({ jobId, index: live, operation: "upsert", startedAt });
    expect(watch.receipt.documents.map((doc) => doc.id)).toEqual([7, 8]);
    expect((await watch.observe()).state).toBe("accepted");
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, jobId);
    expect(await watch.observe()).toMatchObject({
      state: "verified",
      jobState: "completed",
      documents: { checked: 2, matched: 2 },
    });
  });

  it("knows a delete replay by its args", async () => {
    const jobId = await replayOf(deleteArgs(POST, live, [9]));
    const watch = await d.operator.watchReplay(jobId, new Date());
    expect(watch?.receipt).toMatchObject({ operation: "delete", index: live });
  });

  it("is null for a job that is not there", async () => {
    expect(await d.operator.watchReplay(2_000_000_000, new Date())).toBeNull();
  });
});
