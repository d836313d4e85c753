// FailedWork row construction (spec §3.1–§3.2). Ids are raw task uids / job ids; rows are addressed
// internally by `source:id` so a task uid and a job id never collide.
import { classifyBackendError, classifyQueueJob, queueSignalText } from "./reasonClass.ts";
import { firstLine, redactText } from "./redact.ts";
import { NOT_FAILED_STATES, parseTimestamp } from "./states.ts";
import type { FailedWork, MeiliTask, ObanJob, Operation, RecoveryAction, Source, SyncMode } from "./types.ts";

export const UPSERT_WORKER = "Scrypath.Oban.UpsertWorker";
export const DELETE_WORKER = "Scrypath.Oban.DeleteWorker";

export function operationFromTaskType(type: string): Operation {
  if (type === "documentAdditionOrUpdate") return "upsert";
  if (type === "documentDeletion") return "delete";
  return "unknown";
}

/** `args.operation` first, then the worker name. */
export function operationFromJob(job: Pick<ObanJob, "args" | "worker">): Operation {
  const op = job.args.operation;
  if (op === "upsert" || op === "delete") return op;
  if (job.worker === UPSERT_WORKER) return "upsert";
  if (job.worker === DELETE_WORKER) return "delete";
  return "unknown";
}

/** Scrypath can replay the payload: literal "upsert" with a `documents` list or "delete" with `document_ids`. */
export function replayPayloadAvailable(args: Record<string, unknown>): boolean {
  if (args.operation === "upsert") return Array.isArray(args.documents);
  if (args.operation === "delete") return Array.isArray(args.document_ids);
  return false;
}

// `reason` keeps upstream's choice of text, with credentials redacted: job errors can quote
// connection hints such as `meilisearch_api_key`.
function backendReason(error: MeiliTask["error"]): string {
  if (error && typeof error.message === "string") return redactText(error.message);
  if (error && typeof error.code === "string") return error.code;
  return "backend task failed";
}

/** Upstream uses the FIRST error only when it is a plain string; real Oban errors are objects. */
function queueReason(job: ObanJob): string {
  if (typeof job.firstError === "string") return redactText(job.firstError);
  return job.state === "retryable" ? "queue job is retryable" : "queue job failed";
}

function nonNegInt(value: unknown): number | null {
  if (typeof value === "number" && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === "string") {
    const m = /^\s*([+-]?\d+)/.exec(value);
    const n = m?.[1] === undefined ? Number.NaN : Number.parseInt(m[1], 10);
    return Number.isInteger(n) && n >= 0 ? n : null;
  }
  return null;
}

function improvedLastError(text: string | null | undefined): string | null {
  if (typeof text !== "string") return null;
  const line = firstLine(redactText(text));
  return line === "" ? null : line;
}

export function failedWorkFromTask(task: MeiliTask, ctx: { schema: string; mode: SyncMode }): FailedWork {
  const failedAt = parseTimestamp(task.finishedAt);
  return {
    id: task.uid,
    schema: ctx.schema,
    mode: ctx.mode,
    source: "meilisearch",
    operation: operationFromTaskType(task.type),
    state: "failed",
    retryable: false,
    reason: backendReason(task.error),
    failedAt,
    lastAttemptAt: failedAt,
    attempt: null,
    maxAttempts: null,
    reasonClass: classifyBackendError(task.error),
    recovery: null,
    metadata: { index: task.indexUid ?? "", taskUid: task.uid, type: task.type },
    lastError: improvedLastError(task.error?.message),
  };
}

export function failedWorkFromJob(job: ObanJob, ctx: { schema: string; backend: string }): FailedWork {
  const operation = operationFromJob(job);
  const retryable = operation !== "unknown" && replayPayloadAvailable(job.args);
  const recovery: RecoveryAction | null = retryable
    ? {
        kind: "retry",
        schema: ctx.schema,
        backend: ctx.backend,
        mode: "oban",
        operation,
        index: typeof job.args.index === "string" ? job.args.index : "",
        reference: { jobId: job.id, queue: job.queue, payload: job.args },
      }
    : null;
  return {
    id: job.id,
    schema: ctx.schema,
    mode: "oban",
    source: "oban",
    operation,
    state: job.state === "retryable" ? "retrying" : "failed",
    retryable,
    reason: queueReason(job),
    failedAt: job.attemptedAt,
    lastAttemptAt: job.attemptedAt,
    attempt: nonNegInt(job.attempt),
    maxAttempts: nonNegInt(job.maxAttempts),
    reasonClass: classifyQueueJob(job.state, job.lastError),
    recovery,
    metadata: { worker: job.worker, queue: job.queue },
    lastError: improvedLastError(queueSignalText(job.lastError)),
    ...(job.state === "retryable" ? { retryAt: job.scheduledAt ?? null } : {}),
  };
}

/** Internal row address, e.g. `oban:601` or `meilisearch:403`. */
export function rowKey(source: Source, id: number): string {
  return `${source}:${id}`;
}

export function parseRowKey(key: string): { source: Source; id: number } | null {
  const m = /^(meilisearch|oban):(\d+)$/.exec(key.trim());
  if (!m || m[1] === undefined || m[2] === undefined) return null;
  const id = Number(m[2]);
  return Number.isSafeInteger(id) ? { source: m[1] as Source, id } : null;
}

// A replay that is pending, running, retrying or done blocks another retry of the same failed
// job (`already_replayed`); only a replay that itself failed (discarded, cancelled) does not.
const REPLAY_BLOCKING_STATES: ReadonlySet<string> = new Set(NOT_FAILED_STATES);

/** Whether a replay in `state` (null: the replay job is gone, pruned) blocks another retry. */
export function replayBlocksRetry(state: string | null): boolean {
  return state === null || REPLAY_BLOCKING_STATES.has(state);
}
