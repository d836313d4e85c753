// Bulk retry (issue 16): a filter (schema, reason class, since, state) resolved ONCE to an explicit
// list of job ids, capped at `access.bulkRetryLimit`; then executed in batches, each batch one
// transaction (new jobs, replay links, one audit row per replay), every id re-validated under the
// same per-job advisory lock and rules as a single retry, so double runs and concurrent
// executions replay each row once, and a run cut short leaves whole batches only.
import { failedMatches, findJobs } from "../backends/obanJobs.ts";
import { failedWorkFromJob } from "../core/failedWork.ts";
import { FAILED_OBAN_STATES, QUEUE_FAILED_STATES, QUEUE_RETRYING_STATES } from "../core/states.ts";
import type { FailedWork, ReasonClass } from "../core/types.ts";
import { OperatorError, RefusedError } from "../errors.ts";
import { AUDIT_ACTIONS } from "../state/audit.ts";
import { latestReplays } from "../state/replayLinks.ts";
import { obanTables, postgresRead, stateTables } from "./bounded.ts";
import { MEILISEARCH_BACKEND, type OperatorContext, type ResolvedSchema, resolveSchema } from "./context.ts";
import {
  type Actor,
  auditEntry,
  auditRefusal,
  inTransaction,
  lockTargets,
  prepareState,
} from "./mutation.ts";
import { checkFailedJob, isFailedWorkOf, type RetryCheck, replayCheckedBatch } from "./retry.ts";

export type BulkState = "terminal" | "retrying" | "all";

export interface BulkFilter {
  reasonClass: ReasonClass;
  since?: Date | null;
  state?: BulkState;
  source?: "oban";
}

export interface BulkRetryPlan {
  schema: string;
  index: string;
  queue: string;
  filter: { reasonClass: ReasonClass; since: Date | null; state: BulkState; source: "oban" };
  /** The rows a retry would accept, oldest first: what an execution acts on. */
  ids: number[];
  /** Those rows by class and by Oban state. */
  byClass: Record<string, number>;
  byState: Record<string, number>;
  oldestFailure: Date | null;
  newestFailure: Date | null;
  /** Up to five of them, newest first, with their last error (redacted, as failed work lists them). */
  sample: FailedWork[];
  /** Matching rows left out, by the refusal reason a single retry would give. */
  excluded: Record<string, number>;
  limit: number;
}

export interface BulkProgress {
  done: number;
  total: number;
  skipped: number;
}

/** What a caller may hand a bulk run: progress after each batch, and a signal to stop between batches. */
export interface BulkRunOptions {
  onProgress?: (progress: BulkProgress) => void;
  /** Aborted (the bot is shutting down): no batch starts after the one running; the rest is not attempted. */
  signal?: AbortSignal;
}

export interface BulkRetryResult {
  replayed: { id: number; jobId: number }[];
  /** Ids that no longer passed a retry's rules at execution time, by reason. */
  skipped: Record<string, number>;
  batches: number;
  failedBatches: number;
  /** Ids not attempted because a batch failed (Postgres gone): ask again for the rest. */
  notAttempted: number;
  /** The error that stopped the run, when one did. */
  error: OperatorError | null;
}

const STATES: Record<BulkState, readonly string[]> = {
  terminal: QUEUE_FAILED_STATES,
  retrying: QUEUE_RETRYING_STATES,
  all: FAILED_OBAN_STATES,
};

const SAMPLE_SIZE = 5;

function bump(counts: Record<string, number>, key: string, by = 1): void {
  counts[key] = (counts[key] ?? 0) + by;
}

async function resolvePlan(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  filter: BulkRetryPlan["filter"],
): Promise<BulkRetryPlan> {
  const scope = schema.obanScope;
  if (!scope) {
    throw new RefusedError(
      "not_retryable",
      `${schema.module} does not sync through Oban; only queue rows can be retried`,
    );
  }
  const tables = [...obanTables(ctx), ...stateTables(ctx, "replay_links")];
  const stateName = ctx.config.state.schema;
  return postgresRead(ctx, tables, async () => {
    const matches = await failedMatches(ctx.db, scope, {
      reasonClass: filter.reasonClass,
      states: STATES[filter.state],
      since: filter.since,
    });
    const excluded: Record<string, number> = {};
    const replays = await latestReplays(
      ctx.db,
      stateName,
      scope.prefix,
      matches.map((m) => m.id),
    );
    // Cheap rules first (payload, replay link) so the cap is known before any payload is read.
    const candidates = matches.filter((m) => {
      if (!m.replayable) bump(excluded, "not_retryable");
      return m.replayable;
    });
    const limit = ctx.config.access.bulkRetryLimit;
    const jobs = new Map<number, Awaited<ReturnType<typeof findJobs>>[number]>();
    const ids: number[] = [];
    const sample: FailedWork[] = [];
    const byClass: Record<string, number> = {};
    const byState: Record<string, number> = {};
    let oldest: Date | null = null;
    let newest: Date | null = null;
    // Payloads are read in slices of SLICE, one slice in memory at a time. Past the cap every slice
    // is still read, so the refusal can say exactly how many rows a retry would accept.
    const SLICE = 500;
    let accepted = 0;
    for (let i = 0; i < candidates.length; i += SLICE) {
      const slice = candidates.slice(i, i + SLICE);
      for (const job of await findJobs(
        ctx.db,
        scope.prefix,
        slice.map((m) => m.id),
      ))
        jobs.set(job.id, job);
      for (const match of slice) {
        const job = jobs.get(match.id);
        if (!job) {
          bump(excluded, "not_found");
          continue;
        }
        try {
          checkFailedJob(schema, scope, job, replays.get(match.id));
        } catch (error) {
          if (!(error instanceof RefusedError)) throw error;
          bump(excluded, error.reason);
          continue;
        }
        accepted += 1;
        if (accepted > limit) continue;
        ids.push(job.id);
        bump(byClass, filter.reasonClass);
        bump(byState, job.state);
        if (match.at && (!oldest || match.at < oldest)) oldest = match.at;
        if (match.at && (!newest || match.at > newest)) newest = match.at;
        if (sample.length < SAMPLE_SIZE)
          sample.push(failedWorkFromJob(job, { schema: schema.module, backend: MEILISEARCH_BACKEND }));
      }
      jobs.clear();
    }
    if (accepted > limit) {
      throw new RefusedError(
        "bulk_limit",
        `${accepted.toLocaleString("en-US")} failed jobs of class ${filter.reasonClass} match, more than the limit of ${limit.toLocaleString("en-US")} for one bulk retry (access.bulkRetryLimit); narrow the filter with --since or --state`,
        { matching: accepted, limit },
      );
    }
    if (ids.length === 0) {
      const left = Object.entries(excluded)
        .map(([reason, n]) => `${n} ${reason.replaceAll("_", " ")}`)
        .join(", ");
      throw new RefusedError(
        "nothing_to_retry",
        `no failed ${filter.state === "all" ? "" : `${filter.state} `}jobs of class ${filter.reasonClass} can be retried${left ? ` (${left})` : ""}`,
        { excluded },
      );
    }
    return {
      schema: schema.module,
      index: schema.liveIndex,
      queue: scope.queue,
      filter,
      ids: [...ids].sort((a, b) => a - b),
      byClass,
      byState,
      oldestFailure: oldest,
      newestFailure: newest,
      sample,
      excluded,
      limit,
    };
  });
}

const filterOf = (filter: BulkFilter): BulkRetryPlan["filter"] => ({
  reasonClass: filter.reasonClass,
  since: filter.since ?? null,
  state: filter.state ?? "terminal",
  source: "oban",
});

/**
 * Resolve a bulk retry's filter to the explicit ids it will act on, without auditing a refusal:
 * for a caller that audits its own (the confirmation workflow, with the requester's context).
 */
export async function planBulkRetry(
  ctx: OperatorContext,
  schemaRef: string,
  filter: BulkFilter,
): Promise<BulkRetryPlan> {
  return resolvePlan(ctx, resolveSchema(ctx, schemaRef), filterOf(filter));
}

/** Resolve a bulk retry's filter to the explicit ids it will act on; refusals are audited. */
export async function resolveBulkRetry(
  ctx: OperatorContext,
  schemaRef: string,
  filter: BulkFilter,
  actor: Actor = { id: "operator" },
): Promise<BulkRetryPlan> {
  const schema = resolveSchema(ctx, schemaRef);
  const resolved = filterOf(filter);
  try {
    return await resolvePlan(ctx, schema, resolved);
  } catch (error) {
    if (!(error instanceof RefusedError)) throw error;
    await prepareState(ctx);
    const audit = auditEntry(actor, AUDIT_ACTIONS.retry, {
      schema: schema.module,
      index: schema.liveIndex,
      target: {
        source: "oban",
        bulk: { ...resolved, since: resolved.since?.toISOString() ?? null },
      },
    });
    return auditRefusal(ctx, error, audit);
  }
}

/**
 * Replay `ids` in batches of `batchSize`, each batch one transaction of a few set-based
 * statements whatever its size: the batch's per-job locks (a single retry's keys, ascending), its
 * rows and their newest replay links read once under them and re-checked with a single retry's
 * rules; one that stopped being failed, or was replayed meanwhile (another run, another replica),
 * is skipped and counted with its reason; then the new jobs, the replay links and the audit rows,
 * one multi-row insert each. The first batch that fails stops the run: earlier batches stay
 * committed, later ones are not attempted.
 */
export async function executeBulkRetry(
  ctx: OperatorContext,
  schemaRef: string,
  ids: readonly number[],
  actor: Actor,
  options: BulkRunOptions & { batchSize?: number } = {},
): Promise<BulkRetryResult> {
  const schema = resolveSchema(ctx, schemaRef);
  const stateName = await prepareState(ctx);
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? ctx.config.access.bulkRetryBatchSize));
  // Ascending order: concurrent runs take the per-job locks in the same order (no deadlock).
  const ordered = [...new Set(ids)].sort((a, b) => a - b);
  const scope = schema.obanScope;
  const prefix = scope?.prefix ?? "";
  // The replay's audit row (its target, with the new job's id, is filled in per replay).
  const audit = auditEntry(actor, AUDIT_ACTIONS.retry, { schema: schema.module, index: schema.liveIndex });
  const result: BulkRetryResult = {
    replayed: [],
    skipped: {},
    batches: 0,
    failedBatches: 0,
    notAttempted: 0,
    error: null,
  };
  let done = 0;
  let skippedTotal = 0;
  for (let start = 0; start < ordered.length; start += batchSize) {
    if (options.signal?.aborted) {
      // Between batches: the ones done stay, nothing is half-done, the rest waits for a new request.
      result.notAttempted = ordered.length - done;
      result.error = new OperatorError(
        "shutting_down",
        "the bot was shutting down, so it stopped between batches",
      );
      break;
    }
    const batch = ordered.slice(start, start + batchSize);
    try {
      const outcome = await inTransaction(ctx, async (client) => {
        const skipped: Record<string, number> = {};
        // The batch's per-job locks (the keys a single retry takes), in ascending id order.
        await lockTargets(
          client,
          batch.map((id) => ["retry", prefix, id]),
        );
        if (!scope) {
          bump(skipped, "not_found", batch.length);
          return { replayed: [], skipped };
        }
        // Read under the locks, once for the batch: the rows, then their newest replay links.
        const jobs = new Map((await findJobs(client, prefix, batch)).map((job) => [job.id, job]));
        const replays = await latestReplays(client, stateName, prefix, batch);
        const checks: RetryCheck[] = [];
        for (const id of batch) {
          const job = jobs.get(id);
          // A bulk id is an Oban row of this scope by construction: one that is gone or no longer
          // failed work is skipped as not found (no Meilisearch lookup, unlike a typed-in id).
          if (!job || !isFailedWorkOf(scope, job)) {
            bump(skipped, "not_found");
            continue;
          }
          try {
            checks.push(checkFailedJob(schema, scope, job, replays.get(id)));
          } catch (error) {
            if (!(error instanceof RefusedError)) throw error;
            bump(skipped, error.reason);
          }
        }
        const replayed = await replayCheckedBatch(ctx, client, stateName, schema, checks, actor, audit, {
          bulk: true,
        });
        return {
          replayed: replayed.map((r) => ({ id: r.id, jobId: r.inserted.id })),
          skipped,
        };
      });
      result.batches += 1;
      result.replayed.push(...outcome.replayed);
      for (const [reason, n] of Object.entries(outcome.skipped)) {
        bump(result.skipped, reason, n);
        skippedTotal += n;
      }
      done += batch.length;
      options.onProgress?.({ done, total: ordered.length, skipped: skippedTotal });
    } catch (error) {
      result.failedBatches += 1;
      result.notAttempted = ordered.length - done;
      result.error =
        error instanceof OperatorError
          ? error
          : new OperatorError("postgres_error", String(error), "postgres");
      break;
    }
  }
  return result;
}
