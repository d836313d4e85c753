import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const PAGE = "MyApp.Blog.Page";
const actor = { id: "U_BOB" };

describe("reconcile actions: backfill and reindex hand-offs", () => {
  let d: TestDeployment;
  let live: string;

  beforeAll(async () => {
    d = await testDeployment([
      postsSchema({
        reindexWorker: { worker: "MyApp.Search.ReindexWorker", queue: "search_maintenance" },
        backfillWorker: { worker: "Elixir.MyApp.Search.BackfillWorker", queue: "search_maintenance" },
      }),
      { module: PAGE, syncMode: "oban", obanQueue: QUEUE },
    ]);
    live = `${d.indexPrefix}_post`;
  });
  afterAll(() => d?.close());

  const audits = async () =>
    (
      await d.oban.pool.query(
        `SELECT action, outcome, reason, target FROM ${d.config.state.schema}.audit_log ORDER BY id`,
      )
    ).rows;

  it("refuses a backfill the report does not recommend", async () => {
    await expect(d.operator.reconcileAction("posts", { action: "backfill", actor })).rejects.toMatchObject({
      reason: "no_action",
      message: "no_action: no backfill action is available for this report",
    });
    expect((await audits()).at(-1)).toMatchObject({
      action: "scrypath.ops.backfill",
      outcome: "refused",
      reason: "no_action",
    });
  });

  it("hands a recommended backfill off to the configured worker, once", async () => {
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live),
      errors: [obanError("boom")],
    });
    const { action, result } = await d.operator.reconcileAction("posts", { action: "backfill", actor });
    expect(action).toBe("backfill");
    if (action !== "backfill") throw new Error("unreachable");
    expect(result).toMatchObject({
      status: "accepted",
      index: live,
      job: {
        worker: "MyApp.Search.BackfillWorker",
        queue: "search_maintenance",
        state: "available",
        maxAttempts: 1,
      },
    });
    const { rows } = await d.oban.pool.query(`SELECT args FROM "${d.oban.prefix}".oban_jobs WHERE id = $1`, [
      result.job.id,
    ]);
    expect(rows[0].args).toEqual({
      schema: `Elixir.${POST}`,
      action: "backfill",
      index: live,
      target_index: `${live}__reindex`,
      requested_by: "U_BOB",
    });
    await expect(d.operator.reconcileAction("posts", { action: "backfill", actor })).rejects.toMatchObject({
      reason: "hand_off_pending",
      message: expect.stringContaining(`job ${result.job.id} (available) requested by U_BOB`),
    });
    // Once the hand-off finished, a new one may be requested.
    await d.oban.pool.query(`UPDATE "${d.oban.prefix}".oban_jobs SET state = 'completed' WHERE id = $1`, [
      result.job.id,
    ]);
    await expect(d.operator.reconcileAction("posts", { action: "backfill", actor })).resolves.toMatchObject({
      action: "backfill",
    });
  });

  it("inserts at most one hand-off under concurrent requests", async () => {
    // A completed cutover in the target's history makes the report recommend reindex (§5.3).
    await d.meili.createIndex(live).waitTask();
    await d.meili.createIndex(`${live}__reindex`).waitTask();
    await d.meili.swapIndexes([{ indexes: [live, `${live}__reindex`], rename: false }]).waitTask();
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => d.operator.reconcileAction("posts", { action: "reindex", actor })),
    );
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    const { rows } = await d.oban.pool.query(
      `SELECT count(*)::int AS n FROM "${d.oban.prefix}".oban_jobs WHERE worker = 'MyApp.Search.ReindexWorker'`,
    );
    expect(rows[0].n).toBe(1);
  });

  it("refuses with the exact mix command when no worker is configured", async () => {
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(PAGE, `${d.indexPrefix}_page`),
    });
    const error = await d.operator
      .reconcileAction(PAGE, { action: "backfill", actor })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      reason: "hand_off_not_configured",
      details: {
        command: `mix scrypath.reconcile ${PAGE} --action backfill --index-prefix ${d.indexPrefix}`,
      },
    });
    expect((error as Error).message).toContain(
      `run \`mix scrypath.reconcile ${PAGE} --action backfill --index-prefix ${d.indexPrefix}\` in the application`,
    );
  });

  it("validates the action name and the retry id", async () => {
    await expect(d.operator.reconcileAction("posts", { action: "nuke", actor })).rejects.toThrow(
      'unsupported action "nuke"; --action must be one of retry, backfill, reindex, or swap',
    );
    await expect(d.operator.reconcileAction("posts", { action: "retry", actor })).rejects.toThrow(
      "`--id` is required for this command",
    );
  });
});
