// Cutover: POST /swap-indexes of live and target, only when every promotion-eligibility rule
// (§9.5) holds on fresh reads. Waits for the swap task; a timeout or an unreachable server
// during the wait is reported as unconfirmed, never as success.
import { swapIndexes as postSwap, waitForTask } from "../backends/meilisearch.ts";
import {
  PROMOTION_MESSAGES,
  type PromotionBlock,
  promotionBlocks,
  promotionEligibility,
} from "../core/promotion.ts";
import { isOperatorError, OperatorError, RefusedError } from "../errors.ts";
import { AUDIT_ACTIONS, finishAudit, writeAudit } from "../state/audit.ts";
import {
  MEILISEARCH_BACKEND,
  type OperatorContext,
  type ResolvedSchema,
  resolveSchema,
  targetIndexFor,
} from "./context.ts";
import { contractDriftOf } from "./contractDrift.ts";
import { type Actor, auditEntry, auditRefusal, prepareState } from "./mutation.ts";
import { type ReconcileReport, reconcileOf } from "./reconcile.ts";

export interface SwapResult {
  status: "succeeded" | "failed" | "unconfirmed";
  liveIndex: string;
  targetIndex: string;
  taskUid: number | null;
  /** The Meilisearch error of a failed swap, or why the outcome is unknown. */
  error: string | null;
  auditId: number;
}

const settle = <T>(p: Promise<T>): Promise<T | Error> =>
  p.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));

/** Why a swap cannot run now: the first rule (as upstream refuses), and every rule, counted. */
export interface SwapCheck {
  /** The refusal the confirm gives (the first failing rule); null when every rule holds. */
  refusal: RefusedError | null;
  /** Every failing rule, each a sentence with its count, e.g. "3 failed rows". */
  failing: { reason: PromotionBlock; text: string }[];
}

/** One failing rule, with the numbers behind it. */
function countedRule(block: PromotionBlock, reconcile: ReconcileReport | Error): string {
  if (reconcile instanceof Error) return PROMOTION_MESSAGES[block];
  const { status, reindex } = reconcile;
  const n = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;
  switch (block) {
    case "backend_work_pending":
      return `${n(status.backend.pending.total, "Meilisearch document task")} pending on ${reconcile.index}`;
    case "queue_work_pending":
      return [
        status.queue.pending.total > 0 ? `${n(status.queue.pending.total, "queue job")} pending` : null,
        status.queue.retrying.total > 0 ? `${n(status.queue.retrying.total, "queue job")} retrying` : null,
      ]
        .filter(Boolean)
        .join(", ");
    case "failed_work": {
      const rows = Math.max(
        reconcile.failedWorkCounts.total,
        status.backend.failed.total + status.queue.failed.total,
      );
      return [
        rows > 0 ? `${n(rows, "failed row")}` : null,
        reindex.taskState === "failed" ? `the reindex task on ${reindex.targetIndex} failed` : null,
      ]
        .filter(Boolean)
        .join(", ");
    }
    case "target_unobserved":
      return `${reindex.targetIndex} has no task history (build it first)`;
    case "reindex_pending":
      return `tasks still running on ${reindex.targetIndex}`;
    default:
      return PROMOTION_MESSAGES[block];
  }
}

/**
 * Every promotion rule (§9.5) on fresh reads of the schema and its target: the one check the
 * request and the confirm both run.
 */
export async function checkSwap(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  target: string,
): Promise<SwapCheck> {
  const [reconcile, contract] = await Promise.all([
    settle(reconcileOf(ctx, schema, { targetIndex: target })),
    settle(contractDriftOf(ctx, schema)),
  ]);
  const input = {
    backend: MEILISEARCH_BACKEND,
    schema: schema.module,
    liveIndex: schema.liveIndex,
    targetIndex: target,
    reconcile:
      reconcile instanceof Error
        ? reconcile
        : { ...reconcile, failedWorkTotal: reconcile.failedWorkCounts.total },
    contract,
  };
  const verdict = promotionEligibility(input);
  if (verdict.eligible) return { refusal: null, failing: [] };
  const cause = reconcile instanceof Error ? reconcile : contract instanceof Error ? contract : null;
  const detail = cause && isOperatorError(cause) ? ` (${cause.message})` : "";
  const failing = promotionBlocks(input).map((reason) => ({ reason, text: countedRule(reason, reconcile) }));
  return {
    refusal: new RefusedError(verdict.reason, `${verdict.message}${detail}`),
    failing,
  };
}

export async function swapOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  options: { targetIndex?: string | null; actor: Actor },
): Promise<SwapResult> {
  const stateName = await prepareState(ctx);
  const target = targetIndexFor(schema, options.targetIndex);
  const audit = auditEntry(options.actor, AUDIT_ACTIONS.swap, {
    schema: schema.module,
    index: schema.liveIndex,
    target: { live_index: schema.liveIndex, target_index: target },
  });

  const check = await checkSwap(ctx, schema, target);
  if (check.refusal) return auditRefusal(ctx, check.refusal, audit);

  const auditId = await writeAudit(ctx.db, stateName, { ...audit, outcome: "started" });
  let taskUid: number;
  try {
    taskUid = await postSwap(ctx.meili, schema.liveIndex, target);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // A refused connection means nothing was sent; a timeout may have reached the server.
    const unknown =
      isOperatorError(error) && error.code === "meilisearch_unreachable" && /timed out/.test(message);
    const status = unknown ? "unconfirmed" : "failed";
    await finishAudit(ctx.db, stateName, auditId, status, message).catch(() => {});
    if (!unknown)
      throw error instanceof OperatorError ? error : new OperatorError("meilisearch_error", message);
    return {
      status,
      liveIndex: schema.liveIndex,
      targetIndex: target,
      taskUid: null,
      error: message,
      auditId,
    };
  }

  const wait = await waitForTask(ctx.meili, taskUid, { timeoutMs: ctx.config.meilisearch.taskWaitMs });
  let status: SwapResult["status"] = "unconfirmed";
  let error: string | null = null;
  if ("task" in wait && wait.outcome === "succeeded") status = "succeeded";
  else if ("task" in wait && (wait.outcome === "failed" || wait.outcome === "cancelled")) {
    status = "failed";
    error =
      wait.outcome === "cancelled"
        ? "the swap task was cancelled"
        : (wait.task?.error?.message ?? "the swap task failed");
  } else if ("error" in wait) {
    error = `${wait.error.message}; the swap (task ${taskUid}) may still complete: check GET /tasks/${taskUid} when Meilisearch is back`;
  } else {
    error = `swap task ${taskUid} did not finish within ${ctx.config.meilisearch.taskWaitMs} ms; check it with GET /tasks/${taskUid} or \`scrypath-bot reconcile ${schema.module}\``;
  }
  await finishAudit(ctx.db, stateName, auditId, status, error, { task_uid: taskUid }).catch(() => {});
  return { status, liveIndex: schema.liveIndex, targetIndex: target, taskUid, error, auditId };
}

export async function swapIndexes(
  ctx: OperatorContext,
  schemaRef: string,
  options: { targetIndex?: string | null; actor: Actor },
) {
  return swapOf(ctx, resolveSchema(ctx, schemaRef), options);
}
