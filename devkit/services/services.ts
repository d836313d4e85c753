// The real services the tests and the local demo need: PostgreSQL with Oban's tables, and Meilisearch.
// Existing servers are used when DATABASE_URL / MEILISEARCH_URL are set; otherwise embedded ones start.
import path from "node:path";
import pg from "pg";
import { createObanSchema } from "../oban/schema.ts";
import { type MeilisearchServer, startMeilisearch } from "./meilisearchServer.ts";
import { startPostgres } from "./postgresServer.ts";
import { errorMessage } from "./util.ts";

export interface Services {
  databaseUrl: string;
  meilisearchUrl: string;
  meilisearchApiKey: string | null;
  /** The embedded Meilisearch this started (null with MEILISEARCH_URL): the sandbox pauses it for its outage. */
  meilisearchServer: MeilisearchServer | null;
  /** true where the URL came from the environment (nothing was started, nothing will be stopped). */
  external: { postgres: boolean; meilisearch: boolean };
  /** Stops what startServices started (both, even if one fails); idempotent. */
  stop(): Promise<void>;
}

export interface StartServicesOptions {
  env?: NodeJS.ProcessEnv;
  /** Receives the embedded servers' log lines, prefixed with "[postgres] " / "[meilisearch] ". */
  log?: (line: string) => void;
  /**
   * Keep the embedded servers' data in `<dataDir>/postgres` and `<dataDir>/meilisearch` across runs
   * (the sandbox's `--data-dir`). Default: temporary directories removed on stop().
   */
  dataDir?: string;
  /** `shared_buffers` of the embedded Postgres (see StartPostgresOptions). */
  sharedBuffers?: string;
}

interface Stoppable {
  name: string;
  stop(): Promise<void>;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== "" ? value.trim() : undefined;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}

async function stopAll(started: Stoppable[]): Promise<void> {
  const results = await Promise.allSettled(started.map((s) => s.stop()));
  const errors = results.flatMap((r, i) =>
    r.status === "rejected"
      ? [new Error(`Stopping ${started[i]?.name} failed: ${errorMessage(r.reason)}`)]
      : [],
  );
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, errors.map((e) => e.message).join("; "));
}

async function checkMeilisearch(url: string): Promise<void> {
  try {
    const res = await fetch(new URL("/health", url), { signal: AbortSignal.timeout(5000) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET /health answered ${res.status}`);
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : "";
    throw new Error(
      `MEILISEARCH_URL=${redactUrl(url)} is not reachable (${errorMessage(err)}${cause}). Start that server, or unset MEILISEARCH_URL to use the embedded one.`,
    );
  }
}

export async function startServices(opts: StartServicesOptions = {}): Promise<Services> {
  const env = opts.env ?? process.env;
  const log = opts.log;
  const externalDatabaseUrl = nonEmpty(env.DATABASE_URL);
  const externalMeilisearchUrl = nonEmpty(env.MEILISEARCH_URL);

  const [postgres, meilisearch] = await Promise.allSettled([
    externalDatabaseUrl
      ? undefined
      : startPostgres({
          log: log && ((line) => log(`[postgres] ${line}`)),
          ...(opts.dataDir ? { dataDir: path.join(opts.dataDir, "postgres") } : {}),
          ...(opts.sharedBuffers ? { sharedBuffers: opts.sharedBuffers } : {}),
        }),
    externalMeilisearchUrl
      ? checkMeilisearch(externalMeilisearchUrl).then(() => undefined)
      : startMeilisearch({
          log: log && ((line) => log(`[meilisearch] ${line}`)),
          ...(opts.dataDir ? { dataDir: path.join(opts.dataDir, "meilisearch") } : {}),
        }),
  ]);

  const started: Stoppable[] = [];
  if (postgres.status === "fulfilled" && postgres.value)
    started.push({ name: "PostgreSQL", stop: postgres.value.stop });
  if (meilisearch.status === "fulfilled" && meilisearch.value) {
    started.push({ name: "Meilisearch", stop: meilisearch.value.stop });
  }
  const failures = [postgres, meilisearch].flatMap((r) =>
    r.status === "rejected" ? [r.reason as unknown] : [],
  );
  if (failures.length > 0) {
    await stopAll(started).catch(() => {});
    if (failures.length === 1) throw failures[0];
    throw new AggregateError(failures, failures.map(errorMessage).join("\n"));
  }

  const databaseUrl =
    externalDatabaseUrl ?? (postgres.status === "fulfilled" ? postgres.value?.url : undefined);
  const meili = meilisearch.status === "fulfilled" ? meilisearch.value : undefined;
  const meilisearchUrl = externalMeilisearchUrl ?? meili?.url;
  if (!databaseUrl || !meilisearchUrl) throw new Error("unreachable: a service neither external nor started");

  try {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await createObanSchema(client, "public");
    } finally {
      await client.end();
    }
  } catch (err) {
    await stopAll(started).catch(() => {});
    throw new Error(`Could not create the Oban tables in ${redactUrl(databaseUrl)}: ${errorMessage(err)}`, {
      cause: err,
    });
  }

  let stopping: Promise<void> | undefined;
  return {
    databaseUrl,
    meilisearchUrl,
    meilisearchApiKey: externalMeilisearchUrl
      ? (nonEmpty(env.MEILISEARCH_API_KEY) ?? null)
      : (meili?.apiKey ?? null),
    meilisearchServer: meili ?? null,
    external: {
      postgres: externalDatabaseUrl !== undefined,
      meilisearch: externalMeilisearchUrl !== undefined,
    },
    stop() {
      stopping ??= stopAll(started);
      return stopping;
    },
  };
}
