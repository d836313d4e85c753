// `/scrypath reconcile <schema> [--target-index X]`: the report. With `--action retry --id N |
// backfill | reindex | swap` it asks an operator to confirm that action instead (a card, nothing acts).
import { z } from "zod";
import { resolveSchema } from "../src/operator/index.ts";
import { RECONCILE_ACTIONS } from "../src/operator/reconcileAction.ts";
import { reconcileView } from "../views/reconcile.ts";
import { positionals, retryTarget, schemaName } from "./args.ts";
import { viewContext } from "./context.ts";
import { COMMON_FLAGS, type Command } from "./types.ts";

export interface ReconcileArgs {
  schema: string;
  targetIndex: string | null;
  action: (typeof RECONCILE_ACTIONS)[number] | null;
  id: string | null;
}

export const reconcile: Command<ReconcileArgs> = {
  name: "reconcile",
  usage:
    "/scrypath reconcile <schema> [--target-index X] [--share] [--action retry --id N|backfill|reindex|swap]",
  summary: "drift signals, reindex visibility, failed-work rollup and recommended actions",
  flags: { ...COMMON_FLAGS, "target-index": "string", action: "string", id: "string" },
  args: z
    .object({
      positionals: positionals(1, "a schema, for example `/scrypath reconcile posts`").pipe(
        z.tuple([schemaName]),
      ),
      flags: z
        .object({
          "target-index": z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,400}$/, "--target-index must be an index uid")
            .optional(),
          action: z
            .enum(RECONCILE_ACTIONS, { error: `--action must be one of ${RECONCILE_ACTIONS.join(", ")}` })
            .optional(),
          id: retryTarget.optional(),
        })
        .loose()
        .refine((f) => f.action !== "retry" || f.id !== undefined, {
          error: "--action retry needs --id, for example `--action retry --id 601`",
        })
        .refine((f) => f.id === undefined || f.action === "retry", {
          error: "--id only goes with --action retry",
        }),
    })
    .transform((a) => ({
      schema: a.positionals[0],
      targetIndex: a.flags["target-index"] ?? null,
      action: a.flags.action ?? null,
      id: a.flags.id ?? null,
    })),
  async run(args, deps) {
    if (args.action) {
      return {
        confirmation: {
          kind: "action",
          schema: args.schema,
          action: args.action,
          id: args.id,
          targetIndex: args.targetIndex,
        },
      };
    }
    // The contract check joins the report when the schema declares a contract.
    const declared = resolveSchema(deps, args.schema).config.contract !== null;
    const report = await deps.operator.reconcileSync(args.schema, {
      targetIndex: args.targetIndex,
      includeContractDrift: declared,
    });
    return reconcileView(report, viewContext(deps));
  },
};
