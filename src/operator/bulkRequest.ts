// A bulk retry as the confirmation workflow asks for it (issue 16): the filter resolved once, at
// request time, to the explicit ids the card shows (and the request stores), with the blast radius
// a confirmer reads; on Confirm, exactly those ids are replayed in batches, each re-validated.
import { firstLine, redactText } from "../core/redact.ts";
import type { ReasonClass } from "../core/types.ts";
import { RefusedError } from "../errors.ts";
import { type BulkRetryResult, type BulkRunOptions, executeBulkRetry, planBulkRetry } from "./bulkRetry.ts";
import type { OperatorContext } from "./context.ts";
import type { Actor } from "./mutation.ts";
import type { MutationRequest } from "./mutationRequest.ts";

export type BulkRetryRequest = Extract<MutationRequest, { kind: "bulk_retry" }>;

/** Characters of a sample row's last error kept on the card. */
const SAMPLE_ERROR_MAX = 200;

/** What a bulk retry's card states before anything happens: counts and five samples, never the ids. */
export interface BulkPreview {
  /** How many rows the confirm acts on (the ids stored with the request). */
  total: number;
  filter: { reasonClass: ReasonClass; state: "terminal" | "retrying" | "all"; since: string | null };
  byClass: Record<string, number>;
  /** By Oban state (`discarded`, `cancelled`, `retryable`). */
  byState: Record<string, number>;
  /** ISO times. */
  oldestFailure: string | null;
  newestFailure: string | null;
  /** Up to five rows, newest jobs (highest ids) first; `reason` is the first line of the last error, redacted. */
  sample: {
    id: number;
    state: string;
    reasonClass: string;
    reason: string | null;
    failedAt: string | null;
  }[];
  /** Matching rows left out, by the reason a single retry would refuse them. */
  excluded: Record<string, number>;
  queue: string;
  limit: number;
  /** Rows in Oban's `retryable` state: Oban also runs those originals again by itself. */
  retrying: number;
}

/** "1,000", whatever the host locale. */
const num = (n: number) => n.toLocaleString("en-US");
const jobs = (n: number) => `${num(n)} new Oban ${n === 1 ? "job" : "jobs"}`;

/** "Inserts 812 new Oban jobs in queue search_sync, available now; …": what a Confirm does. */
export function bulkEffect(
  preview: Pick<BulkPreview, "total" | "queue" | "retrying">,
  batchSize: number,
): string {
  const batches =
    preview.total > batchSize
      ? `, in batches of ${num(batchSize)} (each one transaction)`
      : ", in one transaction";
  const base = `Inserts ${jobs(preview.total)} in queue ${preview.queue}, available now${batches}; the failed jobs stay as they are.`;
  if (preview.retrying === 0) return base;
  const rows = preview.retrying === 1 ? "1 of them is" : `${num(preview.retrying)} of them are`;
  return `${base} ${rows} retrying: Oban will also run those originals again by itself, so that work may run twice.`;
}

/**
 * Resolve the request's filter to the ids a single retry would accept (refusing `bulk_limit` and
 * `nothing_to_retry`, unaudited: the workflow audits them with the requester), and the card's facts.
 */
export async function resolveBulkRequest(
  ctx: OperatorContext,
  request: BulkRetryRequest,
): Promise<{ ids: number[]; title: string; schema: string; index: string; bulk: BulkPreview }> {
  const plan = await planBulkRetry(ctx, request.schema, {
    reasonClass: request.reasonClass,
    state: request.state,
    since: request.since ? new Date(request.since) : null,
    source: "oban",
  });
  const total = plan.ids.length;
  const stateWord = plan.filter.state === "retrying" ? "retrying" : "failed";
  return {
    ids: plan.ids,
    title: `Retry ${num(total)} ${stateWord} ${plan.filter.reasonClass} ${total === 1 ? "job" : "jobs"} in ${plan.schema}`,
    schema: plan.schema,
    index: plan.index,
    bulk: {
      total,
      filter: {
        reasonClass: plan.filter.reasonClass,
        state: plan.filter.state,
        since: plan.filter.since?.toISOString() ?? null,
      },
      byClass: plan.byClass,
      byState: plan.byState,
      oldestFailure: plan.oldestFailure?.toISOString() ?? null,
      newestFailure: plan.newestFailure?.toISOString() ?? null,
      sample: plan.sample.map((row) => {
        const text = row.lastError ?? row.reason;
        return {
          id: row.id,
          state: row.state,
          reasonClass: row.reasonClass,
          reason: text ? firstLine(redactText(text), SAMPLE_ERROR_MAX) : null,
          failedAt: row.failedAt?.toISOString() ?? null,
        };
      }),
      excluded: plan.excluded,
      queue: plan.queue,
      limit: plan.limit,
      retrying: plan.byState.retryable ?? 0,
    },
  };
}

/**
 * Replay exactly the ids stored with the request (the filter is never resolved again: the confirm
 * acts on what the card showed), each re-validated under a single retry's rules and lock.
 */
export async function executeBulkRequest(
  ctx: OperatorContext,
  request: BulkRetryRequest,
  actor: Actor,
  options: BulkRunOptions = {},
): Promise<BulkRetryResult> {
  if (!request.ids || request.ids.length === 0) {
    throw new RefusedError(
      "nothing_to_retry",
      "this bulk request holds no resolved job ids; ask again to resolve the filter",
    );
  }
  return executeBulkRetry(ctx, request.schema, request.ids, actor, options);
}

/**
 * A bulk request in the audit log's `target`: the filter and how many ids it resolved to (as the
 * operator's own bulk refusals name it), never the ids themselves in every row.
 */
export function bulkAuditTarget(request: BulkRetryRequest): Record<string, unknown> {
  return {
    source: "oban",
    bulk: {
      reasonClass: request.reasonClass,
      since: request.since ?? null,
      state: request.state,
      source: "oban",
    },
    ...(request.ids ? { count: request.ids.length } : {}),
  };
}

/** How a bulk execution ended, for the confirmation row: counts per outcome, not ids. */
export function bulkSummary(result: BulkRetryResult): Record<string, unknown> {
  return {
    kind: "bulk_retry",
    replayed: result.replayed.length,
    skipped: result.skipped,
    batches: result.batches,
    failed_batches: result.failedBatches,
    not_attempted: result.notAttempted,
    ...(result.error ? { error: result.error.code, message: result.error.message } : {}),
  };
}
