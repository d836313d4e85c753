// The real-services harness: PostgreSQL with Oban's v14 tables, Meilisearch 1.21.0, and the helpers
// that produce real failed tasks and Oban rows; `npm run services -- --demo`, the CLI newcomer's path.
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { chmod, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Meilisearch } from "meilisearch";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createObanSchema } from "../../../devkit/oban/schema.ts";
import { startServices } from "../../../devkit/services/services.ts";
import { freshObanPrefix, insertJob, type ObanTestSchema, testPool } from "../../support/db.ts";
import {
  deleteIndexes,
  FAILED_DOCUMENT_CODES,
  type FailedDocumentKind,
  failDeletionTask,
  failDocumentTask,
  succeedDocumentTask,
  testClient,
  uniqueIndexPrefix,
} from "../../support/meili.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

const OBAN_STATES = [
  "available",
  "suspended",
  "scheduled",
  "executing",
  "retryable",
  "completed",
  "discarded",
  "cancelled",
];

async function obanObjects(pool: pg.Pool, prefix: string) {
  const q = async <T extends pg.QueryResultRow>(sql: string) => (await pool.query<T>(sql, [prefix])).rows;
  return {
    states: (
      await q<{ labels: string[] }>(
        `SELECT enum_range(NULL::"${prefix}".oban_job_state)::text[] AS labels WHERE $1::text IS NOT NULL`,
      )
    )[0]?.labels,
    comment: (
      await q<{ comment: string }>(
        "SELECT obj_description(format('%I.oban_jobs', $1::text)::regclass, 'pg_class') AS comment",
      )
    )[0]?.comment,
    indexes: (
      await q<{ indexname: string; indexdef: string }>(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'oban_jobs'",
      )
    ).map((r) => r.indexname),
    checks: Object.fromEntries(
      (
        await q<{ conname: string; def: string }>(
          `SELECT conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c
             JOIN pg_namespace n ON n.oid = c.connamespace
            WHERE n.nspname = $1 AND c.conrelid = format('%I.oban_jobs', $1::text)::regclass AND c.contype = 'c'`,
        )
      ).map((r) => [r.conname, r.def]),
    ),
    columns: Object.fromEntries(
      (
        await q<{ column_name: string; type: string; is_nullable: string; column_default: string | null }>(
          `SELECT column_name, format_type(a.atttypid, a.atttypmod) AS type, is_nullable, column_default
             FROM information_schema.columns c
             JOIN pg_attribute a ON a.attrelid = format('%I.oban_jobs', $1::text)::regclass AND a.attname = c.column_name
            WHERE c.table_schema = $1 AND c.table_name = 'oban_jobs'`,
        )
      ).map((r) => [
        r.column_name,
        { type: r.type, nullable: r.is_nullable === "YES", default: r.column_default },
      ]),
    ),
    peers: (
      await q<{ relpersistence: string }>(
        "SELECT relpersistence FROM pg_class WHERE oid = format('%I.oban_peers', $1::text)::regclass",
      )
    )[0]?.relpersistence,
    triggers: (
      await q<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_trigger WHERE tgrelid = format('%I.oban_jobs', $1::text)::regclass AND NOT tgisinternal",
      )
    )[0]?.n,
  };
}

describe("PostgreSQL with Oban's v14 schema", () => {
  let pool: pg.Pool;
  let schema: ObanTestSchema;

  beforeAll(async () => {
    pool = testPool(2);
    schema = await freshObanPrefix();
  });
  afterAll(async () => {
    await schema?.close();
    await pool?.end();
  });

  it("answers on the provided DATABASE_URL (loopback)", async () => {
    const url = new URL(inject("databaseUrl"));
    if (!process.env.DATABASE_URL) expect(url.hostname).toBe("127.0.0.1");
    const { rows } = await pool.query<{ db: string; version: number }>(
      "SELECT current_database() AS db, current_setting('server_version_num')::int AS version",
    );
    expect(rows[0]?.version).toBeGreaterThanOrEqual(140000); // Oban 2.21+ requires PostgreSQL 14+
  });

  it.each(["public", "fresh prefix"])("has every Oban v14 object (%s)", async (which) => {
    const prefix = which === "public" ? "public" : schema.prefix;
    const o = await obanObjects(pool, prefix);
    expect(o.states).toEqual(OBAN_STATES);
    expect(o.comment).toBe("14");
    expect(o.indexes.sort()).toEqual(
      [
        "oban_jobs_args_index",
        "oban_jobs_meta_index",
        "oban_jobs_pkey",
        "oban_jobs_state_cancelled_at_index",
        "oban_jobs_state_discarded_at_index",
        "oban_jobs_state_queue_priority_scheduled_at_id_index",
      ].sort(),
    );
    expect(o.checks).toEqual({
      worker_length: "CHECK (((char_length(worker) > 0) AND (char_length(worker) < 128)))",
      queue_length: "CHECK (((char_length(queue) > 0) AND (char_length(queue) < 128)))",
      positive_max_attempts: "CHECK ((max_attempts > 0))",
      attempt_range: "CHECK (((attempt >= 0) AND (attempt <= max_attempts)))",
      non_negative_priority: "CHECK ((priority >= 0)) NOT VALID",
    });
    const ts = "timestamp without time zone";
    const utcNow = "timezone('UTC'::text, now())";
    expect(o.columns).toEqual({
      id: { type: "bigint", nullable: false, default: expect.stringMatching(/^nextval\(.*oban_jobs_id_seq/) },
      state: {
        type: expect.stringMatching(/oban_job_state$/),
        nullable: false,
        default: expect.stringMatching(/^'available'::/),
      },
      queue: { type: "text", nullable: false, default: "'default'::text" },
      worker: { type: "text", nullable: false, default: null },
      args: { type: "jsonb", nullable: false, default: "'{}'::jsonb" },
      meta: { type: "jsonb", nullable: true, default: "'{}'::jsonb" },
      tags: { type: "text[]", nullable: true, default: "ARRAY[]::text[]" },
      errors: { type: "jsonb[]", nullable: false, default: "ARRAY[]::jsonb[]" },
      attempt: { type: "integer", nullable: false, default: "0" },
      max_attempts: { type: "integer", nullable: false, default: "20" },
      priority: { type: "integer", nullable: false, default: "0" },
      attempted_by: { type: "text[]", nullable: true, default: null },
      inserted_at: { type: ts, nullable: false, default: utcNow },
      scheduled_at: { type: ts, nullable: false, default: utcNow },
      attempted_at: { type: ts, nullable: true, default: null },
      completed_at: { type: ts, nullable: true, default: null },
      discarded_at: { type: ts, nullable: true, default: null },
      cancelled_at: { type: ts, nullable: true, default: null },
    });
    expect(o.peers).toBe("u"); // UNLOGGED
    expect(o.triggers).toBe(0); // the oban_notify trigger is gone since v12
  });

  it("createObanSchema is idempotent and rejects unsafe prefixes", async () => {
    await createObanSchema(pool, schema.prefix);
    await createObanSchema(pool, schema.prefix);
    expect((await obanObjects(pool, schema.prefix)).states).toEqual(OBAN_STATES);
    for (const bad of ["Public", "a-b", 'x"; DROP TABLE y; --', "1abc", ""]) {
      await expect(createObanSchema(pool, bad)).rejects.toThrow(/Invalid Oban prefix/);
    }
  });

  it("insertJob round-trips errors as jsonb[] and stores timestamps as UTC", async () => {
    const errors = [
      { attempt: 1, at: "2026-01-02T03:04:05.123456Z", error: "** (RuntimeError) boom\n  (app) lib/x.ex:1" },
      { attempt: 2, at: "2026-01-02T03:05:05.000000Z", error: 'quote " and {brace}, comma' },
    ];
    const attemptedAt = new Date("2026-01-02T03:05:05.123Z");
    // A session in another time zone must not shift the stored UTC wall time.
    const client = await schema.pool.connect();
    let id: number;
    try {
      await client.query("SET TIME ZONE 'America/New_York'");
      id = await insertJob(client, schema.prefix, {
        state: "retryable",
        queue: "search_sync",
        args: { operation: "upsert", document_ids: [1, 2] },
        errors,
        attempt: 2,
        maxAttempts: 8,
        attemptedAt,
        priority: 3,
        tags: ["a", "b,c"],
      });
    } finally {
      client.release();
    }
    expect(typeof id).toBe("number");
    const { rows } = await schema.pool.query(
      `SELECT state::text, queue, worker, args, errors, pg_typeof(errors)::text AS errors_type,
              array_length(errors, 1) AS n, errors[2]->>'error' AS second_error, attempt, max_attempts,
              priority, tags, to_char(attempted_at, 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS attempted_at
         FROM "${schema.prefix}".oban_jobs WHERE id = $1`,
      [id],
    );
    expect(rows[0]).toEqual({
      state: "retryable",
      queue: "search_sync",
      worker: "Scrypath.Oban.UpsertWorker",
      args: { operation: "upsert", document_ids: [1, 2] },
      errors,
      errors_type: "jsonb[]",
      n: 2,
      second_error: 'quote " and {brace}, comma',
      attempt: 2,
      max_attempts: 8,
      priority: 3,
      tags: ["a", "b,c"],
      attempted_at: "2026-01-02T03:05:05.123",
    });
    const defaults = await insertJob(schema.pool, schema.prefix);
    const { rows: d } = await schema.pool.query(
      `SELECT state::text, queue, errors, cardinality(errors) AS n, attempt, max_attempts FROM "${schema.prefix}".oban_jobs WHERE id = $1`,
      [defaults],
    );
    expect(d[0]).toEqual({
      state: "available",
      queue: "default",
      errors: [],
      n: 0,
      attempt: 0,
      max_attempts: 20,
    });
  });

  it("enforces Oban's checks", async () => {
    await expect(insertJob(schema.pool, schema.prefix, { worker: "" })).rejects.toThrow(/worker_length/);
    await expect(insertJob(schema.pool, schema.prefix, { attempt: 5, maxAttempts: 3 })).rejects.toThrow(
      /attempt_range/,
    );
    await expect(insertJob(schema.pool, schema.prefix, { priority: -1 })).rejects.toThrow(
      /non_negative_priority/,
    );
    await expect(insertJob(schema.pool, schema.prefix, { state: "suspended" })).resolves.toBeTypeOf("number");
  });
});

describe("Meilisearch 1.21.0", () => {
  let client: Meilisearch;
  const prefix = uniqueIndexPrefix();
  const url = inject("meilisearchUrl");
  const apiKey = inject("meilisearchApiKey");

  beforeAll(() => {
    client = testClient();
  });
  afterAll(async () => {
    await deleteIndexes(client, prefix);
  });

  it("answers /version with Bearer auth and rejects a wrong key", async () => {
    const ok = await fetch(`${url}/version`, {
      headers: apiKey ? { Authorization: `Bearer ${apiKey}` } : {},
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ pkgVersion: "1.21.0" });
    if (!process.env.MEILISEARCH_URL) expect(new URL(url).hostname).toBe("127.0.0.1");

    const bad = await fetch(`${url}/version`, { headers: { Authorization: "Bearer not-the-key" } });
    expect(bad.status).toBe(403);
    expect(await bad.json()).toMatchObject({ code: "invalid_api_key", type: "auth" });
  });

  it.each(Object.keys(FAILED_DOCUMENT_CODES) as FailedDocumentKind[])(
    "failDocumentTask(%s) yields a real failed task",
    async (kind) => {
      const index = `${prefix}${kind}`;
      const task = await failDocumentTask(client, index, kind);
      expect(task).toMatchObject({
        indexUid: index,
        type: "documentAdditionOrUpdate",
        status: "failed",
        error: { code: FAILED_DOCUMENT_CODES[kind], type: "invalid_request" },
      });
      // The same task, as the tasks API lists it.
      const listed = await client.tasks.getTasks({ indexUids: [index], statuses: ["failed"] });
      expect(listed.results.map((t) => t.uid)).toContain(task.uid);
    },
  );

  it("failDocumentTask works on an index that already has documents", async () => {
    const index = `${prefix}existing`;
    await succeedDocumentTask(client, index, [{ sku: "a-1" }], "sku");
    const missing = await failDocumentTask(client, index, "missing_primary_key");
    expect(missing.error?.message).toContain("`sku`");
    await failDocumentTask(client, index, "invalid_document_id");
    await expect(failDocumentTask(client, index, "no_candidate")).rejects.toThrow(
      /already has primary key sku/,
    );
  });

  it("failDeletionTask yields real failed documentDeletion tasks", async () => {
    const missing = await failDeletionTask(client, `${prefix}missing`, "index_not_found");
    expect(missing).toMatchObject({
      type: "documentDeletion",
      status: "failed",
      error: { type: "invalid_request" },
    });
    const index = `${prefix}deletions`;
    await succeedDocumentTask(client, index);
    const filter = await failDeletionTask(client, index, "invalid_document_filter");
    expect(filter).toMatchObject({
      type: "documentDeletion",
      status: "failed",
      error: { code: "invalid_document_filter", type: "invalid_request" },
    });
  });

  it("does not return indexSwap tasks for indexUids filters, but counts them in total (observed quirk)", async () => {
    const a = `${prefix}swap_a`;
    const b = `${prefix}swap_b`;
    await client.createIndex(a, { primaryKey: "id" }).waitTask();
    await client.createIndex(b, { primaryKey: "id" }).waitTask();
    const swap = await client.swapIndexes([{ indexes: [a, b], rename: false }]).waitTask();
    expect(swap).toMatchObject({ type: "indexSwap", status: "succeeded", indexUid: null });
    for (const uid of [a, b]) {
      const filtered = await client.tasks.getTasks({ indexUids: [uid], types: ["indexSwap"] });
      expect(filtered.results).toEqual([]);
      expect(filtered.total).toBe(1);
    }
    const bySwapType = await client.tasks.getTasks({ types: ["indexSwap"], limit: 1000 });
    expect(bySwapType.results.map((t) => t.uid)).toContain(swap.uid);
  });
});

describe("startServices", () => {
  it("uses existing servers from the environment and stops nothing", async () => {
    const services = await startServices({
      env: {
        DATABASE_URL: inject("databaseUrl"),
        MEILISEARCH_URL: inject("meilisearchUrl"),
        MEILISEARCH_API_KEY: inject("meilisearchApiKey") ?? "",
      },
    });
    expect(services).toMatchObject({
      databaseUrl: inject("databaseUrl"),
      meilisearchUrl: inject("meilisearchUrl"),
      meilisearchApiKey: inject("meilisearchApiKey"),
      external: { postgres: true, meilisearch: true },
    });
    await services.stop();
    await services.stop();
    const res = await fetch(`${inject("meilisearchUrl")}/health`);
    expect(res.status).toBe(200);
  });

  it("says clearly when an external Meilisearch is unreachable", async () => {
    await expect(
      startServices({ env: { DATABASE_URL: inject("databaseUrl"), MEILISEARCH_URL: "http://127.0.0.1:9" } }),
    ).rejects.toThrow(/MEILISEARCH_URL=http:\/\/127\.0\.0\.1:9\/ is not reachable/);
  });
});

describe("npm run services -- --demo", { timeout: 180_000 }, () => {
  const SEEDED_WITHIN_MS = 90_000;
  let child: ChildProcess | undefined;
  let tmp: string | undefined;

  /** Every process in process group `pgid`. */
  const groupProcesses = (pgid: number) =>
    execFileSync("ps", ["-eo", "pid=,pgid=,args="], { encoding: "utf8" })
      .split("\n")
      .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null && Number(m[2]) === pgid)
      .map((m) => m[3] ?? "");

  /** The CLI as a newcomer runs it: `npx scrypath-bot …` with SCRYPATH_BOT_CONFIG exported, no --config. */
  const cli = (args: string[], env: NodeJS.ProcessEnv) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        process.execPath,
        ["bin/scrypath-bot.js", ...args],
        { cwd: ROOT, env, timeout: 30_000 },
        (error, stdout, stderr) => {
          done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
        },
      );
    });

  afterAll(async () => {
    // Only if the test failed half-way: end what it started, by its group id.
    if (child?.pid && groupProcesses(child.pid).length > 0) process.kill(-child.pid, "SIGKILL");
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it("seeds the demo deployment into its own servers and prints a config the CLI runs against", async () => {
    tmp = await mkdtemp(path.join(tmpdir(), "scrypath-demo-test-"));
    // As root, initdb runs as the postgres user, who must reach TMPDIR.
    await chmod(tmp, 0o755);
    const pkg = JSON.parse(await readFile(path.join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.services).toBe("tsx scripts/services.ts");
    const started = Date.now();
    // The shared servers in the environment must not receive demo data: --demo starts its own.
    child = spawn(process.execPath, ["--import", "tsx", "scripts/services.ts", "--demo"], {
      cwd: ROOT,
      detached: true,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: tmp,
        LANG: "C.UTF-8",
        DATABASE_URL: inject("databaseUrl"),
        MEILISEARCH_URL: inject("meilisearchUrl"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const pgid = child.pid as number;
    await expect
      .poll(() => (child?.exitCode === null ? stdout : `exited early: ${stdout}${stderr}`), {
        timeout: SEEDED_WITHIN_MS,
        interval: 200,
      })
      .toMatch(/^SCRYPATH_BOT_CONFIG=.+$/m);
    expect(Date.now() - started).toBeLessThan(SEEDED_WITHIN_MS);

    const printed = Object.fromEntries(
      stdout
        .trim()
        .split("\n")
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );
    expect(Object.keys(printed)).toEqual([
      "DATABASE_URL",
      "MEILISEARCH_URL",
      "MEILISEARCH_API_KEY",
      "SCRYPATH_BOT_CONFIG",
    ]);
    expect(printed.DATABASE_URL).not.toBe(inject("databaseUrl"));
    expect(printed.MEILISEARCH_URL).not.toBe(inject("meilisearchUrl"));
    expect(stderr).toContain("ignores DATABASE_URL / MEILISEARCH_URL");
    expect(stderr).toContain(`export SCRYPATH_BOT_CONFIG=${printed.SCRYPATH_BOT_CONFIG}`);

    // The config: the printed URLs filled in, readable by its owner only.
    const configFile = printed.SCRYPATH_BOT_CONFIG as string;
    const yaml = await readFile(configFile, "utf8");
    expect(yaml).toContain(`url: ${printed.DATABASE_URL}`);
    expect(yaml).toContain(`url: ${printed.MEILISEARCH_URL}`);
    expect(yaml).toContain(`apiKey: ${printed.MEILISEARCH_API_KEY}`);
    expect(statSync(configFile).mode & 0o777).toBe(0o600);

    const env = { PATH: process.env.PATH, HOME: process.env.HOME, SCRYPATH_BOT_CONFIG: configFile };
    const [status, failed, drift, reconcile] = await Promise.all([
      cli(["status", "posts"], env),
      cli(["failed", "posts", "--limit", "50"], env),
      cli(["drift", "users"], env),
      cli(["reconcile", "products"], env),
    ]);
    // Failed work, from Oban rows and real Meilisearch task failures, of every reason class.
    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    expect(Number(/^Queue failed: (\d+)$/m.exec(status.stdout)?.[1])).toBeGreaterThan(0);
    expect(Number(/^Backend failed: (\d+)$/m.exec(status.stdout)?.[1])).toBeGreaterThan(0);
    expect(failed.code).toBe(0);
    const total = Number(/^Failed work: (\d+)$/m.exec(failed.stdout)?.[1]);
    expect(total).toBeGreaterThan(0);
    const rows = failed.stdout.split("\n").filter((line) => line.startsWith("- id="));
    expect(rows).toHaveLength(total);
    expect(rows.some((row) => row.includes("source=oban"))).toBe(true);
    expect(rows.some((row) => row.includes("source=meilisearch"))).toBe(true);
    const classes =
      /^ {2}transport=(\d+), validation=(\d+), backend_rejected=(\d+), queue_exhausted=(\d+), unknown=(\d+)$/m
        .exec(failed.stdout)
        ?.slice(1)
        .map(Number);
    expect(classes).toHaveLength(5);
    for (const count of classes ?? []) expect(count).toBeGreaterThan(0);
    // Drift: upstream's exit code 2 and the differing keys of the hand-changed users index.
    expect(drift.code).toBe(2);
    expect(drift.stdout).toContain("INDEX CONTRACT DRIFT for MyApp.Accounts.User (index=prod_user)");
    expect(drift.stdout).toContain('filterable_attributes: {:only_declared, "status"}');
    // A reindex under way on products.
    expect(reconcile.code).toBe(0);
    expect(reconcile.stdout).toContain("Reindex target index: prod_product__reindex");
    expect(reconcile.stdout).toMatch(/^Drift signals: .*failed_sync_work/m);

    // Ctrl-C: servers and the config file gone, nothing of the group left.
    process.kill(-pgid, "SIGINT");
    const code = await new Promise<number | null>((resolve) => {
      if (child?.exitCode !== null) resolve(child?.exitCode ?? null);
      else child.once("exit", (c) => resolve(c));
    });
    expect(code, stderr).toBe(0);
    expect(existsSync(configFile)).toBe(false);
    await expect.poll(() => groupProcesses(pgid), { timeout: 15_000 }).toEqual([]);
    expect((await readdir(tmp)).filter((name) => !name.startsWith("tsx-"))).toEqual([]);
  });
});
