// The triage tally of one schema (src/core/tally.ts), from the status planes already read plus
// three small aggregate reads: Meilisearch's count of `failed` document tasks (the status plane
// also counts cancelled ones, as upstream prints), when Oban next retries, and the replay links
// (with the verdicts followers recorded) joined to oban_jobs. A plane that could not be read stays unknown in the tally, never zero.
import { countTasks } from "../backends/meilisearch.ts";
import { nextRetryAt } from "../backends/obanJobs.ts";
import { type ReplayCell, type TriageTally, triageTally } from "../core/tally.ts";
import type { FailedRollupCell, Status } from "../core/types.ts";
import { stateExists } from "../state/migrations.ts";
import { replayCounts } from "../state/replayLinks.ts";
import { meiliRead, obanTables, postgresRead, stateTables } from "./bounded.ts";
import type { OperatorContext, ResolvedSchema, SharedReads } from "./context.ts";

/** Document write tasks, the only ones the backend plane reads (§1.1). */
export const DOCUMENT_TASK_TYPES = ["documentAdditionOrUpdate", "documentDeletion"];

export interface TallyExtras {
  backendFailed: number | null;
  queue: { nextRetryAt: Date | null; replays: ReplayCell[] } | null;
}

/** When Oban next retries, from a failed-work rollup's retryable cells (it scanned those rows). */
function nextRetryFrom(cells: FailedRollupCell[]): Date | null {
  let next: Date | null = null;
  for (const cell of cells) {
    const at = cell.state === "retryable" ? (cell.firstScheduledAt ?? null) : null;
    if (at && (!next || at < next)) next = at;
  }
  return next;
}

/**
 * The reads the tally needs beyond the status planes; start them alongside the planes. With a
 * failed-work rollup at hand, the next retry time comes from it instead of another scan.
 */
export async function tallyExtras(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  shared: SharedReads = {},
): Promise<TallyExtras> {
  const scope = schema.obanScope;
  const [backend, queue] = await Promise.allSettled([
    shared.backendFailed ??
      (shared.meilisearchDown
        ? Promise.resolve(null)
        : meiliRead(ctx, () =>
            countTasks(ctx.meili, {
              indexUids: [schema.liveIndex],
              types: DOCUMENT_TASK_TYPES,
              statuses: ["failed"],
            }),
          )),
    scope
      ? postgresRead(ctx, [...obanTables(ctx), ...stateTables(ctx, "replay_links")], async () => {
          const stateName = ctx.config.state.schema;
          const [at, replays] = await Promise.all([
            shared.failedRollup ? shared.failedRollup.then(nextRetryFrom) : nextRetryAt(ctx.db, scope),
            stateExists(ctx.db, stateName).then((exists) =>
              exists ? replayCounts(ctx.db, stateName, scope) : [],
            ),
          ]);
          return {
            nextRetryAt: at,
            replays: replays.map(
              (r): ReplayCell => ({
                row: r.failedState === "retryable" ? "retrying" : "terminal",
                replayState: r.replayState,
                verification: r.verification,
                count: r.count,
              }),
            ),
          };
        })
      : Promise.resolve({ nextRetryAt: null, replays: [] }),
  ]);
  return {
    backendFailed: backend.status === "fulfilled" ? backend.value : null,
    queue: queue.status === "fulfilled" ? queue.value : null,
  };
}

/** What the tally counts of each plane: a null plane (not read, or its read failed) is unknown. */
export interface TallyPlanes {
  backend: { pending: number } | null;
  queue: { terminal: number; retrying: number; pending: number } | null;
}

/** The tally of what was read: a null plane (or extra read that failed) is left unknown. */
export function tallyFrom(
  schema: ResolvedSchema,
  planes: { backend: Status["backend"] | null; queue: Status["queue"] | null },
  extras: TallyExtras,
): TriageTally {
  return tallyOf(
    schema,
    {
      backend: planes.backend ? { pending: planes.backend.pending.total } : null,
      queue: planes.queue
        ? {
            terminal: planes.queue.failed.total,
            retrying: planes.queue.retrying.total,
            pending: planes.queue.pending.total,
          }
        : null,
    },
    extras,
  );
}

/** The tally of the planes' counts and the extra reads. */
export function tallyOf(schema: ResolvedSchema, planes: TallyPlanes, extras: TallyExtras): TriageTally {
  const backend =
    planes.backend && extras.backendFailed !== null
      ? { failed: extras.backendFailed, pending: planes.backend.pending }
      : null;
  const queue = !schema.obanScope
    ? { terminal: 0, retrying: 0, pending: 0, nextRetryAt: null }
    : planes.queue && extras.queue
      ? { ...planes.queue, nextRetryAt: extras.queue.nextRetryAt }
      : null;
  return triageTally({ backend, queue, replays: extras.queue?.replays ?? [] });
}
