// What a person asks the operator to change, as a card stores it: validated when read back.
import { z } from "zod";
import { REASON_CLASSES } from "../core/types.ts";

export const mutationRequest = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("retry"),
    schema: z.string(),
    target: z.string().regex(/^(oban:|meilisearch:)?[0-9]{1,18}$/),
  }),
  z.object({
    kind: z.literal("action"),
    schema: z.string(),
    action: z.enum(["retry", "backfill", "reindex", "swap"]),
    id: z
      .string()
      .regex(/^(oban:|meilisearch:)?[0-9]{1,18}$/)
      .nullish(),
    targetIndex: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,400}$/)
      .nullish(),
  }),
  z.object({ kind: z.literal("hot_apply"), schema: z.string(), settings: z.record(z.string(), z.unknown()) }),
  z.object({ kind: z.literal("revert"), changeId: z.number().int().positive() }),
  // Every failed row of one class a single retry would accept (issue 16): the filter is resolved
  // once, when asked for, and `ids` is what that resolution found. The confirmation workflow sets
  // it (anything a surface sends is overwritten); the confirm acts on exactly those ids.
  z.object({
    kind: z.literal("bulk_retry"),
    schema: z.string(),
    reasonClass: z.enum(REASON_CLASSES),
    state: z.enum(["terminal", "retrying", "all"]).default("terminal"),
    /** Absolute (ISO): a surface turns `2h` into a time when it parses the request. */
    since: z.iso.datetime({ offset: true }).nullish(),
    source: z.literal("oban").optional(),
    ids: z.array(z.number().int().positive()).max(100_000).optional(),
  }),
]);
export type MutationRequest = z.infer<typeof mutationRequest>;
