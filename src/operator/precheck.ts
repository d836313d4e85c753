// Refuse before asking: a surface that asks a person to confirm a mutation (the CLI's prompt) first
// runs the checks the execution will run (`checkRequest`, the same functions, on fresh reads) and
// reads what the request would change (`previewRequest`, the facts a Slack card shows). A refusal
// is audited here, once, as the operator audits its own refusals (plus `step: "check"`); the
// execution is then never attempted. The execution still re-validates when it runs.
import { toWire } from "../core/settings.ts";
import { RefusedError } from "../errors.ts";
import { AUDIT_ACTIONS, type AuditEntry } from "../state/audit.ts";
import { findChange, type SettingsChange } from "../state/settingsChanges.ts";
import { bulkAuditTarget } from "./bulkRequest.ts";
import { type OperatorContext, resolveSchema, targetIndexFor } from "./context.ts";
import { unknownChange } from "./hotApply.ts";
import { type Actor, auditRefusal, prepareState } from "./mutation.ts";
import { checkRequest, type MutationRequest, previewRequest, type RequestPreview } from "./requests.ts";
import { parseRetryTarget } from "./retry.ts";

/**
 * The audit row's action, schema, index and target for a request, in the shape the operator's own
 * rows for that mutation have (so `scrypath-bot audit` lists a refusal the same way either way).
 */
function auditEntry(
  ctx: OperatorContext,
  request: MutationRequest,
  change: SettingsChange | null,
): Omit<AuditEntry, "outcome" | "reason" | "actor" | "context"> {
  const retry = (schemaRef: string, target: string) => {
    const schema = resolveSchema(ctx, schemaRef);
    const { source, id } = parseRetryTarget(target);
    return {
      action: AUDIT_ACTIONS.retry,
      schema: schema.module,
      index: schema.liveIndex,
      target: { source: source ?? "oban", id },
    };
  };
  switch (request.kind) {
    case "retry":
      return retry(request.schema, request.target);
    case "action": {
      if (request.action === "retry") return retry(request.schema, request.id ?? "");
      const schema = resolveSchema(ctx, request.schema);
      const target = targetIndexFor(schema, request.targetIndex);
      const base = { schema: schema.module, index: schema.liveIndex };
      if (request.action === "swap") {
        return {
          ...base,
          action: AUDIT_ACTIONS.swap,
          target: { live_index: schema.liveIndex, target_index: target },
        };
      }
      return {
        ...base,
        action: request.action === "reindex" ? AUDIT_ACTIONS.reindex : AUDIT_ACTIONS.backfill,
        target: { target_index: target },
      };
    }
    case "hot_apply": {
      const schema = resolveSchema(ctx, request.schema);
      return {
        action: AUDIT_ACTIONS.hotApply,
        schema: schema.module,
        index: schema.liveIndex,
        // Meilisearch's spelling, as the operator's own rows name the keys.
        target: { keys: Object.keys(toWire(request.settings)).sort() },
      };
    }
    case "bulk_retry": {
      const schema = resolveSchema(ctx, request.schema);
      return {
        action: AUDIT_ACTIONS.retry,
        schema: schema.module,
        index: schema.liveIndex,
        target: bulkAuditTarget(request),
      };
    }
    case "revert":
      return {
        action: AUDIT_ACTIONS.hotApply,
        schema: change?.schema ?? null,
        index: change?.index ?? null,
        target: { ...(change ? { keys: change.keys } : {}), revert_of: request.changeId },
      };
  }
}

/**
 * Run the execution's checks and read the request's preview, before anyone is asked. Throws the
 * RefusedError the execution would give, audited once; other errors (an unknown settings change, an
 * unreachable backend) are thrown as they are, unaudited, as the execution would throw them.
 */
export async function precheckRequest(
  ctx: OperatorContext,
  request: MutationRequest,
  actor: Actor,
): Promise<RequestPreview> {
  const stateName = await prepareState(ctx);
  const change = request.kind === "revert" ? await findChange(ctx.db, stateName, request.changeId) : null;
  if (request.kind === "revert" && !change) throw unknownChange(request.changeId);
  try {
    await checkRequest(ctx, request);
    return await previewRequest(ctx, request);
  } catch (error) {
    if (!(error instanceof RefusedError)) throw error;
    return auditRefusal(ctx, error, {
      ...auditEntry(ctx, request, change),
      actor: actor.id,
      details: { step: "check" },
      context: actor.context ?? {},
    });
  }
}
