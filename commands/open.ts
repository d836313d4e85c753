// The read-only buttons on bot messages ("Failed work", "Reconcile report", "Contract drift",
// page buttons) re-run a verb. Button values are never trusted: they are parsed, bounded and
// go through the same argument checks as typed commands.
import { z } from "zod";
import { isOperatorError } from "../src/errors.ts";
import { backendErrorView } from "../views/errors.ts";
import { usageView } from "../views/help.ts";
import { ACTIONS } from "../views/types.ts";
import { page, reasonClass, schemaName, source } from "./args.ts";
import { showFailed } from "./failed.ts";
import { type CommandResult, channelDenied, runSlashCommand } from "./index.ts";
import type { CommandDeps, Invocation } from "./types.ts";

const openValue = z
  .object({
    schema: schemaName,
    cursor: z
      .string()
      .regex(/^[mo][0-9]{0,20}$/)
      .nullish(),
    page: page.optional(),
    reasonClass: reasonClass.optional(),
    source: source.optional(),
  })
  .strict();

const VERB_BY_ACTION: Record<string, string> = {
  [ACTIONS.openStatus]: "status",
  [ACTIONS.openFailed]: "failed",
  [ACTIONS.openReconcile]: "reconcile",
  [ACTIONS.openDrift]: "drift",
};

export const OPEN_ACTION_IDS = [...Object.keys(VERB_BY_ACTION), ACTIONS.page];

function parseValue(value: string | undefined) {
  try {
    return openValue.safeParse(JSON.parse(value ?? ""));
  } catch {
    return openValue.safeParse(undefined);
  }
}

export async function runOpenAction(
  actionId: string,
  value: string | undefined,
  invocation: Invocation,
  deps: CommandDeps,
): Promise<CommandResult> {
  const parsed = parseValue(value);
  if (!parsed.success || !(actionId in VERB_BY_ACTION || actionId === ACTIONS.page)) {
    return {
      message: usageView(
        "this button is not valid any more",
        "Run the command again, e.g. `/scrypath status`.",
        null,
      ),
      share: false,
      verb: "button",
      schema: null,
      outcome: "usage",
    };
  }
  const v = parsed.data;
  if (actionId === ACTIONS.page) {
    // Typed commands get these two checks from runSlashCommand; the page path must not skip them.
    const denied = channelDenied("failed", invocation, deps);
    if (denied) return denied;
    try {
      const message = await showFailed(
        {
          schema: v.schema,
          page: v.page ?? 1,
          cursor: v.cursor ?? null,
          ...(v.reasonClass ? { reasonClass: v.reasonClass } : {}),
          ...(v.source ? { source: v.source } : {}),
        },
        deps,
      );
      return { message, share: false, verb: "failed", schema: v.schema, outcome: "ok" };
    } catch (error) {
      if (!isOperatorError(error)) throw error;
      return {
        message: backendErrorView(error, { verb: "failed", schema: v.schema }),
        share: false,
        verb: "failed",
        schema: v.schema,
        outcome: error.backend ? "backend_error" : "usage",
        backend: error.backend,
      };
    }
  }
  // The schema came from our own button; quoting keeps it one argument whatever it holds.
  return runSlashCommand(`${VERB_BY_ACTION[actionId]} "${v.schema.replace(/"/g, "")}"`, invocation, deps);
}
