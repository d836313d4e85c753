// `/scrypath digest list` and `/scrypath digest preview [name]`: the configured schedules with
// their next run, and what a digest would post now (nothing is posted or claimed).
import { z } from "zod";
import { OperatorError } from "../src/errors.ts";
import { finalizeMessage } from "../views/common.ts";
import { digestListView, digestPreviewView } from "../views/digestList.ts";
import type { SlackMessage } from "../views/types.ts";
import { viewContext } from "./context.ts";
import { COMMON_FLAGS, type Command, type CommandDeps } from "./types.ts";

export interface DigestArgs {
  action: "list" | "preview";
  name: string | null;
}

function runner(deps: CommandDeps) {
  if (!deps.digests) throw new OperatorError("bad_argument", "digests are not running in this process");
  return deps.digests;
}

/** A preview is several messages (a note, the parent, the thread details); one answer holds them. */
function merge(messages: SlackMessage[]): SlackMessage {
  return finalizeMessage(
    messages[0]?.text ?? "Digest preview",
    messages.flatMap((m) => m.blocks),
    { overflowHint: "the posted digest splits its details over several thread replies" },
  );
}

export const digest: Command<DigestArgs> = {
  name: "digest",
  usage: "/scrypath digest list | preview [name] [--share]",
  summary: "scheduled digests: the schedules with their next run, or what one would post now",
  flags: { ...COMMON_FLAGS },
  args: z
    .object({
      positionals: z
        .array(z.string())
        .min(1, "expected `list` or `preview [name]`")
        .max(2, "expected `list` or `preview [name]`"),
      flags: z.record(z.string(), z.unknown()),
    })
    .transform((a, ctx) => {
      const [typed = "", name] = a.positionals;
      const action = typed.toLowerCase();
      if (action !== "list" && action !== "preview") {
        ctx.addIssue({ code: "custom", message: "expected `list` or `preview [name]`" });
        return z.NEVER;
      }
      if (action === "list" && name) {
        ctx.addIssue({ code: "custom", message: "`digest list` takes no name" });
        return z.NEVER;
      }
      return { action, name: name ?? null } as DigestArgs;
    }),
  async run(args, deps) {
    const ctx = viewContext(deps);
    if (args.action === "list") return digestListView(await runner(deps).list(deps.now()), ctx);
    return merge(digestPreviewView(await runner(deps).preview(args.name, deps.now()), ctx));
  },
};
