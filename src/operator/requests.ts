// Mutation requests as the Slack confirmation flow stores them: one zod shape per kind, a
// read-only preview that states the blast radius, and the execution that re-validates through
// the operator at the moment of acting (the request shapes: mutationRequest.ts).
import { getSettings } from "../backends/meilisearch.ts";
import { findJob } from "../backends/obanJobs.ts";
import { failedWorkFromJob } from "../core/failedWork.ts";
import { queueSignalText } from "../core/reasonClass.ts";
import { firstLine, redactText } from "../core/redact.ts";
import { toWire, validateHotApplyPayload } from "../core/settings.ts";
import { type KeyChange, settingsChanges } from "../core/settingsDiff.ts";
import type { ReasonClass } from "../core/types.ts";
import { OperatorError, RefusedError } from "../errors.ts";
import { stateExists } from "../state/migrations.ts";
import { findChange } from "../state/settingsChanges.ts";
import { type BulkPreview, bulkEffect, executeBulkRequest, resolveBulkRequest } from "./bulkRequest.ts";
import type { BulkRetryResult, BulkRunOptions } from "./bulkRetry.ts";
import { MEILISEARCH_BACKEND, type OperatorContext, resolveSchema, targetIndexFor } from "./context.ts";
import { checkHandOff } from "./handOff.ts";
import {
  hotApplyOf,
  revertHotApply,
  revertRefusal,
  type SettingsTaskResult,
  settingsChangedSince,
} from "./hotApply.ts";
import { type Actor, prepareState } from "./mutation.ts";
import type { MutationRequest } from "./mutationRequest.ts";
import { checkRecommended, type ReconcileActionResult, reconcileAction } from "./reconcileAction.ts";
import { checkRetry, isFailedWorkOf, parseRetryTarget, type RetryResult, retryOf } from "./retry.ts";
import { type CardStanding, standingAfter, standingOf } from "./standing.ts";
import { checkSwap } from "./swap.ts";

export type { BulkPreview } from "./bulkRequest.ts";
export { type MutationRequest, mutationRequest } from "./mutationRequest.ts";

/** What the confirmation card states before anything happens. */
export interface RequestPreview {
  title: string;
  schema: string | null;
  index: string | null;
  /** Source and id of the row acted on, e.g. `oban:601`. */
  target: string | null;
  operation: string | null;
  documentCount: number | null;
  reasonClass: ReasonClass | null;
  lastError: string | null;
  /** "Inserts one new Oban job in queue search_sync; the failed job stays as it is." */
  effect: string;
  /** Destructive or live-changing: the Confirm button gets a danger dialog. */
  danger: boolean;
  /** Settings requests: what changes per key, from the live values read when it was requested. */
  settings?: SettingsPreview | null;
  /**
   * A row in Oban's `retryable` state: Oban retries it by itself at `at` (ISO), as attempt
   * `attempt` of `maxAttempts`; a replay now runs the same work twice.
   */
  retrying?: { at: string | null; attempt: number; maxAttempts: number } | null;
  /**
   * Where the schema (and, for a retry, the row) stands in the triage vocabulary at request time,
   * as `/scrypath failed <schema>` would print it; null when it could not be read.
   */
  standing?: CardStanding | null;
  /** A bulk retry: the blast radius of the ids stored with the request (counts and samples, never the ids). */
  bulk?: BulkPreview | null;
}

export interface SettingsPreview {
  /** hot_apply: live → requested; revert: live now → the values restored. */
  kind: "hot_apply" | "revert";
  /** When the live values were read (ISO). */
  readAt: string;
  changes: KeyChange[];
  /** revert: who applied the change it undoes (its confirmer). */
  changedBy: string | null;
  /**
   * The live values of the keys as read then (Meilisearch's spelling): the confirm refuses when
   * they moved since, so nobody applies a diff nobody reviewed. Absent on cards stored before.
   */
  live?: Record<string, unknown> | null;
}

/** The live values of `keys` out of a settings read (a key Meilisearch did not report: null). */
const liveOf = (live: Record<string, unknown>, keys: readonly string[]) =>
  Object.fromEntries(keys.map((k) => [k, live[k] ?? null]));

export type RequestOutcome = (
  | { kind: "retry"; result: RetryResult }
  | { kind: "action"; result: ReconcileActionResult }
  | { kind: "hot_apply" | "revert"; result: SettingsTaskResult }
  | { kind: "bulk_retry"; result: BulkRetryResult }
) & {
  /** The standing re-read once the request ran; null when it could not be read in time. */
  standing?: CardStanding | null;
};

/**
 * Read what a request would act on and describe it, with where its schema (and row) stands now;
 * refuses what cannot possibly run.
 */
export async function previewRequest(
  ctx: OperatorContext,
  request: MutationRequest,
): Promise<RequestPreview> {
  const standing = standingOf(ctx, request);
  const preview = await describeRequest(ctx, request);
  return { ...preview, standing: await standing };
}

/**
 * A request as it will be stored, with the preview its card shows: what it acts on is made explicit
 * here, once (a bulk retry's filter resolved to its ids, overwriting any ids the surface sent), so
 * the confirm acts on exactly what the card showed. Refuses what cannot possibly run.
 */
export async function resolveRequest(
  ctx: OperatorContext,
  request: MutationRequest,
): Promise<{ request: MutationRequest; preview: RequestPreview }> {
  if (request.kind !== "bulk_retry") return { request, preview: await previewRequest(ctx, request) };
  const standing = standingOf(ctx, request);
  const { ids, preview } = await previewBulk(ctx, request);
  return { request: { ...request, ids }, preview: { ...preview, standing: await standing } };
}

async function previewBulk(
  ctx: OperatorContext,
  request: Extract<MutationRequest, { kind: "bulk_retry" }>,
): Promise<{ ids: number[]; preview: RequestPreview }> {
  const { ids, title, schema, index, bulk } = await resolveBulkRequest(ctx, request);
  return {
    ids,
    preview: {
      title,
      schema,
      index,
      target: null,
      operation: null,
      documentCount: null,
      reasonClass: request.reasonClass,
      lastError: null,
      effect: bulkEffect(bulk, ctx.config.access.bulkRetryBatchSize),
      // A big blast radius: Confirm asks again in a dialog.
      danger: true,
      bulk,
    },
  };
}

async function describeRequest(ctx: OperatorContext, request: MutationRequest): Promise<RequestPreview> {
  switch (request.kind) {
    case "bulk_retry":
      return (await previewBulk(ctx, request)).preview;
    case "retry":
      return previewRetry(ctx, request.schema, request.target);
    case "action": {
      const schema = resolveSchema(ctx, request.schema);
      if (request.action === "retry") {
        if (!request.id) throw new OperatorError("bad_argument", "`--id` is required for --action retry");
        return previewRetry(ctx, request.schema, request.id);
      }
      const target = targetIndexFor(schema, request.targetIndex);
      const base = {
        schema: schema.module,
        index: schema.liveIndex,
        target: null,
        operation: null,
        documentCount: null,
        reasonClass: null,
        lastError: null,
      };
      if (request.action === "swap") {
        return {
          ...base,
          title: `Swap ${schema.liveIndex} with ${target}`,
          effect: `Swaps the live index ${schema.liveIndex} with ${target} in one step, if every promotion rule still holds when confirmed; ${target} then holds the previous documents.`,
          danger: true,
        };
      }
      const worker =
        request.action === "reindex" ? schema.config.reindexWorker : schema.config.backfillWorker;
      return {
        ...base,
        title: `${request.action === "reindex" ? "Reindex" : "Backfill"} ${schema.module}`,
        effect: worker
          ? `Inserts one ${worker.worker} job in queue ${worker.queue} (${request.action} of ${schema.liveIndex}${request.action === "reindex" ? ` into ${target}` : ""}); the application does the work.`
          : `Nothing can run from Slack: no ${request.action}Worker is configured, so confirming will answer with the mix command to run.`,
        danger: request.action === "reindex",
      };
    }
    case "hot_apply": {
      const schema = resolveSchema(ctx, request.schema);
      const valid = validateHotApplyPayload(request.settings);
      if (!valid.ok) {
        throw new RefusedError(
          valid.reason,
          valid.reason === "unsupported_hot_apply_keys"
            ? `refused keys: ${valid.keys.join(", ")}`
            : "invalid settings",
        );
      }
      const wire = toWire(valid.settings);
      const keys = Object.keys(wire).sort();
      // The live values now: the card and the confirmer see exactly what would change.
      const live = await getSettings(ctx.meili, schema.liveIndex);
      const changes = settingsChanges(live, wire);
      if (changes.length === 0) {
        throw new RefusedError("no_change", "these are the live values already: nothing would change");
      }
      return {
        title: `Hot-apply settings to ${schema.liveIndex}`,
        schema: schema.module,
        index: schema.liveIndex,
        target: null,
        operation: keys.join(", "),
        documentCount: null,
        reasonClass: null,
        lastError: null,
        effect: `Changes ${keys.join(", ")} on the live index ${schema.liveIndex} and waits for Meilisearch's settings task; the previous values are kept for a revert.`,
        danger: true,
        settings: {
          kind: "hot_apply",
          readAt: new Date().toISOString(),
          changes,
          changedBy: null,
          live: liveOf(live, keys),
        },
      };
    }
    case "revert": {
      const state = ctx.config.state.schema;
      const change = (await stateExists(ctx.db, state))
        ? await findChange(ctx.db, state, request.changeId)
        : null;
      if (!change) throw new OperatorError("not_found", `no settings change ${request.changeId}`);
      const live = await getSettings(ctx.meili, change.index);
      return {
        title: `Revert settings change ${change.id}`,
        schema: change.schema,
        index: change.index,
        target: `change:${change.id}`,
        operation: change.keys.join(", "),
        documentCount: null,
        reasonClass: null,
        lastError: null,
        effect: `Puts back the previous ${change.keys.join(", ")} of ${change.index}; refused if they changed since.`,
        danger: true,
        settings: {
          kind: "revert",
          readAt: new Date().toISOString(),
          changes: settingsChanges(live, change.previous),
          changedBy: change.requestedBy,
          live: liveOf(live, change.keys),
        },
      };
    }
  }
}

async function previewRetry(
  ctx: OperatorContext,
  schemaRef: string,
  target: string,
): Promise<RequestPreview> {
  const schema = resolveSchema(ctx, schemaRef);
  const { source, id } = parseRetryTarget(target);
  const scope = schema.obanScope;
  const job = scope && source !== "meilisearch" ? await findJob(ctx.db, scope.prefix, id) : null;
  if (!job || !scope || !isFailedWorkOf(scope, job)) {
    throw new RefusedError(
      source === "meilisearch" ? "not_retryable" : "not_found",
      source === "meilisearch" ? "backend rows have no replay action" : `no failed work found for id ${id}`,
    );
  }
  const row = failedWorkFromJob(job, { schema: schema.module, backend: MEILISEARCH_BACKEND });
  if (!row.retryable) throw new RefusedError("not_retryable", `job ${id} has no replayable payload`);
  const count = typeof job.args.document_count === "number" ? job.args.document_count : null;
  const lastError = queueSignalText(job.lastError);
  return {
    title: `Retry failed work oban:${id}`,
    schema: schema.module,
    index: typeof job.args.index === "string" ? job.args.index : schema.liveIndex,
    target: `oban:${id}`,
    operation: row.operation,
    documentCount: count,
    reasonClass: row.reasonClass,
    lastError: lastError ? firstLine(redactText(lastError), 200) : null,
    effect: `Inserts one new Oban job in queue ${scope.queue}; the failed job stays as it is.`,
    danger: false,
    retrying:
      job.state === "retryable"
        ? {
            at: job.scheduledAt?.toISOString() ?? null,
            attempt: job.attempt + 1,
            maxAttempts: job.maxAttempts,
          }
        : null,
  };
}

/**
 * What a request acts on, as one key: two pending requests with the same key would do the same
 * thing (a retry by `/scrypath retry` and by `--action retry` of one job are the same target).
 */
export function requestTarget(ctx: OperatorContext, request: MutationRequest): string {
  const job = (schema: string, target: string) => {
    const { source, id } = parseRetryTarget(target);
    return `retry:${resolveSchema(ctx, schema).module}:${source ?? "oban"}:${id}`;
  };
  switch (request.kind) {
    case "retry":
      return job(request.schema, request.target);
    case "action": {
      if (request.action === "retry" && request.id) return job(request.schema, request.id);
      const schema = resolveSchema(ctx, request.schema);
      const target = request.action === "backfill" ? "" : `:${targetIndexFor(schema, request.targetIndex)}`;
      return `${request.action}:${schema.module}${target}`;
    }
    case "hot_apply":
      return `hot_apply:${resolveSchema(ctx, request.schema).module}`;
    case "revert":
      return `revert:${request.changeId}`;
    case "bulk_retry":
      // One pending bulk card per schema and class, whatever its --since or --state: two cards over
      // overlapping rows would each show (and count) the same jobs, and confirming the second would
      // mostly skip what the first replayed. Narrowing or widening means cancelling the first card.
      return `bulk_retry:${resolveSchema(ctx, request.schema).module}:${request.reasonClass}`;
  }
}

/**
 * Before a card is posted: run the checks the confirm will run, on fresh reads, and throw the
 * RefusedError it would give (the same operator functions, so the two cannot disagree). A swap
 * names every promotion rule that fails, with its count. The confirm still checks again.
 */
export async function checkRequest(ctx: OperatorContext, request: MutationRequest): Promise<void> {
  await prepareState(ctx);
  switch (request.kind) {
    case "retry":
      await checkRetry(ctx, ctx.db, resolveSchema(ctx, request.schema), request.target);
      return;
    case "action": {
      const schema = resolveSchema(ctx, request.schema);
      if (request.action === "retry") {
        if (!request.id) throw new OperatorError("bad_argument", "`--id` is required for --action retry");
        await checkRetry(ctx, ctx.db, schema, request.id);
        return;
      }
      const target = targetIndexFor(schema, request.targetIndex);
      if (request.action === "swap") {
        const { refusal, failing } = await checkSwap(ctx, schema, target);
        if (!refusal) return;
        throw new RefusedError(
          refusal.reason,
          `a swap of ${schema.liveIndex} with ${target} would be refused: ${failing.map((f) => f.text).join("; ")}`,
          { failing: failing.map((f) => f.reason) },
        );
      }
      await checkRecommended(ctx, schema, request.action, target);
      await checkHandOff(ctx, ctx.db, schema, request.action, target);
      return;
    }
    case "revert": {
      const change = await findChange(ctx.db, ctx.config.state.schema, request.changeId);
      const refusal = change ? revertRefusal(change) : null;
      if (refusal) throw refusal;
      // An applied change whose values are no longer live: the revert would be refused.
      if (change?.status === "succeeded") {
        const refused = settingsChangedSince(change, await getSettings(ctx.meili, change.index));
        if (refused) throw refused;
      }
      return;
    }
    case "hot_apply":
      return;
    case "bulk_retry":
      // Nothing beyond the resolution: the preview resolved the filter, refusing there what the
      // confirm would refuse (an unknown schema, no Oban sync, nothing left, above the cap). The
      // confirm then re-validates each stored id, skipping (and counting) what changed meanwhile.
      resolveSchema(ctx, request.schema);
      return;
  }
}

/**
 * Execute a confirmed request; every operator call re-reads and re-validates its target. The
 * standing is read again afterwards, so the card can show the figures the request changed.
 */
export async function executeRequest(
  ctx: OperatorContext,
  request: MutationRequest,
  actor: Actor,
  /** What the card showed: a settings change is refused when the live values moved since. */
  shown?: Pick<RequestPreview, "settings"> | null,
  /** A bulk retry's progress after each batch, and its signal to stop between batches. */
  bulk: BulkRunOptions = {},
): Promise<RequestOutcome> {
  const outcome = await run(ctx, request, actor, shown?.settings?.live ?? null, bulk);
  // A settings change moves no failed-work figure: its card keeps the request's, dated.
  if (request.kind === "hot_apply" || request.kind === "revert") return outcome;
  return { ...outcome, standing: await standingAfter(ctx, request) };
}

async function run(
  ctx: OperatorContext,
  request: MutationRequest,
  actor: Actor,
  reviewedLive: Record<string, unknown> | null,
  bulk: BulkRunOptions,
): Promise<RequestOutcome> {
  switch (request.kind) {
    case "bulk_retry":
      return { kind: "bulk_retry", result: await executeBulkRequest(ctx, request, actor, bulk) };
    case "retry":
      return {
        kind: "retry",
        result: await retryOf(ctx, resolveSchema(ctx, request.schema), request.target, actor),
      };
    case "action":
      return {
        kind: "action",
        result: await reconcileAction(ctx, request.schema, {
          action: request.action,
          id: request.id ?? null,
          targetIndex: request.targetIndex ?? null,
          actor,
        }),
      };
    case "hot_apply":
      return {
        kind: "hot_apply",
        result: await hotApplyOf(ctx, resolveSchema(ctx, request.schema), {
          settings: request.settings,
          acknowledgeLive: true,
          actor,
          reviewedLive,
        }),
      };
    case "revert":
      return {
        kind: "revert",
        result: await revertHotApply(ctx, request.changeId, { actor, reviewedLive }),
      };
  }
}
