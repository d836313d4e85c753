import { describe, expect, it } from "vitest";
import {
  driftSignals,
  recommendedActions,
  reconcileSummary,
  reindexVisibility,
  SIGNAL_LABELS,
  type TargetTaskFacts,
  targetFactsFromCounts,
  targetFactsFromTasks,
} from "../../src/core/reconcile.ts";
import {
  DRIFT_SIGNALS,
  type MeiliTask,
  type RecoveryAction,
  type ReindexVisibility,
} from "../../src/core/types.ts";

const t = (uid: number, status: string, type = "documentAdditionOrUpdate"): MeiliTask => ({
  uid,
  indexUid: "scrypath_post__reindex",
  status,
  type,
});
const vis = (tasks: MeiliTask[]) =>
  reindexVisibility("scrypath_post", "scrypath_post__reindex", targetFactsFromTasks(tasks));

describe("reindex visibility", () => {
  it("no tasks: idle, not started, unobserved", () => {
    expect(vis([])).toEqual({
      liveIndex: "scrypath_post",
      targetIndex: "scrypath_post__reindex",
      observed: false,
      taskState: "idle",
      cutover: "not_started",
      lastTask: null,
    });
  });

  it("pending beats failed", () => {
    expect(vis([t(1, "failed"), t(2, "processing")]).taskState).toBe("pending");
    expect(vis([t(1, "failed"), t(2, "queued")]).taskState).toBe("pending");
  });

  it("failed beats completed", () => {
    expect(vis([t(1, "succeeded"), t(2, "failed")]).taskState).toBe("failed");
  });

  // Upstream moved on: test/scrypath/operator/reconcile_test.exs, "reconcile target readiness stays
  // unknown for cancelled and unknown tasks and sees deletions" (cancelled no longer counts toward
  // completed).
  it("a cancelled task leaves the target's readiness unknown", () => {
    expect(vis([t(1, "canceled", "indexCreation")]).taskState).toBe("unknown");
    expect(vis([t(1, "succeeded"), t(2, "cancelled")]).taskState).toBe("unknown");
    // Pending and failed still take precedence.
    expect(vis([t(1, "canceled"), t(2, "enqueued")]).taskState).toBe("pending");
    expect(vis([t(1, "canceled"), t(2, "failed")]).taskState).toBe("failed");
    expect(vis([t(1, "succeeded"), t(2, "succeeded", "settingsUpdate")]).taskState).toBe("completed");
  });

  it("the upstream cases: deletions count, an undocumented status is never completed", () => {
    const cases = [
      ["canceled", "indexCreation", "unknown"],
      ["enqueued", "documentDeletion", "pending"],
      ["failed", "documentDeletion", "failed"],
    ] as const;
    for (const [status, type, expected] of cases) {
      expect(vis([t(980, status, type)]).taskState).toBe(expected);
    }
    const facts = targetFactsFromTasks([t(981, "unrecognized-status", "settingsUpdate")]);
    expect(facts.unknownStatuses).toBe(1);
    expect(facts.total).toBe(1);
    expect(reindexVisibility("l", "t", facts).taskState).toBe("unknown");
  });

  it("facts from counts: cancelled and unaccounted tasks, and the newest task's status", () => {
    const counts = {
      total: 4,
      pending: 0,
      failed: 0,
      cancelled: 0,
      succeeded: 4,
      swaps: 0,
      swapsSucceeded: 0,
      newest: t(40, "succeeded", "documentDeletion"),
    };
    expect(targetFactsFromCounts(counts)).toEqual({
      total: 4,
      anyPending: false,
      anyFailed: false,
      anyCancelled: false,
      anySwap: false,
      anySwapSucceeded: false,
      unknownStatuses: 0,
      lastTask: { id: 40, state: "succeeded", type: "documentDeletion" },
    });
    expect(reindexVisibility("l", "t", targetFactsFromCounts(counts)).taskState).toBe("completed");
    const withCancel = targetFactsFromCounts({ ...counts, succeeded: 3, cancelled: 1 });
    expect(withCancel).toMatchObject({ anyCancelled: true, unknownStatuses: 0 });
    expect(reindexVisibility("l", "t", withCancel).taskState).toBe("unknown");
    // One task in no documented status: never `completed`, and the operator reports it as an error.
    expect(targetFactsFromCounts({ ...counts, succeeded: 3 }).unknownStatuses).toBe(1);
    const odd = targetFactsFromCounts({ ...counts, newest: t(41, "paused") });
    expect(odd).toMatchObject({ unknownStatuses: 1, lastTask: null });
  });

  it("cutover: succeeded swap completes; any other swap is pending (even failed)", () => {
    expect(vis([t(1, "succeeded", "indexSwap")]).cutover).toBe("completed");
    expect(vis([t(1, "failed", "indexSwap"), t(2, "succeeded", "indexSwap")]).cutover).toBe("completed");
    expect(vis([t(1, "failed", "indexSwap")]).cutover).toBe("pending");
    expect(vis([t(1, "enqueued", "indexSwap")]).cutover).toBe("pending");
    expect(vis([t(1, "succeeded", "indexCreation")]).cutover).toBe("not_started");
  });

  it("last task is the highest uid regardless of order", () => {
    const v = vis([t(9, "succeeded", "indexSwap"), t(12, "failed", "settingsUpdate"), t(3, "succeeded")]);
    expect(v.lastTask).toEqual({ id: 12, state: "failed", type: "settingsUpdate" });
    expect(v.observed).toBe(true);
  });

  it("facts can come from bounded queries", () => {
    const facts: TargetTaskFacts = {
      total: 5000,
      anyPending: false,
      anyFailed: false,
      anySwapSucceeded: false,
      anySwap: true,
      lastTask: { id: 5000, state: "failed", type: "indexSwap" },
    };
    expect(reindexVisibility("l", "t", facts)).toMatchObject({
      observed: true,
      taskState: "completed",
      cutover: "pending",
    });
  });
});

const reindex = (over: Partial<ReindexVisibility> = {}): ReindexVisibility => ({
  liveIndex: "scrypath_post",
  targetIndex: "scrypath_post__reindex",
  observed: false,
  taskState: "idle",
  cutover: "not_started",
  lastTask: null,
  ...over,
});

describe("driftSignals", () => {
  const base = { backendPending: 0, queuePending: 0, queueRetrying: 0, failedWork: 0, reindex: reindex() };

  it("none when quiet", () => {
    expect(driftSignals(base)).toEqual([]);
  });

  it("all six in fixed order", () => {
    expect(
      driftSignals({
        backendPending: 1,
        queuePending: 1,
        queueRetrying: 0,
        failedWork: 2,
        reindex: reindex({ observed: true, taskState: "pending", cutover: "pending" }),
      }),
    ).toEqual([...DRIFT_SIGNALS]);
  });

  it("retrying alone is pending queue work", () => {
    expect(driftSignals({ ...base, queueRetrying: 3 })).toEqual(["pending_queue_work"]);
  });

  it("matches the upstream test example", () => {
    expect(
      driftSignals({
        ...base,
        queuePending: 1,
        failedWork: 1,
        reindex: reindex({ observed: true, taskState: "pending" }),
      }),
    ).toEqual([
      "pending_queue_work",
      "failed_sync_work",
      "reindex_visibility_available",
      "reindex_in_progress",
    ]);
  });

  it("completed cutover is not a signal", () => {
    expect(
      driftSignals({
        ...base,
        reindex: reindex({ observed: true, cutover: "completed", taskState: "completed" }),
      }),
    ).toEqual(["reindex_visibility_available"]);
  });
});

describe("recommendedActions", () => {
  const retry = (jobId: number): RecoveryAction => ({
    kind: "retry",
    schema: "MyApp.Post",
    backend: "Scrypath.Meilisearch",
    mode: "oban",
    operation: "upsert",
    index: "scrypath_post",
    reference: { jobId, queue: "search_sync", payload: {} },
  });
  const base = {
    retryActions: [] as RecoveryAction[],
    failedWork: 0,
    reindex: reindex(),
    schema: "MyApp.Post",
    backend: "Scrypath.Meilisearch",
    mode: "oban" as const,
    liveIndex: "scrypath_post",
  };

  it("nothing when quiet", () => {
    expect(recommendedActions(base)).toEqual([]);
  });

  it("retries in order, then backfill on the live index when failed work exists", () => {
    const actions = recommendedActions({ ...base, retryActions: [retry(1001), retry(1002)], failedWork: 3 });
    expect(actions.map((a) => a.kind)).toEqual(["retry", "retry", "backfill"]);
    expect(actions.map((a) => a.reference?.jobId ?? null)).toEqual([1001, 1002, null]);
    expect(actions[2]).toEqual({
      kind: "backfill",
      schema: "MyApp.Post",
      backend: "Scrypath.Meilisearch",
      mode: "oban",
      operation: "unknown",
      index: "scrypath_post",
      reference: null,
    });
  });

  it("backfill even when every failed row is retryable", () => {
    expect(
      recommendedActions({ ...base, retryActions: [retry(1)], failedWork: 1 }).map((a) => a.kind),
    ).toEqual(["retry", "backfill"]);
  });

  it.each([
    [{ cutover: "pending" as const }],
    [{ cutover: "completed" as const }],
    [{ taskState: "pending" as const }],
  ])("reindex on the target index for %j, replacing backfill", (over) => {
    const actions = recommendedActions({ ...base, failedWork: 2, reindex: reindex(over) });
    expect(actions).toEqual([
      {
        kind: "reindex",
        schema: "MyApp.Post",
        backend: "Scrypath.Meilisearch",
        mode: "oban",
        operation: "unknown",
        index: "scrypath_post__reindex",
        reference: null,
      },
    ]);
  });

  it("failed reindex tasks alone recommend nothing", () => {
    expect(
      recommendedActions({ ...base, reindex: reindex({ taskState: "failed", observed: true }) }),
    ).toEqual([]);
  });

  it("does not mutate the input list", () => {
    const list = [retry(1)];
    recommendedActions({ ...base, retryActions: list, failedWork: 1 });
    expect(list).toHaveLength(1);
  });
});

describe("labels and summary", () => {
  it("labels every signal with the ScrypathOps copy", () => {
    expect(SIGNAL_LABELS).toEqual({
      reindex_visibility_available: "Reindex task history available",
      pending_backend_work: "Backend tasks pending",
      pending_queue_work: "Queue jobs pending",
      failed_sync_work: "Failed sync work",
      reindex_in_progress: "Reindex in progress",
      reindex_cutover_pending: "Index swap pending",
    });
  });

  it("summary precedence", () => {
    const r = reindex();
    expect(reconcileSummary(["pending_backend_work", "failed_sync_work"], r)).toBe(
      "Sync failures need attention",
    );
    expect(reconcileSummary(["pending_backend_work", "reindex_in_progress"], r)).toBe("Sync work is pending");
    expect(reconcileSummary(["pending_queue_work"], r)).toBe("Sync work is pending");
    expect(reconcileSummary(["reindex_visibility_available", "reindex_cutover_pending"], r)).toBe(
      "Reindex work is pending",
    );
    expect(reconcileSummary(["reindex_in_progress"], reindex({ taskState: "failed" }))).toBe(
      "Reindex work is pending",
    );
    expect(reconcileSummary(["reindex_visibility_available"], reindex({ taskState: "failed" }))).toBe(
      "A reindex task failed",
    );
    expect(reconcileSummary(["reindex_visibility_available"], r)).toBe(
      "No pending or failed sync work found",
    );
    expect(reconcileSummary([], r)).toBe("No pending or failed sync work found");
  });
});
