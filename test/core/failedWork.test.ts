import { describe, expect, it } from "vitest";
import {
  failedWorkFromJob,
  failedWorkFromTask,
  operationFromJob,
  parseRowKey,
  replayBlocksRetry,
  rowKey,
} from "../../src/core/failedWork.ts";
import type { MeiliTask, ObanJob } from "../../src/core/types.ts";

const task = (over: Partial<MeiliTask> = {}): MeiliTask => ({
  uid: 403,
  indexUid: "scrypath_post",
  status: "failed",
  type: "documentAdditionOrUpdate",
  error: { message: "write failed", code: "invalid_document_id", type: "invalid_request", link: "https://x" },
  finishedAt: "2026-04-16T22:00:00Z",
  ...over,
});

describe("failedWorkFromTask", () => {
  it("builds every column of a backend row", () => {
    expect(failedWorkFromTask(task(), { schema: "MyApp.Post", mode: "inline" })).toEqual({
      id: 403,
      schema: "MyApp.Post",
      mode: "inline",
      source: "meilisearch",
      operation: "upsert",
      state: "failed",
      retryable: false,
      reason: "write failed",
      failedAt: new Date("2026-04-16T22:00:00Z"),
      lastAttemptAt: new Date("2026-04-16T22:00:00Z"),
      attempt: null,
      maxAttempts: null,
      reasonClass: "validation",
      recovery: null,
      metadata: { index: "scrypath_post", taskUid: 403, type: "documentAdditionOrUpdate" },
      lastError: "write failed",
    });
  });

  it("maps task types to operations", () => {
    const ctx = { schema: "S", mode: "manual" as const };
    expect(failedWorkFromTask(task({ type: "documentDeletion" }), ctx).operation).toBe("delete");
    expect(failedWorkFromTask(task({ type: "settingsUpdate" }), ctx).operation).toBe("unknown");
  });

  it("reason falls back to code, then generic text", () => {
    const ctx = { schema: "S", mode: "oban" as const };
    expect(
      failedWorkFromTask(task({ error: { code: "invalid_state", type: "internal" } }), ctx),
    ).toMatchObject({
      reason: "invalid_state",
      reasonClass: "backend_rejected",
      lastError: null,
    });
    expect(failedWorkFromTask(task({ error: null }), ctx)).toMatchObject({
      reason: "backend task failed",
      reasonClass: "unknown",
    });
    expect(failedWorkFromTask(task({ error: { type: "auth" } }), ctx).reasonClass).toBe("transport");
    expect(failedWorkFromTask(task({ error: {} }), ctx).reasonClass).toBe("unknown");
  });

  it("redacts and shortens lastError", () => {
    const row = failedWorkFromTask(
      task({ error: { message: "Bearer abc.def failed\nsecond line", type: "auth" } }),
      { schema: "S", mode: "inline" },
    );
    expect(row.lastError).toBe("Bearer [REDACTED] failed");
    // reason keeps the whole upstream text, but never a credential.
    expect(row.reason).toBe("Bearer [REDACTED] failed\nsecond line");
  });

  it("missing finishedAt gives null timestamps", () => {
    const row = failedWorkFromTask(task({ finishedAt: null }), { schema: "S", mode: "inline" });
    expect(row.failedAt).toBeNull();
    expect(row.lastAttemptAt).toBeNull();
  });
});

const upsertArgs = {
  operation: "upsert",
  schema: "Elixir.MyApp.Post",
  backend: "Elixir.Scrypath.Meilisearch",
  index: "scrypath_post",
  sync_mode: "oban",
  document_ids: [1],
  document_count: 1,
  documents: [{ id: 1, data: { id: 1 }, source: "fields" }],
};

const job = (over: Partial<ObanJob> = {}): ObanJob => ({
  id: 601,
  state: "discarded",
  queue: "search_sync",
  worker: "Scrypath.Oban.UpsertWorker",
  args: upsertArgs,
  lastError: { at: "2026-04-16T22:00:00Z", attempt: 8, error: "** (RuntimeError) boom" },
  firstError: { at: "2026-04-16T21:00:00Z", attempt: 1, error: "** (RuntimeError) first" },
  attempt: 8,
  maxAttempts: 8,
  attemptedAt: new Date("2026-04-16T22:00:00Z"),
  completedAt: null,
  insertedAt: null,
  ...over,
});

const ctx = { schema: "MyApp.Post", backend: "Scrypath.Meilisearch" };

describe("failedWorkFromJob", () => {
  it("builds every column of a retryable-payload discarded row", () => {
    expect(failedWorkFromJob(job(), ctx)).toEqual({
      id: 601,
      schema: "MyApp.Post",
      mode: "oban",
      source: "oban",
      operation: "upsert",
      state: "failed",
      retryable: true,
      reason: "queue job failed",
      failedAt: new Date("2026-04-16T22:00:00Z"),
      lastAttemptAt: new Date("2026-04-16T22:00:00Z"),
      attempt: 8,
      maxAttempts: 8,
      reasonClass: "queue_exhausted",
      recovery: {
        kind: "retry",
        schema: "MyApp.Post",
        backend: "Scrypath.Meilisearch",
        mode: "oban",
        operation: "upsert",
        index: "scrypath_post",
        reference: { jobId: 601, queue: "search_sync", payload: upsertArgs },
      },
      metadata: { worker: "Scrypath.Oban.UpsertWorker", queue: "search_sync" },
      lastError: "** (RuntimeError) boom",
    });
  });

  it("retryable state reads as retrying with its own fallback reason", () => {
    const row = failedWorkFromJob(job({ state: "retryable" }), ctx);
    expect(row.state).toBe("retrying");
    expect(row.reason).toBe("queue job is retryable");
    expect(row.reasonClass).toBe("unknown");
  });

  it("cancelled reads as failed", () => {
    expect(failedWorkFromJob(job({ state: "cancelled" }), ctx).state).toBe("failed");
  });

  it("reason is the FIRST error only when it is a string; class uses the LAST error", () => {
    const row = failedWorkFromJob(
      job({ firstError: "** (Ecto.CastError) first", lastError: { error: "timeout after 5000ms" } }),
      ctx,
    );
    expect(row.reason).toBe("** (Ecto.CastError) first");
    expect(row.reasonClass).toBe("transport");
    expect(row.lastError).toBe("timeout after 5000ms");
  });

  it("discarded delete with no errors → queue_exhausted, no lastError", () => {
    const row = failedWorkFromJob(
      job({
        worker: "Scrypath.Oban.DeleteWorker",
        args: { operation: "delete", index: "scrypath_post", document_ids: [1, 2] },
        lastError: undefined,
        firstError: undefined,
      }),
      ctx,
    );
    expect(row).toMatchObject({
      operation: "delete",
      retryable: true,
      reasonClass: "queue_exhausted",
      reason: "queue job failed",
      lastError: null,
    });
    expect(row.recovery?.operation).toBe("delete");
  });

  it("retryable only with the literal operation and its payload list", () => {
    const r = (args: Record<string, unknown>, worker = "Scrypath.Oban.UpsertWorker") =>
      failedWorkFromJob(job({ args, worker }), ctx);
    expect(r({ operation: "upsert" }).retryable).toBe(false);
    expect(r({ operation: "upsert", documents: "nope" }).retryable).toBe(false);
    expect(r({ operation: "upsert", document_ids: [1] }).retryable).toBe(false);
    expect(r({ operation: "delete", documents: [] }).retryable).toBe(false);
    expect(r({ operation: "delete", document_ids: [] }).retryable).toBe(true);
    // Operation from the worker name alone is not enough to replay.
    const byWorker = r({ documents: [] });
    expect(byWorker.operation).toBe("upsert");
    expect(byWorker.retryable).toBe(false);
    expect(byWorker.recovery).toBeNull();
  });

  it("recovery index falls back to empty string when args.index is not a string", () => {
    const row = failedWorkFromJob(job({ args: { operation: "upsert", documents: [], index: 5 } }), ctx);
    expect(row.recovery?.index).toBe("");
  });

  it("redacts secrets in lastError", () => {
    const row = failedWorkFromJob(
      job({ lastError: { error: 'failed with meilisearch_api_key: "masterKey"\n  stack' } }),
      ctx,
    );
    expect(row.lastError).toBe('failed with meilisearch_api_key: "[REDACTED]"');
  });

  it("attempt fields must be non-negative integers", () => {
    const row = failedWorkFromJob(job({ attempt: -1, maxAttempts: "3" as unknown as number }), ctx);
    expect(row.attempt).toBeNull();
    expect(row.maxAttempts).toBe(3);
  });
});

describe("operationFromJob", () => {
  it("prefers args.operation, then the worker name", () => {
    expect(operationFromJob({ args: { operation: "delete" }, worker: "Scrypath.Oban.UpsertWorker" })).toBe(
      "delete",
    );
    expect(operationFromJob({ args: {}, worker: "Scrypath.Oban.DeleteWorker" })).toBe("delete");
    expect(operationFromJob({ args: { operation: "merge" }, worker: "Other" })).toBe("unknown");
    expect(operationFromJob({ args: {}, worker: "Elixir.Scrypath.Oban.UpsertWorker" })).toBe("unknown");
  });
});

describe("row keys", () => {
  it("round-trips source:id", () => {
    expect(rowKey("oban", 601)).toBe("oban:601");
    expect(rowKey("meilisearch", 403)).toBe("meilisearch:403");
    expect(parseRowKey("oban:601")).toEqual({ source: "oban", id: 601 });
    expect(parseRowKey("meilisearch:403")).toEqual({ source: "meilisearch", id: 403 });
  });
  it.each(["601", "oban:", "oban:-1", "redis:1", "oban:1.5", "oban:99999999999999999999"])(
    "rejects %s",
    (k) => {
      expect(parseRowKey(k)).toBeNull();
    },
  );
});

describe("replayBlocksRetry", () => {
  it("blocks while the replay is pending, running, retrying or done, or gone; not once it failed", () => {
    for (const state of [
      "available",
      "suspended",
      "scheduled",
      "executing",
      "retryable",
      "completed",
      null,
    ]) {
      expect({ state, blocks: replayBlocksRetry(state) }).toEqual({ state, blocks: true });
    }
    for (const state of ["discarded", "cancelled"]) {
      expect({ state, blocks: replayBlocksRetry(state) }).toEqual({ state, blocks: false });
    }
  });
});
