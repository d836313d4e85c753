// Confirmation requests: a mutation asked for in Slack waits here for one authorised click.
// Claiming is one conditional UPDATE, so exactly one click wins across every bot replica
// sharing the database, and an expired request can never be confirmed, sweeper or not.
import { randomBytes } from "node:crypto";
import type { Queryable } from "../backends/postgres.ts";
import { stateSchema } from "./migrations.ts";

export type ConfirmationStatus = "pending" | "executing" | "done" | "failed" | "cancelled" | "expired";

export interface Confirmation {
  id: string;
  kind: string;
  schema: string | null;
  /** What to do, as the request module understands it (re-validated before acting). */
  request: Record<string, unknown>;
  requestedBy: string;
  teamId: string | null;
  channelId: string;
  messageTs: string | null;
  threadTs: string | null;
  status: ConfirmationStatus;
  createdAt: Date;
  expiresAt: Date;
  decidedBy: string | null;
  decidedAt: Date | null;
  result: Record<string, unknown> | null;
}

function toConfirmation(r: Record<string, unknown>): Confirmation {
  return {
    id: r.id as string,
    kind: r.kind as string,
    schema: (r.schema_module as string | null) ?? null,
    request: r.request as Record<string, unknown>,
    requestedBy: r.requested_by as string,
    teamId: (r.team_id as string | null) ?? null,
    channelId: r.channel_id as string,
    messageTs: (r.message_ts as string | null) ?? null,
    threadTs: (r.thread_ts as string | null) ?? null,
    status: r.status as ConfirmationStatus,
    createdAt: r.created_at as Date,
    expiresAt: r.expires_at as Date,
    decidedBy: (r.decided_by as string | null) ?? null,
    decidedAt: (r.decided_at as Date | null) ?? null,
    result: (r.result as Record<string, unknown> | null) ?? null,
  };
}

/** 128 random bits, URL-safe: the only thing a button value carries. */
export function newConfirmationId(): string {
  return randomBytes(16).toString("base64url");
}

export const CONFIRMATION_ID = /^[A-Za-z0-9_-]{22}$/;

export async function createConfirmation(
  db: Queryable,
  stateName: string,
  input: Pick<
    Confirmation,
    "kind" | "schema" | "request" | "requestedBy" | "teamId" | "channelId" | "threadTs"
  > & {
    ttlSeconds: number;
  },
): Promise<Confirmation> {
  const { rows } = await db.query(
    `INSERT INTO ${stateSchema(stateName)}.confirmations
       (id, kind, schema_module, request, requested_by, team_id, channel_id, thread_ts, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))
     RETURNING *`,
    [
      newConfirmationId(),
      input.kind,
      input.schema,
      JSON.stringify(input.request),
      input.requestedBy,
      input.teamId,
      input.channelId,
      input.threadTs,
      input.ttlSeconds,
    ],
  );
  return toConfirmation(rows[0]);
}

/** Remember where the card was posted, so every later update edits it in place. */
export async function attachMessage(
  db: Queryable,
  stateName: string,
  id: string,
  messageTs: string,
): Promise<void> {
  await db.query(`UPDATE ${stateSchema(stateName)}.confirmations SET message_ts = $2 WHERE id = $1`, [
    id,
    messageTs,
  ]);
}

export async function findConfirmation(
  db: Queryable,
  stateName: string,
  id: string,
): Promise<Confirmation | null> {
  if (!CONFIRMATION_ID.test(id)) return null;
  const { rows } = await db.query(`SELECT * FROM ${stateSchema(stateName)}.confirmations WHERE id = $1`, [
    id,
  ]);
  return rows[0] ? toConfirmation(rows[0]) : null;
}

/**
 * The oldest pending, unexpired request for the same target (`request.target`, the key the
 * operator gives each request: kind and what it acts on), if any.
 */
export async function findPendingFor(
  db: Queryable,
  stateName: string,
  target: string,
): Promise<Confirmation | null> {
  const { rows } = await db.query(
    `SELECT * FROM ${stateSchema(stateName)}.confirmations
     WHERE status = 'pending' AND expires_at > now() AND request->>'target' = $1
     ORDER BY created_at LIMIT 1`,
    [target],
  );
  return rows[0] ? toConfirmation(rows[0]) : null;
}

/**
 * Move a pending, unexpired request to `to` on behalf of `by`. Returns the claimed row, or null
 * when someone else decided first or it expired (read it again to say which).
 */
export async function claimConfirmation(
  db: Queryable,
  stateName: string,
  id: string,
  to: "executing" | "cancelled",
  by: string,
): Promise<Confirmation | null> {
  const { rows } = await db.query(
    `UPDATE ${stateSchema(stateName)}.confirmations
     SET status = $2, decided_by = $3, decided_at = now()
     WHERE id = $1 AND status = 'pending' AND expires_at > now()
     RETURNING *`,
    [id, to, by],
  );
  return rows[0] ? toConfirmation(rows[0]) : null;
}

/** Mark a pending request whose time is up as expired (idempotent). */
export async function expireConfirmation(
  db: Queryable,
  stateName: string,
  id: string,
): Promise<Confirmation | null> {
  const { rows } = await db.query(
    `UPDATE ${stateSchema(stateName)}.confirmations
     SET status = 'expired', decided_at = now()
     WHERE id = $1 AND status = 'pending' AND expires_at <= now()
     RETURNING *`,
    [id],
  );
  return rows[0] ? toConfirmation(rows[0]) : null;
}

/** Record how an executing request ended. */
export async function finishConfirmation(
  db: Queryable,
  stateName: string,
  id: string,
  status: "done" | "failed",
  result: Record<string, unknown>,
): Promise<void> {
  await db.query(
    `UPDATE ${stateSchema(stateName)}.confirmations SET status = $2, result = $3 WHERE id = $1 AND status = 'executing'`,
    [id, status, JSON.stringify(result)],
  );
}

/** Pending requests whose time is up (for a sweeper that updates their cards). */
export async function duePending(db: Queryable, stateName: string, limit = 50): Promise<Confirmation[]> {
  const { rows } = await db.query(
    `SELECT * FROM ${stateSchema(stateName)}.confirmations
     WHERE status = 'pending' AND expires_at <= now() ORDER BY expires_at LIMIT $1`,
    [limit],
  );
  return rows.map(toConfirmation);
}

/**
 * Executing requests whose execution started more than `seconds` ago: the process running them
 * stopped, or could not record how they ended.
 */
export async function staleExecuting(
  db: Queryable,
  stateName: string,
  seconds: number,
  limit = 50,
): Promise<Confirmation[]> {
  const { rows } = await db.query(
    `SELECT * FROM ${stateSchema(stateName)}.confirmations
     WHERE status = 'executing' AND decided_at <= now() - make_interval(secs => $1)
     ORDER BY decided_at LIMIT $2`,
    [seconds, limit],
  );
  return rows.map(toConfirmation);
}

/** Close a stale executing request as failed with `result` (once, whichever replica gets there). */
export async function abandonExecution(
  db: Queryable,
  stateName: string,
  id: string,
  seconds: number,
  result: Record<string, unknown>,
): Promise<Confirmation | null> {
  const { rows } = await db.query(
    `UPDATE ${stateSchema(stateName)}.confirmations SET status = 'failed', result = $3
     WHERE id = $1 AND status = 'executing' AND decided_at <= now() - make_interval(secs => $2)
     RETURNING *`,
    [id, seconds, JSON.stringify(result)],
  );
  return rows[0] ? toConfirmation(rows[0]) : null;
}
