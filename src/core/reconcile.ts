// Reconcile rules (spec §5): reindex visibility, drift signals, recommended actions, and the
// ScrypathOps copy for them (§9.3).
import { normalizeTaskStatus } from "./states.ts";
import type {
  DriftSignal,
  MeiliTask,
  RecoveryAction,
  ReindexVisibility,
  SyncMode,
  TaskStatus,
} from "./types.ts";

/**
 * What reconcile needs to know about the target index's task history. The backend computes these
 * with bounded queries (`targetFactsFromCounts`); `targetFactsFromTasks` is the list-based
 * computation upstream does.
 */
export interface TargetTaskFacts {
  total: number;
  anyPending: boolean;
  anyFailed: boolean;
  /** Absent: none. */
  anyCancelled?: boolean;
  anySwapSucceeded: boolean;
  anySwap: boolean;
  /**
   * Tasks whose status Meilisearch does not document (absent: none). Upstream fails the listing
   * on them (`invalid_task_payload`); the operator turns a non-zero count into that error.
   */
  unknownStatuses?: number;
  lastTask: { id: number; state: TaskStatus; type: string } | null;
}

export const INDEX_SWAP = "indexSwap";

export function targetFactsFromTasks(tasks: readonly MeiliTask[]): TargetTaskFacts {
  const facts: TargetTaskFacts = {
    total: 0,
    anyPending: false,
    anyFailed: false,
    anyCancelled: false,
    anySwapSucceeded: false,
    anySwap: false,
    unknownStatuses: 0,
    lastTask: null,
  };
  for (const task of tasks) {
    facts.total += 1;
    const state = normalizeTaskStatus(task.status);
    if (state === null) {
      facts.unknownStatuses = (facts.unknownStatuses ?? 0) + 1;
      continue;
    }
    if (state === "enqueued" || state === "processing") facts.anyPending = true;
    if (state === "failed") facts.anyFailed = true;
    if (state === "cancelled") facts.anyCancelled = true;
    if (task.type === INDEX_SWAP) {
      facts.anySwap = true;
      if (state === "succeeded") facts.anySwapSucceeded = true;
    }
    if (facts.lastTask === null || task.uid > facts.lastTask.id) {
      facts.lastTask = { id: task.uid, state, type: task.type };
    }
  }
  return facts;
}

/** Task counts on the target index, per status, as the tasks API's `total`s answer them. */
export interface TargetTaskCounts {
  total: number;
  pending: number;
  failed: number;
  cancelled: number;
  succeeded: number;
  swaps: number;
  swapsSucceeded: number;
  /** The newest task (highest uid), if any. */
  newest: MeiliTask | null;
}

/**
 * Facts from counts. Tasks that none of the documented statuses account for are counted as
 * `unknownStatuses` (so is a newest task with an undocumented status).
 */
export function targetFactsFromCounts(c: TargetTaskCounts): TargetTaskFacts {
  const newestState = c.newest ? normalizeTaskStatus(c.newest.status) : null;
  const unaccounted = Math.max(0, c.total - c.pending - c.failed - c.cancelled - c.succeeded);
  return {
    total: c.total,
    anyPending: c.pending > 0,
    anyFailed: c.failed > 0,
    anyCancelled: c.cancelled > 0,
    anySwap: c.swaps > 0,
    anySwapSucceeded: c.swapsSucceeded > 0,
    unknownStatuses: Math.max(unaccounted, c.newest && newestState === null ? 1 : 0),
    lastTask: c.newest && newestState ? { id: c.newest.uid, state: newestState, type: c.newest.type } : null,
  };
}

export function reindexVisibility(
  liveIndex: string,
  targetIndex: string,
  facts: TargetTaskFacts,
): ReindexVisibility {
  // Upstream's current reconcile test ("reconcile target readiness stays unknown for cancelled
  // and unknown tasks and sees deletions"): a cancelled task leaves the target's readiness
  // `unknown` instead of counting toward `completed`.
  const taskState: ReindexVisibility["taskState"] = facts.anyPending
    ? "pending"
    : facts.anyFailed
      ? "failed"
      : facts.total === 0
        ? "idle"
        : facts.anyCancelled || (facts.unknownStatuses ?? 0) > 0
          ? "unknown"
          : "completed";
  // A swap in any non-succeeded state (including failed) reads as a pending cutover.
  const cutover: ReindexVisibility["cutover"] = facts.anySwapSucceeded
    ? "completed"
    : facts.anySwap
      ? "pending"
      : "not_started";
  return {
    liveIndex,
    targetIndex,
    observed: facts.total > 0,
    taskState,
    cutover,
    lastTask: facts.lastTask,
  };
}

/** Signals in the fixed order of §5.2. */
export function driftSignals(input: {
  backendPending: number;
  queuePending: number;
  queueRetrying: number;
  failedWork: number;
  reindex: ReindexVisibility;
}): DriftSignal[] {
  const signals: DriftSignal[] = [];
  if (input.backendPending > 0) signals.push("pending_backend_work");
  if (input.queuePending > 0 || input.queueRetrying > 0) signals.push("pending_queue_work");
  if (input.failedWork > 0) signals.push("failed_sync_work");
  if (input.reindex.observed) signals.push("reindex_visibility_available");
  if (input.reindex.taskState === "pending") signals.push("reindex_in_progress");
  if (input.reindex.cutover === "pending") signals.push("reindex_cutover_pending");
  return signals;
}

/**
 * Retry actions (failed-work order) plus at most one repair action. A completed swap keeps
 * recommending reindex while it stays in task history — upstream behaviour (§12 item 11).
 */
export function recommendedActions(input: {
  retryActions: readonly RecoveryAction[];
  failedWork: number;
  reindex: ReindexVisibility;
  schema: string;
  backend: string;
  mode: SyncMode;
  liveIndex: string;
}): RecoveryAction[] {
  const actions = [...input.retryActions];
  const { reindex } = input;
  const repair = (kind: "reindex" | "backfill", index: string): RecoveryAction => ({
    kind,
    schema: input.schema,
    backend: input.backend,
    mode: input.mode,
    operation: "unknown",
    index,
    reference: null,
  });
  if (reindex.cutover === "pending" || reindex.cutover === "completed" || reindex.taskState === "pending") {
    actions.push(repair("reindex", reindex.targetIndex));
  } else if (input.failedWork > 0) {
    actions.push(repair("backfill", input.liveIndex));
  }
  return actions;
}

export const SIGNAL_LABELS: Record<DriftSignal, string> = {
  pending_backend_work: "Backend tasks pending",
  pending_queue_work: "Queue jobs pending",
  failed_sync_work: "Failed sync work",
  reindex_visibility_available: "Reindex task history available",
  reindex_in_progress: "Reindex in progress",
  reindex_cutover_pending: "Index swap pending",
};

/** ScrypathOps sync-drift summary, by precedence: failures, pending, reindex, failed reindex, quiet. */
export function reconcileSummary(signals: readonly DriftSignal[], reindex: ReindexVisibility): string {
  if (signals.includes("failed_sync_work")) return "Sync failures need attention";
  if (signals.includes("pending_backend_work") || signals.includes("pending_queue_work")) {
    return "Sync work is pending";
  }
  if (signals.includes("reindex_in_progress") || signals.includes("reindex_cutover_pending")) {
    return "Reindex work is pending";
  }
  if (reindex.taskState === "failed") return "A reindex task failed";
  return "No pending or failed sync work found";
}
