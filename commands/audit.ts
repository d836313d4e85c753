// `/scrypath audit [schema] [--limit N]`: the newest audit entries (requests, confirmations,
// refusals, executions), optionally for one schema. Read-only.
import { z } from "zod";
import { resolveSchema } from "../src/operator/index.ts";
import { auditView } from "../views/audit.ts";
import { limit, schemaName } from "./args.ts";
import { viewContext } from "./context.ts";
import { COMMON_FLAGS, type Command } from "./types.ts";

export const AUDIT_DEFAULT_LIMIT = 20;

export interface AuditArgs {
  schema: string | null;
  limit: number;
}

export const audit: Command<AuditArgs> = {
  name: "audit",
  usage: "/scrypath audit [schema] [--limit N] [--share]",
  summary: "recent mutation requests, confirmations, refusals and their outcomes (the audit log)",
  flags: { ...COMMON_FLAGS, limit: "integer" },
  // The log names people and why they were refused: operators only, unless configured otherwise.
  operatorsOnly: (config) => config.access.auditReaders === "operators",
  args: z
    .object({
      positionals: z.array(z.string()).max(1, "expected at most one schema").pipe(z.array(schemaName)),
      flags: z.object({ limit: limit.optional() }).loose(),
    })
    .transform((a) => ({ schema: a.positionals[0] ?? null, limit: a.flags.limit ?? AUDIT_DEFAULT_LIMIT })),
  async run(args, deps) {
    const schema = args.schema ? resolveSchema(deps, args.schema).module : null;
    const rows = await deps.operator.auditLog({ schema, limit: args.limit });
    return auditView(rows, viewContext(deps), { schema, limit: args.limit });
  },
};
