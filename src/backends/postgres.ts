// The Postgres connection: a pg Pool with Oban-friendly type parsing and errors mapped to
// one-sentence operator errors.
import pg from "pg";
import { type ErrorCode, OperatorError } from "../errors.ts";

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

/** Describe the database without its password, for messages. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "the configured database";
  }
}

/** What a Postgres failure was, for the sentence: the network, the server, or the read itself. */
export interface PostgresErrorContext {
  /** The pool's connection timeout, to say how long a connection attempt waited. */
  connectTimeoutMs?: number;
  /** A lock another session holds on a table the read needed (found after a lock wait). */
  lock?: { relation: string; pid: number | null; mode: string | null } | null;
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/** Node's network error codes, by what happened. */
const REFUSED = new Set(["ECONNREFUSED"]);
const DNS = new Set(["ENOTFOUND", "EAI_AGAIN"]);
const NO_ROUTE = new Set(["EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT"]);
const DROPPED = new Set(["ECONNRESET", "EPIPE", "57P01", "57P02", "57P03"]);

/**
 * Map a pg/network error to an OperatorError naming Postgres and what happened, in one sentence
 * with what to do next: refused, not resolved, did not answer within N s, a lock wait, statement
 * timeout, credentials, missing tables. `where` describes the database without its password.
 */
export function postgresError(
  error: unknown,
  where: string,
  context: PostgresErrorContext = {},
): OperatorError {
  if (error instanceof OperatorError) return error;
  const e = error as { code?: string; message?: string };
  const code = e?.code ?? "";
  const message = e?.message ?? String(error);
  const make = (errorCode: ErrorCode, sentence: string) =>
    new OperatorError(errorCode, sentence, "postgres", { cause: error });
  if (context.lock || code === "55P03") {
    const lock = context.lock;
    const holder = lock
      ? `a lock on ${lock.relation} held by another session${lock.pid ? ` (pid ${lock.pid}${lock.mode ? `, ${lock.mode}` : ""})` : ""}`
      : "a lock held by another session (lock_timeout, 55P03)";
    return make(
      "postgres_lock",
      `Postgres at ${where} could not answer: the read was waiting for ${holder}; find that session with pg_blocking_pids() or pg_stat_activity and let it finish or end it, then try again`,
    );
  }
  if (code === "57014") {
    const statementTimeout = /statement timeout/i.test(message);
    return make(
      "postgres_timeout",
      statementTimeout
        ? `Postgres at ${where} canceled the read at its statement_timeout (57014); the database may be overloaded: try again, and check its slow queries`
        : `Postgres at ${where} canceled the read (57014, ${message}); try again`,
    );
  }
  if (REFUSED.has(code)) {
    return make(
      "postgres_unreachable",
      `Postgres at ${where} is unreachable: it refused the connection (${code}); check that the server is running and that database.url names its host and port`,
    );
  }
  if (DNS.has(code)) {
    return make(
      "postgres_unreachable",
      `Postgres at ${where} is unreachable: its host name did not resolve (${code}); check the host in database.url and the bot's DNS`,
    );
  }
  if (NO_ROUTE.has(code)) {
    return make(
      "postgres_unreachable",
      `Postgres at ${where} is unreachable: no route to it (${code}); check the network between the bot and the database`,
    );
  }
  // pg-pool, when every connection stayed busy: "timeout exceeded when trying to connect".
  if (/timeout exceeded when trying to connect/i.test(message)) {
    const within = context.connectTimeoutMs ? ` within ${seconds(context.connectTimeoutMs)}` : "";
    return make(
      "postgres_timeout",
      `Postgres at ${where} did not answer${within}: every connection of the bot's pool was still waiting on earlier reads; check that the server is up and not overloaded, then try again`,
    );
  }
  // pg, when a new connection got no answer: "Connection terminated due to connection timeout".
  if (/connection timeout|timeout expired/i.test(message)) {
    const within = context.connectTimeoutMs ? ` within ${seconds(context.connectTimeoutMs)}` : "";
    return make(
      "postgres_unreachable",
      `Postgres at ${where} did not answer${within} (no connection could be opened); check that the server is up and reachable from the bot, then try again`,
    );
  }
  if (/query read timeout/i.test(message)) {
    return make(
      "postgres_timeout",
      `Postgres at ${where} did not answer the read in time (query timeout); check that the server is up and not overloaded, then try again`,
    );
  }
  if (DROPPED.has(code) || /Connection terminated|connection closed/i.test(message)) {
    return make(
      "postgres_unreachable",
      `Postgres at ${where} closed the connection (${code || message}); it may be restarting or failing over: try again in a minute`,
    );
  }
  if (code === "28P01" || code === "28000") {
    return make(
      "postgres_unreachable",
      `Postgres at ${where} refused the credentials; check the user and password in database.url`,
    );
  }
  if (code === "42P01" || code === "3F000" || code === "42704") {
    return make(
      "oban_tables_missing",
      `the Oban tables are missing at ${where} (${message}); check database.obanPrefix and that Oban's migrations ran`,
    );
  }
  if (/connect/i.test(message)) {
    return make(
      "postgres_unreachable",
      `Postgres at ${where} is unreachable (${code || message}); check database.url and that the server accepts connections`,
    );
  }
  return make("postgres_error", `Postgres query failed at ${where}: ${message}`);
}

/** "did not answer within N s" for a Postgres read the bot stopped waiting for. */
export function postgresTimeout(where: string, ms: number): OperatorError {
  return new OperatorError(
    "postgres_timeout",
    `Postgres at ${where} did not answer within ${seconds(ms)}; check that the server is up and not overloaded, then try again`,
    "postgres",
  );
}
