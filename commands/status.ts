// `/scrypath status [schema]`: fleet posture, or both planes of one schema.
import { z } from "zod";
import { partialStatusView, postureView, statusView } from "../views/status.ts";
import { viewContext } from "./context.ts";
import { COMMON_FLAGS, type Command } from "./types.ts";

export const status: Command<{ schema: string | null }> = {
  name: "status",
  usage: "/scrypath status [schema] [--share]",
  summary: "posture of every schema (ok / degraded / broken), or both planes of one schema",
  flags: { ...COMMON_FLAGS },
  args: z
    .object({
      positionals: z.array(z.string()).max(1, "expected at most one schema"),
      flags: z.record(z.string(), z.unknown()),
    })
    .transform((a) => ({ schema: a.positionals[0] ?? null })),
  async run({ schema }, deps) {
    const ctx = viewContext(deps);
    if (!schema) return postureView(await deps.operator.fleetPosture(), ctx);
    const settled = await deps.operator.syncStatusSettled(schema);
    const [first] = settled.errors;
    if (settled.backend && settled.queue) {
      return statusView({ ...settled, backend: settled.backend, queue: settled.queue }, ctx);
    }
    // Nothing could be read: the error view says which backend and what to check.
    if (!settled.backend && (!settled.queue || settled.mode !== "oban") && first) throw first;
    return partialStatusView(settled, ctx);
  },
};
