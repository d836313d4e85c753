// Retry verification (§9.6, ScrypathOps RecoveryObservation): after a replay is accepted,
// follow the new job and look for backend evidence. "Accepted" is not searchable; only
// documents observed in the index with the expected values are "verified". Observing never
// submits work.
import { getDocument, listTasks } from "../backends/meilisearch.ts";
import { findJob } from "../backends/obanJobs.ts";
import { deepEqual, isPlainObject } from "../core/deepEqual.ts";
import { queueSignalText } from "../core/reasonClass.ts";
import { firstLine, redactText } from "../core/redact.ts";
import type { ReplayVerdict } from "../core/tally.ts";
import { type RecordedVerdict, recordVerification } from "../state/replayLinks.ts";
import { postgresRead, stateTables } from "./bounded.ts";
import type { OperatorContext } from "./context.ts";
import { prepareState } from "./mutation.ts";
import { DOCUMENT_TASK_TYPES } from "./status.ts";

export type ReplayState =
  | "accepted"
  | "running"
  | "queue_only_completed"
  | "verified"
  | "failed"
  | "timed_out"
  | "unknown";

/** What the replay promised: which job, and which documents should end up how. */
export interface ReplayReceipt {
  jobId: number;
  index: string;
  operation: "upsert" | "delete";
  /** Upserts: expected field values per document id (bounded); deletes: the ids that must be gone. */
  documents: { id: string | number; data?: Record<string, unknown> }[];
  startedAt: Date;
}

export interface ReplayObservation {
  state: ReplayState;
  jobState: string | null;
  attempt: number | null;
  /** The newest document task on the index since the job started, when one exists. */
  task: { uid: number; status: string; error: string | null } | null;
  /** Documents checked, and how many matched. */
  documents: { checked: number; matched: number };
  /** First line of the job's newest error, redacted. */
  lastError: string | null;
}

/** Upstream bounds: at most 50 documents and 64 KiB of expected data are verified. */
export const VERIFY_MAX_DOCUMENTS = 50;
export const VERIFY_MAX_BYTES = 64 * 1024;

export function receiptFor(
  jobId: number,
  index: string,
  operation: "upsert" | "delete",
  args: Record<string, unknown>,
  startedAt: Date,
): ReplayReceipt {
  const documents: ReplayReceipt["documents"] = [];
  let bytes = 0;
  if (operation === "upsert" && Array.isArray(args.documents)) {
    for (const doc of args.documents.slice(0, VERIFY_MAX_DOCUMENTS)) {
      const d = doc as { id: string | number; data: Record<string, unknown> };
      bytes += JSON.stringify(d.data ?? {}).length;
      if (bytes > VERIFY_MAX_BYTES) break;
      documents.push({ id: d.id, data: d.data });
    }
  } else if (Array.isArray(args.document_ids)) {
    for (const id of args.document_ids.slice(0, VERIFY_MAX_DOCUMENTS))
      documents.push({ id: id as string | number });
  }
  return { jobId, index, operation, documents, startedAt };
}

/** Every expected field has the expected value (the index may hold more fields). */
export function contains(actual: Record<string, unknown>, expected: Record<string, unknown>): boolean {
  return Object.entries(expected).every(([k, v]) =>
    isPlainObject(v) && isPlainObject(actual[k]) ? contains(actual[k], v) : deepEqual(actual[k], v),
  );
}

async function documentEvidence(ctx: OperatorContext, receipt: ReplayReceipt) {
  let matched = 0;
  for (const doc of receipt.documents) {
    const found = await getDocument(ctx.meili, receipt.index, doc.id);
    const ok =
      receipt.operation === "delete" ? found === null : found !== null && contains(found, doc.data ?? {});
    if (ok) matched += 1;
  }
  return { checked: receipt.documents.length, matched };
}

/** One observation of a replay; call it again to follow the replay. */
export async function observeReplay(
  ctx: OperatorContext,
  receipt: ReplayReceipt,
): Promise<ReplayObservation> {
  const job = await findJob(ctx.db, ctx.config.database.obanPrefix, receipt.jobId);
  const since = receipt.startedAt.toISOString();
  const tasks = await listTasks(
    ctx.meili,
    { indexUids: [receipt.index], types: DOCUMENT_TASK_TYPES },
    1,
  ).catch(() => null);
  const newest = tasks?.results[0];
  const task =
    newest?.enqueuedAt && newest.enqueuedAt >= since
      ? { uid: newest.uid, status: newest.status, error: newest.error?.message ?? null }
      : null;
  const base = {
    jobState: job?.state ?? null,
    attempt: job?.attempt ?? null,
    task,
    documents: { checked: 0, matched: 0 },
    lastError: job?.lastError ? firstLine(redactText(queueSignalText(job.lastError) ?? "")) || null : null,
  };
  if (!job) return { ...base, state: "unknown" };
  switch (job.state) {
    case "available":
    case "scheduled":
    case "suspended":
      return { ...base, state: "accepted" };
    case "executing":
    case "retryable":
      return { ...base, state: "running" };
    case "discarded":
    case "cancelled":
      return { ...base, state: "failed" };
    case "completed": {
      const documents = await documentEvidence(ctx, receipt);
      const verified = documents.checked > 0 && documents.matched === documents.checked;
      return { ...base, documents, state: verified ? "verified" : "queue_only_completed" };
    }
    default:
      return { ...base, state: "unknown" };
  }
}

/** Terminal states: following stops here. */
export const FINAL_REPLAY_STATES: readonly ReplayState[] = ["verified", "failed", "timed_out", "unknown"];

/**
 * The verdict a follower's last observation amounts to, as stored on the replay link; null while
 * the replay is still in flight. Following that ran out of time after the job completed (documents
 * not observed yet) is `queue_only_completed`; before it completed, `timed_out`.
 */
export function replayVerdict(o: Pick<ReplayObservation, "state" | "jobState">): ReplayVerdict | null {
  switch (o.state) {
    case "verified":
    case "queue_only_completed":
    case "failed":
    case "unknown":
      return o.state;
    case "timed_out":
      return o.jobState === "completed" ? "queue_only_completed" : "timed_out";
    default:
      return null;
  }
}

/**
 * Records where following the replay job `replayJobId` ended, on the replay link that made it, so
 * every surface can say "verified" (src/core/tally.ts). Several replicas may follow one replay:
 * the strongest verdict stands (verified > queue_only_completed > failed > timed_out > unknown),
 * the first of equals. Resolves with the verdict that stands; null while the replay is in flight
 * or when no replay link of this Oban prefix made that job (a job the bot did not insert).
 */
export async function recordReplayVerdict(
  ctx: OperatorContext,
  replayJobId: number,
  observation: Pick<ReplayObservation, "state" | "jobState">,
): Promise<RecordedVerdict | null> {
  const verdict = replayVerdict(observation);
  if (!verdict) return null;
  const stateName = await prepareState(ctx);
  return postgresRead(ctx, stateTables(ctx, "replay_links"), () =>
    recordVerification(ctx.db, stateName, {
      obanPrefix: ctx.config.database.obanPrefix,
      replayJobId,
      verdict,
    }),
  );
}
