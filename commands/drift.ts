// `/scrypath drift <schema>`: index contract drift on five dimensions.
import { z } from "zod";
import { driftView } from "../views/drift.ts";
import { positionals, schemaName } from "./args.ts";
import { viewContext } from "./context.ts";
import { COMMON_FLAGS, type Command } from "./types.ts";

export const drift: Command<{ schema: string }> = {
  name: "drift",
  usage: "/scrypath drift <schema> [--share]",
  summary: "index contract drift: declared vs applied, N of 5 dimensions differ",
  flags: { ...COMMON_FLAGS },
  args: z
    .object({
      positionals: positionals(1, "a schema, for example `/scrypath drift posts`").pipe(
        z.tuple([schemaName]),
      ),
      flags: z.record(z.string(), z.unknown()),
    })
    .transform((a) => ({ schema: a.positionals[0] })),
  async run(args, deps) {
    return driftView(await deps.operator.indexContractDrift(args.schema), viewContext(deps));
  },
};
