// Scrypath.retry_sync_work/2 for queue rows (§2.3): validate as upstream, then insert ONE new
// Oban job with rebuilt args; the failed job is left untouched. The replay link and the audit
// row are written in the same transaction, under a per-job advisory lock, so concurrent
// retries of one job (several processes, double clicks) produce exactly one new job.
import { countTasks } from "../backends/meilisearch.ts";
import {
  findJob,
  type InsertedJob,
  insertObanJob,
  insertObanJobs,
  type NewJob,
  type ObanScope,
} from "../backends/obanJobs.ts";
import type { Queryable } from "../backends/postgres.ts";
import { DELETE_WORKER, failedWorkFromJob, replayBlocksRetry, UPSERT_WORKER } from "../core/failedWork.ts";
import { FAILED_OBAN_STATES } from "../core/states.ts";
import { replayOutcomeOf } from "../core/tally.ts";
import type { FailedWork, ObanJob } from "../core/types.ts";
import { OperatorError, RefusedError } from "../errors.ts";
import { AUDIT_ACTIONS, type AuditEntry, writeAudit, writeAudits } from "../state/audit.ts";
import { latestReplays, type ReplayLink, recordReplay, recordReplays } from "../state/replayLinks.ts";
import { MEILISEARCH_BACKEND, type OperatorContext, type ResolvedSchema, resolveSchema } from "./context.ts";
import {
  type Actor,
  type AuditBase,
  auditEntry,
  auditRefusal,
  inTransaction,
  lockTarget,
  prepareState,
} from "./mutation.ts";
import { DOCUMENT_TASK_TYPES } from "./status.ts";

export interface RetryResult {
  /** The failed row that was replayed. */
  id: number;
  status: "accepted";
  mode: "oban";
  index: string;
  documentIds: unknown[];
  documentCount: number;
  /** The new job. "Accepted" is not searchable: the worker still has to run. */
  job: InsertedJob;
  auditId: number;
}

/** `601`, `oban:601` or `meilisearch:403`. */
export function parseRetryTarget(value: string | number): {
  source: "oban" | "meilisearch" | null;
  id: number;
} {
  const match = /^(?:(oban|meilisearch):)?([0-9]+)$/.exec(String(value).trim());
  if (!match)
    throw new OperatorError(
      "bad_argument",
      `invalid id "${value}"; expected a job id such as 601 or oban:601`,
    );
  return { source: (match[1] as "oban" | "meilisearch" | undefined) ?? null, id: Number(match[2]) };
}

interface StoredDocument {
  id: unknown;
  data: Record<string, unknown>;
  source: "fields" | "custom";
}

function isStoredDocument(d: unknown): d is StoredDocument {
  if (!d || typeof d !== "object") return false;
  const doc = d as Record<string, unknown>;
  return (
    (typeof doc.id === "string" || typeof doc.id === "number") &&
    !!doc.data &&
    typeof doc.data === "object" &&
    !Array.isArray(doc.data) &&
    (doc.source === "fields" || doc.source === "custom")
  );
}

/** Job args as Scrypath.Oban.Payload rebuilds them (§4.3): nothing copied blindly. */
function rebuildArgs(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  payload: Record<string, unknown>,
  operation: "upsert" | "delete",
) {
  const base = {
    operation,
    schema: schema.elixirModule,
    backend: MEILISEARCH_BACKEND,
    index: schema.liveIndex,
    sync_mode: "oban",
  };
  // Connection hints: only the runtime index prefix. The bot's Meilisearch URL and key are its
  // own view of the server, not the application's, and keys never go into job args.
  const hints = ctx.config.indexPrefix ? { index_prefix: ctx.config.indexPrefix } : {};
  if (operation === "delete") {
    const ids = payload.document_ids as unknown[];
    return { ...base, document_ids: ids, document_count: ids.length, ...hints };
  }
  const documents = (payload.documents as StoredDocument[]).map((d) => ({
    id: d.id,
    data: d.data,
    source: d.source,
  }));
  return {
    ...base,
    document_ids: documents.map((d) => d.id),
    document_count: documents.length,
    documents,
    ...hints,
  };
}

/** Upstream's validation (§2.3 step 2), on the row as it is now. */
function validate(
  schema: ResolvedSchema,
  payload: Record<string, unknown>,
  index: string,
  operation: string,
): RefusedError | null {
  const backend = payload.backend;
  if (typeof backend === "string" && backend !== MEILISEARCH_BACKEND) {
    return new RefusedError(
      "backend_mismatch",
      `job ${"backend"} is ${backend}, the bot only replays ${MEILISEARCH_BACKEND}`,
    );
  }
  if (index !== schema.liveIndex) {
    return new RefusedError(
      "index_mismatch",
      `the job targets index ${index} but ${schema.module} now writes to ${schema.liveIndex} (did the index prefix change?); reindex instead`,
    );
  }
  if (operation === "upsert") {
    if (!Array.isArray(payload.documents))
      return new RefusedError("missing_retry_input", "the job has no documents list to replay");
    const bad = payload.documents.findIndex((d) => !isStoredDocument(d));
    if (bad >= 0)
      return new RefusedError(
        "missing_retry_input",
        `documents[${bad}] is not a stored {id, data, source} document`,
      );
  }
  if (operation === "delete" && !Array.isArray(payload.document_ids)) {
    return new RefusedError("missing_retry_input", "the job has no document_ids list to replay");
  }
  return null;
}

/** The job is failed work of this scope: a failed state, the schema's queue, the schema's module. */
export function isFailedWorkOf(scope: ObanScope, job: ObanJob): boolean {
  return (
    (FAILED_OBAN_STATES as readonly string[]).includes(job.state) &&
    job.queue === scope.queue &&
    job.args.schema === scope.schema
  );
}

/** What a retry acts on, once every check holds. */
export interface RetryCheck {
  scope: ObanScope;
  id: number;
  job: ObanJob;
  row: FailedWork;
  operation: "upsert" | "delete";
}

/** How an earlier replay reads in a refusal: "verified" once a follower verified it, else its Oban state. */
function replayStateWord(link: ReplayLink): string {
  if (replayOutcomeOf(link.replayState, link.verification) === "verified") return "verified";
  return link.replayState ?? "pruned";
}

/**
 * Every rule a retry must pass, read on `db` as it is now (the request reads through the pool;
 * the execution through its locked transaction; the state tables must exist: `prepareState`). Throws the RefusedError of the first rule that
 * fails; the same function guards the request and the confirm, so they cannot disagree.
 */
export async function checkRetry(
  ctx: OperatorContext,
  db: Queryable,
  schema: ResolvedSchema,
  target: string | number,
): Promise<RetryCheck> {
  const { source, id } = parseRetryTarget(target);
  const scope = schema.obanScope;
  if (source === "meilisearch" || !scope) {
    // Backend rows are never retryable; only say so for a row that exists.
    if (await isFailedTask(ctx, schema, id)) {
      throw new RefusedError(
        "not_retryable",
        `Meilisearch task ${id} is a backend row; backend rows have no replay action`,
      );
    }
    throw new RefusedError("not_found", `no failed work found for id ${id}`);
  }
  const job = await findJob(db, scope.prefix, id);
  if (!job || !isFailedWorkOf(scope, job)) {
    if (source === null && (await isFailedTask(ctx, schema, id))) {
      throw new RefusedError(
        "not_retryable",
        `${id} is a failed Meilisearch task; backend rows have no replay action`,
      );
    }
    const now = job
      ? ` (job ${id} is ${job.state}${job.args.schema !== scope.schema ? ` and belongs to ${String(job.args.schema)}` : ""})`
      : "";
    throw new RefusedError("not_found", `no failed work found for id ${id}${now}`);
  }
  const previous = (await latestReplays(db, ctx.config.state.schema, scope.prefix, [id])).get(id);
  return checkFailedJob(schema, scope, job, previous);
}

/**
 * The rules a failed job of the scope must pass (payload, validation, no blocking replay), given
 * its newest replay link; throws the RefusedError of the first that fails. Shared by a single
 * retry and a bulk retry, which read the links of many jobs at once.
 */
export function checkFailedJob(
  schema: ResolvedSchema,
  scope: ObanScope,
  job: ObanJob,
  previous: ReplayLink | undefined,
): RetryCheck {
  const id = job.id;
  const row = failedWorkFromJob(job, { schema: schema.module, backend: MEILISEARCH_BACKEND });
  if (!row.retryable) {
    throw new RefusedError(
      "not_retryable",
      `job ${id} has no replayable payload (operation ${row.operation})`,
    );
  }
  if (!row.recovery || (row.operation !== "upsert" && row.operation !== "delete")) {
    throw new RefusedError("missing_recovery_action", `failed work ${id} does not expose a retry action`);
  }
  const invalid = validate(schema, job.args, row.recovery.index, row.operation);
  if (invalid) throw invalid;

  if (previous && replayBlocksRetry(previous.replayState)) {
    throw new RefusedError(
      "already_replayed",
      `job ${id} was already replayed as job ${previous.replayJobId} (${replayStateWord(previous)}) by ${previous.requestedBy} at ${previous.createdAt.toISOString()}`,
      {
        replayJobId: previous.replayJobId,
        replayState: previous.replayState,
        requestedBy: previous.requestedBy,
      },
    );
  }
  return { scope, id, job, row, operation: row.operation };
}

/** The new job a checked failed job is replayed as: rebuilt args, the worker of its operation. */
export function replayJobOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  check: RetryCheck,
  actor: Actor,
): { job: NewJob; args: ReturnType<typeof rebuildArgs> } {
  const { row, job, operation, scope, id } = check;
  const args = rebuildArgs(ctx, schema, job.args, operation);
  return {
    job: {
      worker: row.operation === "upsert" ? UPSERT_WORKER : DELETE_WORKER,
      queue: scope.queue,
      args,
      maxAttempts: schema.config.obanMaxAttempts,
      meta: { scrypath_bot: { replay_of: id, requested_by: actor.id } },
    },
    args,
  };
}

/** The replay link of a checked failed job replayed as `replayJobId`. */
export function replayLinkOf(schema: ResolvedSchema, check: RetryCheck, actor: Actor, replayJobId: number) {
  return {
    obanPrefix: check.scope.prefix,
    failedJobId: check.id,
    replayJobId,
    schema: schema.module,
    requestedBy: actor.id,
  };
}

/** The `accepted` audit row of a replay. */
export function replayAuditOf(
  audit: AuditBase,
  check: RetryCheck,
  inserted: InsertedJob,
  documentCount: number,
  details: Record<string, unknown> = {},
): AuditEntry {
  return {
    ...audit,
    target: { source: "oban", id: check.id, new_job_id: inserted.id },
    outcome: "accepted",
    details: {
      queue: inserted.queue,
      worker: inserted.worker,
      document_count: documentCount,
      ...details,
    },
  };
}

/**
 * Replay a checked failed job on `client` (inside the caller's transaction, under its lock): the
 * new job with rebuilt args, the replay link and the audit row of the replay.
 */
export async function replayChecked(
  ctx: OperatorContext,
  client: Queryable,
  stateName: string,
  schema: ResolvedSchema,
  check: RetryCheck,
  actor: Actor,
  audit: AuditBase,
  details: Record<string, unknown> = {},
): Promise<{ inserted: InsertedJob; args: ReturnType<typeof rebuildArgs>; auditId: number }> {
  const { job, args } = replayJobOf(ctx, schema, check, actor);
  const inserted = await insertObanJob(client, check.scope.prefix, job);
  await recordReplay(client, stateName, replayLinkOf(schema, check, actor, inserted.id));
  const auditId = await writeAudit(
    client,
    stateName,
    replayAuditOf(audit, check, inserted, args.document_count, details),
  );
  return { inserted, args, auditId };
}

/**
 * Replay many checked failed jobs of one scope on `client` (inside the caller's transaction, under
 * their locks), set-based: the new jobs in one statement, their replay links in one, their audit
 * rows in one; each row exactly what `replayChecked` writes for that job.
 */
export async function replayCheckedBatch(
  ctx: OperatorContext,
  client: Queryable,
  stateName: string,
  schema: ResolvedSchema,
  checks: readonly RetryCheck[],
  actor: Actor,
  audit: AuditBase,
  details: Record<string, unknown> = {},
): Promise<{ id: number; inserted: InsertedJob }[]> {
  const first = checks[0];
  if (!first) return [];
  if (checks.some((check) => check.scope.prefix !== first.scope.prefix))
    throw new Error("replayCheckedBatch: the checks span several Oban prefixes");
  const planned = checks.map((check) => ({ check, ...replayJobOf(ctx, schema, check, actor) }));
  const inserted = await insertObanJobs(
    client,
    first.scope.prefix,
    planned.map((p) => p.job),
  );
  const replays = planned.map((p, i) => ({ ...p, inserted: inserted[i] as InsertedJob }));
  await recordReplays(
    client,
    stateName,
    replays.map((r) => replayLinkOf(schema, r.check, actor, r.inserted.id)),
  );
  await writeAudits(
    client,
    stateName,
    replays.map((r) => replayAuditOf(audit, r.check, r.inserted, r.args.document_count, details)),
  );
  return replays.map((r) => ({ id: r.check.id, inserted: r.inserted }));
}

export async function retryOf(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  target: string | number,
  actor: Actor,
): Promise<RetryResult> {
  const stateName = await prepareState(ctx);
  const { source, id } = parseRetryTarget(target);
  const audit = auditEntry(actor, AUDIT_ACTIONS.retry, {
    schema: schema.module,
    index: schema.liveIndex,
    target: { source: source ?? "oban", id },
  });
  const refuse = (refusal: RefusedError) => auditRefusal(ctx, refusal, audit);

  const scope = schema.obanScope;
  if (source === "meilisearch" || !scope) {
    try {
      await checkRetry(ctx, ctx.db, schema, target);
    } catch (error) {
      if (error instanceof RefusedError) return refuse(error);
      throw error;
    }
  }

  try {
    return await inTransaction(ctx, async (client) => {
      await lockTarget(client, "retry", scope?.prefix ?? "", id);
      const check = await checkRetry(ctx, client, schema, target);
      const { inserted, args, auditId } = await replayChecked(
        ctx,
        client,
        stateName,
        schema,
        check,
        actor,
        audit,
      );
      return {
        id,
        status: "accepted" as const,
        mode: "oban" as const,
        index: schema.liveIndex,
        documentIds: args.document_ids,
        documentCount: args.document_count,
        job: inserted,
        auditId,
      };
    });
  } catch (error) {
    if (error instanceof RefusedError) return refuse(error);
    throw error;
  }
}

async function isFailedTask(ctx: OperatorContext, schema: ResolvedSchema, uid: number): Promise<boolean> {
  const filter = {
    uids: [uid],
    indexUids: [schema.liveIndex],
    types: DOCUMENT_TASK_TYPES,
    statuses: ["failed"],
  };
  return (await countTasks(ctx.meili, filter)) > 0;
}

export async function retrySyncWork(
  ctx: OperatorContext,
  schemaRef: string,
  target: string | number,
  actor: Actor,
) {
  return retryOf(ctx, resolveSchema(ctx, schemaRef), target, actor);
}
