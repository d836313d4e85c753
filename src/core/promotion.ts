// Promotion (index swap) eligibility, ScrypathOps' rules (§9.5): a swap is allowed only when
// fresh reconcile and contract-drift reads of the same schema and index show nothing pending,
// nothing failed, a target with history, and a live index that matches its contract.
import type { ContractDriftReport, ReindexVisibility, Status } from "./types.ts";

export type PromotionBlock =
  | "unsupported_backend"
  | "reconcile_failed"
  | "contract_failed"
  | "context_mismatch"
  | "indexes_not_distinct"
  | "target_unobserved"
  | "backend_work_pending"
  | "queue_work_pending"
  | "reindex_pending"
  | "cutover_pending"
  | "failed_work"
  | "check_in_progress"
  | "contract_mismatch";

export const PROMOTION_MESSAGES: Record<PromotionBlock, string> = {
  unsupported_backend: "only Meilisearch indexes can be swapped",
  reconcile_failed: "the reconcile read failed; fix the backend and check again",
  contract_failed: "the contract drift read failed; fix the backend and check again",
  context_mismatch: "the reconcile and contract reads refer to different schemas or indexes; check again",
  indexes_not_distinct: "the live and target index are the same index",
  target_unobserved: "the target index has no task history; build it first (reindex with cutover off)",
  backend_work_pending: "Meilisearch still has document tasks pending on the live index; wait for them",
  queue_work_pending: "Oban still has sync jobs pending or retrying for this schema; wait for them",
  reindex_pending: "tasks on the target index are still running; wait for the reindex to finish",
  cutover_pending:
    "an index swap is already pending (or a previous one failed); check the reindex task history",
  failed_work: "resolve failed sync work first",
  check_in_progress: "the cutover state is not known yet; check again",
  contract_mismatch: "the live index does not match the schema's contract; resolve the contract drift first",
};

export interface PromotionInput {
  backend: string;
  schema: string;
  liveIndex: string;
  targetIndex: string;
  /** The fresh reads; an Error where a read failed. */
  reconcile:
    | {
        schema: string;
        index: string;
        status: Status;
        failedWorkTotal: number;
        reindex: ReindexVisibility;
      }
    | Error;
  contract: ContractDriftReport | Error;
}

export type PromotionVerdict =
  | { eligible: true }
  | { eligible: false; reason: PromotionBlock; message: string };

const blocked = (reason: PromotionBlock): PromotionVerdict => ({
  eligible: false,
  reason,
  message: PROMOTION_MESSAGES[reason],
});

/**
 * Every rule that blocks, in ScrypathOps' order (empty: eligible). A failed read, reads about
 * other indexes, or one index named twice stop the list: nothing after them can be judged.
 */
export function promotionBlocks(input: PromotionInput): PromotionBlock[] {
  if (input.backend !== "Elixir.Scrypath.Meilisearch") return ["unsupported_backend"];
  const { reconcile, contract } = input;
  if (reconcile instanceof Error) return ["reconcile_failed"];
  if (contract instanceof Error) return ["contract_failed"];
  const contractSchema = contract.schema.replace(/^Elixir\./, "");
  if (
    reconcile.schema !== input.schema ||
    contractSchema !== input.schema ||
    reconcile.index !== input.liveIndex ||
    contract.index !== input.liveIndex ||
    reconcile.reindex.targetIndex !== input.targetIndex
  ) {
    return ["context_mismatch"];
  }
  if (input.liveIndex === input.targetIndex) return ["indexes_not_distinct"];
  const { status, reindex } = reconcile;
  const blocks: PromotionBlock[] = [];
  if (!reindex.observed) blocks.push("target_unobserved");
  if (status.backend.pending.total > 0) blocks.push("backend_work_pending");
  if (status.queue.pending.total > 0 || status.queue.retrying.total > 0) blocks.push("queue_work_pending");
  if (reindex.taskState === "pending") blocks.push("reindex_pending");
  if (reindex.cutover === "pending") blocks.push("cutover_pending");
  if (
    reconcile.failedWorkTotal > 0 ||
    status.backend.failed.total > 0 ||
    status.queue.failed.total > 0 ||
    reindex.taskState === "failed"
  ) {
    blocks.push("failed_work");
  }
  if (!["completed", "not_started", "pending"].includes(reindex.cutover)) blocks.push("check_in_progress");
  if (Object.values(contract.dimensions).some((d) => !d.match)) blocks.push("contract_mismatch");
  return blocks;
}

/** The first rule that blocks, in ScrypathOps' order, or eligible. */
export function promotionEligibility(input: PromotionInput): PromotionVerdict {
  const [first] = promotionBlocks(input);
  return first ? blocked(first) : { eligible: true };
}
