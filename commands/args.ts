// zod building blocks for command arguments: one schema positional, typed flags.
import { z } from "zod";
import { REASON_CLASSES } from "../src/core/types.ts";

/** How every "no schema given" problem starts (the dispatcher then lists the configured ones). */
export const EXPECTED_SCHEMA = "expected a schema";

export const schemaName = z
  .string({ error: `${EXPECTED_SCHEMA}, for example \`posts\` or \`MyApp.Blog.Post\`` })
  .min(1)
  .max(200, "the schema name is too long");

export const reasonClass = z.enum(REASON_CLASSES, {
  error: `--class must be one of ${REASON_CLASSES.join(", ")}`,
});
export const source = z.enum(["oban", "meilisearch"], { error: "--source must be oban or meilisearch" });
export const page = z.number().int().min(1).max(100, "--page must be between 1 and 100");

/** Exactly `n` positionals, with a message naming what was expected. */
export function positionals(count: number, what: string) {
  return z.array(z.string()).refine((p) => p.length === count, {
    error: (issue) =>
      (issue.input as string[]).length > count
        ? `unexpected extra words: ${(issue.input as string[]).slice(count).join(" ")}`
        : `expected ${what}`,
  });
}

/** A failed-work id: `601`, `oban:601` or `meilisearch:403` (backend rows are refused later). */
export const retryTarget = z
  .string({ error: "expected a job id, for example `601` or `oban:601`" })
  .regex(/^(oban:|meilisearch:)?[0-9]{1,18}$/, "expected a job id such as `601` or `oban:601`");

/** `--limit N` for listings. */
export const limit = z.number().int().min(1).max(200, "--limit must be between 1 and 200");
