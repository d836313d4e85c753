import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { formatStatus } from "../../src/cli/format.ts";
import { insertJob } from "../support/db.ts";
import { failDocumentTask, succeedDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema } from "../support/posts.ts";

describe("syncStatus over real Postgres and Meilisearch", () => {
  let d: TestDeployment;
  let live: string;

  beforeAll(async () => {
    d = await testDeployment([
      postsSchema({ contract: { fields: ["title"] } }),
      { module: "MyApp.Catalog.Product", syncMode: "inline" },
    ]);
    live = `${d.indexPrefix}_post`;
  });
  afterAll(() => d?.close());

  it("answers an empty deployment with zero counts and no last succeeded", async () => {
    const s = await d.operator.syncStatus("posts");
    expect(s.index).toBe(live);
    expect(s.backend.pending.total).toBe(0);
    // Upstream's current test/scrypath/operator/status_test.exs: "a successful empty Oban
    // observation is observed, not unavailable" (oban mode, zero jobs: observed).
    expect(s.queue.observed).toBe(true);
    expect(formatStatus(s)).toEqual([
      "Schema: MyApp.Blog.Post",
      "Mode: oban",
      `Index: ${live}`,
      "Backend pending: 0",
      "Backend failed: 0",
      "Backend last succeeded: none",
      "Queue observed: yes",
      "Queue pending: 0",
      "Queue retrying: 0",
      "Queue failed: 0",
      "Queue last succeeded: none",
    ]);
  });

  it("maps every Oban state to its queue bucket, scoped to the schema's queue and module", async () => {
    const { pool, prefix } = d.oban;
    const args = upsertArgs(POST, live);
    for (const state of ["available", "scheduled", "executing", "suspended"]) {
      await insertJob(pool, prefix, { state, queue: "search_sync", args });
    }
    await insertJob(pool, prefix, {
      state: "retryable",
      queue: "search_sync",
      args,
      errors: [obanError("boom")],
      attempt: 1,
    });
    await insertJob(pool, prefix, {
      state: "discarded",
      queue: "search_sync",
      args,
      errors: [obanError("boom")],
      attempt: 1,
      maxAttempts: 1,
    });
    await insertJob(pool, prefix, { state: "cancelled", queue: "search_sync", args });
    const older = await insertJob(pool, prefix, {
      state: "completed",
      queue: "search_sync",
      args,
      completedAt: new Date("2026-11-20T12:00:00Z"),
    });
    // A higher id that completed earlier: last succeeded is by completed_at, not by id.
    await insertJob(pool, prefix, {
      state: "completed",
      queue: "search_sync",
      args,
      completedAt: new Date("2026-11-20T11:00:00Z"),
    });
    // Noise: another schema in the same queue, the same schema in another queue.
    await insertJob(pool, prefix, {
      state: "discarded",
      queue: "search_sync",
      args: upsertArgs("MyApp.Other", live),
    });
    await insertJob(pool, prefix, { state: "available", queue: "other_queue", args });

    const s = await d.operator.syncStatus(POST);
    expect(s.queue.observed).toBe(true);
    expect(s.queue.pending.total).toBe(4);
    expect(s.queue.retrying.total).toBe(1);
    expect(s.queue.failed.total).toBe(2);
    expect(s.queue.pending.items.map((i) => i.state)).toEqual(["queued", "queued", "queued", "queued"]);
    expect(s.queue.failed.items.map((i) => i.metadata.oban_state)).toEqual(["cancelled", "discarded"]);
    expect(s.queue.lastSucceeded).toMatchObject({ source: "oban", id: older, state: "completed" });
    expect(formatStatus(s)[10]).toBe(
      `Queue last succeeded: oban:${older} (completed) at 2026-11-20T12:00:00Z`,
    );
  });

  it("prints Queue last succeeded to the microsecond, as Postgres stored it (upstream's precision)", async () => {
    // Upstream's current status_test.exs, "preserves Oban completion ISO precision": the CLI line
    // keeps microseconds (`DateTime.to_iso8601/1`), where a JS Date would keep milliseconds.
    const { pool, prefix } = d.oban;
    const job = await insertJob(pool, prefix, {
      state: "completed",
      queue: "search_sync",
      args: upsertArgs(POST, live),
      completedAt: new Date("2026-11-20T12:00:00Z"),
    });
    await pool.query(
      `UPDATE "${prefix}".oban_jobs SET completed_at = '2026-11-20 13:02:05.123456' WHERE id = $1`,
      [job],
    );
    const s = await d.operator.syncStatus(POST);
    expect(s.queue.lastSucceeded).toMatchObject({ id: job, atIso: "2026-11-20T13:02:05.123456Z" });
    expect(s.queue.lastSucceeded?.at).toEqual(new Date("2026-11-20T13:02:05.123Z"));
    expect(formatStatus(s)[10]).toBe(
      `Queue last succeeded: oban:${job} (completed) at 2026-11-20T13:02:05.123456Z`,
    );
  });

  it("reads the backend plane from the live index's document tasks", async () => {
    const ok = await succeedDocumentTask(d.meili, live);
    await failDocumentTask(d.meili, live, "missing_primary_key");
    await failDocumentTask(d.meili, live, "invalid_document_id");
    // A task on another index must not count.
    await failDocumentTask(d.meili, `${d.indexPrefix}_elsewhere`, "no_candidate");

    const s = await d.operator.syncStatus("post");
    expect(s.backend.failed.total).toBe(2);
    expect(s.backend.failed.items.every((i) => i.state === "failed" && i.source === "meilisearch")).toBe(
      true,
    );
    expect(s.backend.pending.total).toBe(0);
    expect(s.backend.lastSucceeded).toMatchObject({ id: ok.uid, state: "completed", kind: "backend_task" });
    const line = formatStatus(s)[5];
    expect(line).toMatch(
      new RegExp(`^Backend last succeeded: meilisearch:${ok.uid} \\(completed\\) at \\d{4}-\\d\\d-\\d\\dT`),
    );
    // Meilisearch sends nanoseconds; upstream prints them cut to microseconds.
    const finishedAt = ok.finishedAt as unknown as string;
    expect(finishedAt).toMatch(/\.\d+Z$/);
    expect(line).toBe(
      `Backend last succeeded: meilisearch:${ok.uid} (completed) at ${finishedAt.replace(/(\.\d{1,6})\d*Z$/, "$1Z")}`,
    );
  });

  it("counts cancelled backend tasks as failed on the status plane", async () => {
    const index = d.meili.index(live);
    // Enqueue a batch and cancel whatever has not run yet; count what really got cancelled.
    const tasks = await Promise.all(
      Array.from({ length: 20 }, (_, i) => index.addDocuments([{ id: 100 + i }])),
    );
    await d.meili.tasks.cancelTasks({ uids: tasks.map((t) => t.taskUid) }).waitTask();
    const after = await Promise.all(tasks.map((t) => d.meili.tasks.getTask(t.taskUid)));
    const cancelled = after.filter((t) => t.status === "canceled").length;
    const s = await d.operator.syncStatus("post");
    expect(s.backend.failed.total).toBe(2 + cancelled);
  });

  it("does not read the queue in inline mode, even when jobs exist", async () => {
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: "search_sync",
      args: upsertArgs("MyApp.Catalog.Product", `${d.indexPrefix}_product`),
    });
    const s = await d.operator.syncStatus("MyApp.Catalog.Product");
    expect(s.mode).toBe("inline");
    expect(s.queue).toEqual({
      observed: false,
      pending: { total: 0, items: [] },
      retrying: { total: 0, items: [] },
      failed: { total: 0, items: [] },
      lastSucceeded: null,
    });
  });

  it("accepts every spelling of a schema and refuses unknown ones with the configured list", async () => {
    for (const ref of [POST, `Elixir.${POST}`, "posts", "post"]) {
      expect((await d.operator.syncStatus(ref)).schema).toBe(POST);
    }
    await expect(d.operator.syncStatus("Comment")).rejects.toThrow(
      /unknown schema "Comment"; configured schemas: MyApp.Blog.Post \(posts\), MyApp.Catalog.Product/,
    );
  });
});
