// One alert check of one schema (src/core/alertTypes.ts SchemaObservation). Every check first reads
// a cheap change fingerprint: per failed state of the schema's queue, the row count and newest id
// (an index-only scan of Oban's (state, queue, …) index), the bot's replay marks, and Meilisearch's
// task totals (failed document tasks, settings and index tasks on the live index). While it is
// unchanged and no recent failure has left the window, the previous observation stands and the
// application's database is spared the rollup. Otherwise the full read runs, with the same rollup
// and tally as `/scrypath failed`, so an alert's numbers are that command's numbers.
// Never throws for a backend: what could not be read is a problem with its one sentence, and the
// part it feeds stays null (unknown, not zero).
import { collectTasks, countTasks } from "../backends/meilisearch.ts";
import {
  newestTerminal,
  queueBacklog,
  queueMarks,
  type RecentCell,
  recentTerminal,
} from "../backends/obanJobs.ts";
import type {
  FailuresObservation,
  NewestFailure,
  ReadProblem,
  SchemaObservation,
} from "../core/alertTypes.ts";
import { failedWorkFromJob, failedWorkFromTask } from "../core/failedWork.ts";
import { FAILED_OBAN_STATES } from "../core/states.ts";
import type { TriageTally } from "../core/tally.ts";
import { CONTRACT_DIMENSIONS, type ReasonClass, type ReasonClassCounts } from "../core/types.ts";
import { OperatorError } from "../errors.ts";
import { stateExists } from "../state/migrations.ts";
import { replayMarks, resolvedByReplaySql } from "../state/replayLinks.ts";
import { asBackendError, meiliRead, obanTables, postgresRead, stateTables } from "./bounded.ts";
import { MEILISEARCH_BACKEND, type OperatorContext, type ResolvedSchema, resolveSchema } from "./context.ts";
import { contractDriftOf } from "./contractDrift.ts";
import { BACKEND_CLASSIFY_CAP, failedWorkOf } from "./failedWork.ts";
import { DOCUMENT_TASK_TYPES, schemaTally } from "./status.ts";

/** Tasks that change what the live index's settings read (the contract check's input). */
const SETTINGS_TASK_TYPES = ["settingsUpdate", "indexSwap", "indexCreation", "indexDeletion", "indexUpdate"];

/** What the previous check of the schema stored. */
export interface ObservationMemory {
  fingerprint: string | null;
  observation: SchemaObservation | null;
}

const ERROR_EXCERPT = 300;

function problemOf(ctx: OperatorContext, error: unknown): ReadProblem {
  const known = error instanceof OperatorError ? error : asBackendError(error, ctx);
  if (known?.backend) return { backend: known.backend, message: known.message };
  // Not a backend failure: a bug; it still must not pass for health.
  return { backend: "postgres", message: error instanceof Error ? error.message : String(error) };
}

/**
 * The change fingerprint; null when a backend could not be read (the full read then says why).
 * `meiliDown` is Meilisearch's problem when its part of the fingerprint went unanswered: the full
 * read then asks it nothing more, so an outage costs one read timeout per check, not one per read.
 */
async function fingerprintOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
): Promise<{ fingerprint: string | null; meiliDown: ReadProblem | null }> {
  const scope = schema.obanScope;
  const stateName = ctx.config.state.schema;
  const [queue, meili] = await Promise.allSettled([
    scope
      ? postgresRead(ctx, [...obanTables(ctx), ...stateTables(ctx, "replay_links")], async () => {
          const [marks, replays] = await Promise.all([
            queueMarks(ctx.db, scope.prefix, scope.queue, FAILED_OBAN_STATES),
            stateExists(ctx.db, stateName).then((exists) =>
              exists ? replayMarks(ctx.db, stateName, scope.prefix) : "",
            ),
          ]);
          return { marks, replays };
        })
      : null,
    meiliRead(ctx, () =>
      Promise.all([
        countTasks(ctx.meili, {
          indexUids: [schema.liveIndex],
          types: DOCUMENT_TASK_TYPES,
          statuses: ["failed"],
        }),
        schema.config.contract
          ? countTasks(ctx.meili, { indexUids: [schema.liveIndex], types: SETTINGS_TASK_TYPES })
          : 0,
      ]),
    ),
  ]);
  const meiliDown = meili.status === "rejected" ? problemOf(ctx, meili.reason) : null;
  if (queue.status === "rejected" || meili.status === "rejected") return { fingerprint: null, meiliDown };
  // The contract is part of it: a changed configuration is checked again.
  const fingerprint = JSON.stringify({
    index: schema.liveIndex,
    contract: schema.config.contract,
    queue: queue.value,
    meili: meili.value,
  });
  return { fingerprint, meiliDown: null };
}

function byClassOf(counts: ReasonClassCounts): Partial<Record<ReasonClass, number>> {
  return Object.fromEntries(Object.entries(counts.byClass).filter(([, n]) => n > 0));
}

/** Failed Meilisearch document tasks on the live index that finished since `since`, classified. */
async function recentBackend(ctx: OperatorContext, schema: ResolvedSchema, since: Date) {
  const { tasks } = await meiliRead(ctx, () =>
    collectTasks(
      ctx.meili,
      {
        indexUids: [schema.liveIndex],
        types: DOCUMENT_TASK_TYPES,
        statuses: ["failed"],
        afterFinishedAt: since,
      },
      BACKEND_CLASSIFY_CAP,
    ),
  );
  return tasks.map((t) => failedWorkFromTask(t, { schema: schema.module, mode: schema.config.syncMode }));
}

/** Recent failures of the queue plane: by class (replay-resolved rows left out) and the newest. */
async function recentQueue(ctx: OperatorContext, schema: ResolvedSchema, since: Date) {
  const scope = schema.obanScope;
  if (!scope) return { cells: [] as RecentCell[], newest: null };
  const stateName = ctx.config.state.schema;
  return postgresRead(ctx, [...obanTables(ctx), ...stateTables(ctx, "replay_links")], async () => {
    const exclude = (await stateExists(ctx.db, stateName))
      ? { sql: resolvedByReplaySql(stateName, scope.prefix, "j", 5), param: scope.prefix }
      : undefined;
    const [cells, newest] = await Promise.all([
      recentTerminal(ctx.db, scope, since, exclude),
      newestTerminal(ctx.db, scope, since),
    ]);
    return {
      cells,
      newest: newest
        ? failedWorkFromJob(newest, { schema: schema.module, backend: MEILISEARCH_BACKEND })
        : null,
    };
  });
}

/**
 * The `/scrypath failed` rollup and tally; with Meilisearch down (found now, or by the fingerprint)
 * the queue plane's alone, from Postgres, as digests do. Null when even that could not be read.
 */
async function rollupOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  problems: ReadProblem[],
  meiliDown: ReadProblem | null,
): Promise<{ counts: ReasonClassCounts; tally: TriageTally | null; scope: "all" | "queue" } | null> {
  if (meiliDown) problems.push(meiliDown);
  else {
    try {
      const all = await failedWorkOf(ctx, schema, { limit: 1 });
      return { counts: all.counts, tally: all.tally, scope: "all" };
    } catch (error) {
      const problem = problemOf(ctx, error);
      problems.push(problem);
      if (problem.backend !== "meilisearch") return null;
    }
  }
  if (!schema.obanScope) return null;
  try {
    const [queue, tally] = await Promise.all([
      failedWorkOf(ctx, schema, { source: "oban", limit: 1 }),
      schemaTally(ctx, schema, { meilisearchDown: true }),
    ]);
    return { counts: queue.counts, tally, scope: "queue" };
  } catch (error) {
    problems.push(problemOf(ctx, error));
    return null;
  }
}

/** The failures part: the `/scrypath failed` rollup and tally, and what failed within the window. */
async function failuresOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  since: Date,
  problems: ReadProblem[],
  meiliDown: ReadProblem | null,
): Promise<FailuresObservation | null> {
  const rollup = await rollupOf(ctx, schema, problems, meiliDown);
  if (!rollup) return null;
  const { counts, tally } = rollup;
  let scope = rollup.scope;
  let queueRecent: Awaited<ReturnType<typeof recentQueue>>;
  try {
    queueRecent = await recentQueue(ctx, schema, since);
  } catch (error) {
    problems.push(problemOf(ctx, error));
    return null;
  }
  let backendRecent: Awaited<ReturnType<typeof recentBackend>> = [];
  if (scope === "all") {
    try {
      backendRecent = await recentBackend(ctx, schema, since);
    } catch (error) {
      // Meilisearch stopped answering between the reads: its recent failures are unknown, so
      // this check counts the queue plane only (it can prove the condition, never clear it).
      problems.push(problemOf(ctx, error));
      scope = "queue";
    }
  }

  const recentByClass: Partial<Record<ReasonClass, number>> = {};
  let oldest: Date | null = null;
  let newest: NewestFailure | null = null;
  for (const cell of queueRecent.cells) {
    recentByClass[cell.reasonClass] = (recentByClass[cell.reasonClass] ?? 0) + cell.count;
    if (!oldest || cell.oldestAt < oldest) oldest = cell.oldestAt;
  }
  const queueNewest = queueRecent.newest;
  if (queueNewest?.failedAt) {
    newest = {
      at: queueNewest.failedAt.toISOString(),
      reasonClass: queueNewest.reasonClass,
      error: queueNewest.lastError?.slice(0, ERROR_EXCERPT) ?? null,
      source: "oban",
    };
  }
  for (const row of backendRecent) {
    recentByClass[row.reasonClass] = (recentByClass[row.reasonClass] ?? 0) + 1;
    if (row.failedAt && (!oldest || row.failedAt < oldest)) oldest = row.failedAt;
    if (row.failedAt && (!newest || row.failedAt.toISOString() > newest.at)) {
      newest = {
        at: row.failedAt.toISOString(),
        reasonClass: row.reasonClass,
        error: row.lastError?.slice(0, ERROR_EXCERPT) ?? null,
        source: "meilisearch",
      };
    }
  }
  const recent = Object.values(recentByClass).reduce((a, n) => a + (n ?? 0), 0);
  return {
    terminal: tally ? tally.terminal.total : counts.total,
    byClass: byClassOf(counts),
    needTriage: tally ? tally.needsTriage : counts.total,
    recent,
    recentByClass,
    oldestRecentAt: oldest?.toISOString() ?? null,
    newest,
    replays: tally
      ? { total: tally.replayed.total, resolved: tally.resolved, verified: tally.replayed.verified }
      : { total: 0, resolved: 0, verified: 0 },
    scope,
  };
}

async function driftOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  problems: ReadProblem[],
  meiliDown: ReadProblem | null,
) {
  if (!schema.config.contract) return null;
  if (meiliDown) {
    problems.push(meiliDown);
    return null;
  }
  try {
    const report = await contractDriftOf(ctx, schema);
    return { differing: CONTRACT_DIMENSIONS.filter((name) => !report.dimensions[name].match) };
  } catch (error) {
    problems.push(problemOf(ctx, error));
    return null;
  }
}

async function stuckOf(ctx: OperatorContext, schema: ResolvedSchema, now: Date, problems: ReadProblem[]) {
  const scope = schema.obanScope;
  if (ctx.config.alerts.stuckAfter === null || !scope) return null;
  try {
    const backlog = await postgresRead(ctx, obanTables(ctx), () => queueBacklog(ctx.db, scope, now));
    return { pending: backlog.pending, oldestPendingAt: backlog.oldestAt?.toISOString() ?? null };
  } catch (error) {
    problems.push(problemOf(ctx, error));
    return null;
  }
}

/** Keeps one problem per backend (the first sentence is the one to show). */
function distinct(problems: ReadProblem[]): ReadProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(p.backend) && seen.add(p.backend));
}

/** Whether the previous observation still holds for a check at `now` with the same fingerprint. */
function stillHolds(previous: SchemaObservation, now: Date, windowSeconds: number): boolean {
  if (previous.problems.length > 0) return false;
  const oldest = previous.failures?.oldestRecentAt;
  return !oldest || new Date(oldest).getTime() + windowSeconds * 1000 > now.getTime();
}

export async function observeSchema(
  ctx: OperatorContext,
  schemaRef: string,
  previous: ObservationMemory | null,
  options: { now?: Date } = {},
): Promise<SchemaObservation> {
  const schema = resolveSchema(ctx, schemaRef);
  const now = options.now ?? new Date();
  const windowSeconds = ctx.config.alerts.window;
  const { fingerprint, meiliDown } = await fingerprintOf(ctx, schema);
  const problems: ReadProblem[] = [];
  const base = {
    schema: schema.module,
    alias: schema.config.alias,
    index: schema.liveIndex,
    checkedAt: now.toISOString(),
    fingerprint,
  };
  const last = previous?.observation;
  if (
    fingerprint !== null &&
    last &&
    previous?.fingerprint === fingerprint &&
    stillHolds(last, now, windowSeconds)
  ) {
    // Nothing moved: the stuck check is the only one that depends on the clock alone.
    const stuck = await stuckOf(ctx, schema, now, problems);
    return { ...last, ...base, stuck, problems: distinct(problems), full: false };
  }
  const since = new Date(now.getTime() - windowSeconds * 1000);
  const [failures, drift, stuck] = await Promise.all([
    failuresOf(ctx, schema, since, problems, meiliDown),
    driftOf(ctx, schema, problems, meiliDown),
    stuckOf(ctx, schema, now, problems),
  ]);
  return { ...base, failures, drift, stuck, problems: distinct(problems), full: true };
}
