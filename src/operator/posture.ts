// Fleet posture (§9.2, ScrypathOps Posture): sync status of every configured schema, at most
// three at a time, each bounded by a timeout, folded into one verdict. A schema whose read
// failed is reported as such, with the backend named; it never reads as healthy.
import { type Posture, posture } from "../core/posture.ts";
import type { Status } from "../core/types.ts";
import { isOperatorError, OperatorError } from "../errors.ts";
import { type OperatorContext, resolveSchema } from "./context.ts";
import { statusOf } from "./status.ts";

export interface SchemaPosture {
  schema: string;
  alias: string | null;
  status: Status | null;
  /** Why the status could not be read (one sentence), with the backend when known. */
  error: { message: string; backend: "postgres" | "meilisearch" | null } | null;
}

export interface FleetPosture {
  posture: Posture;
  schemas: SchemaPosture[];
}

export const POSTURE_CONCURRENCY = 3;
export const POSTURE_TIMEOUT_MS = 15_000;

/** Rejects with an OperatorError when `work` takes longer than `ms` (the work itself runs on). */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new OperatorError("meilisearch_error", `${what} did not answer within ${ms / 1000} s`)),
      ms,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Run `work` over `items` with at most `limit` in flight, keeping the input order. */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  });
  await Promise.all(runners);
  return results;
}

export async function fleetPosture(
  ctx: OperatorContext,
  options: { schemas?: string[]; timeoutMs?: number } = {},
): Promise<FleetPosture> {
  const configured = options.schemas
    ? options.schemas.map((ref) => resolveSchema(ctx, ref).config)
    : ctx.config.schemas;
  const schemas = await mapLimited(
    configured,
    POSTURE_CONCURRENCY,
    async (config): Promise<SchemaPosture> => {
      const resolved = resolveSchema(ctx, config.module);
      try {
        const status = await withTimeout(
          statusOf(ctx, resolved, { items: 0 }),
          options.timeoutMs ?? POSTURE_TIMEOUT_MS,
          `sync status of ${config.module}`,
        );
        return { schema: config.module, alias: config.alias, status, error: null };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const backend = isOperatorError(error) ? error.backend : null;
        return { schema: config.module, alias: config.alias, status: null, error: { message, backend } };
      }
    },
  );
  const verdict = posture(
    schemas.map((s) =>
      s.status
        ? {
            schema: s.schema,
            ok: true,
            backendFailed: s.status.backend.failed.total,
            queueFailed: s.status.queue.failed.total,
          }
        : { schema: s.schema, ok: false, error: s.error?.message ?? "unknown error" },
    ),
  );
  return { posture: verdict, schemas };
}
