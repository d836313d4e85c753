// Oban rows written with plain SQL, as a non-Elixir producer would: the tests' fixtures and the
// sandbox's demo deployment.
import type pg from "pg";
import { assertObanPrefix } from "./schema.ts";

export interface JobFields {
  state: string;
  queue: string;
  worker: string;
  args: Record<string, unknown>;
  errors: unknown[];
  attempt: number;
  maxAttempts: number;
  attemptedAt: Date;
  completedAt: Date;
  insertedAt: Date;
  scheduledAt: Date;
  discardedAt: Date;
  cancelledAt: Date;
  priority: number;
  meta: Record<string, unknown>;
  tags: string[];
}

type Encoder = (value: never, n: string, prefix: string) => [param: unknown, sql: string];

const text: Encoder = (value: string, n) => [value, `${n}::text`];
const int: Encoder = (value: number, n) => [value, `${n}::integer`];
const json: Encoder = (value: unknown, n) => [JSON.stringify(value), `${n}::jsonb`];
// `timestamp without time zone` holding UTC wall time, whatever the session's TimeZone is.
const utc: Encoder = (value: Date, n) => [value.toISOString(), `(${n}::timestamptz AT TIME ZONE 'UTC')`];

const COLUMNS: { [K in keyof JobFields]: [column: string, encode: Encoder] } = {
  state: ["state", (value: string, n, prefix) => [value, `${n}::text::"${prefix}".oban_job_state`]],
  queue: ["queue", text],
  worker: ["worker", text],
  args: ["args", json],
  // node-pg sends a JS array as a Postgres array literal: one JSON text per element, cast to jsonb[].
  errors: ["errors", (value: unknown[], n) => [value.map((e) => JSON.stringify(e)), `${n}::text[]::jsonb[]`]],
  attempt: ["attempt", int],
  maxAttempts: ["max_attempts", int],
  attemptedAt: ["attempted_at", utc],
  completedAt: ["completed_at", utc],
  insertedAt: ["inserted_at", utc],
  scheduledAt: ["scheduled_at", utc],
  discardedAt: ["discarded_at", utc],
  cancelledAt: ["cancelled_at", utc],
  priority: ["priority", int],
  meta: ["meta", json],
  tags: ["tags", (value: string[], n) => [value, `${n}::text[]`]],
};

/**
 * Inserts one `oban_jobs` row with plain SQL (as a non-Elixir producer would) and returns its id.
 * Unset fields take the table defaults, except `worker` (default `Scrypath.Oban.UpsertWorker`).
 * `errors` becomes a real jsonb[] (one jsonb per element); timestamps are stored as UTC.
 */
export async function insertJob(
  pool: pg.Pool | pg.ClientBase,
  prefix: string,
  job: Partial<JobFields> = {},
): Promise<number> {
  assertObanPrefix(prefix);
  const fields: Partial<JobFields> = { worker: "Scrypath.Oban.UpsertWorker", ...job };
  const columns: string[] = [];
  const sql: string[] = [];
  const values: unknown[] = [];
  for (const [key, value] of Object.entries(fields) as [keyof JobFields, unknown][]) {
    if (value === undefined) continue;
    const [column, encode] = COLUMNS[key];
    const [param, expression] = encode(value as never, `$${values.length + 1}`, prefix);
    columns.push(column);
    sql.push(expression);
    values.push(param);
  }
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO "${prefix}".oban_jobs (${columns.join(", ")}) VALUES (${sql.join(", ")}) RETURNING id`,
    values,
  );
  return Number(rows[0]?.id);
}
