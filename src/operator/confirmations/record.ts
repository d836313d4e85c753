// What the bot keeps and records about a mutation request: the shape stored with a confirmation
// (the request and the preview its card shows), its kind and upstream audit action, the ids it acts
// on, and the summary of how it ended. Pure functions; the lifecycle beside this file does the I/O.
import { z } from "zod";
import { toWire } from "../../core/settings.ts";
import { REASON_CLASSES } from "../../core/types.ts";
import { type OperatorError, RefusedError } from "../../errors.ts";
import { AUDIT_ACTIONS } from "../../state/audit.ts";
import type { Confirmation } from "../../state/confirmations.ts";
import { bulkAuditTarget, bulkSummary } from "../bulkRequest.ts";
import {
  type MutationRequest,
  mutationRequest,
  type RequestOutcome,
  type RequestPreview,
} from "../requests.ts";
import { cardStanding } from "../standing.ts";
import type { CardState, ConfirmationView } from "./types.ts";

/** A stored request, parsed back: what to do, and what its card said it would do. */
export interface StoredRequest {
  request: MutationRequest;
  preview: RequestPreview;
}

/** What the confirmations table holds for a request: the request and the preview its card shows. */
const stored = z.object({
  request: mutationRequest,
  preview: z.object({
    title: z.string(),
    schema: z.string().nullable(),
    index: z.string().nullable(),
    target: z.string().nullable(),
    operation: z.string().nullable(),
    documentCount: z.number().nullable(),
    reasonClass: z.string().nullable(),
    lastError: z.string().nullable(),
    effect: z.string(),
    danger: z.boolean(),
    settings: z
      .object({
        kind: z.enum(["hot_apply", "revert"]),
        readAt: z.string(),
        changes: z.array(
          z.object({
            key: z.string(),
            added: z.array(z.string()),
            removed: z.array(z.string()),
            changed: z.array(z.object({ what: z.string(), live: z.string(), requested: z.string() })),
          }),
        ),
        changedBy: z.string().nullable(),
        live: z.record(z.string(), z.unknown()).nullish(),
      })
      .nullish(),
    retrying: z.object({ at: z.string().nullable(), attempt: z.number(), maxAttempts: z.number() }).nullish(),
    standing: cardStanding.nullish(),
    bulk: z
      .object({
        total: z.number(),
        filter: z.object({
          reasonClass: z.enum(REASON_CLASSES),
          state: z.enum(["terminal", "retrying", "all"]),
          since: z.string().nullable(),
        }),
        byClass: z.record(z.string(), z.number()),
        byState: z.record(z.string(), z.number()),
        oldestFailure: z.string().nullable(),
        newestFailure: z.string().nullable(),
        sample: z
          .array(
            z.object({
              id: z.number(),
              state: z.string(),
              reasonClass: z.string(),
              reason: z.string().nullable(),
              failedAt: z.string().nullable(),
            }),
          )
          .max(5),
        excluded: z.record(z.string(), z.number()),
        queue: z.string(),
        limit: z.number(),
        retrying: z.number(),
      })
      .nullish(),
  }),
});

/** A bounded label and the audit action for each kind of request. */
export function requestKind(request: MutationRequest): string {
  return request.kind === "action" ? request.action : request.kind;
}

export function auditActionOf(request: MutationRequest): string {
  switch (requestKind(request)) {
    case "retry":
    case "bulk_retry":
      return AUDIT_ACTIONS.retry;
    case "backfill":
      return AUDIT_ACTIONS.backfill;
    case "reindex":
      return AUDIT_ACTIONS.reindex;
    case "swap":
      return AUDIT_ACTIONS.swap;
    default:
      return AUDIT_ACTIONS.hotApply;
  }
}

/** The ids a request acts on, in the audit log's `target` shape. */
export function auditTarget(request: MutationRequest): Record<string, unknown> {
  const job = (target: string) => {
    const [source, id] = target.includes(":") ? target.split(":") : ["oban", target];
    return { source, id: Number(id) };
  };
  switch (request.kind) {
    case "retry":
      return job(request.target);
    case "action":
      return request.action === "retry" && request.id
        ? job(request.id)
        : request.targetIndex
          ? { target_index: request.targetIndex }
          : {};
    case "hot_apply":
      // Meilisearch's spelling, as the operator's own rows name the keys.
      return { keys: Object.keys(toWire(request.settings)).sort() };
    case "revert":
      return { revert_of: request.changeId };
    case "bulk_retry":
      return bulkAuditTarget(request);
  }
}

/** The reason without the `reason: ` prefix RefusedError puts in its message. */
export function refusalSentence(error: OperatorError): { reason: string; message: string } {
  if (error instanceof RefusedError) {
    const prefix = `${error.reason}: `;
    return {
      reason: error.reason,
      message: error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message,
    };
  }
  return { reason: error.code, message: error.message };
}

/** What a view may know of a confirmation row (no stored request, no result). */
export function viewOf(row: Confirmation): ConfirmationView {
  return {
    id: row.id,
    kind: row.kind,
    schema: row.schema,
    requestedBy: row.requestedBy,
    teamId: row.teamId,
    channelId: row.channelId,
    messageTs: row.messageTs,
    threadTs: row.threadTs,
    status: row.status,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    decidedBy: row.decidedBy,
    decidedAt: row.decidedAt,
  };
}

export function cardState(row: Confirmation, extra: Partial<CardState> = {}): CardState {
  return {
    status: row.status,
    requestedBy: row.requestedBy,
    expiresAt: row.expiresAt,
    decidedBy: row.decidedBy,
    decidedAt: row.decidedAt,
    ...extra,
  };
}

/**
 * Whether an executed request did what was asked: a swap or settings task that failed, or whose
 * outcome is unconfirmed, did not (→ failed); a retry or hand-off accepted did; a bulk retry did
 * unless a batch failed (rows skipped as no longer failed are what a re-validation is for).
 */
export function succeeded(outcome: RequestOutcome): boolean {
  switch (outcome.kind) {
    case "retry":
      return true;
    case "bulk_retry":
      // Every id attempted: no batch failed and no shutdown stopped the run.
      return outcome.result.error === null;
    case "action":
      return outcome.result.action === "swap" ? outcome.result.result.status === "succeeded" : true;
    default:
      return outcome.result.task.status === "succeeded";
  }
}

/** The bits of an outcome worth keeping with the request: job id, task uid, status. */
export function summaryOf(outcome: RequestOutcome): Record<string, unknown> {
  switch (outcome.kind) {
    case "retry":
      return { kind: "retry", job_id: outcome.result.job.id, audit_id: outcome.result.auditId };
    case "action": {
      const a = outcome.result;
      if (a.action === "swap") {
        return { kind: "swap", status: a.result.status, task_uid: a.result.taskUid, error: a.result.error };
      }
      return { kind: a.action, job_id: a.result.job.id, audit_id: a.result.auditId };
    }
    case "bulk_retry":
      return bulkSummary(outcome.result);
    default:
      return {
        kind: outcome.kind,
        change_id: outcome.result.changeId,
        task_uid: outcome.result.task.uid,
        status: outcome.result.task.status,
      };
  }
}

/**
 * The new job a confirmed retry inserted, to follow in the thread. A bulk retry has none: its new
 * jobs (`result.replayed[].jobId`) are followed as a group.
 */
export function replayJobOf(outcome: RequestOutcome): number | null {
  if (outcome.kind === "retry") return outcome.result.job.id;
  if (outcome.kind === "action" && outcome.result.action === "retry") return outcome.result.result.job.id;
  return null;
}

/** The new jobs a confirmed bulk retry inserted, to follow as a group in the thread; null if none. */
export function replayGroupOf(outcome: RequestOutcome): number[] | null {
  if (outcome.kind !== "bulk_retry" || outcome.result.replayed.length === 0) return null;
  return outcome.result.replayed.map((r) => r.jobId);
}

/** The stored request of a confirmation row, or null when it does not parse (never acted on). */
export function parseStored(row: Pick<Confirmation, "request">): StoredRequest | null {
  const parsed = stored.safeParse(row.request);
  return parsed.success ? (parsed.data as StoredRequest) : null;
}
