// The Postgres connection: a pg Pool with Oban-friendly type parsing and errors mapped to
// one-sentence operator errors.
import pg from "pg";
import { OperatorError } from "../errors.ts";

const INT8 = 20;
const TIMESTAMP = 1114; // timestamp WITHOUT time zone: Oban stores UTC there.

// Parsers are per pool, not global: node-pg would otherwise read Oban's UTC timestamps as local time.
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === INT8) return (value: string) => Number(value);
    if (oid === TIMESTAMP) return (value: string) => new Date(`${value.replace(" ", "T")}Z`);
    return pg.types.getTypeParser(oid, format as "text");
  },
};

export interface PoolOptions {
  max?: number;
  connectionTimeoutMillis?: number;
  statementTimeoutMillis?: number;
  applicationName?: string;
  /** Postgres `work_mem` for the bot's sessions (default 16MB). */
  workMem?: string;
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 5,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 5_000,
    statement_timeout: options.statementTimeoutMillis ?? 15_000,
    application_name: options.applicationName ?? "scrypath-bot",
    // Exact bitmaps for the scoped counts: at the default 4 MB, the GIN + btree bitmap over a
    // busy schema goes lossy and re-checks hundreds of thousands of rows (BENCHMARKS.md).
    // Per session, at most pool size × 16 MB.
    // No parallel workers: the bot is a guest on the application's database, and one query
    // fanning out over every core starves everything else on a small machine (BENCHMARKS.md).
    options: `-c work_mem=${options.workMem ?? "16MB"} -c max_parallel_workers_per_gather=0`,
    types,
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on("error", () => {});
  return pool;
}

/**
 * Run `work` in one transaction on a client checked out of `pool`: BEGIN, then COMMIT, or ROLLBACK
 * on any error (rethrown as it came). The one way the bot checks out a client.
 */
export async function transaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}

/** Describe the database without its password, for messages. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "the configured database";
  }
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ECONNRESET",
  "57P01",
]);

/** Map a pg/network error to an OperatorError naming Postgres and what to check. */
export function postgresError(error: unknown, where: string): OperatorError {
  if (error instanceof OperatorError) return error;
  const e = error as { code?: string; message?: string };
  const message = e?.message ?? String(error);
  if (
    (e?.code && CONNECTION_CODES.has(e.code)) ||
    /timeout expired|Connection terminated|connect/i.test(message)
  ) {
    return new OperatorError(
      "postgres_unreachable",
      `Postgres at ${where} is unreachable (${e.code ?? message}); check database.url and that the server accepts connections`,
      "postgres",
      { cause: error },
    );
  }
  if (e?.code === "28P01" || e?.code === "28000") {
    return new OperatorError(
      "postgres_unreachable",
      `Postgres at ${where} refused the credentials; check the user and password in database.url`,
      "postgres",
      { cause: error },
    );
  }
  if (e?.code === "42P01" || e?.code === "3F000" || e?.code === "42704") {
    return new OperatorError(
      "oban_tables_missing",
      `the Oban tables are missing at ${where} (${message}); check database.obanPrefix and that Oban's migrations ran`,
      "postgres",
      { cause: error },
    );
  }
  return new OperatorError("postgres_error", `Postgres query failed at ${where}: ${message}`, "postgres", {
    cause: error,
  });
}
