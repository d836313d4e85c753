// `/scrypath settings hot-apply <schema>` opens the settings editor (synonyms, stop words, typo
// tolerance; its submission becomes a confirmation card); `/scrypath settings revert <id>` asks an
// operator to confirm undoing hot-apply change <id>. Nothing acts here.
import { z } from "zod";
import { resolveSchema } from "../src/operator/index.ts";
import { schemaName } from "./args.ts";
import type { Command } from "./types.ts";

export type SettingsArgs = { action: "hot_apply"; schema: string } | { action: "revert"; changeId: number };

const changeId = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, "expected a settings change id such as `12` (the audit log lists them)")
  .transform(Number);

const usage = "a sub-command: `/scrypath settings hot-apply <schema>` or `/scrypath settings revert <id>`";

export const settings: Command<SettingsArgs> = {
  name: "settings",
  usage: "/scrypath settings hot-apply <schema> | revert <change id>",
  summary: "change synonyms, stop words or typo tolerance on the live index, or revert such a change",
  mutates: true,
  flags: { help: "boolean" },
  args: z
    .object({
      positionals: z
        .array(z.string())
        .min(1, `expected ${usage}`)
        .refine((p) => p.length <= 2, {
          error: (issue) => `unexpected extra words: ${(issue.input as string[]).slice(2).join(" ")}`,
        }),
      flags: z.record(z.string(), z.unknown()),
    })
    // Sub-commands match in any case, like verbs; a sub-command without its argument is told
    // what is missing (below), not that the sub-command is.
    .transform((a) => {
      const [sub = "", ...rest] = a.positionals;
      return [sub.toLowerCase(), ...rest] as [string, string];
    })
    .pipe(
      z.union(
        [
          z.tuple([z.enum(["hot-apply", "hot_apply"]), schemaName]).transform(([, schema]) => ({
            action: "hot_apply" as const,
            schema,
          })),
          z.tuple([z.literal("revert"), changeId]).transform(([, id]) => ({
            action: "revert" as const,
            changeId: id,
          })),
        ],
        {
          error: (issue) => {
            const [sub] = issue.input as string[];
            if (sub === "revert")
              return "expected a settings change id such as `12` (the audit log lists them)";
            if (sub === "hot-apply" || sub === "hot_apply") {
              return "expected a schema, for example `/scrypath settings hot-apply posts`";
            }
            return `unknown settings sub-command \`${String(sub).slice(0, 30)}\`; expected hot-apply or revert`;
          },
        },
      ),
    ),
  async run(args, deps) {
    if (args.action === "revert") return { confirmation: { kind: "revert", changeId: args.changeId } };
    // Resolved now (no I/O), so an unknown schema is a usage answer before any modal opens.
    const schema = resolveSchema(deps, args.schema);
    return { modal: { kind: "hot_apply", schema: schema.module } };
  },
};
