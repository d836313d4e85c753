// What a person asks the operator to change, as a card stores it: validated when read back.
import { z } from "zod";

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
]);
export type MutationRequest = z.infer<typeof mutationRequest>;
