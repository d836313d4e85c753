// The sandbox's demo deployment: the people and the channel of a small on-call team, the bot's
// configuration, and a realistic state of Postgres and Meilisearch to look at. Four schemas (two
// synced through Oban, two inline); failed work of every reason class, from real Meilisearch task
// failures and Oban rows carrying the error texts (with stack-trace lines) an Elixir application
// writes; a reindex under way on one schema (tasks on `<live>__reindex`, the hand-off job still
// executing); one index whose live settings drifted from its schema's contract.
import type { Meilisearch } from "meilisearch";
import type pg from "pg";
import { transaction } from "../../src/backends/postgres.ts";
import type { Config } from "../../src/config.ts";
import { resolveDeclaredSettings, toWire } from "../../src/core/settings.ts";
import type { SchemaContract } from "../../src/core/types.ts";
import { ensureState } from "../../src/state/migrations.ts";
import type { SlackChannel, SlackUser, Team } from "../fakeSlack/index.ts";
import { failDeletionTask, failDocumentTask } from "../meiliTasks.ts";
import { insertJob, type JobFields } from "../oban/rows.ts";
import { ERRORS } from "./elixirErrors.ts";

export const TEAM: Team = { id: "T0SANDBOX1", domain: "scrypath-sandbox", name: "Scrypath Sandbox" };
export const BOT = { userId: "U0SCRYBOT1", botId: "B0SCRYBOT1", name: "scrypath" };
export const CHANNEL: SlackChannel = { id: "C0SEARCHOPS", name: "search-oncall" };

/** Listed in access.operators.users. */
export const ANA: SlackUser = { id: "U0ANALIMA1", name: "ana", realName: "Ana Lima", title: "operator" };
/** An operator through the @search-ops user group (usergroups.users.list). */
export const BEN: SlackUser = {
  id: "U0BENOKAF2",
  name: "ben",
  realName: "Ben Okafor",
  title: "operator (via @search-ops)",
};
/** Nobody's operator: may read, may not request or confirm. */
export const VIC: SlackUser = {
  id: "U0VICTRAN3",
  name: "vic",
  realName: "Vic Tran",
  title: "not an operator",
};
export const USERS: SlackUser[] = [ANA, BEN, VIC];
export const OPS_GROUP = { id: "S0SEARCHOPS", handle: "search-ops", members: [BEN.id] };

export const DIGEST = { name: "search-morning", cron: "0 9 * * 1-5", timezone: "Europe/Berlin" };

export const INDEX_PREFIX = "prod";
export const OBAN_PREFIX = "public";
const SEED_SCHEMA = "scrypath_sandbox";
const SEED_VERSION = 1;

const POST = "MyApp.Blog.Post";
const PRODUCT = "MyApp.Catalog.Product";
const USER = "MyApp.Accounts.User";
const ARTICLE = "MyApp.Help.Article";
const QUEUES = { posts: "search_sync", products: "search_catalog", handOff: "search_maintenance" };
export const SANDBOX_QUEUES = [QUEUES.posts, QUEUES.products];

const INDEXES = {
  posts: `${INDEX_PREFIX}_post`,
  products: `${INDEX_PREFIX}_product`,
  users: `${INDEX_PREFIX}_user`,
  articles: `${INDEX_PREFIX}_article`,
};

const CONTRACTS = {
  posts: {
    fields: ["title", "body", "author", "status", "published_at"],
    filterable: ["status", "author"],
    sortable: ["published_at"],
    faceting: { attributes: ["status"], maxValuesPerFacet: 50 },
    settings: { synonyms: { postgres: ["postgresql", "pg"] }, stopWords: ["a", "an", "the"] },
  },
  products: {
    fields: ["name", "sku", "category", "price_cents", "in_stock"],
    filterable: ["category", "in_stock"],
    sortable: ["price_cents"],
  },
  users: {
    fields: ["name", "email", "team", "role", "status"],
    filterable: ["team", "role", "status"],
    sortable: ["inserted_at", "last_seen_at"],
    settings: { synonyms: { admin: ["administrator", "owner"] } },
  },
  articles: {
    fields: ["title", "body", "section"],
    filterable: ["section"],
    sortable: ["updated_at"],
  },
};

/** The Oban-synced schemas' max_attempts: low, so a failure is terminal within the sandbox's outage. */
export const DEMO_MAX_ATTEMPTS = 3;

/** Posts whose sync failed (seeded below): not in the live index. */
const FAILED_POSTS = [17, 18, 19, 23, 26, 29, 30, 33, 34, 35, 36, 37, 39];

const REINDEX_WORKER = { worker: "MyApp.Search.ReindexWorker", queue: QUEUES.handOff };
const BACKFILL_WORKER = { worker: "MyApp.Search.BackfillWorker", queue: QUEUES.handOff };

/** The bot's configuration for the demo deployment, as the YAML file would hold it. */
export function sandboxConfigObject(services: {
  databaseUrl: string;
  meilisearchUrl: string;
  meilisearchApiKey: string | null;
}): Record<string, unknown> {
  return {
    meilisearch: {
      url: services.meilisearchUrl,
      ...(services.meilisearchApiKey ? { apiKey: services.meilisearchApiKey } : {}),
      // A loopback server answers in milliseconds: the bot gives up after 2.5 s (default 10 s), so
      // while Meilisearch is broken an alert check ends in seconds and "unreadable" opens in the minute.
      timeoutMs: 2_500,
    },
    database: { url: services.databaseUrl, obanPrefix: OBAN_PREFIX },
    indexPrefix: INDEX_PREFIX,
    schemas: [
      {
        module: POST,
        alias: "posts",
        syncMode: "oban",
        obanQueue: QUEUES.posts,
        obanMaxAttempts: DEMO_MAX_ATTEMPTS,
        contract: CONTRACTS.posts,
        reindexWorker: REINDEX_WORKER,
        backfillWorker: BACKFILL_WORKER,
      },
      {
        module: PRODUCT,
        alias: "products",
        syncMode: "oban",
        obanQueue: QUEUES.products,
        obanMaxAttempts: DEMO_MAX_ATTEMPTS,
        contract: CONTRACTS.products,
        reindexWorker: REINDEX_WORKER,
        backfillWorker: BACKFILL_WORKER,
      },
      { module: USER, alias: "users", syncMode: "inline", contract: CONTRACTS.users },
      { module: ARTICLE, alias: "articles", syncMode: "inline", contract: CONTRACTS.articles },
    ],
    slack: { verifyTimeout: "2m" },
    access: {
      channels: [CHANNEL.id],
      operators: { users: [ANA.id], usergroups: [OPS_GROUP.id] },
      twoPersonRule: true,
      confirmationTtl: "15m",
    },
    state: { schema: "scrypath_bot" },
    // The morning digest of the on-call channel; the sandbox's "Run digest now" posts its next slot.
    digests: [
      {
        name: DIGEST.name,
        channel: CHANNEL.id,
        cron: DIGEST.cron,
        timezone: DIGEST.timezone,
        when: "degraded",
        mention: OPS_GROUP.id,
      },
    ],
    // Live alerts, with demo timings: "Break Meilisearch for a minute" opens cards within seconds
    // (checks every 5 s), and they resolve 30 s after their condition cleared.
    alerts: {
      interval: "5s",
      resolveAfter: "30s",
      timelineEvery: "10s",
      subscriptions: [
        {
          channel: CHANNEL.id,
          schemas: ["posts", "products"],
          on: ["failures", "drift", "unreadable"],
          minFailures: 1,
          mention: OPS_GROUP.id,
        },
      ],
    },
  };
}

// ── Documents ─────────────────────────────────────────────────────────────────────────────────

const AUTHORS = ["ana", "ben", "chloe", "dmitri", "esther"];
const POST_TITLES = [
  "Postgres 17 upgrade notes",
  "Why our search results lagged on Monday",
  "Oban queues we actually need",
  "Faceted search for the help centre",
  "Incident review: Meilisearch timeouts",
  "Reindexing without downtime",
  "Synonyms that paid off",
  "Typo tolerance and SKUs do not mix",
  "How we page through 1M jobs",
  "On-call handbook: search edition",
];

function posts(): Record<string, unknown>[] {
  return Array.from({ length: 40 }, (_, i) => {
    const id = i + 1;
    return {
      id,
      title: `${POST_TITLES[i % POST_TITLES.length]}${i >= POST_TITLES.length ? ` (part ${Math.floor(i / 10) + 1})` : ""}`,
      body: `Notes from the ${AUTHORS[i % AUTHORS.length]} team, revision ${1 + (i % 4)}.`,
      author: AUTHORS[i % AUTHORS.length],
      status: i % 7 === 0 ? "draft" : "published",
      published_at: Date.UTC(2026, 9, 1 + (i % 28)) / 1000,
    };
  });
}

const CATEGORIES = ["keyboards", "mice", "monitors", "cables", "docks", "headsets"];

function products(): Record<string, unknown>[] {
  return Array.from({ length: 36 }, (_, i) => ({
    id: 1001 + i,
    name: `${["Compact", "Silent", "Pro", "Travel", "Studio", "Ergo"][i % 6]} ${CATEGORIES[i % CATEGORIES.length]?.replace(/s$/, "")} ${i + 1}`,
    sku: `SKU-${String(4200 + i * 7).padStart(6, "0")}`,
    category: CATEGORIES[i % CATEGORIES.length],
    price_cents: 1_990 + ((i * 1_337) % 25_000),
    in_stock: i % 5 !== 0,
  }));
}

function users(): Record<string, unknown>[] {
  const names = ["Ada", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivo", "Jun"];
  return Array.from({ length: 25 }, (_, i) => ({
    id: 501 + i,
    name: `${names[i % names.length]} ${String.fromCharCode(65 + (i % 26))}.`,
    email: `${names[i % names.length]?.toLowerCase()}.${i}@example.com`,
    team: ["search", "billing", "growth"][i % 3],
    role: i % 8 === 0 ? "admin" : "member",
    status: i % 9 === 0 ? "suspended" : "active",
    inserted_at: Date.UTC(2025, i % 12, 3) / 1000,
    last_seen_at: Date.UTC(2026, 10, 1 + (i % 20)) / 1000,
  }));
}

function articles(): Record<string, unknown>[] {
  const titles = ["Resetting your password", "Exporting invoices", "Search tips", "Two-factor sign-in"];
  return Array.from({ length: 18 }, (_, i) => ({
    id: 9001 + i,
    title: `${titles[i % titles.length]}${i >= titles.length ? ` (${Math.floor(i / titles.length) + 1})` : ""}`,
    body: "Step-by-step instructions with screenshots.",
    section: ["account", "billing", "search"][i % 3],
    updated_at: Date.UTC(2026, 10, 1 + i) / 1000,
  }));
}

/** What Scrypath applies for a contract: the declared settings plus sortable and faceting. */
function contractSettings(contract: Record<string, unknown>, config: Config, module: string) {
  const declared = config.schemas.find((s) => s.module === module)?.contract as SchemaContract;
  return {
    ...toWire(resolveDeclaredSettings(declared)),
    sortableAttributes: contract.sortable as string[],
    faceting: { maxValuesPerFacet: declared.faceting?.maxValuesPerFacet ?? 100 },
  };
}

// ── Oban rows ─────────────────────────────────────────────────────────────────────────────────

const minutesAgo = (now: Date, minutes: number) => new Date(now.getTime() - minutes * 60_000);

function upsertArgs(module: string, index: string, documents: Record<string, unknown>[]) {
  return {
    operation: "upsert",
    schema: `Elixir.${module}`,
    backend: "Elixir.Scrypath.Meilisearch",
    index,
    sync_mode: "oban",
    document_ids: documents.map((d) => d.id),
    document_count: documents.length,
    documents: documents.map((d) => ({ id: d.id, data: d, source: "fields" })),
  };
}

function deleteArgs(module: string, index: string, ids: number[]) {
  return {
    operation: "delete",
    schema: `Elixir.${module}`,
    backend: "Elixir.Scrypath.Meilisearch",
    index,
    sync_mode: "oban",
    document_ids: ids,
    document_count: ids.length,
  };
}

/** `attempts` errors, one per attempt, the newest `minutes` ago, a few minutes apart. */
function attempts(now: Date, error: string, count: number, minutes: number) {
  return Array.from({ length: count }, (_, i) => ({
    at: minutesAgo(now, minutes + (count - 1 - i) * 4).toISOString(),
    attempt: i + 1,
    error,
  }));
}

function obanRows(now: Date): Partial<JobFields>[] {
  const post = posts();
  const product = products();
  const byId = (list: Record<string, unknown>[], id: number) =>
    list.find((d) => d.id === id) as Record<string, unknown>;
  const postJob = (state: string, ids: number[], extra: Partial<JobFields>): Partial<JobFields> => ({
    state,
    queue: QUEUES.posts,
    worker: "Scrypath.Oban.UpsertWorker",
    args: upsertArgs(
      POST,
      INDEXES.posts,
      ids.map((id) => byId(post, id)),
    ),
    maxAttempts: 8,
    tags: ["scrypath", "post"],
    ...extra,
  });
  const productJob = (state: string, ids: number[], extra: Partial<JobFields>): Partial<JobFields> => ({
    state,
    queue: QUEUES.products,
    worker: "Scrypath.Oban.UpsertWorker",
    args: upsertArgs(
      PRODUCT,
      INDEXES.products,
      ids.map((id) => byId(product, id)),
    ),
    maxAttempts: 5,
    tags: ["scrypath", "product"],
    ...extra,
  });
  const done = (minutes: number): Partial<JobFields> => ({
    attempt: 1,
    insertedAt: minutesAgo(now, minutes + 1),
    scheduledAt: minutesAgo(now, minutes + 1),
    attemptedAt: minutesAgo(now, minutes),
    completedAt: minutesAgo(now, minutes),
  });
  const failed = (state: string, error: string, tries: number, minutes: number): Partial<JobFields> => ({
    attempt: tries,
    errors: attempts(now, error, tries, minutes),
    insertedAt: minutesAgo(now, minutes + tries * 4 + 2),
    attemptedAt: minutesAgo(now, minutes),
    ...(state === "discarded" ? { discardedAt: minutesAgo(now, minutes) } : {}),
    ...(state === "retryable" ? { scheduledAt: new Date(now.getTime() + (5 + tries * 7) * 60_000) } : {}),
  });

  return [
    // Posts: history, work still queued, and failed work of every reason class.
    postJob("completed", [1, 2, 3], done(290)),
    postJob("completed", [4], done(180)),
    postJob("completed", [5, 6], done(95)),
    postJob("completed", [7], done(41)),
    postJob("completed", [8, 9, 10, 11], done(12)),
    postJob("scheduled", [12], {
      insertedAt: minutesAgo(now, 2),
      scheduledAt: new Date(now.getTime() + 6e5),
    }),
    postJob("scheduled", [13, 14], {
      insertedAt: minutesAgo(now, 1),
      scheduledAt: new Date(now.getTime() + 18e5),
    }),
    // transport: the replay of this one succeeds (the documents are fine; Meilisearch was slow).
    postJob("retryable", [17], failed("retryable", ERRORS.timeout, 3, 9)),
    // The same incident hit a burst of writes: enough rows for a second page of failed work.
    postJob("discarded", [34], failed("discarded", ERRORS.timeout, 8, 58)),
    postJob("discarded", [35, 36], failed("discarded", ERRORS.timeout, 8, 61)),
    postJob("discarded", [37], failed("discarded", ERRORS.unavailable, 8, 64)),
    postJob("discarded", [39], failed("discarded", ERRORS.timeout, 8, 66)),
    postJob("retryable", [18, 19], failed("retryable", ERRORS.unavailable, 2, 16)),
    // unknown: a bug in the application's projection, still retrying.
    postJob("retryable", [23], failed("retryable", ERRORS.noClause, 1, 27)),
    // validation: discarded at once by the worker.
    postJob("discarded", [26], failed("discarded", ERRORS.cast, 1, 48)),
    // backend_rejected
    postJob("discarded", [29, 30], failed("discarded", ERRORS.sizeLimit, 8, 70)),
    // queue_exhausted: every attempt used, and the text names no class.
    postJob("discarded", [33], failed("discarded", ERRORS.encode, 8, 130)),
    // a deletion that failed (transport) and was cancelled by someone in Oban Web.
    {
      state: "cancelled",
      queue: QUEUES.posts,
      worker: "Scrypath.Oban.DeleteWorker",
      args: deleteArgs(POST, INDEXES.posts, [38]),
      maxAttempts: 8,
      tags: ["scrypath", "post"],
      attempt: 2,
      errors: attempts(now, ERRORS.closed, 2, 200),
      insertedAt: minutesAgo(now, 215),
      attemptedAt: minutesAgo(now, 200),
      cancelledAt: minutesAgo(now, 190),
    },

    // Products: a little history and two failures.
    productJob("completed", [1001, 1002, 1003], done(240)),
    productJob("completed", [1004], done(66)),
    productJob("completed", [1005, 1006], done(20)),
    productJob("retryable", [1011], failed("retryable", ERRORS.closed, 1, 6)),
    productJob("discarded", [1017], failed("discarded", ERRORS.price, 1, 35)),

    // The reindex of products, handed off to the application 14 minutes ago and still running.
    {
      state: "executing",
      queue: QUEUES.handOff,
      worker: REINDEX_WORKER.worker,
      args: {
        schema: `Elixir.${PRODUCT}`,
        action: "reindex",
        index: INDEXES.products,
        target_index: `${INDEXES.products}__reindex`,
        requested_by: ANA.id,
      },
      maxAttempts: 1,
      attempt: 1,
      tags: ["scrypath", "hand_off"],
      insertedAt: minutesAgo(now, 14),
      scheduledAt: minutesAgo(now, 14),
      attemptedAt: minutesAgo(now, 14),
    },
  ];
}

/**
 * The sync job of a post the demo application saves while the sandbox runs (the `seq`-th edit), as
 * Scrypath enqueues it: an upsert of one post that synced fine, with the schema's max_attempts.
 */
export function postEditJob(seq: number, now = new Date()): Partial<JobFields> {
  const synced = posts().filter((p) => (p.id as number) <= 16);
  const post = synced[seq % synced.length] as Record<string, unknown>;
  const edited = {
    ...post,
    body: `${String(post.body).replace(/ revision \d+\.$/, "")} revision ${5 + seq}.`,
  };
  return {
    state: "available",
    queue: QUEUES.posts,
    worker: "Scrypath.Oban.UpsertWorker",
    args: upsertArgs(POST, INDEXES.posts, [edited]),
    maxAttempts: DEMO_MAX_ATTEMPTS,
    tags: ["scrypath", "post"],
    insertedAt: now,
    scheduledAt: now,
  };
}

// ── Seeding ───────────────────────────────────────────────────────────────────────────────────

export interface SeedDeps {
  pool: pg.Pool;
  meili: Meilisearch;
  config: Config;
  now?: Date;
  log?: (line: string) => void;
}

/** True once the demo deployment was written (a kept --data-dir is seeded once). */
export async function isSeeded(pool: pg.Pool): Promise<boolean> {
  const { rows } = await pool.query<{ exists: boolean }>(
    `SELECT to_regclass('${SEED_SCHEMA}.seeded') IS NOT NULL AS exists`,
  );
  if (!rows[0]?.exists) return false;
  const { rowCount } = await pool.query(`SELECT 1 FROM ${SEED_SCHEMA}.seeded`);
  return (rowCount ?? 0) > 0;
}

async function waitAll(meili: Meilisearch, uids: number[]): Promise<void> {
  if (uids.length > 0) await meili.tasks.waitForTasks(uids, { timeout: 60_000, interval: 20 });
}

/** Writes the demo deployment unless it is there already; returns what it did. */
export async function seedDemo(deps: SeedDeps): Promise<"seeded" | "kept"> {
  const { pool, meili, config } = deps;
  const now = deps.now ?? new Date();
  const log = deps.log ?? (() => {});
  // The bot never migrates its own tables (`scrypath-bot migrate` does, before a rollout): the demo
  // deployment runs its migrations here, also on a kept data directory from an older version.
  await ensureState(pool, config.state.schema);
  if (await isSeeded(pool)) return "kept";
  if ((await meili.getRawIndexes({ limit: 1 })).total > 0) {
    throw new Error(
      "the data directory holds a demo deployment seeded only in part (an earlier start stopped half-way); " +
        "remove the directory and start again",
    );
  }

  log("seeding Meilisearch: four indexes, a reindex target, real failed tasks");
  // A real failed deletion on the users' index, from before it existed (index_not_found).
  await failDeletionTask(meili, INDEXES.users, "index_not_found");

  const create = await Promise.all(
    [...Object.values(INDEXES), `${INDEXES.products}__reindex`].map((uid) =>
      meili.createIndex(uid, { primaryKey: "id" }),
    ),
  );
  await waitAll(
    meili,
    create.map((t) => t.taskUid),
  );

  const settings = await Promise.all([
    meili.index(INDEXES.posts).updateSettings(contractSettings(CONTRACTS.posts, config, POST)),
    meili.index(INDEXES.products).updateSettings(contractSettings(CONTRACTS.products, config, PRODUCT)),
    meili
      .index(`${INDEXES.products}__reindex`)
      .updateSettings(contractSettings(CONTRACTS.products, config, PRODUCT)),
    meili.index(INDEXES.articles).updateSettings(contractSettings(CONTRACTS.articles, config, ARTICLE)),
    // The users' index drifted: someone changed it by hand (status no longer filterable, a sortable
    // attribute and the synonyms missing, stop words nobody declared).
    meili.index(INDEXES.users).updateSettings({
      ...contractSettings(CONTRACTS.users, config, USER),
      filterableAttributes: ["team", "role"],
      sortableAttributes: ["inserted_at"],
      synonyms: {},
      stopWords: ["the", "of"],
    }),
  ]);
  const product = products();
  const documents = await Promise.all([
    meili.index(INDEXES.posts).addDocuments(posts().filter((p) => !FAILED_POSTS.includes(p.id as number))),
    meili.index(INDEXES.products).addDocuments(product),
    meili.index(INDEXES.users).addDocuments(users()),
    meili.index(INDEXES.articles).addDocuments(articles()),
    // The rebuild so far: two batches of the products, more to come.
    meili.index(`${INDEXES.products}__reindex`).addDocuments(product.slice(0, 10)),
    meili.index(`${INDEXES.products}__reindex`).addDocuments(product.slice(10, 16)),
  ]);
  await waitAll(
    meili,
    [...settings, ...documents].map((t) => t.taskUid),
  );

  // Real failures produced by Meilisearch, where Scrypath's inline writes would have hit them.
  await failDocumentTask(meili, INDEXES.posts, "missing_primary_key");
  await failDocumentTask(meili, INDEXES.posts, "invalid_document_id");
  await failDeletionTask(meili, INDEXES.products, "invalid_document_filter");
  await failDocumentTask(meili, INDEXES.users, "invalid_document_id");

  log("seeding Postgres: Oban jobs of the two Oban-synced schemas and the reindex hand-off");
  await transaction(pool, async (client) => {
    for (const row of obanRows(now)) await insertJob(client, config.database.obanPrefix, row);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SEED_SCHEMA}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${SEED_SCHEMA}.seeded (version integer NOT NULL, seeded_at timestamptz NOT NULL)`,
    );
    await client.query(`INSERT INTO ${SEED_SCHEMA}.seeded VALUES ($1, now())`, [SEED_VERSION]);
  });
  return "seeded";
}
