// Bounded live settings changes (§2.6 hot_apply, §8.7): only synonyms, stop words and typo
// tolerance, an explicit acknowledgement, PATCH, then wait for the settings task. The previous
// values of the touched keys are kept so one call can revert the change. A PATCH whose answer was
// lost is "unconfirmed", never "nothing was changed": the bot looks for its task, says what it
// found, and a revert finds the task first.
import { getSettings, getTask, newestTaskUid, settingsTasksAfter } from "../backends/meilisearch.ts";
import { toWire, validateHotApplyPayload } from "../core/settings.ts";
import { describeChanges, liveValuesMoved } from "../core/settingsDiff.ts";
import { isOperatorError, OperatorError, RefusedError } from "../errors.ts";
import { AUDIT_ACTIONS, finishAudit, writeAudit } from "../state/audit.ts";
import {
  clearReverted,
  findChange,
  finishChange,
  insertChange,
  markReverted,
  recordChangeTask,
  type SettingsChange,
} from "../state/settingsChanges.ts";
import { type OperatorContext, type ResolvedSchema, resolveSchema } from "./context.ts";
import { type Actor, auditEntry, auditRefusal, inTransaction, prepareState } from "./mutation.ts";
import {
  type Budget,
  budgetOf,
  carriesChange,
  type Delivered,
  deliverSettings,
  type LostAnswer,
  matchingTask,
  NotAppliedError,
  READ_TIMEOUT_MS,
} from "./settingsDelivery.ts";

export type { LostAnswer } from "./settingsDelivery.ts";

export interface SettingsTaskResult {
  /** The settings change id (pass it to revertHotApply). */
  changeId: number;
  /** The schema module the change belongs to. */
  schema: string;
  index: string;
  /** `uid` is null when the PATCH's answer was lost and its task was not found. */
  task: { uid: number | null; status: Delivered["status"]; error: string | null };
  auditId: number;
  /** Present when the PATCH's answer was lost: what the bot found out afterwards. */
  lost?: LostAnswer;
}

const REFUSALS = {
  invalid_settings_payload: "settings JSON must be an object at the top level",
  empty_hot_apply_payload: "the settings payload is empty; give synonyms, stop_words or typo_tolerance",
};

/**
 * The newest task uid before a PATCH, so its own task can be found if the answer is lost. An
 * unreachable Meilisearch stops here (nothing was sent); a key without `tasks.get` only costs that.
 */
async function taskFloor(budget: Budget): Promise<number | null> {
  try {
    return await newestTaskUid(budget.client(READ_TIMEOUT_MS));
  } catch (error) {
    if (isOperatorError(error) && error.code === "meilisearch_unreachable") throw error;
    return null;
  }
}

const resultOf = (d: Delivered) => ({ uid: d.uid, status: d.status, error: d.error });

/**
 * A change confirmed from a card must apply to the live values the card showed: when the live
 * values of its keys moved since (someone else's change, a redeploy), the refusal that says how;
 * else null. `reviewed` is what the card recorded; without it there is nothing to compare.
 */
export function liveMovedRefusal(
  reviewed: Record<string, unknown> | null | undefined,
  current: Record<string, unknown>,
  keys: readonly string[],
): RefusedError | null {
  if (!reviewed) return null;
  const moved = liveValuesMoved(reviewed, current, keys);
  if (moved.length === 0) return null;
  return new RefusedError(
    "live_settings_changed",
    `the live values changed since this card was posted: ${describeChanges(moved)}; request again to review`,
    { moved: moved.map((c) => c.key) },
  );
}

export async function hotApplyOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  input: {
    settings: unknown;
    acknowledgeLive: boolean;
    actor: Actor;
    /** The live values of the keys as the confirmer reviewed them: refused if they moved since. */
    reviewedLive?: Record<string, unknown> | null;
  },
): Promise<SettingsTaskResult> {
  const budget = budgetOf(ctx);
  const stateName = await prepareState(ctx);
  const audit = auditEntry(input.actor, AUDIT_ACTIONS.hotApply, {
    schema: schema.module,
    index: schema.liveIndex,
  });
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
  const [current, floor] = await Promise.all([
    getSettings(budget.client(READ_TIMEOUT_MS), schema.liveIndex),
    taskFloor(budget),
  ]);
  const moved = liveMovedRefusal(input.reviewedLive, current, keys);
  if (moved) return auditRefusal(ctx, moved, { ...audit, target: { keys } });
  const previous = Object.fromEntries(keys.map((k) => [k, current[k] ?? null]));

  const { changeId, auditId } = await inTransaction(ctx, async (client) => ({
    changeId: await insertChange(client, stateName, {
      schema: schema.module,
      index: schema.liveIndex,
      keys,
      previous,
      applied: wire,
      requestedBy: input.actor.id,
      taskFloor: floor,
    }),
    auditId: await writeAudit(client, stateName, {
      ...audit,
      target: { keys },
      outcome: "started",
      details: { applied: wire },
    }),
  }));
  let delivered: Delivered;
  try {
    delivered = await deliverSettings(ctx, budget, schema.liveIndex, wire, floor);
  } catch (error) {
    // Nothing changed: the PATCH never left, Meilisearch refused it, or it never arrived.
    const message = error instanceof Error ? error.message : String(error);
    const status = error instanceof NotAppliedError ? "not_applied" : "failed";
    await finishChange(ctx.db, stateName, changeId, status, null).catch(() => {});
    await finishAudit(ctx.db, stateName, auditId, "failed", message, { change_id: changeId }).catch(() => {});
    throw error;
  }
  // From here on the outcome is Meilisearch's: a failure to record it must not hide it.
  await finishChange(ctx.db, stateName, changeId, delivered.status, delivered.uid).catch(() => {});
  await finishAudit(ctx.db, stateName, auditId, delivered.status, delivered.error, {
    task_uid: delivered.uid,
    change_id: changeId,
    ...(delivered.lost ? { answer_lost: delivered.lost } : {}),
  }).catch(() => {});
  return {
    changeId,
    schema: schema.module,
    index: schema.liveIndex,
    task: resultOf(delivered),
    auditId,
    ...(delivered.lost ? { lost: delivered.lost } : {}),
  };
}

export async function hotApplySettings(
  ctx: OperatorContext,
  schemaRef: string,
  input: { settings: unknown; acknowledgeLive: boolean; actor: Actor },
) {
  return hotApplyOf(ctx, resolveSchema(ctx, schemaRef), input);
}

/**
 * Whether an unconfirmed change applied: its task (by uid, or found after its floor by content,
 * then recorded on the change), else the live settings. Refuses when it did not apply, or when
 * its task has not finished yet; throws when Meilisearch cannot tell (nothing is changed then).
 */
async function settleUnconfirmed(
  ctx: OperatorContext,
  budget: Budget,
  stateName: string,
  change: SettingsChange,
  refuse: (reason: string, message: string) => Promise<never>,
): Promise<void> {
  const read = () => budget.client(READ_TIMEOUT_MS);
  const task =
    change.taskUid !== null
      ? await getTask(read(), change.taskUid)
      : change.taskFloor !== null
        ? matchingTask(await settingsTasksAfter(read(), change.index, change.taskFloor), change.applied)
        : null;
  if (task && change.taskUid === null) {
    await recordChangeTask(ctx.db, stateName, change.id, task.uid);
  }
  if (task) {
    if (task.status === "succeeded") return;
    if (task.status === "enqueued" || task.status === "processing") {
      return refuse(
        "change_still_pending",
        `settings change ${change.id} is Meilisearch task ${task.uid}, still ${task.status}; revert it once that task finished (GET /tasks/${task.uid})`,
      );
    }
    await finishChange(ctx.db, stateName, change.id, "not_applied", task.uid);
    const ended = task.status === "canceled" ? "cancelled" : task.status;
    return refuse(
      "not_applied",
      `settings change ${change.id} did not apply after all: its task ${task.uid} ${ended}${task.error?.message ? ` (${task.error.message})` : ""}; there is nothing to revert`,
    );
  }
  const current = await getSettings(read(), change.index);
  if (change.keys.every((k) => carriesChange(current[k], change.applied[k]))) return;
  if (change.taskFloor === null) {
    return refuse(
      "outcome_unknown",
      `settings change ${change.id} has no task on record and the live ${change.keys.join(", ")} do not carry it; check GET /tasks?types=settingsUpdate&indexUids=${change.index} before reverting by hand`,
    );
  }
  await finishChange(ctx.db, stateName, change.id, "not_applied", null);
  return refuse(
    "not_applied",
    `settings change ${change.id} never applied: Meilisearch has no settings task for it and the live ${change.keys.join(", ")} do not carry it; there is nothing to revert`,
  );
}

/**
 * Put back the values a hot-apply replaced. Refused when the change never applied, was already
 * reverted, or when the live values changed since (someone else's change would be lost). A change
 * whose outcome was unconfirmed is settled first: its task found, or the live settings read.
 */
/**
 * The rules on the stored change alone: one that never applied has nothing to revert, and a
 * change is reverted once. The request and the revert both run them (the revert again under its
 * claim); an unconfirmed change is settled by the revert itself first.
 */
export function revertRefusal(change: SettingsChange): RefusedError | null {
  if (change.status !== "succeeded" && change.status !== "unconfirmed" && change.status !== "not_applied") {
    return notRevertible(change);
  }
  return change.revertedAt ? alreadyReverted(change) : null;
}

/**
 * The live values no longer carry what the change applied (someone changed them after it): a
 * revert would overwrite that. The request and the revert both check it; null when they carry it.
 */
export function settingsChangedSince(
  change: SettingsChange,
  current: Record<string, unknown>,
): RefusedError | null {
  const changed = change.keys.filter((k) => !carriesChange(current[k], change.applied[k]));
  if (changed.length === 0) return null;
  return new RefusedError(
    "settings_changed_since",
    `the live ${changed.join(", ")} changed after change ${change.id}; reverting would overwrite that (use force to revert anyway)`,
  );
}

const notRevertible = (change: SettingsChange) =>
  new RefusedError(
    "not_revertible",
    `settings change ${change.id} did not apply (${change.status}); there is nothing to revert`,
  );

const alreadyReverted = (change: SettingsChange) =>
  new RefusedError(
    "already_reverted",
    `settings change ${change.id} was already reverted by ${change.revertedBy} at ${change.revertedAt?.toISOString()}`,
  );

/** A revert of a change the bot has no record of. */
export const unknownChange = (changeId: number) =>
  new OperatorError("not_found", `no settings change ${changeId}; list them with the audit log`);

export async function revertHotApply(
  ctx: OperatorContext,
  changeId: number,
  input: {
    actor: Actor;
    force?: boolean;
    /** The live values of the change's keys as the confirmer reviewed them: refused if they moved since. */
    reviewedLive?: Record<string, unknown> | null;
  },
): Promise<SettingsTaskResult> {
  const budget = budgetOf(ctx);
  const stateName = await prepareState(ctx);
  const change = await findChange(ctx.db, stateName, changeId);
  if (!change) throw unknownChange(changeId);
  const audit = auditEntry(input.actor, AUDIT_ACTIONS.hotApply, {
    schema: change.schema,
    index: change.index,
    target: { keys: change.keys, revert_of: changeId },
  });
  const refuse = (reason: string, message: string) =>
    auditRefusal(ctx, new RefusedError(reason, message), audit);
  if (change.status === "unconfirmed" || change.status === "not_applied") {
    if (!change.revertedAt) await settleUnconfirmed(ctx, budget, stateName, change, refuse);
  } else if (change.status !== "succeeded") {
    return auditRefusal(ctx, notRevertible(change), audit);
  }
  // Claim the revert atomically: concurrent reverts of one change run at most once.
  const claimed = await inTransaction(ctx, async (client) => {
    const locked = await findChange(client, stateName, changeId, true);
    if (!locked || locked.revertedAt) return locked;
    await markReverted(client, stateName, changeId, input.actor.id, null);
    return null;
  });
  if (claimed) return auditRefusal(ctx, alreadyReverted(claimed), audit);
  const unclaim = () => clearReverted(ctx.db, stateName, changeId).catch(() => {});

  try {
    const [current, floor] = await Promise.all([
      getSettings(budget.client(READ_TIMEOUT_MS), change.index),
      taskFloor(budget),
    ]);
    const moved = liveMovedRefusal(input.reviewedLive, current, change.keys);
    if (moved) {
      await unclaim();
      return auditRefusal(ctx, moved, audit);
    }
    const changedSince = input.force ? null : settingsChangedSince(change, current);
    if (changedSince) {
      await unclaim();
      return auditRefusal(ctx, changedSince, audit);
    }
    const auditId = await writeAudit(ctx.db, stateName, {
      ...audit,
      outcome: "started",
      details: { restore: change.previous },
    });
    let delivered: Delivered;
    try {
      delivered = await deliverSettings(ctx, budget, change.index, change.previous, floor);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await finishAudit(ctx.db, stateName, auditId, "failed", message).catch(() => {});
      throw error;
    }
    // A failed revert task changed nothing; an unconfirmed one keeps its claim (it may have applied).
    if (delivered.status === "failed" || delivered.status === "cancelled") await unclaim();
    else await markReverted(ctx.db, stateName, changeId, input.actor.id, delivered.uid).catch(() => {});
    await finishAudit(ctx.db, stateName, auditId, delivered.status, delivered.error, {
      task_uid: delivered.uid,
      ...(delivered.lost ? { answer_lost: delivered.lost } : {}),
    }).catch(() => {});
    return {
      changeId,
      schema: change.schema,
      index: change.index,
      task: resultOf(delivered),
      auditId,
      ...(delivered.lost ? { lost: delivered.lost } : {}),
    };
  } catch (error) {
    if (!(error instanceof RefusedError)) await unclaim();
    throw error;
  }
}
