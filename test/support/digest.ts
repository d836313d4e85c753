// Digest snapshots for pure tests (decide, diff, views), built like buildDigest builds them; and a
// closed loopback port to point a backend at.
import { createServer } from "node:net";
import { LogLevel, WebClient } from "@slack/web-api";
import { type DigestSnapshot, postureInput, type SchemaDigest } from "../../src/core/digest.ts";
import { posture } from "../../src/core/posture.ts";
import { emptyCounts } from "../../src/core/rollup.ts";
import type { ReasonClass } from "../../src/core/types.ts";

/** A readable, quiet schema; override what the test is about. */
export function schemaDigest(
  schema: string,
  overrides: Partial<SchemaDigest> & { failedByClass?: Partial<Record<ReasonClass, number>> } = {},
): SchemaDigest {
  const { failedByClass, ...rest } = overrides;
  const byClass = { ...emptyCounts().byClass, ...failedByClass };
  const total = Object.values(byClass).reduce((n, v) => n + v, 0);
  return {
    schema,
    alias: null,
    mode: "oban",
    index: `prod_${schema.split(".").pop()?.toLowerCase()}`,
    failed: { version: 1, total, byClass, scope: "all" },
    sync: {
      terminal: { backend: 0, queue: total },
      pending: { backend: 0, queue: 0, retrying: 0 },
      signals: total > 0 ? ["failed_sync_work"] : [],
      reindex: { target: "prod_x__reindex", state: "idle", cutover: "not_started" },
      summary: total > 0 ? "Sync failures need attention" : "No pending or failed sync work found",
    },
    contract: null,
    problems: [],
    ...rest,
  };
}

/** A schema whose reconcile read failed (Meilisearch unreachable). */
export function unreadable(
  schema: string,
  message = "Meilisearch at http://127.0.0.1:1 is unreachable (connection failed); check meilisearch.url and that the server is running",
): SchemaDigest {
  return schemaDigest(schema, {
    failed: null,
    sync: null,
    problems: [{ check: "sync", backend: "meilisearch", code: "meilisearch_unreachable", message }],
  });
}

export function snapshot(
  schemas: SchemaDigest[],
  checkedAt = "2026-11-20T09:00:00.000Z",
  digest = "search-morning",
): DigestSnapshot {
  return {
    version: 1,
    digest,
    checkedAt,
    posture: posture(schemas.map(postureInput)),
    schemas,
  };
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The real WebClient against the fake Slack API, as digests should use it: 429s come back to the
 * poster (which waits Retry-After itself) and nothing is retried behind its back.
 */
export function digestClient(slackApiUrl: string): WebClient {
  return new WebClient("xoxb-digest-test", {
    slackApiUrl,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    logLevel: LogLevel.ERROR,
  });
}
