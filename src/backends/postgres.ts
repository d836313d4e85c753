// The Postgres connection: a pg Pool with Oban-friendly type parsing and errors mapped to
// one-sentence operator errors.
import pg from "pg";
import { type ErrorCode, OperatorError } from "../errors.ts";
import { withTimeout } from "../timeout.ts";

/** The pool and a checked-out client, named here so no module outside backends/state imports pg. */
export type DbPool = pg.Pool;
export type DbClient = pg.PoolClient;
export type DbQuery = pg.QueryConfig;

/** Whether `error` is an error Postgres itself answered with (a failed statement, a lock timeout…). */
export function isDatabaseError(error: unknown): boolean {
  return error instanceof pg.DatabaseError;
}

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
  /** Bound on opening a connection and on waiting for a free client of the pool. */
  connectTimeoutMs?: number;
  /** Server side: Postgres cancels a statement running longer. */
  statementTimeoutMs?: number;
  /**
   * Client side, above the statement timeout: a query with no answer by then fails and its client
   * is destroyed (a frozen server or a dead network path never answers, and never cancels).
   */
  queryTimeoutMs?: number;
  /** TCP keepalive probes start after this much idle time (a dead path is noticed, not waited on). */
  keepAliveInitialDelayMs?: number;
  applicationName?: string;
  /** Postgres `work_mem` for the bot's sessions (default 16MB). */
  workMem?: string;
}

/** The defaults (also the config's): every wait on Postgres is bounded. */
export const POOL_DEFAULTS = {
  max: 5,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 8_000,
  queryTimeoutMs: 10_000,
  keepAliveInitialDelayMs: 10_000,
} as const;

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const o = { ...POOL_DEFAULTS, ...options };
  const pool = new pg.Pool({
    connectionString: url,
    max: o.max,
    // node-pg uses it for both: the TCP connect and startup, and the wait in the pool's queue.
    connectionTimeoutMillis: o.connectTimeoutMs,
    statement_timeout: o.statementTimeoutMs,
    query_timeout: Math.max(o.queryTimeoutMs, o.statementTimeoutMs + 1_000),
    keepAlive: true,
    keepAliveInitialDelayMillis: o.keepAliveInitialDelayMs,
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
  // (Checked-out clients get their own listener: `transaction`; pool.query adds one itself, and
  // destroys a client whose query failed or timed out.)
  pool.on("error", () => {});
  return pool;
}

/** A transaction given up by its deadline: the connection was cut, so the server rolls it back. */
export class TransactionDeadline extends Error {
  override readonly name = "TransactionDeadline";
  constructor(readonly ms: number) {
    super(`Postgres did not answer within ${ms} ms`);
  }
}

/** What Postgres says became of a transaction id; null when it cannot be asked (or no longer knows). */
export type CommitOutcome = "committed" | "aborted" | null;

/**
 * COMMIT was sent and its answer never came, and asking Postgres afterwards did not settle it: the
 * transaction may or may not have committed. `settle()` asks again (for a caller that could not
 * wait, e.g. a click bounded to seconds).
 */
export class CommitOutcomeUnknown extends Error {
  override readonly name = "CommitOutcomeUnknown";
  constructor(
    readonly xid: string,
    readonly settle: () => Promise<CommitOutcome>,
    /** What the transaction's work returned (what was committed, if it was). */
    readonly result: unknown,
    options: { cause: unknown },
  ) {
    super(
      "the connection to Postgres was lost while committing, and whether the commit took effect is not known",
      options,
    );
  }
}

export interface TransactionOptions {
  /**
   * Give up after this long: the connection is cut, so the transaction cannot commit unless COMMIT
   * was already on its way (then `CommitOutcomeUnknown`, at once, without asking Postgres).
   */
  deadlineMs?: number;
  /** How long to keep asking whether a COMMIT whose answer was lost took effect (default 3 s). */
  settleWithinMs?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Ask (on a fresh connection) what became of transaction `xid`, for up to `withinMs`. */
export async function commitOutcome(pool: pg.Pool, xid: string, withinMs: number): Promise<CommitOutcome> {
  const until = Date.now() + withinMs;
  for (;;) {
    const left = Math.max(until - Date.now(), 1);
    const ask = pool.query<{ s: string | null }>({
      text: "SELECT txid_status($1::bigint) AS s",
      values: [xid],
      query_timeout: left,
    } as pg.QueryConfig);
    try {
      const { rows } = await withTimeout(ask, left, () => {
        throw new Error("no answer");
      });
      const status = rows[0]?.s ?? null;
      if (status === "committed" || status === "aborted") return status;
      // Null: too old for the commit log. "in progress": the lost backend has not ended yet.
      if (status === null) return null;
    } catch {
      // Still unreachable; ask again while there is time.
    }
    if (Date.now() >= until) return null;
    await sleep(Math.min(200, Math.max(until - Date.now(), 0)));
  }
}

/** The server answered with an ordinary error: the connection is fine and the statement failed. */
function serverRefused(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.severity === "ERROR";
}

/** Whether an error a transaction failed with leaves its connection usable for ROLLBACK. */
function connectionUsable(error: unknown): boolean {
  if (serverRefused(error) || error instanceof OperatorError) return true;
  // node-pg's own: "Query read timeout", "Connection terminated unexpectedly", "Client was closed…".
  return !(error instanceof Error && /timeout|terminated|closed|ECONN|EPIPE/i.test(error.message));
}

function cutConnection(client: pg.PoolClient): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

/** A pool or a client checked out of it (in a transaction): what a statement runs on. */
export type Queryable = Pick<pg.Pool, "query"> | Pick<pg.PoolClient, "query">;

/**
 * Run `work` in one transaction on a client checked out of `pool`: the one way the bot checks out
 * a client. While checked out the client has an 'error' listener (a connection that dies must not
 * crash the process), and a client whose connection failed or timed out is destroyed, never
 * returned to the pool.
 *
 * Outcome: the result when the transaction committed, including when COMMIT's answer was lost and
 * Postgres, asked again, says it committed; otherwise the error, rethrown as it came, when the
 * transaction certainly did not commit (it failed before COMMIT was sent, or COMMIT was refused,
 * or Postgres says it aborted); `CommitOutcomeUnknown` only when that stays unknown.
 */
export async function transaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: TransactionOptions = {},
): Promise<T> {
  const startedAt = Date.now();
  const client = await checkout(pool, options.deadlineMs);
  // Set by the listener or the deadline, read after awaits (an object, so TypeScript does not narrow it).
  const connection: { lost: Error | null; released: boolean } = { lost: null, released: false };
  const onError = (error: Error) => {
    connection.lost ??= error;
  };
  client.on("error", onError);
  const deadline =
    options.deadlineMs === undefined
      ? undefined
      : setTimeout(
          () => {
            connection.lost ??= new TransactionDeadline(options.deadlineMs as number);
            cutConnection(client);
          },
          Math.max(options.deadlineMs - (Date.now() - startedAt), 0),
        );
  let destroyWith: Error | undefined;
  const release = () => {
    if (connection.released) return;
    connection.released = true;
    clearTimeout(deadline);
    client.removeListener("error", onError);
    // A client whose connection failed, timed out or was cut is destroyed, never reused.
    client.release(connection.lost ?? destroyWith);
  };
  let xid: string | null = null;
  let commitSent = false;
  let result: T | undefined;
  try {
    const begun = (await client.query("BEGIN; SELECT txid_current()::text AS xid")) as unknown as [
      pg.QueryResult,
      pg.QueryResult<{ xid: string }>,
    ];
    xid = begun[1].rows[0]?.xid ?? null;
    result = await work(client);
    commitSent = true;
    await client.query("COMMIT");
    return result;
  } catch (error) {
    const lost = connection.lost;
    const cause: unknown = lost instanceof TransactionDeadline ? lost : error;
    if (!commitSent) {
      // Not committed. Roll back on a healthy connection; otherwise drop it (the server rolls back).
      if (lost === null && connectionUsable(error)) {
        await client.query("ROLLBACK").catch((rollbackError: Error) => {
          destroyWith = rollbackError;
        });
      } else destroyWith = error instanceof Error ? error : new Error(String(error));
      throw cause;
    }
    destroyWith = error instanceof Error ? error : new Error(String(error));
    release();
    if (serverRefused(error) || xid === null) throw cause;
    const known = xid;
    const settle = () => commitOutcome(pool, known, options.settleWithinMs ?? 3_000);
    if (lost instanceof TransactionDeadline) throw new CommitOutcomeUnknown(known, settle, result, { cause });
    const outcome = await settle();
    if (outcome === "committed") return result as T;
    if (outcome === "aborted") throw cause;
    throw new CommitOutcomeUnknown(known, settle, result, { cause });
  } finally {
    release();
  }
}

/** A client from the pool, within `deadlineMs` when given (a client that comes later goes back). */
async function checkout(pool: pg.Pool, deadlineMs: number | undefined): Promise<pg.PoolClient> {
  const connecting = pool.connect();
  if (deadlineMs === undefined) return connecting;
  try {
    return await withTimeout(connecting, deadlineMs, () => {
      throw new TransactionDeadline(deadlineMs);
    });
  } catch (error) {
    if (error instanceof TransactionDeadline) {
      connecting.then(
        (client) => client.release(),
        () => {},
      );
    }
    throw error;
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
