// Scrypath.failed_sync_work/2 with reason_class_counts (§2.2, §3): backend rows first (failed
// document tasks on the live index, newest first), then queue rows (failed Oban jobs, newest
// first). Rows are paged with a cursor; the class rollup counts every failed row exactly.
import { collectTasks } from "../backends/meilisearch.ts";
import { failedJobsPage, failedRollup, replayableByClass, scopeRollup } from "../backends/obanJobs.ts";
import { failedWorkFromJob, failedWorkFromTask } from "../core/failedWork.ts";
import { addCounts, countReasonClasses, countsFromCells, emptyCounts } from "../core/rollup.ts";
import { QUEUE_FAILED_STATES, QUEUE_PENDING_STATES } from "../core/states.ts";
import type { TriageTally } from "../core/tally.ts";
import {
  type FailedRollupCell,
  type FailedWork,
  REASON_CLASSES,
  type ReasonClass,
  type ReasonClassCounts,
  type ReplayRef,
  type Source,
} from "../core/types.ts";
import { OperatorError } from "../errors.ts";
import { stateExists } from "../state/migrations.ts";
import { blockedByReplaySql, latestReplays, type ReplayLink } from "../state/replayLinks.ts";
import { meiliRead, obanTables, postgresRead, stateTables } from "./bounded.ts";
import {
  MEILISEARCH_BACKEND,
  type OperatorContext,
  type ResolvedSchema,
  resolveSchema,
  type SharedReads,
} from "./context.ts";
import { DOCUMENT_TASK_TYPES, schemaTally } from "./status.ts";

export const DEFAULT_PAGE_SIZE = 50;
/** Failed backend tasks are classified one by one (the tasks API cannot group by error type). */
export const BACKEND_CLASSIFY_CAP = 10_000;

export interface FailedWorkOptions {
  source?: Source;
  reasonClass?: ReasonClass;
  /** Only rows Scrypath can replay. */
  retryableOnly?: boolean;
  limit?: number;
  cursor?: string | null;
  /**
   * Also count, per class, the terminal queue rows a bulk retry would take (`bulkRetryable` on
   * the result): the rollup counts replayable rows in its pass, the few rows whose replay still
   * blocks a retry are read from the replay links.
   */
  bulkRetryable?: boolean;
}

export interface FailedWorkResult {
  schema: string;
  mode: ResolvedSchema["config"]["syncMode"];
  index: string;
  /** This page of rows, backend rows first. */
  entries: FailedWork[];
  /** Every failed row matching the filters, by class. */
  counts: ReasonClassCounts;
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
  /** Failed backend tasks Meilisearch reports, and how many of them were classified. */
  backendCoverage: { total: number; classified: number };
  /**
   * The schema's triage tally (src/core/tally.ts); Slack's headline counts from it. Null for a
   * filtered read (class, source, replayable only), which counts only its rows.
   */
  tally: TriageTally | null;
  /**
   * When asked for (`bulkRetryable`): per class, the schema's terminal queue rows (discarded,
   * cancelled) that are replayable and not already replayed into a job that blocks another retry,
   * which is what a bulk retry of the class (state terminal) takes unless a row fails a retry's
   * payload checks. Not narrowed by the class or source filter. Null when not counted (not asked,
   * no Oban scope, a Meilisearch-only read).
   */
  bulkRetryable?: ReasonClassCounts | null;
  /** `access.bulkRetryLimit`: the most rows one bulk retry takes. */
  bulkRetryLimit?: number;
}

type Cursor = { source: "meilisearch"; offset: number } | { source: "oban"; beforeId: number | null };

function encodeCursor(cursor: Cursor): string {
  return cursor.source === "meilisearch" ? `m${cursor.offset}` : `o${cursor.beforeId ?? ""}`;
}

function decodeCursor(value: string | null | undefined): Cursor {
  if (!value) return { source: "meilisearch", offset: 0 };
  const match = /^(m|o)(\d*)$/.exec(value);
  if (!match || (match[1] === "m" && match[2] === "")) {
    throw new OperatorError(
      "bad_argument",
      `invalid cursor "${value}"; pass the cursor printed by the previous page`,
    );
  }
  return match[1] === "m"
    ? { source: "meilisearch", offset: Number(match[2]) }
    : { source: "oban", beforeId: match[2] === "" ? null : Number(match[2]) };
}

/** Failed backend rows, classified, with their counts (all of them, up to the cap). */
async function backendRows(ctx: OperatorContext, schema: ResolvedSchema, options: FailedWorkOptions) {
  if (options.source === "oban" || options.retryableOnly) {
    return { rows: [] as FailedWork[], coverage: { total: 0, classified: 0 } };
  }
  const { tasks, total } = await meiliRead(ctx, () =>
    collectTasks(
      ctx.meili,
      { indexUids: [schema.liveIndex], types: DOCUMENT_TASK_TYPES, statuses: ["failed"] },
      BACKEND_CLASSIFY_CAP,
    ),
  );
  const all = tasks.map((t) =>
    failedWorkFromTask(t, { schema: schema.module, mode: schema.config.syncMode }),
  );
  const rows = options.reasonClass ? all.filter((r) => r.reasonClass === options.reasonClass) : all;
  return { rows, coverage: { total, classified: tasks.length } };
}

/**
 * The schema's failed Oban rows by state and class (one rollup; `replayable` adds the count of
 * replayable rows per cell). Null when the schema does not sync through Oban.
 */
export function queueRollup(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  options: { replayable?: boolean } = {},
): Promise<FailedRollupCell[]> | null {
  return schema.obanScope ? failedRollup(ctx.db, schema.obanScope, options) : null;
}

/**
 * The rollup shared by the reads of one operation, with the queue's pending states counted in the
 * same pass (status's pending bucket, the tally's pending figure): one scan of the schema's rows
 * behind the index bitmaps instead of two. Empty when the schema does not sync through Oban.
 */
export function sharedRollup(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  options: { replayable?: boolean } = {},
): SharedReads {
  if (!schema.obanScope) return {};
  const read = scopeRollup(ctx.db, schema.obanScope, { ...options, pendingStates: QUEUE_PENDING_STATES });
  const failedRollup = read.then((r) => r.failed);
  const pendingCounts = read.then((r) => r.pending);
  // Each caller awaits what it needs and reports the failure; none is left unhandled.
  failedRollup.catch(() => {});
  pendingCounts.catch(() => {});
  return { failedRollup, pendingCounts };
}

async function queueCounts(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  options: FailedWorkOptions,
  shared: SharedReads,
) {
  if (!schema.obanScope || options.source === "meilisearch") return emptyCounts();
  const cells =
    (await (shared.failedRollup ?? queueRollup(ctx, schema, { replayable: options.retryableOnly }))) ?? [];
  return countsFromCells(cells, options);
}

async function queueRows(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  options: FailedWorkOptions,
  beforeId: number | null,
  limit: number,
): Promise<FailedWork[]> {
  if (!schema.obanScope || options.source === "meilisearch" || limit <= 0) return [];
  const jobs = await failedJobsPage(ctx.db, schema.obanScope, { ...options, beforeId, limit: limit });
  return jobs.map((job) => failedWorkFromJob(job, { schema: schema.module, backend: MEILISEARCH_BACKEND }));
}

export async function failedWorkOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  options: FailedWorkOptions = {},
  shared: SharedReads = {},
): Promise<FailedWorkResult> {
  const limit = Math.max(1, Math.min(options.limit ?? DEFAULT_PAGE_SIZE, 1000));
  const cursor = decodeCursor(options.cursor);
  const tables = [...obanTables(ctx), ...stateTables(ctx, "replay_links")];
  const queue = <T>(work: () => Promise<T>): Promise<T> => postgresRead(ctx, tables, work);

  // One rollup feeds the class counts and the tally's queue figures (its pending states counted
  // in the same pass); a filtered read has no tally and counts only its own rows.
  const withTally = !(options.source || options.reasonClass || options.retryableOnly);
  const bulk = options.bulkRetryable === true && !!schema.obanScope && options.source !== "meilisearch";
  let mine: SharedReads = shared;
  if (!shared.failedRollup && options.source !== "meilisearch") {
    const replayable = options.retryableOnly || bulk;
    const rollup = withTally ? null : queueRollup(ctx, schema, { replayable });
    rollup?.catch(() => {});
    mine = withTally ? sharedRollup(ctx, schema, { replayable }) : rollup ? { failedRollup: rollup } : {};
  }
  const bulkRead = bulk ? queue(() => bulkRetryableCounts(ctx, schema, mine)) : null;
  bulkRead?.catch(() => {});
  const backendRead = backendRows(ctx, schema, options);
  // The tally's failed-task count is the total of the listing just sent (same filter).
  const backendFailed = backendRead.then((b) => b.coverage.total);
  backendFailed.catch(() => {});
  const [backend, qCounts, tally, bulkRetryable] = await Promise.all([
    backendRead,
    queue(() => queueCounts(ctx, schema, options, mine)),
    withTally ? (shared.tally ?? schemaTally(ctx, schema, { ...mine, backendFailed })) : null,
    bulkRead,
  ]);

  // Backend rows come first; once they are exhausted the page continues with queue rows.
  const entries: FailedWork[] = [];
  let next: Cursor | null = null;
  let beforeId: number | null = null;
  if (cursor.source === "meilisearch") {
    entries.push(...backend.rows.slice(cursor.offset, cursor.offset + limit));
    if (cursor.offset + limit < backend.rows.length)
      next = { source: "meilisearch", offset: cursor.offset + limit };
  } else {
    beforeId = cursor.beforeId;
  }
  if (next === null) {
    // Ask for one more row than fits, to know whether another page exists.
    const room = limit - entries.length;
    const rows = await queue(() => queueRows(ctx, schema, options, beforeId, room + 1));
    entries.push(...rows.slice(0, room));
    const last = entries[entries.length - 1];
    if (rows.length > room) {
      next = { source: "oban", beforeId: last && last.source === "oban" ? last.id : null };
    }
  }

  await queue(() => attachReplays(ctx, schema, entries));

  return {
    schema: schema.module,
    mode: schema.config.syncMode,
    index: schema.liveIndex,
    entries,
    counts: addCounts(countReasonClasses(backend.rows), qCounts),
    nextCursor: next ? encodeCursor(next) : null,
    backendCoverage: backend.coverage,
    tally,
    ...(options.bulkRetryable ? { bulkRetryable, bulkRetryLimit: ctx.config.access.bulkRetryLimit } : {}),
  };
}

/**
 * Per class, the terminal rows a bulk retry would take: the replayable terminal rows the rollup
 * counted, less those whose newest replay blocks a retry (read from the replay links, which are
 * few, joined to the failed rows by primary key). Null when the rollup did not count replayable
 * rows (a caller's shared rollup without them).
 */
async function bulkRetryableCounts(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  shared: SharedReads,
): Promise<ReasonClassCounts | null> {
  const scope = schema.obanScope;
  if (!scope || !shared.failedRollup) return null;
  const stateName = ctx.config.state.schema;
  const [cells, blocked] = await Promise.all([
    shared.failedRollup,
    stateExists(ctx.db, stateName).then(
      (exists): Promise<Partial<Record<ReasonClass, number>>> =>
        exists
          ? replayableByClass(ctx.db, scope, QUEUE_FAILED_STATES, {
              sql: blockedByReplaySql(stateName, scope.prefix, "j", 4),
              param: scope.prefix,
            })
          : Promise.resolve({}),
    ),
  ]);
  const terminal = cells.filter((c) => (QUEUE_FAILED_STATES as readonly string[]).includes(c.state));
  if (terminal.some((c) => c.replayable === null)) return null;
  const counts = countsFromCells(terminal, { retryableOnly: true });
  for (const cls of REASON_CLASSES) {
    const n = Math.max(0, counts.byClass[cls] - (blocked[cls] ?? 0));
    counts.total -= counts.byClass[cls] - n;
    counts.byClass[cls] = n;
  }
  return counts;
}

/** "Replayed as #1234 (verified)": the newest replay of each queue row, when the bot made one. */
async function attachReplays(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  entries: FailedWork[],
): Promise<void> {
  const ids = entries.filter((e) => e.source === "oban").map((e) => e.id);
  const stateName = ctx.config.state.schema;
  if (!schema.obanScope || ids.length === 0 || !(await stateExists(ctx.db, stateName))) return;
  const replays = await latestReplays(ctx.db, stateName, schema.obanScope.prefix, ids);
  for (const entry of entries) {
    const link = entry.source === "oban" ? replays.get(entry.id) : undefined;
    entry.replayedAs = link ? replayRefOf(link) : null;
  }
}

/** A replay link as a failed row shows it ("replayed as #25 · verified"). */
export function replayRefOf(link: ReplayLink): ReplayRef {
  return {
    jobId: link.replayJobId,
    state: link.replayState,
    verification: link.verification,
    requestedBy: link.requestedBy,
    at: link.createdAt,
  };
}

export async function failedSyncWork(
  ctx: OperatorContext,
  schemaRef: string,
  options: FailedWorkOptions = {},
): Promise<FailedWorkResult> {
  return failedWorkOf(ctx, resolveSchema(ctx, schemaRef), options);
}
