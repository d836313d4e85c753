// An operator wired to the real test services, isolated per test file: its own Oban schema
// prefix in Postgres and its own index-name prefix in Meilisearch.
import type { Meilisearch } from "meilisearch";
import { inject } from "vitest";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { createOperator, type Operator } from "../../src/operator/index.ts";
import { freshObanPrefix, type ObanTestSchema } from "./db.ts";
import { deleteIndexes, testClient, uniqueIndexPrefix } from "./meili.ts";

export interface TestDeployment {
  config: Config;
  operator: Operator;
  oban: ObanTestSchema;
  meili: Meilisearch;
  /** Runtime index prefix: live indexes are `<indexPrefix>_<name>`. */
  indexPrefix: string;
  /** Config as a plain object, for writing YAML files or re-parsing with changes. */
  raw: Record<string, unknown>;
  close(): Promise<void>;
}

export function testConfigObject(
  prefix: string,
  indexPrefix: string,
  schemas: Record<string, unknown>[],
): Record<string, unknown> {
  return {
    meilisearch: {
      url: inject("meilisearchUrl"),
      ...(inject("meilisearchApiKey") ? { apiKey: inject("meilisearchApiKey") } : {}),
    },
    database: { url: inject("databaseUrl"), obanPrefix: prefix },
    indexPrefix,
    schemas,
    // The bot's own tables, isolated per test file like the Oban prefix.
    state: { schema: `scrypath_bot_${indexPrefix}` },
  };
}

/**
 * A deployment whose state schema is migrated at set-up, as `scrypath-bot migrate` does before a
 * rollout (the bot never migrates); `{ migrate: false }` leaves it missing.
 */
export async function testDeployment(
  schemas: Record<string, unknown>[],
  options: { migrate?: boolean } = {},
): Promise<TestDeployment> {
  const oban = await freshObanPrefix();
  // Index uids allow [a-zA-Z0-9_-]; strip the helper's trailing underscore, naming adds one.
  const indexPrefix = uniqueIndexPrefix().replace(/_$/, "");
  const raw = testConfigObject(oban.prefix, indexPrefix, schemas);
  const config = parseConfig(raw, {});
  const operator = createOperator({
    config,
    db: createPool(config.database.url, { max: 4 }),
    meili: createMeiliClient(config.meilisearch),
  });
  if (options.migrate !== false) await operator.migrate();
  const meili = testClient();
  return {
    config,
    operator,
    oban,
    meili,
    indexPrefix,
    raw,
    async close() {
      await operator.close();
      await oban.pool.query(`DROP SCHEMA IF EXISTS "${config.state.schema}" CASCADE`);
      await oban.close();
      await deleteIndexes(meili, `${indexPrefix}_`);
    },
  };
}

/** A realistic Oban `errors` element, as Oban appends them. */
export function obanError(error: string, attempt = 1, at = new Date("2026-11-20T10:00:00Z")) {
  return { at: at.toISOString(), attempt, error };
}
