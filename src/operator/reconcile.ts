// Scrypath.reconcile_sync/2, report mode (§2.4, §5): status, failed work, reindex visibility of
// the target index, drift signals and recommended actions, optionally the contract drift.
import { countTasks, listTasks } from "../backends/meilisearch.ts";
import { failedJobsPage } from "../backends/obanJobs.ts";
import { failedWorkFromJob } from "../core/failedWork.ts";
import {
  driftSignals,
  INDEX_SWAP,
  recommendedActions,
  reconcileSummary,
  reindexVisibility,
  type TargetTaskCounts,
  type TargetTaskFacts,
  targetFactsFromCounts,
} from "../core/reconcile.ts";
import { countsFromCells } from "../core/rollup.ts";
import type { TriageTally } from "../core/tally.ts";
import type {
  ContractDriftReport,
  DriftSignal,
  FailedRollupCell,
  FailedWork,
  ReasonClassCounts,
  RecoveryAction,
  ReindexVisibility,
  Status,
} from "../core/types.ts";
import { OperatorError } from "../errors.ts";
import { meiliRead, obanTables, postgresRead } from "./bounded.ts";
import {
  MEILISEARCH_BACKEND,
  type OperatorContext,
  type ResolvedSchema,
  resolveSchema,
  type SharedReads,
  targetIndexFor,
} from "./context.ts";
import { contractDriftOf } from "./contractDrift.ts";
import { failedWorkOf, sharedRollup } from "./failedWork.ts";
import { statusOf } from "./status.ts";
import { tallyExtras, tallyFrom } from "./tally.ts";

/** Task types reconcile reads on the target index (§1.4 list_index_tasks). */
export const INDEX_TASK_TYPES = [
  "indexCreation",
  "settingsUpdate",
  INDEX_SWAP,
  "documentAdditionOrUpdate",
  // Upstream's current reconcile test: deletions on the target count (enqueued → pending, failed → failed).
  "documentDeletion",
];

/** Upstream's inspector sees the newest 100 jobs; reconcile lists at most this many retry actions. */
export const RETRY_ACTIONS_LIMIT = 100;

export interface ReconcileOptions {
  targetIndex?: string | null;
  includeContractDrift?: boolean;
}

export interface ReconcileReport {
  schema: string;
  mode: Status["mode"];
  index: string;
  status: Status;
  /** Newest failed rows that expose a retry action (at most RETRY_ACTIONS_LIMIT). */
  failedWork: FailedWork[];
  failedWorkCounts: ReasonClassCounts;
  driftSignals: DriftSignal[];
  actions: RecoveryAction[];
  /** Retryable failed rows in total; `actions` lists at most RETRY_ACTIONS_LIMIT of them. */
  retryableTotal: number;
  reindex: ReindexVisibility;
  summary: string;
  indexContractDrift: ContractDriftReport | null;
  /** The schema's triage tally (src/core/tally.ts), from this report's reads. */
  tally: TriageTally;
}

/** One round of bounded reads: a count per status, the swaps, and the newest task. */
async function targetCounts(ctx: OperatorContext, target: string): Promise<TargetTaskCounts> {
  const filter = (extra: { types?: string[]; statuses?: string[] } = {}) => ({
    indexUids: [target],
    types: extra.types ?? INDEX_TASK_TYPES,
    ...(extra.statuses ? { statuses: extra.statuses } : {}),
  });
  const [newest, pending, failed, cancelled, succeeded, swaps, swapsSucceeded] = await meiliRead(ctx, () =>
    Promise.all([
      listTasks(ctx.meili, filter(), 1),
      countTasks(ctx.meili, filter({ statuses: ["enqueued", "processing"] })),
      countTasks(ctx.meili, filter({ statuses: ["failed"] })),
      countTasks(ctx.meili, filter({ statuses: ["canceled"] })),
      countTasks(ctx.meili, filter({ statuses: ["succeeded"] })),
      countTasks(ctx.meili, filter({ types: [INDEX_SWAP] })),
      countTasks(ctx.meili, filter({ types: [INDEX_SWAP], statuses: ["succeeded"] })),
    ]),
  );
  return {
    total: newest.total,
    pending,
    failed,
    cancelled,
    succeeded,
    swaps,
    swapsSucceeded,
    newest: newest.results[0] ?? null,
  };
}

/**
 * Target-index facts from bounded reads: `total` counts answer "any X?" without listing the
 * history. (Meilisearch 1.21 counts a swap task under both indexes' uids in `total` but leaves it
 * out of filtered `results`, so counting also sees swaps that a listing would miss.)
 *
 * A task in a status Meilisearch does not document is an error (upstream: `invalid_task_payload`),
 * never a `completed` target. The counts are separate requests, so a task changing status between
 * them can leave one unaccounted for: the reads are repeated once before that is called an error.
 */
export async function targetFacts(ctx: OperatorContext, target: string): Promise<TargetTaskFacts> {
  let facts = targetFactsFromCounts(await targetCounts(ctx, target));
  if ((facts.unknownStatuses ?? 0) > 0) facts = targetFactsFromCounts(await targetCounts(ctx, target));
  if ((facts.unknownStatuses ?? 0) > 0) {
    throw new OperatorError(
      "meilisearch_error",
      `invalid_task_payload: Meilisearch lists ${facts.unknownStatuses} task(s) on ${target} in a status ` +
        "it does not document (not enqueued, processing, succeeded, failed or canceled); " +
        "check the Meilisearch version against the one scrypath-bot supports",
      "meilisearch",
    );
  }
  return facts;
}

/**
 * The newest replayable failed rows (for retry actions) and how many there are in all (from
 * reconcile's rollup, counted with `replayable`).
 */
async function retryableRows(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  rollup: Promise<FailedRollupCell[]> | null,
): Promise<{ rows: FailedWork[]; total: number }> {
  const scope = schema.obanScope;
  if (!scope || !rollup) return { rows: [], total: 0 };
  return postgresRead(ctx, obanTables(ctx), async () => {
    const [jobs, cells] = await Promise.all([
      failedJobsPage(ctx.db, scope, { retryableOnly: true, limit: RETRY_ACTIONS_LIMIT }),
      rollup,
    ]);
    const total = countsFromCells(cells, { retryableOnly: true }).total;
    const rows = jobs.map((job) =>
      failedWorkFromJob(job, { schema: schema.module, backend: MEILISEARCH_BACKEND }),
    );
    return { rows, total };
  });
}

export async function reconcileOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const target = targetIndexFor(schema, options.targetIndex);
  // One rollup of the failed rows feeds the status plane's retrying/failed totals, the class
  // counts and the retryable total; each caller awaits it and reports its failure.
  // The same pass counts the pending states for the status plane.
  const rollupShared = sharedRollup(ctx, schema, { replayable: true });
  const failedRollup = rollupShared.failedRollup ?? null;
  // The status read and three small reads make the tally, which failed work reuses.
  const statusRead = statusOf(ctx, schema, {}, rollupShared);
  const tally = Promise.all([statusRead, tallyExtras(ctx, schema, rollupShared)]).then(([status, extras]) =>
    tallyFrom(schema, status, extras),
  );
  tally.catch(() => {});
  const shared: SharedReads = { ...rollupShared, tally };
  const [status, failed, retryable, facts, drift, triage] = await Promise.all([
    statusRead,
    failedWorkOf(ctx, schema, { limit: 1 }, shared),
    retryableRows(ctx, schema, failedRollup),
    targetFacts(ctx, target),
    // "No false-green": when asked for, a failed contract read fails the whole reconcile.
    options.includeContractDrift ? contractDriftOf(ctx, schema) : Promise.resolve(null),
    tally,
  ]);
  const reindex = reindexVisibility(schema.liveIndex, target, facts);
  const signals = driftSignals({
    backendPending: status.backend.pending.total,
    queuePending: status.queue.pending.total,
    queueRetrying: status.queue.retrying.total,
    failedWork: failed.counts.total,
    reindex,
  });
  const retryRows = retryable.rows.filter((row) => row.recovery !== null);
  const actions = recommendedActions({
    retryActions: retryRows.map((row) => row.recovery as RecoveryAction),
    failedWork: failed.counts.total,
    reindex,
    schema: schema.module,
    backend: MEILISEARCH_BACKEND,
    mode: schema.config.syncMode,
    liveIndex: schema.liveIndex,
  });
  return {
    schema: schema.module,
    mode: schema.config.syncMode,
    index: schema.liveIndex,
    status,
    failedWork: retryRows,
    failedWorkCounts: failed.counts,
    driftSignals: signals,
    actions,
    retryableTotal: retryable.total,
    reindex,
    summary: reconcileSummary(signals, reindex),
    indexContractDrift: drift,
    tally: triage,
  };
}

export async function reconcileSync(
  ctx: OperatorContext,
  schemaRef: string,
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  return reconcileOf(ctx, resolveSchema(ctx, schemaRef), options);
}
