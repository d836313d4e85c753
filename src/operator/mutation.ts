// What every mutation shares: who acts, one transaction for the change and its audit row,
// and refusals that are audited before they are thrown.
import type pg from "pg";
import { describeDatabase, postgresError, transaction } from "../backends/postgres.ts";
import { RefusedError } from "../errors.ts";
import { type AuditEntry, writeAudit } from "../state/audit.ts";
import { ensureState } from "../state/migrations.ts";
import type { OperatorContext } from "./context.ts";

/** Who asks: a Slack user id, or `cli:<os user>`; plus where from (channel, message ts, host). */
export interface Actor {
  id: string;
  context?: Record<string, unknown>;
}

/** Make sure the bot's state tables exist (mutations only; the read side never writes). */
export async function prepareState(ctx: OperatorContext): Promise<string> {
  try {
    await ensureState(ctx.db, ctx.config.state.schema);
  } catch (error) {
    throw postgresError(error, describeDatabase(ctx.config.database.url));
  }
  return ctx.config.state.schema;
}

/** Run `work` in one transaction; roll back on any error. */
export async function inTransaction<T>(
  ctx: OperatorContext,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  try {
    return await transaction(ctx.db, work);
  } catch (error) {
    throw error instanceof RefusedError
      ? error
      : postgresError(error, describeDatabase(ctx.config.database.url));
  }
}

/** Serialise work on one target across processes: a transaction-scoped advisory lock. */
export async function lockTarget(client: pg.PoolClient, ...key: (string | number)[]): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
    `scrypath_bot:${key.join(":")}`,
  ]);
}

/**
 * Audit a refusal (in its own transaction: nothing else changed) and rethrow it. Audit
 * failures must not hide the refusal, so they are reported as a detail of the error.
 */
export async function auditRefusal(
  ctx: OperatorContext,
  refusal: RefusedError,
  entry: Omit<AuditEntry, "outcome" | "reason">,
): Promise<never> {
  await writeAudit(ctx.db, ctx.config.state.schema, {
    ...entry,
    outcome: "refused",
    reason: refusal.reason,
    details: { ...entry.details, message: refusal.message, ...refusal.details },
  }).catch(() => {});
  throw refusal;
}
