// `/scrypath retry <schema> <id>`: ask an operator to confirm replaying one failed queue job.
// `/scrypath retry <schema> --class C [--since 2h] [--state terminal|retrying|all]`: ask to replay
// every failed row of that class a single retry would accept (the workflow resolves the filter to
// explicit ids once, when the card is posted). Nothing acts here: the listener posts a
// confirmation card, and only a confirmed click executes.
import { z } from "zod";
import { parseSince } from "../src/core/since.ts";
import type { ReasonClass } from "../src/core/types.ts";
import { positionals, reasonClass, retryTarget, schemaName } from "./args.ts";
import { COMMON_FLAGS, type Command } from "./types.ts";

export type RetryArgs =
  | { schema: string; target: string }
  | {
      schema: string;
      reasonClass: ReasonClass;
      state: "terminal" | "retrying" | "all";
      /** As typed (`2h`, or an ISO time): made absolute when the request is made. */
      since: string | null;
    };

const EXAMPLES = "for example `/scrypath retry posts 601` or `/scrypath retry posts --class transport`";

const bulkState = z.enum(["terminal", "retrying", "all"], {
  error: "--state must be one of terminal, retrying, all",
});
const since = z.string().refine((v) => parseSince(v) !== null, {
  error: (issue) =>
    `--since expects a duration such as 2h or 30m, or an ISO timestamp, got "${String(issue.input).slice(0, 60)}"`,
});
const single = positionals(2, `a schema and a failed job id, or --class; ${EXAMPLES}`).pipe(
  z.tuple([schemaName, retryTarget]),
);
const onlySchema = positionals(1, `a schema, ${EXAMPLES}`).pipe(z.tuple([schemaName]));
// A bulk retry replays queue rows only: backend rows have no replay action.
const bulkSource = z.literal("oban", { error: "a bulk retry replays queue rows only: --source oban" });

export const retry: Command<RetryArgs> = {
  name: "retry",
  usage:
    "/scrypath retry <schema> <id> | /scrypath retry <schema> --class C [--since 2h] [--state terminal|retrying|all]",
  summary:
    "replay one failed queue job, or every failed job of a class (capped), as new Oban jobs, once an operator confirms",
  mutates: true,
  // `--id` as in `mix scrypath.retry SCHEMA --id ID`; the id may also come second.
  flags: {
    help: COMMON_FLAGS.help as "boolean",
    id: "string",
    class: "string",
    since: "string",
    state: "string",
    source: "string",
  },
  args: z
    .object({
      positionals: z.array(z.string()),
      flags: z
        .object({
          id: z.string().optional(),
          class: reasonClass.optional(),
          since: since.optional(),
          state: bulkState.optional(),
          source: bulkSource.optional(),
        })
        .loose(),
    })
    .transform((a, ctx): RetryArgs => {
      const fail = (message: string) => {
        ctx.addIssue({ code: "custom", message });
        return z.NEVER;
      };
      const bulk = a.flags.class !== undefined;
      if (!bulk) {
        const stray = (["since", "state", "source"] as const).find((f) => a.flags[f] !== undefined);
        if (stray) return fail(`--${stray} filters a bulk retry: pass it with --class`);
        const words = a.flags.id === undefined ? a.positionals : [...a.positionals, a.flags.id];
        const one = single.safeParse(words);
        if (!one.success) return fail(one.error.issues[0]?.message ?? "invalid arguments");
        return { schema: one.data[0], target: one.data[1] };
      }
      if (a.flags.id !== undefined || a.positionals.length > 1) {
        return fail("pass either a job id (one job) or --class (every failed job of a class), not both");
      }
      const schema = onlySchema.safeParse(a.positionals);
      if (!schema.success) return fail(schema.error.issues[0]?.message ?? "invalid arguments");
      return {
        schema: schema.data[0],
        reasonClass: a.flags.class as ReasonClass,
        state: a.flags.state ?? "terminal",
        since: a.flags.since ?? null,
      };
    }),
  async run(args, deps) {
    if ("target" in args) {
      return { confirmation: { kind: "retry", schema: args.schema, target: args.target } };
    }
    // Absolute from here on: the card, the stored request and its audit rows name one time.
    const from = args.since === null ? null : parseSince(args.since, deps.now());
    return {
      confirmation: {
        kind: "bulk_retry",
        schema: args.schema,
        reasonClass: args.reasonClass,
        state: args.state,
        since: from?.toISOString() ?? null,
        source: "oban",
      },
    };
  },
};
