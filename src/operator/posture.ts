// Fleet posture (§9.2, ScrypathOps Posture): sync status of every configured schema, at most
// three at a time, each bounded by a timeout, folded into one verdict. A schema whose read
// failed is reported as such, with the backend named; it never reads as healthy.
import { type Posture, posture } from "../core/posture.ts";
import type { TriageTally } from "../core/tally.ts";
import type { Status } from "../core/types.ts";
import { isOperatorError } from "../errors.ts";
import { withTimeout } from "../timeout.ts";
import { timedOut } from "./bounded.ts";
import { type OperatorContext, resolveSchema } from "./context.ts";
import { statusOf } from "./status.ts";
import { tallyExtras, tallyFrom } from "./tally.ts";

export interface SchemaPosture {
  schema: string;
  alias: string | null;
  status: Status | null;
  /** The schema's triage tally (src/core/tally.ts); null when its status was not read. */
  tally?: TriageTally | null;
  /** Why the status could not be read (one sentence), with the backend when known. */
  error: { message: string; backend: "postgres" | "meilisearch" | null } | null;
}

export interface FleetPosture {
  posture: Posture;
  schemas: SchemaPosture[];
}

export const POSTURE_CONCURRENCY = 3;
/** Per read, for digests (which answer nobody waiting). */
export const POSTURE_TIMEOUT_MS = 15_000;
/**
 * The whole fleet read, for `/scrypath status`: every schema not read by then is reported as not
 * read, so the answer arrives within Slack's 15 s. Each backend read inside is bounded on its own
 * (READ_TIMEOUT_MS) and names its backend; this outer bound only catches schemas queued behind them.
 */
export const FLEET_DEADLINE_MS = 13_000;

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
  const deadline = Date.now() + (options.timeoutMs ?? FLEET_DEADLINE_MS);
  const configured = options.schemas
    ? options.schemas.map((ref) => resolveSchema(ctx, ref).config)
    : ctx.config.schemas;
  const schemas = await mapLimited(
    configured,
    POSTURE_CONCURRENCY,
    async (config): Promise<SchemaPosture> => {
      const resolved = resolveSchema(ctx, config.module);
      try {
        const ms = Math.max(0, deadline - Date.now());
        const [status, extras] = await withTimeout(
          Promise.all([statusOf(ctx, resolved, { items: 0 }), tallyExtras(ctx, resolved)]),
          ms,
          () => {
            throw timedOut(`sync status of ${config.module}`, ms);
          },
        );
        const tally = tallyFrom(resolved, status, extras);
        return { schema: config.module, alias: config.alias, status, tally, error: null };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const backend = isOperatorError(error) ? error.backend : null;
        return {
          schema: config.module,
          alias: config.alias,
          status: null,
          tally: null,
          error: { message, backend },
        };
      }
    },
  );
  const verdict = posture(
    schemas.map((s) =>
      s.tally
        ? {
            schema: s.schema,
            ok: true,
            backendFailed: s.tally.terminal.backend,
            queueFailed: s.tally.terminal.queue,
            resolved: s.tally.terminal.total - s.tally.needsTriage,
          }
        : { schema: s.schema, ok: false, error: s.error?.message ?? "unknown error" },
    ),
  );
  return { posture: verdict, schemas };
}
