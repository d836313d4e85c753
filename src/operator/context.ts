// What every operator call needs: the configuration, the two backends, and the schema it acts on.

import type { MeiliClient } from "../backends/meilisearch.ts";
import type { ObanScope } from "../backends/obanJobs.ts";
import type { DbPool } from "../backends/postgres.ts";
import type { Config, SchemaConfig } from "../config.ts";
import { elixirModule, liveIndexName, targetIndexName } from "../core/naming.ts";
import { resolveSchemaRef } from "../core/schemaRef.ts";
import type { TriageTally } from "../core/tally.ts";
import type { FailedRollupCell } from "../core/types.ts";
import { OperatorError } from "../errors.ts";

/** Scrypath's only operator backend (§2). */
export const MEILISEARCH_BACKEND = "Elixir.Scrypath.Meilisearch";

export interface OperatorContext {
  config: Config;
  db: DbPool;
  meili: MeiliClient;
  /** How long one backend's part of a read may take (default READ_TIMEOUT_MS, 10 s). */
  readTimeoutMs?: number;
}

/**
 * Reads that the calls of one operation share instead of each sending its own: reconcile's
 * status plane, failed-work counts and retryable total all come from one failed-work rollup.
 */
export interface SharedReads {
  failedRollup?: Promise<FailedRollupCell[]>;
  /** The queue's pending states counted per state in the same pass as `failedRollup`. */
  pendingCounts?: Promise<Record<string, number>>;
  /** The live index's failed document tasks counted, when the caller lists them anyway. */
  backendFailed?: Promise<number>;
  /** The schema's triage tally, when the caller reads it anyway (reconcile). */
  tally?: Promise<TriageTally>;
  /**
   * Meilisearch was just found not answering (an alert check's fingerprint): its parts are left
   * unknown rather than waited for once more.
   */
  meilisearchDown?: boolean;
}

/** A configured schema with everything derived from it: names, index, Oban scope. */
export interface ResolvedSchema {
  config: SchemaConfig;
  /** Module without `Elixir.`, as the CLI prints it. */
  module: string;
  /** `Elixir.`-prefixed, as job args and JSON reports carry it. */
  elixirModule: string;
  liveIndex: string;
  /** Null unless the schema syncs through Oban. */
  obanScope: ObanScope | null;
}

/** A configured schema by reference; needs only the configuration (commands pass their deps). */
export function resolveSchema(ctx: Pick<OperatorContext, "config">, ref: string): ResolvedSchema {
  const found = resolveSchemaRef(ref, ctx.config.schemas, { ignoreCase: true });
  if (!found.ok) {
    const configured = ctx.config.schemas.map((s) => s.module + (s.alias ? ` (${s.alias})` : ""));
    const list =
      configured.length > 0 ? configured.join(", ") : "none; add them under schemas: in the config";
    if (found.reason === "ambiguous") {
      throw new OperatorError(
        "ambiguous_schema",
        `schema "${ref}" is ambiguous: it matches ${found.candidates.join(", ")}; use the full module name`,
      );
    }
    throw new OperatorError("unknown_schema", `unknown schema "${ref}"; configured schemas: ${list}`);
  }
  const schema = found.schema;
  if (schema.syncMode === "oban" && !schema.obanQueue) {
    throw new OperatorError(
      "bad_argument",
      `oban_queue is required when sync_mode is :oban; set obanQueue for ${schema.module} or pass --oban-queue`,
    );
  }
  const module = schema.module;
  const elixir = elixirModule(module);
  return {
    config: schema,
    module,
    elixirModule: elixir,
    liveIndex: liveIndexName({
      module,
      runtimePrefix: ctx.config.indexPrefix,
      schemaPrefix: schema.indexPrefix,
    }),
    obanScope:
      schema.syncMode === "oban" && schema.obanQueue
        ? { prefix: ctx.config.database.obanPrefix, queue: schema.obanQueue, schema: elixir }
        : null,
  };
}

export function targetIndexFor(schema: ResolvedSchema, override?: string | null): string {
  return targetIndexName(schema.liveIndex, override);
}
