// What every mutation shares: who acts, one transaction for the change and its audit row,
// and refusals that are audited before they are thrown.
import {
  CommitOutcomeUnknown,
  type DbClient,
  describeDatabase,
  postgresError,
  type TransactionOptions,
  transaction,
} from "../backends/postgres.ts";
import { OperatorError, RefusedError } from "../errors.ts";
import { type AuditAction, type AuditEntry, writeAudit } from "../state/audit.ts";
import type { OperatorContext } from "./context.ts";
import { requireMigrated } from "./migrations.ts";

/** Who asks: a Slack user id, or `cli:<os user>`; plus where from (channel, message ts, host). */
export interface Actor {
  id: string;
  context?: Record<string, unknown>;
}

/** What every audit row of one mutation shares; each write adds its outcome (and details). */
export type AuditBase = Omit<AuditEntry, "outcome" | "reason">;

/** The audit entry of a mutation: who asks (and from where), the action, what it acts on. */
export function auditEntry(
  actor: Actor,
  action: AuditAction,
  on: { schema: string | null; index: string | null; target?: Record<string, unknown> },
): AuditBase {
  return {
    actor: actor.id,
    action,
    schema: on.schema,
    index: on.index,
    ...(on.target ? { target: on.target } : {}),
    context: actor.context ?? {},
  };
}

/**
 * Make sure the bot's state tables are at the latest migration (mutations only); refuses with
 * `migrations_pending` otherwise. Never creates them: `scrypath-bot migrate` does.
 */
export async function prepareState(ctx: OperatorContext): Promise<string> {
  await requireMigrated(ctx);
  return ctx.config.state.schema;
}

/**
 * Run `work` in one transaction; roll back on any error. A failure means nothing was changed,
 * except a `PostgresOutcomeUnknown` (COMMIT was sent, its answer lost, and Postgres could not be
 * asked afterwards); a commit whose answer was lost but that Postgres confirms counts as done.
 */
export async function inTransaction<T>(
  ctx: OperatorContext,
  work: (client: DbClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const where = describeDatabase(ctx.config.database.url);
  try {
    return await transaction(ctx.db, work, options);
  } catch (error) {
    if (error instanceof RefusedError) throw error;
    if (error instanceof CommitOutcomeUnknown) throw new PostgresOutcomeUnknown(where, error);
    throw postgresError(error, where);
  }
}

/** The change may or may not have been committed: say so, never "nothing was changed". */
export class PostgresOutcomeUnknown extends OperatorError {
  readonly outcomeUnknown = true;
  constructor(
    where: string,
    readonly unknown: CommitOutcomeUnknown,
  ) {
    super(
      "postgres_unreachable",
      `the connection to Postgres at ${where} was lost while the change was being committed, and Postgres could not be asked afterwards whether it was saved`,
      "postgres",
      { cause: unknown },
    );
  }
}

const lockKey = (key: readonly (string | number)[]) => `scrypath_bot:${key.join(":")}`;

/** Serialise work on one target across processes: a transaction-scoped advisory lock. */
export async function lockTarget(client: DbClient, ...key: (string | number)[]): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [lockKey(key)]);
}

/**
 * `lockTarget` of each key, in ONE statement, taken one after another in the order given (callers
 * that may lock overlapping sets pass them in one global order, so they never deadlock).
 * The order is guaranteed: the locks are the output list of a query sorted by the keys'
 * ordinality, and PostgreSQL evaluates output expressions after sorting when they are not
 * referenced by DISTINCT, ORDER BY or GROUP BY (the SELECT reference, "SELECT List", since 9.6:
 * the volatile pg_advisory_xact_lock is never evaluated before a Sort). Postgres 17's plan has no
 * Sort at all: it knows the WITH ORDINALITY scan already yields rows in that order, and takes the
 * locks in the scan, row by row. A wait on one key holds the keys before it, exactly as
 * consecutive `lockTarget` calls would.
 */
export async function lockTargets(
  client: DbClient,
  keys: readonly (readonly (string | number)[])[],
): Promise<void> {
  if (keys.length === 0) return;
  await client.query(
    `SELECT pg_advisory_xact_lock(hashtextextended(t.k, 0))
     FROM unnest($1::text[]) WITH ORDINALITY AS t(k, n) ORDER BY t.n`,
    [keys.map(lockKey)],
  );
}

/**
 * Audit a refusal (in its own transaction: nothing else changed) and rethrow it. Audit
 * failures must not hide the refusal, so they are reported as a detail of the error.
 */
export async function auditRefusal(
  ctx: OperatorContext,
  refusal: RefusedError,
  entry: AuditBase,
): Promise<never> {
  await writeAudit(ctx.db, ctx.config.state.schema, {
    ...entry,
    outcome: "refused",
    reason: refusal.reason,
    details: { ...entry.details, message: refusal.message, ...refusal.details },
  }).catch(() => {});
  throw refusal;
}
