// After a Postgres read gave up waiting, find out whether it was stuck behind a lock: a table the
// read needs, held in ACCESS EXCLUSIVE mode (the only mode that blocks a plain SELECT) by
// another session. Asked over a fresh connection with short timeouts, because the pool's own
// connections are the ones stuck; never throws (no answer means "not known to be a lock").
import pg from "pg";
import { withTimeout } from "../timeout.ts";

export interface TableRef {
  schema: string;
  table: string;
}

export interface LockHolder {
  relation: string;
  pid: number | null;
  mode: string | null;
}

export const LOCK_CHECK_TIMEOUT_MS = 2_000;

export async function findBlockingLock(
  url: string,
  tables: readonly TableRef[],
  timeoutMs = LOCK_CHECK_TIMEOUT_MS,
): Promise<LockHolder | null> {
  if (tables.length === 0) return null;
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: "scrypath-bot lock check",
  });
  client.on("error", () => {});
  const check = (async (): Promise<LockHolder | null> => {
    await client.connect();
    const { rows } = await client.query<{ relation: string; pid: number; mode: string }>(
      `SELECT c.relname AS relation, l.pid, l.mode
       FROM pg_locks l
       JOIN pg_class c ON c.oid = l.relation
       JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN unnest($1::text[], $2::text[]) AS t(schema_name, table_name)
         ON t.schema_name = n.nspname AND t.table_name = c.relname
       WHERE l.granted AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
       ORDER BY l.pid LIMIT 1`,
      [tables.map((t) => t.schema), tables.map((t) => t.table)],
    );
    const row = rows[0];
    return row ? { relation: row.relation, pid: row.pid ?? null, mode: row.mode ?? null } : null;
  })().catch(() => null);
  try {
    return await withTimeout(check, timeoutMs + 500, () => null);
  } finally {
    client.end().catch(() => {});
  }
}
