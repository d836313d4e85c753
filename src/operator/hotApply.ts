// Bounded live settings changes (§2.6 hot_apply, §8.7): only synonyms, stop words and typo
// tolerance, an explicit acknowledgement, PATCH, then wait for the settings task. The previous
// values of the touched keys are kept so one call can revert the change.
import { getSettings, patchSettings, waitForTask } from "../backends/meilisearch.ts";
import { toWire, validateHotApplyPayload } from "../core/settings.ts";
import { OperatorError, RefusedError } from "../errors.ts";
import { AUDIT_ACTIONS, finishAudit, writeAudit } from "../state/audit.ts";
import {
  clearReverted,
  findChange,
  finishChange,
  insertChange,
  markReverted,
} from "../state/settingsChanges.ts";
import { type OperatorContext, type ResolvedSchema, resolveSchema } from "./context.ts";
import { type Actor, auditRefusal, inTransaction, prepareState } from "./mutation.ts";
import { carriesChange } from "./settingsDelivery.ts";

export interface SettingsTaskResult {
  /** The settings change id (pass it to revertHotApply). */
  changeId: number;
  index: string;
  task: { uid: number; status: "succeeded" | "failed" | "cancelled" | "unconfirmed"; error: string | null };
  auditId: number;
}

const REFUSALS = {
  invalid_settings_payload: "settings JSON must be an object at the top level",
  empty_hot_apply_payload: "the settings payload is empty; give synonyms, stop_words or typo_tolerance",
};

/** PATCH, wait, and describe the outcome; never claims success it did not see. */
async function applyAndWait(ctx: OperatorContext, index: string, wire: Record<string, unknown>) {
  const uid = await patchSettings(ctx.meili, index, wire);
  const wait = await waitForTask(ctx.meili, uid, { timeoutMs: ctx.config.meilisearch.taskWaitMs });
  if ("task" in wait && wait.outcome === "succeeded")
    return { uid, status: "succeeded" as const, error: null };
  if ("task" in wait && wait.outcome === "failed") {
    return { uid, status: "failed" as const, error: wait.task?.error?.message ?? "the settings task failed" };
  }
  if (wait.outcome === "cancelled")
    return { uid, status: "cancelled" as const, error: "the settings task was cancelled" };
  const why =
    "error" in wait
      ? wait.error.message
      : `the settings task did not finish within ${ctx.config.meilisearch.taskWaitMs} ms`;
  return { uid, status: "unconfirmed" as const, error: `${why}; check GET /tasks/${uid}` };
}

export async function hotApplyOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  input: { settings: unknown; acknowledgeLive: boolean; actor: Actor },
): Promise<SettingsTaskResult> {
  const stateName = await prepareState(ctx);
  const audit = {
    actor: input.actor.id,
    action: AUDIT_ACTIONS.hotApply,
    schema: schema.module,
    index: schema.liveIndex,
    context: input.actor.context ?? {},
  };
  const refuse = (reason: string, message: string, details: Record<string, unknown> = {}) =>
    auditRefusal(ctx, new RefusedError(reason, message, details), audit);

  if (!input.acknowledgeLive) {
    return refuse(
      "live_ack_required",
      "live settings PATCH requires acknowledging that it changes the live index (--ack-live)",
    );
  }
  const valid = validateHotApplyPayload(input.settings);
  if (!valid.ok) {
    if (valid.reason === "unsupported_hot_apply_keys") {
      return refuse(
        valid.reason,
        `only synonyms, stop_words and typo_tolerance can be hot-applied; refused keys: ${valid.keys.join(", ")}`,
        { keys: valid.keys },
      );
    }
    return refuse(valid.reason, REFUSALS[valid.reason]);
  }
  const wire = toWire(valid.settings);
  const keys = Object.keys(wire).sort();
  const current = await getSettings(ctx.meili, schema.liveIndex);
  const previous = Object.fromEntries(keys.map((k) => [k, current[k] ?? null]));

  const { changeId, auditId } = await inTransaction(ctx, async (client) => ({
    changeId: await insertChange(client, stateName, {
      schema: schema.module,
      index: schema.liveIndex,
      keys,
      previous,
      applied: wire,
      requestedBy: input.actor.id,
    }),
    auditId: await writeAudit(client, stateName, {
      ...audit,
      target: { keys },
      outcome: "started",
      details: { applied: wire },
    }),
  }));
  try {
    const task = await applyAndWait(ctx, schema.liveIndex, wire);
    await finishChange(ctx.db, stateName, changeId, task.status, task.uid);
    await finishAudit(ctx.db, stateName, auditId, task.status, task.error, {
      task_uid: task.uid,
      change_id: changeId,
    });
    return { changeId, index: schema.liveIndex, task, auditId };
  } catch (error) {
    // The PATCH was not accepted: nothing changed.
    const message = error instanceof Error ? error.message : String(error);
    await finishChange(ctx.db, stateName, changeId, "failed", null).catch(() => {});
    await finishAudit(ctx.db, stateName, auditId, "failed", message).catch(() => {});
    throw error;
  }
}

export async function hotApplySettings(
  ctx: OperatorContext,
  schemaRef: string,
  input: { settings: unknown; acknowledgeLive: boolean; actor: Actor },
) {
  return hotApplyOf(ctx, resolveSchema(ctx, schemaRef), input);
}

/**
 * Put back the values a hot-apply replaced. Refused when the change never applied, was already
 * reverted, or when the live values changed since (someone else's change would be lost).
 */
export async function revertHotApply(
  ctx: OperatorContext,
  changeId: number,
  input: { actor: Actor; force?: boolean },
): Promise<SettingsTaskResult> {
  const stateName = await prepareState(ctx);
  const change = await findChange(ctx.db, stateName, changeId);
  if (!change)
    throw new OperatorError("not_found", `no settings change ${changeId}; list them with the audit log`);
  const audit = {
    actor: input.actor.id,
    action: AUDIT_ACTIONS.hotApply,
    schema: change.schema,
    index: change.index,
    target: { keys: change.keys, revert_of: changeId },
    context: input.actor.context ?? {},
  };
  const refuse = (reason: string, message: string) =>
    auditRefusal(ctx, new RefusedError(reason, message), audit);
  if (change.status !== "succeeded") {
    return refuse(
      "not_revertible",
      `settings change ${changeId} did not apply (${change.status}); there is nothing to revert`,
    );
  }
  // Claim the revert atomically: concurrent reverts of one change run at most once.
  const claimed = await inTransaction(ctx, async (client) => {
    const locked = await findChange(client, stateName, changeId, true);
    if (!locked || locked.revertedAt) return locked;
    await markReverted(client, stateName, changeId, input.actor.id, null);
    return null;
  });
  if (claimed) {
    return refuse(
      "already_reverted",
      `settings change ${changeId} was already reverted by ${claimed.revertedBy} at ${claimed.revertedAt?.toISOString()}`,
    );
  }
  const unclaim = () => clearReverted(ctx.db, stateName, changeId).catch(() => {});

  try {
    const current = await getSettings(ctx.meili, change.index);
    const changed = change.keys.filter((k) => !carriesChange(current[k], change.applied[k]));
    if (changed.length > 0 && !input.force) {
      await unclaim();
      return refuse(
        "settings_changed_since",
        `the live ${changed.join(", ")} changed after change ${changeId}; reverting would overwrite that (use force to revert anyway)`,
      );
    }
    const auditId = await writeAudit(ctx.db, stateName, {
      ...audit,
      outcome: "started",
      details: { restore: change.previous },
    });
    const task = await applyAndWait(ctx, change.index, change.previous);
    if (task.status === "failed" || task.status === "cancelled") await unclaim();
    else await markReverted(ctx.db, stateName, changeId, input.actor.id, task.uid);
    await finishAudit(ctx.db, stateName, auditId, task.status, task.error, { task_uid: task.uid });
    return { changeId, index: change.index, task, auditId };
  } catch (error) {
    if (!(error instanceof RefusedError)) await unclaim();
    throw error;
  }
}
