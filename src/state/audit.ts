// The audit log: one row per mutation attempt (requested, refused, executed, failed…), written
// in the same transaction as the change it records whenever the change is in Postgres.
import type { Queryable } from "../backends/postgres.ts";
import { redactValue } from "../core/redact.ts";
import { stateSchema } from "./migrations.ts";

/** Upstream's gated-action names (§9.4), plus backfill. */
export const AUDIT_ACTIONS = {
  retry: "scrypath.ops.failed_work_retry",
  reindex: "scrypath.ops.reindex",
  backfill: "scrypath.ops.backfill",
  swap: "scrypath.ops.swap_live",
  hotApply: "scrypath.ops.hot_apply",
} as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[keyof typeof AUDIT_ACTIONS];

export interface AuditEntry {
  actor: string;
  action: AuditAction | string;
  schema: string | null;
  index: string | null;
  target?: Record<string, unknown>;
  outcome: string;
  reason?: string | null;
  details?: Record<string, unknown>;
  /** Where the request came from (Slack user, channel, message ts; CLI host). */
  context?: Record<string, unknown>;
}

export interface AuditRow extends Required<Omit<AuditEntry, "reason">> {
  id: number;
  at: Date;
  reason: string | null;
}

export async function writeAudit(db: Queryable, stateName: string, entry: AuditEntry): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO ${stateSchema(stateName)}.audit_log
       (actor, action, schema_module, index_uid, target, outcome, reason, details, context)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [
      entry.actor,
      entry.action,
      entry.schema,
      entry.index,
      JSON.stringify(entry.target ?? {}),
      entry.outcome,
      entry.reason ?? null,
      JSON.stringify(redactValue(entry.details ?? {})),
      JSON.stringify(entry.context ?? {}),
    ],
  );
  return Number(rows[0]?.id);
}

/**
 * Many audit rows in ONE statement, each exactly as `writeAudit` writes it (details redacted);
 * their ids in the order given (inserted in that order, RETURNING in insertion order; counted).
 */
export async function writeAudits(
  db: Queryable,
  stateName: string,
  entries: readonly AuditEntry[],
): Promise<number[]> {
  if (entries.length === 0) return [];
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO ${stateSchema(stateName)}.audit_log
       (actor, action, schema_module, index_uid, target, outcome, reason, details, context)
     SELECT t.e->>'actor', t.e->>'action', t.e->>'schema_module', t.e->>'index_uid', t.e->'target',
       t.e->>'outcome', t.e->>'reason', t.e->'details', t.e->'context'
     FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n)
     ORDER BY t.n RETURNING id`,
    [
      JSON.stringify(
        entries.map((entry) => ({
          actor: entry.actor,
          action: entry.action,
          schema_module: entry.schema,
          index_uid: entry.index,
          target: entry.target ?? {},
          outcome: entry.outcome,
          reason: entry.reason ?? null,
          details: redactValue(entry.details ?? {}),
          context: entry.context ?? {},
        })),
      ),
    ],
  );
  if (rows.length !== entries.length)
    throw new Error(`INSERT into audit_log returned ${rows.length} rows for ${entries.length} entries`);
  return rows.map((row) => Number(row.id));
}

/** Record the final outcome of an attempt whose row was written before acting. */
export async function finishAudit(
  db: Queryable,
  stateName: string,
  id: number,
  outcome: string,
  reason: string | null,
  details: Record<string, unknown> = {},
): Promise<void> {
  await db.query(
    `UPDATE ${stateSchema(stateName)}.audit_log
     SET outcome = $2, reason = $3, details = details || $4::jsonb WHERE id = $1`,
    [id, outcome, reason, JSON.stringify(redactValue(details))],
  );
}

export async function recentAudit(
  db: Queryable,
  stateName: string,
  options: { schema?: string | null; limit: number },
): Promise<AuditRow[]> {
  const { rows } = await db.query(
    `SELECT id, at, actor, action, schema_module, index_uid, target, outcome, reason, details, context
     FROM ${stateSchema(stateName)}.audit_log
     WHERE ($1::text IS NULL OR schema_module = $1)
     ORDER BY at DESC, id DESC LIMIT $2`,
    [options.schema ?? null, options.limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at,
    actor: r.actor,
    action: r.action,
    schema: r.schema_module,
    index: r.index_uid,
    target: r.target,
    outcome: r.outcome,
    reason: r.reason,
    details: r.details,
    context: r.context,
  }));
}

/**
 * How many rows one bulk retry replayed: its `accepted` audit rows (one per replay, written in the
 * batch's transaction, so whole batches only). Bounded by time, on the `at` index: only rows
 * written since the request was confirmed (less a minute for clock skew) are read.
 */
export async function countBulkReplays(
  db: Queryable,
  stateName: string,
  confirmationId: string,
  confirmedAt: Date,
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM ${stateSchema(stateName)}.audit_log
     WHERE at >= $2::timestamptz - interval '1 minute'
       AND context->>'confirmation_id' = $1
       AND details->>'bulk' = 'true'
       AND outcome = 'accepted'`,
    [confirmationId, confirmedAt],
  );
  return rows[0]?.n ?? 0;
}
