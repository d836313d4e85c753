// Every read the operator sends to a backend is bounded, and when it fails or runs out of time the
// error names that backend and says what happened (refused, did not answer within N s, a lock
// wait…), in the sentence postgresError / meiliError give it. One helper for every surface.
import { describeMeilisearch, isMeiliError, meiliError, meiliTimeout } from "../backends/meilisearch.ts";
import { findBlockingLock, type TableRef } from "../backends/pgLocks.ts";
import { describeDatabase, isDatabaseError, postgresError, postgresTimeout } from "../backends/postgres.ts";
import { OperatorError } from "../errors.ts";
import { withTimeout } from "../timeout.ts";
import type { OperatorContext } from "./context.ts";

/**
 * How long one backend's part of a read may take. Slash commands must answer within 15 s: a
 * hung backend costs 10 s, a lock check 2 s more, and the other backend's figures still show.
 */
export const READ_TIMEOUT_MS = 10_000;

class Late extends Error {}

/** 10000 → "10 s", 2987 → "3 s", 50 → "0.05 s". */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 1000 ? 3 : 1))} s`;
}

/** The error of work spanning both backends that took longer than `ms`: "… did not answer within 10 s". */
export function timedOut(what: string, ms: number): OperatorError {
  return new OperatorError("timeout", `${what} did not answer within ${seconds(ms)}`);
}

export function readTimeoutMs(ctx: OperatorContext): number {
  return ctx.readTimeoutMs ?? READ_TIMEOUT_MS;
}

/** A Meilisearch read, bounded, its failure mapped by meiliError. */
export async function meiliRead<T>(ctx: OperatorContext, work: () => Promise<T>): Promise<T> {
  const ms = readTimeoutMs(ctx);
  try {
    return await withTimeout(Promise.resolve().then(work), ms, () => {
      throw new Late();
    });
  } catch (error) {
    if (error instanceof Late) throw meiliTimeout(describeMeilisearch(ctx.meili.config.host), ms);
    throw meiliError(error, ctx.meili);
  }
}

/** Errors after which the read may have been waiting for a lock. */
function mayBeLockWait(error: unknown): boolean {
  if (error instanceof Late) return true;
  const e = error as { code?: string; message?: string };
  return (
    e?.code === "57014" ||
    e?.code === "55P03" ||
    /timeout exceeded when trying to connect|query read timeout/i.test(String(e?.message ?? ""))
  );
}

/**
 * A Postgres read, bounded, its failure mapped by postgresError. After a timeout, a fresh
 * connection asks whether another session holds an ACCESS EXCLUSIVE lock on one of `tables`: then
 * the sentence says a lock wait, not "did not answer".
 */
export async function postgresRead<T>(
  ctx: OperatorContext,
  tables: readonly TableRef[],
  work: () => Promise<T>,
): Promise<T> {
  const ms = readTimeoutMs(ctx);
  const url = ctx.config.database.url;
  const where = describeDatabase(url);
  try {
    return await withTimeout(Promise.resolve().then(work), ms, () => {
      throw new Late();
    });
  } catch (error) {
    if (error instanceof OperatorError) throw error;
    const lock = mayBeLockWait(error) ? await findBlockingLock(url, tables) : null;
    if (error instanceof Late && !lock) throw postgresTimeout(where, ms);
    const connectTimeoutMs = (ctx.db as { options?: { connectionTimeoutMillis?: number } }).options
      ?.connectionTimeoutMillis;
    throw postgresError(error instanceof Late ? { code: "55P03" } : error, where, {
      lock,
      ...(connectTimeoutMs ? { connectTimeoutMs } : {}),
    });
  }
}

function safeUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/** The tables a read of the Oban queue needs. */
export function obanTables(ctx: OperatorContext): TableRef[] {
  return [{ schema: ctx.config.database.obanPrefix, table: "oban_jobs" }];
}

/** The bot's own tables a read needs (audit log, replay links). */
export function stateTables(ctx: OperatorContext, ...tables: string[]): TableRef[] {
  return tables.map((table) => ({ schema: ctx.config.state.schema, table }));
}

/**
 * A backend failure that reached a surface without going through a bounded read (a path that
 * forgot to map it), as the same OperatorError those reads give; null for anything else (a bug).
 */
export function asBackendError(error: unknown, ctx: OperatorContext): OperatorError | null {
  if (error instanceof OperatorError) return error.backend ? error : null;
  if (isMeiliError(error)) return meiliError(error, ctx.meili);
  const e = error as { code?: unknown; syscall?: unknown; severity?: unknown; port?: unknown } | null;
  // A socket error is Postgres's only when it was on the database's port (Slack calls fail too).
  const dbPort = Number(safeUrl(ctx.config.database.url)?.port || 5432);
  const network =
    typeof e?.syscall === "string" &&
    typeof e?.code === "string" &&
    (e.port === undefined || e.port === dbPort);
  const database = isDatabaseError(error) || (typeof e?.severity === "string" && typeof e?.code === "string");
  const pool =
    error instanceof Error &&
    /timeout exceeded when trying to connect|Connection terminated/i.test(error.message);
  if (network || database || pool) return postgresError(error, describeDatabase(ctx.config.database.url));
  return null;
}
