// `/scrypath reconcile <schema> [--target-index X]`: the report; `--action` is a mutation.
import { z } from "zod";
import { resolveSchema } from "../src/operator/index.ts";
import { reconcileView } from "../views/reconcile.ts";
import { positionals, schemaName } from "./args.ts";
import { viewContext } from "./context.ts";
import { COMMON_FLAGS, type Command } from "./types.ts";

export const reconcile: Command<{ schema: string; targetIndex: string | null }> = {
  name: "reconcile",
  usage: "/scrypath reconcile <schema> [--target-index X] [--share]",
  summary: "drift signals, reindex visibility, failed-work rollup and recommended actions",
  flags: { ...COMMON_FLAGS, "target-index": "string" },
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
        })
        .loose(),
    })
    .transform((a) => ({ schema: a.positionals[0], targetIndex: a.flags["target-index"] ?? null })),
  async run(args, deps) {
    // The contract check joins the report when the schema declares a contract.
    const declared = resolveSchema(deps.operator.context, args.schema).config.contract !== null;
    const report = await deps.operator.reconcileSync(args.schema, {
      targetIndex: args.targetIndex,
      includeContractDrift: declared,
    });
    return reconcileView(report, viewContext(deps));
  },
};
