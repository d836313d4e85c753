// Live settings changes made by hot-apply, with the previous values needed to revert them.
import type { Queryable } from "../backends/postgres.ts";
import { stateSchema } from "./migrations.ts";

/**
 * pending: the PATCH is on its way; succeeded / failed / cancelled: its task's outcome;
 * unconfirmed: it was sent but its outcome was not seen (the answer was lost, or the task did
 * not finish in time); not_applied: sent, the answer lost, and the bot later found it never applied.
 */
export type SettingsChangeStatus =
  | "pending"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "unconfirmed"
  | "not_applied";

export interface SettingsChange {
  id: number;
  schema: string;
  index: string;
  keys: string[];
  /** Wire (camelCase) values before the change, for the touched keys. */
  previous: Record<string, unknown>;
  /** Wire values the change applied. */
  applied: Record<string, unknown>;
  taskUid: number | null;
  /** The newest Meilisearch task uid before the PATCH: its own task is newer (null: unknown). */
  taskFloor: number | null;
  status: SettingsChangeStatus;
  requestedBy: string;
  createdAt: Date;
  revertedAt: Date | null;
  revertedBy: string | null;
  revertTaskUid: number | null;
}

function toChange(r: Record<string, unknown>): SettingsChange {
  return {
    id: Number(r.id),
    schema: r.schema_module as string,
    index: r.index_uid as string,
    keys: r.keys as string[],
    previous: r.previous as Record<string, unknown>,
    applied: r.applied as Record<string, unknown>,
    taskUid: r.task_uid == null ? null : Number(r.task_uid),
    taskFloor: r.task_floor == null ? null : Number(r.task_floor),
    status: r.status as SettingsChangeStatus,
    requestedBy: r.requested_by as string,
    createdAt: r.created_at as Date,
    revertedAt: (r.reverted_at as Date | null) ?? null,
    revertedBy: (r.reverted_by as string | null) ?? null,
    revertTaskUid: r.revert_task_uid == null ? null : Number(r.revert_task_uid),
  };
}

export async function insertChange(
  db: Queryable,
  stateName: string,
  change: Pick<
    SettingsChange,
    "schema" | "index" | "keys" | "previous" | "applied" | "requestedBy" | "taskFloor"
  >,
): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO ${stateSchema(stateName)}.settings_changes
       (schema_module, index_uid, keys, previous, applied, status, requested_by, task_floor)
     VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7) RETURNING id`,
    [
      change.schema,
      change.index,
      change.keys,
      JSON.stringify(change.previous),
      JSON.stringify(change.applied),
      change.requestedBy,
      change.taskFloor,
    ],
  );
  return Number(rows[0]?.id);
}

export async function finishChange(
  db: Queryable,
  stateName: string,
  id: number,
  status: SettingsChangeStatus,
  taskUid: number | null,
): Promise<void> {
  await db.query(
    `UPDATE ${stateSchema(stateName)}.settings_changes SET status = $2, task_uid = $3 WHERE id = $1`,
    [id, status, taskUid],
  );
}

/** Record the task of a change whose answer was lost, once found; its status stays as it was. */
export async function recordChangeTask(
  db: Queryable,
  stateName: string,
  id: number,
  taskUid: number,
): Promise<void> {
  await db.query(`UPDATE ${stateSchema(stateName)}.settings_changes SET task_uid = $2 WHERE id = $1`, [
    id,
    taskUid,
  ]);
}

export async function findChange(
  db: Queryable,
  stateName: string,
  id: number,
  lock = false,
): Promise<SettingsChange | null> {
  const { rows } = await db.query(
    `SELECT * FROM ${stateSchema(stateName)}.settings_changes WHERE id = $1${lock ? " FOR UPDATE" : ""}`,
    [id],
  );
  return rows[0] ? toChange(rows[0]) : null;
}

export async function markReverted(
  db: Queryable,
  stateName: string,
  id: number,
  by: string,
  taskUid: number | null,
): Promise<void> {
  await db.query(
    `UPDATE ${stateSchema(stateName)}.settings_changes
     SET reverted_at = now(), reverted_by = $2, revert_task_uid = $3 WHERE id = $1`,
    [id, by, taskUid],
  );
}

/** Undo a revert claim whose PATCH did not apply. */
export async function clearReverted(db: Queryable, stateName: string, id: number): Promise<void> {
  await db.query(
    `UPDATE ${stateSchema(stateName)}.settings_changes
     SET reverted_at = NULL, reverted_by = NULL, revert_task_uid = NULL WHERE id = $1`,
    [id],
  );
}
