// Readiness: can the bot reach Postgres and Meilisearch right now? Both checks run in parallel,
// each bounded by a short timeout; errors are one redacted line naming what failed.
import { type DbPool, type DbQuery, describeDatabase, postgresError } from "./backends/postgres.ts";
import { firstLine, redactText } from "./core/redact.ts";
import { withTimeout } from "./timeout.ts";

export interface Check {
  ok: boolean;
  error?: string;
}

export interface Readiness {
  ready: boolean;
  postgres: Check;
  meilisearch: Check;
}

export interface ReadinessDeps {
  db: DbPool;
  databaseUrl: string;
  meilisearch: { url: string; apiKey: string | null };
  /** Per check; default 2 s. */
  timeoutMs?: number;
}

class CheckTimeout extends Error {}

function failure(message: string): Check {
  return { ok: false, error: firstLine(redactText(message), 300) };
}

async function checkPostgres(deps: ReadinessDeps, ms: number): Promise<Check> {
  const where = describeDatabase(deps.databaseUrl);
  // The query keeps running after a timeout; swallow its late failure.
  const query = deps.db.query({ text: "SELECT 1", query_timeout: ms } as DbQuery);
  query.catch(() => {});
  try {
    const what = `Postgres at ${where}`;
    await withTimeout(query, ms, () => {
      throw new CheckTimeout(`${what} did not answer within ${ms} ms`);
    });
    return { ok: true };
  } catch (error) {
    if (error instanceof CheckTimeout) return failure(error.message);
    return failure(postgresError(error, where).message);
  }
}

async function checkMeilisearch(deps: ReadinessDeps, ms: number): Promise<Check> {
  const url = `${deps.meilisearch.url.replace(/\/+$/, "")}/health`;
  const where = redactText(deps.meilisearch.url);
  try {
    const response = await fetch(url, {
      headers: deps.meilisearch.apiKey ? { Authorization: `Bearer ${deps.meilisearch.apiKey}` } : {},
      signal: AbortSignal.timeout(ms),
    });
    const body = (await response.json().catch(() => null)) as { status?: string } | null;
    if (response.ok && body?.status === "available") return { ok: true };
    return failure(
      `Meilisearch at ${where} answered /health with HTTP ${response.status}${body?.status ? ` (${body.status})` : ""}`,
    );
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string } };
    if (e?.name === "TimeoutError" || e?.name === "AbortError") {
      return failure(`Meilisearch at ${where} did not answer /health within ${ms} ms`);
    }
    // fetch says "fetch failed"; the cause has the useful part (ECONNREFUSED, bad port, …).
    const reason = e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error);
    return failure(`Meilisearch at ${where} is unreachable (${reason})`);
  }
}

export async function checkReadiness(deps: ReadinessDeps): Promise<Readiness> {
  const ms = deps.timeoutMs ?? 2_000;
  const [postgres, meilisearch] = await Promise.all([checkPostgres(deps, ms), checkMeilisearch(deps, ms)]);
  return { ready: postgres.ok && meilisearch.ok, postgres, meilisearch };
}
