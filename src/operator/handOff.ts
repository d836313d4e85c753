// Backfill and reindex (§2.7, §5.4) need the Elixir application (its Ecto projection and
// custom documents), so the bot hands them off: it enqueues one job for a worker the schema's
// config names, or refuses with the exact mix command to run. Never two unfinished hand-offs
// for the same schema and action: the check and the insert share a transaction and a lock.
import { type InsertedJob, insertObanJob, unfinishedJob } from "../backends/obanJobs.ts";
import type { Queryable } from "../backends/postgres.ts";
import { RefusedError } from "../errors.ts";
import { AUDIT_ACTIONS, writeAudit } from "../state/audit.ts";
import type { OperatorContext, ResolvedSchema } from "./context.ts";
import { type Actor, auditEntry, auditRefusal, inTransaction, lockTarget, prepareState } from "./mutation.ts";

export type HandOffKind = "backfill" | "reindex";

export interface HandOffResult {
  action: HandOffKind;
  status: "accepted";
  mode: ResolvedSchema["config"]["syncMode"];
  index: string;
  targetIndex: string;
  job: InsertedJob;
  auditId: number;
}

/** The mix command an operator runs in the application when no worker is configured. */
export function mixCommand(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  kind: HandOffKind,
  target: string,
): string {
  const flags = [
    ...(ctx.config.indexPrefix ? [`--index-prefix ${ctx.config.indexPrefix}`] : []),
    ...(kind === "reindex" && target !== `${schema.liveIndex}__reindex` ? [`--target-index ${target}`] : []),
  ];
  return ["mix scrypath.reconcile", schema.module, "--action", kind, ...flags].join(" ");
}

type HandOffWorker = NonNullable<ResolvedSchema["config"]["backfillWorker"]>;

/** The worker that takes the hand-off; refused (with the mix command) when none is configured. */
function handOffWorker(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  kind: HandOffKind,
  target: string,
): HandOffWorker {
  const worker = kind === "reindex" ? schema.config.reindexWorker : schema.config.backfillWorker;
  if (!worker) {
    throw new RefusedError(
      "hand_off_not_configured",
      `the bot cannot build documents for ${schema.module}; run \`${mixCommand(ctx, schema, kind, target)}\` in the application, or configure schemas[].${kind}Worker`,
      { command: mixCommand(ctx, schema, kind, target) },
    );
  }
  return worker;
}

/** Never two unfinished hand-offs for the same schema and action. */
async function checkNoPendingHandOff(
  ctx: OperatorContext,
  db: Queryable,
  schema: ResolvedSchema,
  kind: HandOffKind,
  worker: HandOffWorker,
): Promise<void> {
  const pending = await unfinishedJob(db, ctx.config.database.obanPrefix, worker.worker, {
    schema: schema.elixirModule,
    action: kind,
  });
  if (pending) {
    throw new RefusedError(
      "hand_off_pending",
      `a ${kind} hand-off for ${schema.module} is already pending: job ${pending.id} (${pending.state}) requested by ${String(pending.args.requested_by ?? "unknown")}`,
      { jobId: pending.id, state: pending.state },
    );
  }
}

/** Every rule a hand-off must pass, on `db` as it is now: the request and the confirm both run it. */
export async function checkHandOff(
  ctx: OperatorContext,
  db: Queryable,
  schema: ResolvedSchema,
  kind: HandOffKind,
  target: string,
): Promise<void> {
  await checkNoPendingHandOff(ctx, db, schema, kind, handOffWorker(ctx, schema, kind, target));
}

export async function handOff(
  ctx: OperatorContext,
  schema: ResolvedSchema,
  kind: HandOffKind,
  target: string,
  actor: Actor,
): Promise<HandOffResult> {
  const stateName = await prepareState(ctx);
  const audit = auditEntry(actor, kind === "reindex" ? AUDIT_ACTIONS.reindex : AUDIT_ACTIONS.backfill, {
    schema: schema.module,
    index: schema.liveIndex,
    target: { target_index: target },
  });
  let worker: HandOffWorker;
  try {
    worker = handOffWorker(ctx, schema, kind, target);
  } catch (error) {
    if (error instanceof RefusedError) return auditRefusal(ctx, error, audit);
    throw error;
  }
  const prefix = ctx.config.database.obanPrefix;
  try {
    return await inTransaction(ctx, async (client) => {
      await lockTarget(client, "hand_off", schema.elixirModule, kind);
      await checkNoPendingHandOff(ctx, client, schema, kind, worker);
      const job = await insertObanJob(client, prefix, {
        worker: worker.worker,
        queue: worker.queue,
        args: {
          schema: schema.elixirModule,
          action: kind,
          index: schema.liveIndex,
          target_index: target,
          requested_by: actor.id,
        },
        maxAttempts: worker.maxAttempts,
      });
      const auditId = await writeAudit(client, stateName, {
        ...audit,
        target: { target_index: target, new_job_id: job.id },
        outcome: "accepted",
        details: { worker: job.worker, queue: job.queue },
      });
      return {
        action: kind,
        status: "accepted" as const,
        mode: schema.config.syncMode,
        index: schema.liveIndex,
        targetIndex: target,
        job,
        auditId,
      };
    });
  } catch (error) {
    if (error instanceof RefusedError) return auditRefusal(ctx, error, audit);
    throw error;
  }
}
