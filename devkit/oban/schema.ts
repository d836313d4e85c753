// Creates Oban's v14 tables (see oban-v14.sql) in a schema, for tests and the local demo.
import { readFileSync } from "node:fs";
import type pg from "pg";

const PREFIX_PATTERN = /^[a-z_][a-z0-9_]*$/;
/** Oban's migration version this schema reproduces (stored as the table comment). */
export const OBAN_SCHEMA_VERSION = 14;

let template: string | undefined;

function obanSql(prefix: string): string {
  template ??= readFileSync(new URL("./oban-v14.sql", import.meta.url), "utf8");
  return template.replaceAll("{{prefix}}", prefix);
}

/** Throws unless `prefix` is a plain lower-case Postgres identifier of at most 63 bytes. */
export function assertObanPrefix(prefix: string): void {
  if (!PREFIX_PATTERN.test(prefix) || prefix.length > 63) {
    throw new Error(
      `Invalid Oban prefix ${JSON.stringify(prefix)}: use a schema name made of a-z, 0-9 and _ ` +
        "(not starting with a digit, at most 63 characters).",
    );
  }
}

/**
 * Creates schema `prefix`, the `oban_job_state` enum, `oban_jobs` (with its checks, indexes and the
 * version comment '14') and `oban_peers`, exactly as Oban's migrations V01–V14 leave them. Idempotent.
 * The statements run as one transaction (a single multi-statement query).
 */
export async function createObanSchema(client: pg.ClientBase | pg.Pool, prefix = "public"): Promise<void> {
  assertObanPrefix(prefix);
  await client.query(obanSql(prefix));
}
