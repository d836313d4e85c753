import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { parseConfig } from "../../src/config.ts";
import { createOperator } from "../../src/operator/index.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { insertJob } from "../support/db.ts";
import { failDocumentTask } from "../support/meili.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const actor = { id: "U_CAROL" };

describe("index swap behind promotion eligibility, on a real Meilisearch", () => {
  let d: TestDeployment;
  let live: string;
  let target: string;

  beforeAll(async () => {
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })]);
    live = `${d.indexPrefix}_post`;
    target = `${live}__reindex`;
  });
  afterAll(() => d?.close());

  const lastAudit = async () =>
    (
      await d.oban.pool.query(
        `SELECT action, outcome, reason, target, details FROM ${d.config.state.schema}.audit_log ORDER BY id DESC LIMIT 1`,
      )
    ).rows[0];

  it("refuses while the target has no history (target_unobserved)", async () => {
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    await expect(d.operator.swapIndexes("posts", { actor })).rejects.toMatchObject({
      reason: "target_unobserved",
    });
    expect(await lastAudit()).toMatchObject({
      action: "scrypath.ops.swap_live",
      outcome: "refused",
      reason: "target_unobserved",
    });
  });

  it("refuses live = target (indexes_not_distinct)", async () => {
    await expect(d.operator.swapIndexes("posts", { actor, targetIndex: live })).rejects.toMatchObject({
      reason: "indexes_not_distinct",
    });
  });

  it("refuses while queue work is pending, then while failed work exists", async () => {
    await d.meili.createIndex(target, { primaryKey: "id" }).waitTask();
    await d.meili
      .index(target)
      .addDocuments([{ id: 1, title: "rebuilt" }])
      .waitTask();
    const pending = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "available",
      queue: QUEUE,
      args: upsertArgs(POST, live),
    });
    await expect(d.operator.swapIndexes("posts", { actor })).rejects.toMatchObject({
      reason: "queue_work_pending",
    });
    await d.oban.pool.query(`UPDATE "${d.oban.prefix}".oban_jobs SET state = 'discarded' WHERE id = $1`, [
      pending,
    ]);
    await expect(d.operator.swapIndexes("posts", { actor })).rejects.toMatchObject({
      reason: "failed_work",
      message: "failed_work: resolve failed sync work first",
    });
    await d.oban.pool.query(`DELETE FROM "${d.oban.prefix}".oban_jobs WHERE id = $1`, [pending]);
  });

  it("refuses while the live index drifts from its contract", async () => {
    await d.meili
      .index(live)
      .updateSettings({ searchableAttributes: ["body"] })
      .waitTask();
    await expect(d.operator.swapIndexes("posts", { actor })).rejects.toMatchObject({
      reason: "contract_mismatch",
    });
    await d.meili.index(live).resetSearchableAttributes().waitTask();
  });

  it("swaps when every rule holds, and reports the task", async () => {
    await d.meili
      .index(live)
      .addDocuments([{ id: 1, title: "old" }])
      .waitTask();
    const result = await d.operator.swapIndexes("posts", { actor });
    expect(result).toMatchObject({ status: "succeeded", liveIndex: live, targetIndex: target, error: null });
    expect(result.taskUid).toEqual(expect.any(Number));
    const doc = await d.meili.index(live).getDocument(1);
    expect(doc.title).toBe("rebuilt");
    expect(await lastAudit()).toMatchObject({ outcome: "succeeded", details: { task_uid: result.taskUid } });
  });

  it("refuses with the backend named when Meilisearch cannot be read", async () => {
    const down = createOperator({
      config: parseConfig({ ...d.raw, meilisearch: { url: "http://127.0.0.1:1" } }, {}),
      db: operatorContext(d.operator).db,
      meili: createMeiliClient({
        url: "http://127.0.0.1:1",
        apiKey: null,
        timeoutMs: 2000,
      }),
    });
    await expect(down.swapIndexes("posts", { actor })).rejects.toMatchObject({
      reason: "reconcile_failed",
      message: expect.stringContaining("Meilisearch at http://127.0.0.1:1 is unreachable"),
    });
  });

  it("refuses when the live index has failed backend work", async () => {
    await failDocumentTask(d.meili, live, "missing_primary_key");
    await expect(d.operator.swapIndexes("posts", { actor })).rejects.toMatchObject({ reason: "failed_work" });
  });
});

describe("settings hot-apply and revert, on a real Meilisearch", () => {
  let d: TestDeployment;
  let live: string;

  beforeAll(async () => {
    d = await testDeployment([{ module: POST, alias: "posts", contract: { fields: ["title"] } }]);
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    await d.meili
      .index(live)
      .updateSettings({ stopWords: ["a"], rankingRules: ["words", "typo"] })
      .waitTask();
  });
  afterAll(() => d?.close());

  const refusal = (settings: unknown, acknowledgeLive = true) =>
    d.operator.hotApplySettings("posts", { settings, acknowledgeLive, actor }).catch((e: unknown) => e);

  it("refuses before any HTTP: no ack, non-object, refused keys (sorted), empty payload", async () => {
    const tasksBefore = (await d.meili.tasks.getTasks({ indexUids: [live], limit: 0 })).total;
    expect(await refusal({ synonyms: {} }, false)).toMatchObject({ reason: "live_ack_required" });
    expect(await refusal([1, 2])).toMatchObject({ reason: "invalid_settings_payload" });
    expect(await refusal({ rankingRules: [], synonyms: {}, foo: 1, distinct_attribute: "x" })).toMatchObject({
      reason: "unsupported_hot_apply_keys",
      details: { keys: ["distinct_attribute", "foo", "rankingRules"] },
    });
    expect(await refusal({})).toMatchObject({ reason: "empty_hot_apply_payload" });
    expect(await refusal({ synonyms: null })).toMatchObject({ reason: "empty_hot_apply_payload" });
    expect((await d.meili.tasks.getTasks({ indexUids: [live], limit: 0 })).total).toBe(tasksBefore);
    const { rows } = await d.oban.pool.query(
      `SELECT reason FROM ${d.config.state.schema}.audit_log WHERE outcome = 'refused' ORDER BY id`,
    );
    expect(rows.map((r) => r.reason)).toEqual([
      "live_ack_required",
      "invalid_settings_payload",
      "unsupported_hot_apply_keys",
      "empty_hot_apply_payload",
      "empty_hot_apply_payload",
    ]);
  });

  it("applies synonyms, stop words and typo tolerance live, waits for the task, and reverts them", async () => {
    const applied = await d.operator.hotApplySettings("posts", {
      settings: { synonyms: { car: ["automobile"] }, stop_words: ["the"], typoTolerance: { enabled: false } },
      acknowledgeLive: true,
      actor,
    });
    expect(applied.task).toMatchObject({ status: "succeeded", error: null });
    let live_ = await d.meili.index(live).getSettings();
    expect(live_.synonyms).toEqual({ car: ["automobile"] });
    expect(live_.stopWords).toEqual(["the"]);
    expect(live_.typoTolerance?.enabled).toBe(false);
    expect(live_.rankingRules).toEqual(["words", "typo"]);

    const reverted = await d.operator.revertHotApply(applied.changeId, { actor: { id: "U_DAN" } });
    expect(reverted.task.status).toBe("succeeded");
    live_ = await d.meili.index(live).getSettings();
    expect(live_.synonyms).toEqual({});
    expect(live_.stopWords).toEqual(["a"]);
    expect(live_.typoTolerance?.enabled).toBe(true);
    await expect(d.operator.revertHotApply(applied.changeId, { actor })).rejects.toMatchObject({
      reason: "already_reverted",
      message: expect.stringContaining("already reverted by U_DAN"),
    });
  });

  it("reverts lists given in any order: Meilisearch reads stop words and synonyms back sorted", async () => {
    const applied = await d.operator.hotApplySettings("posts", {
      settings: { stopWords: ["the", "an"], synonyms: { tv: ["television", "telly"] } },
      acknowledgeLive: true,
      actor,
    });
    expect(await d.meili.index(live).getStopWords()).toEqual(["an", "the"]);
    const reverted = await d.operator.revertHotApply(applied.changeId, { actor });
    expect(reverted.task.status).toBe("succeeded");
    expect(await d.meili.index(live).getStopWords()).toEqual(["a"]);
  });

  it("refuses a revert that would overwrite a later change, unless forced", async () => {
    const applied = await d.operator.hotApplySettings("posts", {
      settings: { stopWords: ["x"] },
      acknowledgeLive: true,
      actor,
    });
    await d.meili.index(live).updateStopWords(["someone", "else"]).waitTask();
    await expect(d.operator.revertHotApply(applied.changeId, { actor })).rejects.toMatchObject({
      reason: "settings_changed_since",
    });
    const forced = await d.operator.revertHotApply(applied.changeId, { actor, force: true });
    expect(forced.task.status).toBe("succeeded");
    expect(await d.meili.index(live).getStopWords()).toEqual(["a"]);
  });

  it("answers index not found and records a failed attempt", async () => {
    const other = createOperator({
      config: parseConfig({ ...d.raw, schemas: [{ module: "MyApp.Missing" }] }, {}),
      db: operatorContext(d.operator).db,
      meili: operatorContext(d.operator).meili,
    });
    await expect(
      other.hotApplySettings("MyApp.Missing", { settings: { stopWords: [] }, acknowledgeLive: true, actor }),
    ).rejects.toMatchObject({ code: "index_not_found" });
    await expect(d.operator.revertHotApply(999_999, { actor })).rejects.toThrow(/no settings change 999999/);
  });
});
