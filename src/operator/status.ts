// Scrypath.sync_status/2 (§2.1): the backend plane from Meilisearch tasks, the queue plane from
// oban_jobs in oban mode. Counts are exact (tasks API `total`, SQL count); lists are bounded.

import { countTasks, listTasks, meiliError } from "../backends/meilisearch.ts";
import { countByState, latestCompleted, newestJobs, type ObanScope } from "../backends/obanJobs.ts";
import { describeDatabase, postgresError } from "../backends/postgres.ts";
import { countsByState } from "../core/rollup.ts";
import {
  jobToSyncState,
  QUEUE_FAILED_STATES,
  QUEUE_PENDING_STATES,
  QUEUE_RETRYING_STATES,
  taskToSyncState,
} from "../core/states.ts";
import type { TriageTally } from "../core/tally.ts";
import type { Bucket, Status } from "../core/types.ts";
import type { OperatorError } from "../errors.ts";
import { meiliRead, obanTables, postgresRead } from "./bounded.ts";
import { type OperatorContext, type ResolvedSchema, resolveSchema, type SharedReads } from "./context.ts";
import { DOCUMENT_TASK_TYPES, tallyExtras, tallyFrom, tallyOf } from "./tally.ts";

export { DOCUMENT_TASK_TYPES } from "./tally.ts";

/** How many of the newest items each bucket lists. */
export const BUCKET_ITEMS = 5;

export interface StatusOptions {
  /** Items listed per bucket (counts are always exact). */
  items?: number;
}

async function backendPlane(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  items: number,
): Promise<Status["backend"]> {
  const filter = (statuses: string[]) => ({
    indexUids: [schema.liveIndex],
    types: DOCUMENT_TASK_TYPES,
    statuses,
  });
  const [pending, failed, succeeded] = await meiliRead(ctx, () =>
    Promise.all([
      listTasks(ctx.meili, filter(["enqueued", "processing"]), items),
      // The status plane counts cancelled tasks as failed (§2.1); failed work does not (§3.1).
      listTasks(ctx.meili, filter(["failed", "canceled"]), items),
      // Meilisearch processes an index's tasks in uid order, so the newest succeeded uid is the
      // latest finished one.
      listTasks(ctx.meili, filter(["succeeded"]), 1),
    ]),
  );
  const bucket = (page: typeof pending): Bucket => ({
    total: page.total,
    items: page.results.map(taskToSyncState),
  });
  const last = succeeded.results[0];
  return {
    pending: bucket(pending),
    failed: bucket(failed),
    lastSucceeded: last ? taskToSyncState(last) : null,
  };
}

const EMPTY_QUEUE: Status["queue"] = {
  observed: false,
  pending: { total: 0, items: [] },
  retrying: { total: 0, items: [] },
  failed: { total: 0, items: [] },
  lastSucceeded: null,
};

/** The scope's jobs per Oban state, from the shared rollup (and its pending counts) when at hand. */
async function stateCounts(
  ctx: OperatorContext,
  scope: ObanScope,
  shared: SharedReads,
): Promise<Record<string, number>> {
  if (!shared.failedRollup) {
    return countByState(ctx.db, scope, [
      ...QUEUE_PENDING_STATES,
      ...QUEUE_RETRYING_STATES,
      ...QUEUE_FAILED_STATES,
    ]);
  }
  // With a failed-work rollup at hand, only the pending states still need counting, unless the
  // rollup's pass counted them too.
  const [pending, failed] = await Promise.all([
    shared.pendingCounts ?? countByState(ctx.db, scope, QUEUE_PENDING_STATES),
    shared.failedRollup,
  ]);
  return { ...pending, ...countsByState(failed) };
}

const total = (counts: Record<string, number>, states: readonly string[]) =>
  states.reduce((sum, s) => sum + (counts[s] ?? 0), 0);

async function queuePlane(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  items: number,
  shared: SharedReads,
): Promise<Status["queue"]> {
  const scope = schema.obanScope;
  if (!scope) return EMPTY_QUEUE;
  return postgresRead(ctx, obanTables(ctx), async () => {
    const buckets = [QUEUE_PENDING_STATES, QUEUE_RETRYING_STATES, QUEUE_FAILED_STATES] as const;
    const [counts, completed, ...newest] = await Promise.all([
      stateCounts(ctx, scope, shared),
      latestCompleted(ctx.db, scope),
      ...buckets.map((states) =>
        items > 0 ? newestJobs(ctx.db, scope, states, items) : Promise.resolve([]),
      ),
    ]);
    const bucket = (states: readonly string[], index: number): Bucket => ({
      total: total(counts, states),
      items: (newest[index] ?? []).map(jobToSyncState),
    });
    const pending = bucket(QUEUE_PENDING_STATES, 0);
    const retrying = bucket(QUEUE_RETRYING_STATES, 1);
    const failed = bucket(QUEUE_FAILED_STATES, 2);
    return {
      // A successful read of the queue is an observation, even of zero jobs (upstream's current
      // status test: "a successful empty Oban observation is observed, not unavailable").
      observed: true,
      pending,
      retrying,
      failed,
      lastSucceeded: completed ? jobToSyncState(completed) : null,
    };
  });
}

/** Both planes for an already-resolved schema (reconcile reuses this). */
export async function statusOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  options: StatusOptions = {},
  shared: SharedReads = {},
): Promise<Status> {
  const items = options.items ?? BUCKET_ITEMS;
  const [backend, queue] = await Promise.all([
    backendPlane(ctx, schema, items),
    queuePlane(ctx, schema, items, shared),
  ]);
  return { schema: schema.module, mode: schema.config.syncMode, index: schema.liveIndex, backend, queue };
}

export async function syncStatus(
  ctx: OperatorContext,
  schemaRef: string,
  options: StatusOptions = {},
): Promise<Status> {
  return statusOf(ctx, resolveSchema(ctx, schemaRef), options);
}

/** Status with each plane settled on its own: what could be read, and why the rest could not. */
export interface SettledStatus {
  schema: string;
  mode: Status["mode"];
  index: string;
  backend: Status["backend"] | null;
  queue: Status["queue"] | null;
  errors: OperatorError[];
  /** The triage tally of what could be read (src/core/tally.ts). */
  tally: TriageTally;
}

/**
 * The triage tally of one schema (failed work's headline), reading only what the tally counts:
 * Meilisearch's pending document tasks, the queue's counts per state (from the shared rollup and
 * its pending counts when at hand) and the tally's extra reads (the failed-task count from
 * `shared.backendFailed` when the caller listed them anyway). Planes that fail stay unknown.
 */
export async function schemaTally(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  shared: SharedReads = {},
): Promise<TriageTally> {
  const scope = schema.obanScope;
  const [backend, queue, extras] = await Promise.all([
    shared.meilisearchDown
      ? null
      : meiliRead(ctx, () =>
          countTasks(ctx.meili, {
            indexUids: [schema.liveIndex],
            types: DOCUMENT_TASK_TYPES,
            statuses: ["enqueued", "processing"],
          }),
        ).then(
          (pending) => ({ pending }),
          () => null,
        ),
    scope
      ? postgresRead(ctx, obanTables(ctx), () => stateCounts(ctx, scope, shared)).then(
          (counts) => ({
            terminal: total(counts, QUEUE_FAILED_STATES),
            retrying: total(counts, QUEUE_RETRYING_STATES),
            pending: total(counts, QUEUE_PENDING_STATES),
          }),
          () => null,
        )
      : null,
    tallyExtras(ctx, schema, shared),
  ]);
  return tallyOf(schema, { backend, queue }, extras);
}

export async function syncStatusSettled(ctx: OperatorContext, schemaRef: string): Promise<SettledStatus> {
  const schema = resolveSchema(ctx, schemaRef);
  const [backend, queue, extras] = await Promise.all([
    backendPlane(ctx, schema, BUCKET_ITEMS).then(
      (value) => ({ status: "fulfilled" as const, value }),
      (reason: unknown) => ({ status: "rejected" as const, reason }),
    ),
    queuePlane(ctx, schema, BUCKET_ITEMS, {}).then(
      (value) => ({ status: "fulfilled" as const, value }),
      (reason: unknown) => ({ status: "rejected" as const, reason }),
    ),
    tallyExtras(ctx, schema),
  ]);
  // Each plane maps its own failures (meiliRead, postgresRead); anything else is named here.
  const errors: OperatorError[] = [];
  if (backend.status === "rejected") errors.push(meiliError(backend.reason, ctx.meili));
  if (queue.status === "rejected") {
    errors.push(postgresError(queue.reason, describeDatabase(ctx.config.database.url)));
  }
  return {
    schema: schema.module,
    mode: schema.config.syncMode,
    index: schema.liveIndex,
    backend: backend.status === "fulfilled" ? backend.value : null,
    queue: queue.status === "fulfilled" ? queue.value : null,
    errors,
    tally: tallyFrom(
      schema,
      {
        backend: backend.status === "fulfilled" ? backend.value : null,
        queue: queue.status === "fulfilled" ? queue.value : null,
      },
      extras,
    ),
  };
}
