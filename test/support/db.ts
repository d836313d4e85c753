// Test helpers for Oban's tables: each test file works in its own schema (prefix) of the shared database.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { createObanSchema } from "../../devkit/oban/schema.ts";

export { insertJob, type JobFields } from "../../devkit/oban/rows.ts";

export interface ObanTestSchema {
  /** A fresh schema name such as `t_1a2b3c4d5e6f`, holding oban_jobs, oban_peers and the enum. */
  prefix: string;
  pool: pg.Pool;
  /** Drops the schema and closes the pool. */
  close(): Promise<void>;
}

export function testPool(max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: inject("databaseUrl"), max });
  // pool.end() resolves before idle sockets are closed; an error on an idle client (e.g. the server
  // shutting down after the run) must not crash the worker as an unhandled 'error' event.
  pool.on("error", () => {});
  return pool;
}

export async function freshObanPrefix(): Promise<ObanTestSchema> {
  const prefix = `t_${randomBytes(6).toString("hex")}`;
  const pool = testPool();
  try {
    await createObanSchema(pool, prefix);
  } catch (err) {
    await pool.end();
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    prefix,
    pool,
    close() {
      closing ??= (async () => {
        try {
          await pool.query(`DROP SCHEMA IF EXISTS "${prefix}" CASCADE`);
        } finally {
          await pool.end();
        }
      })();
      return closing;
    },
  };
}
