// `/scrypath retry <schema> <id>`: ask an operator to confirm replaying one failed queue job. Nothing
// acts here: the listener posts a confirmation card, and only a confirmed click executes.
import { z } from "zod";
import { positionals, retryTarget, schemaName } from "./args.ts";
import { COMMON_FLAGS, type Command } from "./types.ts";

export interface RetryArgs {
  schema: string;
  target: string;
}

export const retry: Command<RetryArgs> = {
  name: "retry",
  usage: "/scrypath retry <schema> <id>",
  summary: "replay one failed queue job as a new Oban job, once an operator confirms",
  mutates: true,
  // `--id` as in `mix scrypath.retry SCHEMA --id ID`; the id may also come second.
  flags: { help: COMMON_FLAGS.help as "boolean", id: "string" },
  args: z
    .object({
      positionals: z.array(z.string()),
      flags: z.object({ id: z.string().optional() }).loose(),
    })
    .transform((a) => (a.flags.id === undefined ? a.positionals : [...a.positionals, a.flags.id]))
    .pipe(
      positionals(2, "a schema and a failed job id, for example `/scrypath retry posts 601`").pipe(
        z.tuple([schemaName, retryTarget]),
      ),
    )
    .transform(([schema, target]) => ({ schema, target })),
  async run(args) {
    return { confirmation: { kind: "retry", schema: args.schema, target: args.target } };
  },
};
