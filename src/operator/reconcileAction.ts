// `reconcile --action` (§5.4): build the report first, pick the action it recommends, then
// execute it. The bot adds `swap` (cutover), guarded by promotion eligibility.
import { OperatorError, RefusedError } from "../errors.ts";
import { AUDIT_ACTIONS } from "../state/audit.ts";
import { type OperatorContext, type ResolvedSchema, resolveSchema, targetIndexFor } from "./context.ts";
import { type HandOffResult, handOff } from "./handOff.ts";
import { type Actor, auditRefusal, prepareState } from "./mutation.ts";
import { reconcileOf } from "./reconcile.ts";
import { parseRetryTarget, type RetryResult, retryOf } from "./retry.ts";
import { type SwapResult, swapOf } from "./swap.ts";

export const RECONCILE_ACTIONS = ["retry", "backfill", "reindex", "swap"] as const;
export type ReconcileActionName = (typeof RECONCILE_ACTIONS)[number];

export type ReconcileActionResult =
  | { action: "retry"; result: RetryResult }
  | { action: "backfill" | "reindex"; result: HandOffResult }
  | { action: "swap"; result: SwapResult };

/** The checks that need no I/O: a known action, and a well-formed id for retry. */
export function checkReconcileAction(input: {
  action: string;
  id?: string | number | null;
}): ReconcileActionName {
  if (!(RECONCILE_ACTIONS as readonly string[]).includes(input.action)) {
    throw new OperatorError(
      "bad_argument",
      `unsupported action "${input.action}"; --action must be one of retry, backfill, reindex, or swap`,
    );
  }
  if (input.action === "retry") {
    if (input.id == null || input.id === "")
      throw new OperatorError("bad_argument", "`--id` is required for this command");
    parseRetryTarget(input.id);
  }
  return input.action as ReconcileActionName;
}

export async function reconcileAction(
  ctx: OperatorContext,
  schemaRef: string,
  input: { action: string; id?: string | number | null; targetIndex?: string | null; actor: Actor },
): Promise<ReconcileActionResult> {
  const action = checkReconcileAction(input);
  const schema = resolveSchema(ctx, schemaRef);
  if (action === "retry") {
    return { action, result: await retryOf(ctx, schema, input.id as string | number, input.actor) };
  }
  if (action === "swap") {
    return {
      action,
      result: await swapOf(ctx, schema, { targetIndex: input.targetIndex, actor: input.actor }),
    };
  }
  // Backfill and reindex run only when the fresh report recommends them (§5.4).
  const target = targetIndexFor(schema, input.targetIndex);
  try {
    await checkRecommended(ctx, schema, action, target);
  } catch (error) {
    if (!(error instanceof RefusedError)) throw error;
    await prepareState(ctx);
    return auditRefusal(ctx, error, {
      actor: input.actor.id,
      action: action === "reindex" ? AUDIT_ACTIONS.reindex : AUDIT_ACTIONS.backfill,
      schema: schema.module,
      index: schema.liveIndex,
      target: { target_index: target },
      context: input.actor.context ?? {},
    });
  }
  return { action, result: await handOff(ctx, schema, action, target, input.actor) };
}

/**
 * A backfill or reindex runs only when a fresh reconcile report recommends it (§5.4): the check
 * the request and the confirm both run. Refuses with the report's drift signals as details.
 */
export async function checkRecommended(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  action: "backfill" | "reindex",
  target: string,
): Promise<void> {
  const report = await reconcileOf(ctx, schema, { targetIndex: target });
  if (!report.actions.some((a) => a.kind === action)) {
    throw new RefusedError("no_action", `no ${action} action is available for this report`, {
      drift_signals: report.driftSignals,
    });
  }
}
