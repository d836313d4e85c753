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
 * with bounded queries; `targetFactsFromTasks` is the list-based computation upstream does.
 */
export interface TargetTaskFacts {
  total: number;
  anyPending: boolean;
  anyFailed: boolean;
  anySwapSucceeded: boolean;
  anySwap: boolean;
  lastTask: { id: number; state: TaskStatus; type: string } | null;
}

export const INDEX_SWAP = "indexSwap";

/** Tasks with an unknown status are skipped (upstream fails the listing on them instead). */
export function targetFactsFromTasks(tasks: readonly MeiliTask[]): TargetTaskFacts {
  const facts: TargetTaskFacts = {
    total: 0,
    anyPending: false,
    anyFailed: false,
    anySwapSucceeded: false,
    anySwap: false,
    lastTask: null,
  };
  for (const task of tasks) {
    const state = normalizeTaskStatus(task.status);
    if (state === null) continue;
    facts.total += 1;
    if (state === "enqueued" || state === "processing") facts.anyPending = true;
    if (state === "failed") facts.anyFailed = true;
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

export function reindexVisibility(
  liveIndex: string,
  targetIndex: string,
  facts: TargetTaskFacts,
): ReindexVisibility {
  // Cancelled tasks fall through to `completed`, as upstream's cond does.
  const taskState: ReindexVisibility["taskState"] = facts.anyPending
    ? "pending"
    : facts.anyFailed
      ? "failed"
      : facts.total === 0
        ? "idle"
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
