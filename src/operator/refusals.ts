// Refusals a surface finds before it calls a mutation (the CLI's checks of a hot-apply command
// line or settings file): audited here like the operator's own refusals, so the audit log shows
// them whichever surface refused.
import { RefusedError } from "../errors.ts";
import { AUDIT_ACTIONS } from "../state/audit.ts";
import type { OperatorContext } from "./context.ts";
import { resolveSchema } from "./context.ts";
import { type Actor, auditRefusal, prepareState } from "./mutation.ts";

export interface ArgumentRefusal {
  actor: Actor;
  /** Audit reason (`bad_file`, `unknown_change`…). */
  reason: string;
  /** The sentence the user was shown. */
  message: string;
  /** The schema as typed, when there was one (resolved when it can be). */
  schema: string | null;
  target: Record<string, unknown>;
}

/** Writes the refused hot-apply to the audit log. Never throws: auditing must not hide the refusal. */
export async function auditHotApplyRefusal(ctx: OperatorContext, refusal: ArgumentRefusal): Promise<void> {
  let resolved: { schema: string | null; index: string | null } = { schema: refusal.schema, index: null };
  try {
    if (refusal.schema) {
      const schema = resolveSchema(ctx, refusal.schema);
      resolved = { schema: schema.module, index: schema.liveIndex };
    }
  } catch {}
  await prepareState(ctx)
    .then(() =>
      auditRefusal(ctx, new RefusedError(refusal.reason, refusal.message), {
        actor: refusal.actor.id,
        action: AUDIT_ACTIONS.hotApply,
        ...resolved,
        target: refusal.target,
        context: refusal.actor.context ?? {},
      }),
    )
    .catch(() => {});
}
