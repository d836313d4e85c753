// State mappings of the two observation planes (spec §1.4, §2.1). The Oban state groups are all
// derived from the one list (OBAN_STATES) and exported, so the SQL layer filters with exactly the
// same states (as query parameters).
import {
  type MeiliTask,
  OBAN_STATES,
  type ObanJob,
  type ObanState,
  type PlaneState,
  type SyncState,
  type TaskStatus,
} from "./types.ts";

const TASK_STATUS: Record<string, TaskStatus> = {
  enqueued: "enqueued",
  queued: "enqueued",
  processing: "processing",
  succeeded: "succeeded",
  failed: "failed",
  canceled: "cancelled",
  cancelled: "cancelled",
};

/** Meilisearch status → normalized status; null for unknown (upstream: `invalid_task_payload`). */
export function normalizeTaskStatus(status: string): TaskStatus | null {
  return Object.hasOwn(TASK_STATUS, status) ? (TASK_STATUS[status] ?? null) : null;
}

export type BackendPlaneState = "pending" | "completed" | "failed";
export type QueuePlaneState = "queued" | "retrying" | "failed" | "completed";

/** Status plane: cancelled counts as failed here (but is not failed work, §3.1). */
export function backendPlaneState(status: TaskStatus): BackendPlaneState {
  switch (status) {
    case "succeeded":
      return "completed";
    case "failed":
    case "cancelled":
      return "failed";
    default:
      return "pending";
  }
}

/** Oban states counted as queue `retrying`: Oban tries the job again by itself. */
export const QUEUE_RETRYING_STATES = ["retryable"] as const satisfies readonly ObanState[];
/** Oban states counted as queue `failed` (terminal: they will not self-heal). */
export const QUEUE_FAILED_STATES = ["discarded", "cancelled"] as const satisfies readonly ObanState[];
/** Oban states counted as queue `completed`. */
export const QUEUE_COMPLETED_STATES = ["completed"] as const satisfies readonly ObanState[];

const notIn =
  (...groups: readonly (readonly ObanState[])[]) =>
  (state: ObanState): boolean =>
    !groups.some((group) => group.includes(state));

/**
 * Oban states that read as queue `queued`: every state of the list in no other bucket.
 * Upstream maps available/scheduled/executing explicitly and any unknown state to queued;
 * `suspended` (Oban v14) is unknown to upstream, so it lands here too. SQL should treat
 * "not in any other bucket" as queued rather than rely on this list alone.
 */
export const QUEUE_PENDING_STATES: readonly ObanState[] = OBAN_STATES.filter(
  notIn(QUEUE_RETRYING_STATES, QUEUE_FAILED_STATES, QUEUE_COMPLETED_STATES),
);

/** Oban states whose jobs are failed work (§3.1): retrying and terminal. */
export const FAILED_OBAN_STATES = [...QUEUE_RETRYING_STATES, ...QUEUE_FAILED_STATES] as const;

/** States in which a job has not finished yet: pending or retrying. */
export const UNFINISHED_STATES: readonly ObanState[] = [...QUEUE_PENDING_STATES, ...QUEUE_RETRYING_STATES];

/** States of a job that has not failed for good: unfinished or completed (not discarded, cancelled). */
export const NOT_FAILED_STATES: readonly ObanState[] = OBAN_STATES.filter(notIn(QUEUE_FAILED_STATES));

export function queuePlaneState(obanState: string): QueuePlaneState {
  if ((QUEUE_RETRYING_STATES as readonly string[]).includes(obanState)) return "retrying";
  if ((QUEUE_FAILED_STATES as readonly string[]).includes(obanState)) return "failed";
  if ((QUEUE_COMPLETED_STATES as readonly string[]).includes(obanState)) return "completed";
  return "queued";
}

/** ISO timestamp → Date, null when missing or unparseable. */
export function parseTimestamp(value: string | null | undefined): Date | null {
  if (typeof value !== "string" || value === "") return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

const ISO_8601 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:[.,](\d+))?([Zz]|[+-]\d{2}:?\d{2})$/;

/**
 * An ISO-8601 timestamp in UTC at upstream's precision: Elixir's `DateTime.from_iso8601/1` keeps
 * the fraction's digits up to microseconds (Meilisearch's nanoseconds are cut, not rounded), and
 * `DateTime.to_iso8601/1` prints them after shifting to `Z`. A fraction of zeros is left out.
 * Null when missing or unparseable (upstream does not invent a time for invalid evidence).
 */
export function preciseIso(value: string | null | undefined): string | null {
  if (typeof value !== "string") return null;
  const m = ISO_8601.exec(value.trim());
  if (!m) return null;
  const [, date, time, fraction = "", offset = "Z"] = m;
  const whole = new Date(`${date}T${time}${offset.toUpperCase() === "Z" ? "Z" : offset}`);
  if (Number.isNaN(whole.getTime())) return null;
  const micros = fraction.slice(0, 6);
  const suffix = /^0*$/.test(micros) ? "" : `.${micros}`;
  return `${whole.toISOString().slice(0, 19)}${suffix}Z`;
}

/** Backend State; an unknown task status reads as pending, as upstream's catch-all does. */
export function taskToSyncState(task: MeiliTask): SyncState {
  const status = normalizeTaskStatus(task.status);
  const state: PlaneState = status === null ? "pending" : backendPlaneState(status);
  return {
    source: "meilisearch",
    kind: "backend_task",
    id: task.uid,
    state,
    at: parseTimestamp(task.finishedAt),
    atIso: preciseIso(task.finishedAt),
    metadata: { type: task.type },
  };
}

export function jobToSyncState(job: ObanJob): SyncState {
  return {
    source: "oban",
    kind: "queue_job",
    id: job.id,
    state: queuePlaneState(job.state),
    at: job.completedAt,
    ...(job.completedAtIso != null ? { atIso: preciseIso(job.completedAtIso) } : {}),
    metadata: { worker: job.worker, queue: job.queue, oban_state: job.state },
  };
}

/** Latest `completed` state by `at` (missing `at` sorts oldest); null when none. */
export function lastSucceeded(states: readonly SyncState[]): SyncState | null {
  let best: SyncState | null = null;
  for (const s of states) {
    if (s.state !== "completed") continue;
    if (
      best === null ||
      (s.at?.getTime() ?? Number.NEGATIVE_INFINITY) > (best.at?.getTime() ?? Number.NEGATIVE_INFINITY)
    ) {
      best = s;
    }
  }
  return best;
}
