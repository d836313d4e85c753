// `/scrypath failed <schema> [--class C] [--source S] [--page N]`: rollup and one page of rows.
import { z } from "zod";
import { isOperatorError } from "../src/errors.ts";
import type { FailedWorkOptions } from "../src/operator/index.ts";
import { failedView } from "../views/failed.ts";
import { page, positionals, reasonClass, schemaName, source } from "./args.ts";
import { viewContext } from "./context.ts";
import { COMMON_FLAGS, type Command, type CommandDeps } from "./types.ts";

export const PAGE_SIZE = 10;

export interface FailedArgs {
  schema: string;
  reasonClass?: z.infer<typeof reasonClass>;
  source?: z.infer<typeof source>;
  page: number;
  /** Set by page buttons; typed commands use `page`. */
  cursor?: string | null;
}

export async function showFailed(args: FailedArgs, deps: CommandDeps) {
  const options: FailedWorkOptions = {
    ...(args.reasonClass ? { reasonClass: args.reasonClass } : {}),
    ...(args.source ? { source: args.source } : {}),
  };
  // A cursor continues exactly; a typed page number reads the first N pages and keeps the last.
  // The per-class figures of the "Retry all N…" buttons are counted in the same read.
  const read = (o: FailedWorkOptions) =>
    args.cursor
      ? deps.operator.failedSyncWork(args.schema, {
          ...o,
          bulkRetryable: true,
          cursor: args.cursor,
          limit: PAGE_SIZE,
        })
      : deps.operator
          .failedSyncWork(args.schema, { ...o, bulkRetryable: true, limit: PAGE_SIZE * args.page })
          .then((r) => ({
            ...r,
            entries: r.entries.slice(PAGE_SIZE * (args.page - 1)),
          }));
  const view = (
    result: Awaited<ReturnType<typeof read>>,
    partial: { backend: string; message: string } | null,
  ) =>
    failedView(result, { ...viewContext(deps), page: args.page, pageSize: PAGE_SIZE, ...options, partial });
  try {
    return view(await read(options), null);
  } catch (error) {
    // One backend down: show what the other one can still tell, clearly marked partial.
    if (!isOperatorError(error) || !error.backend || args.source) throw error;
    const other = error.backend === "meilisearch" ? "oban" : "meilisearch";
    const partial = await read({ ...options, source: other }).catch(() => null);
    if (!partial || (other === "oban" && partial.mode !== "oban")) throw error;
    return view(partial, { backend: error.backend, message: error.message });
  }
}

export const failed: Command<FailedArgs> = {
  name: "failed",
  usage: "/scrypath failed <schema> [--class C] [--source oban|meilisearch] [--page N] [--share]",
  summary: "failed sync work: the rollup by reason class, then the rows",
  flags: { ...COMMON_FLAGS, class: "string", source: "string", page: "integer" },
  args: z
    .object({
      positionals: positionals(1, "a schema, for example `/scrypath failed posts`").pipe(
        z.tuple([schemaName]),
      ),
      flags: z
        .object({
          class: reasonClass.optional(),
          source: source.optional(),
          page: page.optional(),
        })
        .loose(),
    })
    .transform((a) => ({
      schema: a.positionals[0],
      ...(a.flags.class ? { reasonClass: a.flags.class } : {}),
      ...(a.flags.source ? { source: a.flags.source } : {}),
      page: a.flags.page ?? 1,
    })),
  run: (args, deps) => showFailed(args, deps),
};
