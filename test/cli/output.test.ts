// The CLI's stdout, line for line, against spec §8 (mix task output formats), driven in-process
// through `run(argv, io)` over the real Postgres and Meilisearch with seeded data.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { deleteArgs, upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { REASON_CLASSES } from "../../src/core/types.ts";
import { runCaptured } from "../support/cli.ts";
import { insertJob } from "../support/db.ts";
import { failDocumentTask, succeedDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const PRODUCT = "MyApp.Catalog.Product";
const COMMENT = "MyApp.Blog.Comment";

/** Values that must never appear in any output. */
const SECRETS = [
  inject("meilisearchApiKey"),
  decodeURIComponent(new URL(inject("databaseUrl")).password),
].filter((s): s is string => typeof s === "string" && s.length > 0);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout split into lines, without the final newline's empty string. */
  lines: string[];
}

let configFile = "";

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<Result> {
  const { code, stdout, stderr } = await runCaptured(argv, {
    env: { SCRYPATH_BOT_CONFIG: configFile, ...env },
  });
  for (const secret of SECRETS) {
    expect(stdout).not.toContain(secret);
    expect(stderr).not.toContain(secret);
  }
  const lines = stdout === "" ? [] : stdout.replace(/\n$/, "").split("\n");
  return { code, stdout, stderr, lines };
}

/** Meilisearch's `finishedAt` (nanoseconds) at upstream's precision: cut to microseconds. */
const micro = (d: string) => d.replace(/(\.\d{1,6})\d*Z$/, "$1Z");

describe("scrypath-bot CLI output (spec §8)", () => {
  let d: TestDeployment;
  let dir: string;
  let live: string;
  let productIndex: string;
  const ids = {} as Record<
    "completed" | "available" | "transport" | "exhausted" | "validation" | "cancelled",
    number
  >;
  let succeeded: { uid: number; finishedAt: string };
  let failedTask: { uid: number; message: string };

  beforeAll(async () => {
    d = await testDeployment([
      postsSchema({
        contract: {
          fields: ["title", "body"],
          filterable: ["status"],
          sortable: ["inserted_at"],
          settings: { synonyms: { car: ["automobile"] } },
        },
      }),
      { module: PRODUCT, alias: "products", contract: { fields: ["name"] } },
      { module: COMMENT },
    ]);
    dir = mkdtempSync(join(tmpdir(), "scrypath-cli-"));
    configFile = join(dir, "scrypath-bot.yml");
    writeFileSync(configFile, stringify(d.raw));
    live = `${d.indexPrefix}_post`;
    productIndex = `${d.indexPrefix}_product`;

    // Backend plane: one succeeded and one (real) failed document task on the live index.
    const ok = await succeedDocumentTask(d.meili, live);
    succeeded = { uid: ok.uid, finishedAt: ok.finishedAt as unknown as string };
    const bad = await failDocumentTask(d.meili, live, "invalid_document_id");
    failedTask = { uid: bad.uid, message: bad.error?.message ?? "" };
    await d.meili.createIndex(productIndex).waitTask();

    // Queue plane: Oban rows as Oban writes them (errors are {at, attempt, error} objects).
    const { pool, prefix } = d.oban;
    const apiKey = inject("meilisearchApiKey") ?? "sk-test-key";
    ids.completed = await insertJob(pool, prefix, {
      state: "completed",
      queue: QUEUE,
      args: upsertArgs(POST, live, [10]),
      attempt: 1,
      attemptedAt: new Date("2026-11-20T08:59:58Z"),
      completedAt: new Date("2026-11-20T09:00:00Z"),
    });
    ids.available = await insertJob(pool, prefix, {
      state: "available",
      queue: QUEUE,
      args: upsertArgs(POST, live, [11]),
    });
    ids.transport = await insertJob(pool, prefix, {
      state: "retryable",
      queue: QUEUE,
      args: upsertArgs(POST, live, [12]),
      errors: [obanError("** (Req.TransportError) timeout connecting to 127.0.0.1:7700")],
      attempt: 1,
      attemptedAt: new Date("2026-11-20T10:00:00Z"),
    });
    ids.exhausted = await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: deleteArgs(POST, live, [13]),
      errors: Array.from({ length: 8 }, (_, i) => obanError("** (RuntimeError) boom", i + 1)),
      attempt: 8,
      maxAttempts: 8,
      attemptedAt: new Date("2026-11-20T10:05:00Z"),
    });
    ids.validation = await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [14], { meilisearch_api_key: apiKey }),
      errors: [obanError('** (Ecto.CastError) cannot cast "abc" to :integer')],
      attempt: 8,
      maxAttempts: 8,
    });
    // Cancelled by the worker: a plain-string first error (used verbatim as `reason`) quoting the
    // API key the job carried, and no documents, so nothing to replay.
    ids.cancelled = await insertJob(pool, prefix, {
      state: "cancelled",
      queue: QUEUE,
      args: { operation: "upsert", schema: `Elixir.${POST}`, index: live, meilisearch_api_key: apiKey },
      errors: [
        `{:invalid_job, :missing_documents} meilisearch_api_key=${apiKey}`,
        "{:invalid_job, :missing_documents}",
      ],
      attempt: 1,
    });
    // Another schema's job in the same queue is not this schema's work.
    await insertJob(pool, prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(COMMENT, `${d.indexPrefix}_comment`),
      errors: [obanError("boom")],
    });
  });

  afterAll(async () => {
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe("status", () => {
    it("prints the eleven lines of §8.1", async () => {
      const r = await cli(["status", "posts"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.lines).toEqual([
        `Schema: ${POST}`,
        "Mode: oban",
        `Index: ${live}`,
        "Backend pending: 0",
        "Backend failed: 1",
        // Upstream's precision: Meilisearch's nanoseconds cut to microseconds, not milliseconds.
        `Backend last succeeded: meilisearch:${succeeded.uid} (completed) at ${micro(succeeded.finishedAt)}`,
        "Queue observed: yes",
        "Queue pending: 1",
        "Queue retrying: 1",
        "Queue failed: 3",
        `Queue last succeeded: oban:${ids.completed} (completed) at 2026-11-20T09:00:00Z`,
      ]);
    });

    it("accepts every way of naming the schema", async () => {
      const expected = (await cli(["status", "posts"])).stdout;
      for (const ref of [POST, `Elixir.${POST}`, "post", "Post"]) {
        expect((await cli(["status", ref])).stdout).toBe(expected);
      }
    });

    it("prints none and Queue observed: no for an inline schema with no history", async () => {
      const r = await cli(["status", COMMENT]);
      expect(r.code).toBe(0);
      expect(r.lines).toEqual([
        `Schema: ${COMMENT}`,
        "Mode: inline",
        `Index: ${d.indexPrefix}_comment`,
        "Backend pending: 0",
        "Backend failed: 0",
        "Backend last succeeded: none",
        "Queue observed: no",
        "Queue pending: 0",
        "Queue retrying: 0",
        "Queue failed: 0",
        "Queue last succeeded: none",
      ]);
    });

    it("prints Queue observed: yes for an oban schema whose queue holds no job (upstream's newest rule)", async () => {
      // Upstream test/scrypath/operator/status_test.exs, "a successful empty Oban observation is
      // observed, not unavailable": a queue read that succeeds is an observation, even of zero jobs.
      const r = await cli(["status", "products", "--sync-mode", "oban", "--oban-queue", "empty_queue"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.lines.slice(1)).toEqual([
        "Mode: oban",
        `Index: ${productIndex}`,
        "Backend pending: 0",
        "Backend failed: 0",
        "Backend last succeeded: none",
        "Queue observed: yes",
        "Queue pending: 0",
        "Queue retrying: 0",
        "Queue failed: 0",
        "Queue last succeeded: none",
      ]);
    });

    it("honours --index-prefix and --sync-mode", async () => {
      const r = await cli(["status", "posts", "--index-prefix", "elsewhere", "--sync-mode", "inline"]);
      expect(r.code).toBe(0);
      expect(r.lines.slice(0, 3)).toEqual([`Schema: ${POST}`, "Mode: inline", "Index: elsewhere_post"]);
      expect(r.lines[6]).toBe("Queue observed: no");
    });

    it("reads the config from --config when given", async () => {
      const r = await cli(["status", "--config", configFile, "posts"], {
        SCRYPATH_BOT_CONFIG: "/nonexistent.yml",
      });
      expect(r.code).toBe(0);
      expect(r.lines[0]).toBe(`Schema: ${POST}`);
    });

    it("prints one JSON document with --json", async () => {
      const r = await cli(["status", "posts", "--json"]);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc).toMatchObject({
        schema: POST,
        mode: "oban",
        index: live,
        backend: { pending: { total: 0 }, failed: { total: 1 } },
        queue: { observed: true, pending: { total: 1 }, retrying: { total: 1 }, failed: { total: 3 } },
      });
      expect(doc.queue.last_succeeded).toMatchObject({
        source: "oban",
        id: ids.completed,
        state: "completed",
        at: "2026-11-20T09:00:00Z",
      });
      // The same precision as the text line.
      expect(doc.backend.last_succeeded.at).toBe(micro(succeeded.finishedAt));
    });
  });

  describe("failed", () => {
    const counts = "  transport=1, validation=2, backend_rejected=0, queue_exhausted=1, unknown=1";
    const rows = () => [
      `- id=${failedTask.uid} source=meilisearch state=failed operation=upsert retryable=no reason_class=validation reason=${failedTask.message}`,
      `- id=${ids.cancelled} source=oban state=failed operation=upsert retryable=no reason_class=unknown reason={:invalid_job, :missing_documents} meilisearch_api_key=[REDACTED]`,
      `- id=${ids.validation} source=oban state=failed operation=upsert retryable=yes reason_class=validation reason=queue job failed`,
      `- id=${ids.exhausted} source=oban state=failed operation=delete retryable=yes reason_class=queue_exhausted reason=queue job failed`,
      `- id=${ids.transport} source=oban state=retrying operation=upsert retryable=yes reason_class=transport reason=queue job is retryable`,
    ];

    it("prints the header, the class rollup and one line per row (§8.2)", async () => {
      const r = await cli(["failed", "posts"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(failedTask.message).not.toBe("");
      expect(r.lines).toEqual([
        `Schema: ${POST}`,
        "Failed work: 5",
        "Failed work by class:",
        counts,
        ...rows(),
      ]);
    });

    it("hides only the rollup with --no-class-summary", async () => {
      const r = await cli(["failed", "posts", "--no-class-summary"]);
      expect(r.code).toBe(0);
      expect(r.lines).toEqual([`Schema: ${POST}`, "Failed work: 5", ...rows()]);
    });

    it("prints no rollup when there is no failed work", async () => {
      const r = await cli(["failed", PRODUCT]);
      expect(r.code).toBe(0);
      expect(r.lines).toEqual([`Schema: ${PRODUCT}`, "Failed work: 0"]);
    });

    it("filters by --class and --source, recomputing the counts", async () => {
      const byClass = await cli(["failed", "posts", "--class", "validation"]);
      expect(byClass.lines).toEqual([
        `Schema: ${POST}`,
        "Failed work: 2",
        "Failed work by class:",
        "  transport=0, validation=2, backend_rejected=0, queue_exhausted=0, unknown=0",
        rows()[0],
        rows()[2],
      ]);
      const bySource = await cli(["failed", "posts", "--source", "meilisearch", "--no-class-summary"]);
      expect(bySource.lines).toEqual([`Schema: ${POST}`, "Failed work: 1", rows()[0]]);
    });

    it("prints one JSON document with --json: upstream's keys first, counts in canonical order", async () => {
      const r = await cli(["failed", "posts", "--json"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      const doc = JSON.parse(r.stdout);
      expect(Object.keys(doc)).toEqual(["schema", "entries", "counts", "next_cursor"]);
      expect(doc.schema).toBe(POST);
      expect(doc.next_cursor).toBeNull();
      expect(doc.entries).toHaveLength(5);
      for (const entry of doc.entries) {
        expect(Object.keys(entry).slice(0, 6)).toEqual([
          "id",
          "reason_class",
          "source",
          "state",
          "operation",
          "retryable",
        ]);
        expect(typeof entry.retryable).toBe("boolean");
      }
      expect(doc.entries.map((e: { id: number; source: string }) => `${e.source}:${e.id}`)).toEqual([
        `meilisearch:${failedTask.uid}`,
        `oban:${ids.cancelled}`,
        `oban:${ids.validation}`,
        `oban:${ids.exhausted}`,
        `oban:${ids.transport}`,
      ]);
      expect(doc.counts).toEqual({
        version: 1,
        total: 5,
        by_class: { transport: 1, validation: 2, backend_rejected: 0, queue_exhausted: 1, unknown: 1 },
      });
      expect(Object.keys(doc.counts)).toEqual(["version", "total", "by_class"]);
      expect(Object.keys(doc.counts.by_class)).toEqual([...REASON_CLASSES]);
      expect(r.stdout).toContain("[REDACTED]");
    });

    it("pages with --limit: stdout stays mix-compatible, the continuation note goes to stderr", async () => {
      const first = await cli(["failed", "posts", "--limit", "1"]);
      expect(first.code).toBe(0);
      expect(first.lines).toEqual([
        `Schema: ${POST}`,
        "Failed work: 5",
        "Failed work by class:",
        counts,
        rows()[0],
      ]);
      const note = /^More failed work: continue with --cursor (\S+)\n$/.exec(first.stderr);
      expect(note).not.toBeNull();
      const cursor = note?.[1] ?? "";

      const second = await cli(["failed", "posts", "--limit", "2", "--cursor", cursor]);
      expect(second.lines.slice(4)).toEqual(rows().slice(1, 3));
      const next = /^More failed work: continue with --cursor (\S+)\n$/.exec(second.stderr)?.[1] ?? "";

      const last = await cli(["failed", "posts", "--cursor", next, "--no-class-summary"]);
      expect(last.lines).toEqual([`Schema: ${POST}`, "Failed work: 5", ...rows().slice(3)]);
      expect(last.stderr).toBe("");

      const json = JSON.parse((await cli(["failed", "posts", "--limit", "1", "--json"])).stdout);
      expect(json.entries).toHaveLength(1);
      expect(json.next_cursor).toBe(cursor);
    });
  });

  describe("reconcile", () => {
    it("prints the report of §8.4 with retry ids and backfill", async () => {
      const r = await cli(["reconcile", "posts"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.lines).toEqual([
        `Schema: ${POST}`,
        "Mode: oban",
        `Index: ${live}`,
        "Drift signals: pending_queue_work, failed_sync_work",
        "Failed work count: 5",
        "Failed work by class:",
        "  transport=1, validation=2, backend_rejected=0, queue_exhausted=1, unknown=1",
        `Recommended actions: retry(ids=${ids.validation},${ids.exhausted},${ids.transport}), backfill`,
        `Reindex live index: ${live}`,
        `Reindex target index: ${live}__reindex`,
        "Reindex task state: idle",
        "Reindex cutover: not_started",
      ]);
    });

    it("always prints the class rollup, even with nothing to report", async () => {
      const r = await cli(["reconcile", PRODUCT, "--target-index", `${d.indexPrefix}_rebuild`]);
      expect(r.code).toBe(0);
      expect(r.lines).toEqual([
        `Schema: ${PRODUCT}`,
        "Mode: inline",
        `Index: ${productIndex}`,
        "Drift signals: none",
        "Failed work count: 0",
        "Failed work by class:",
        "  transport=0, validation=0, backend_rejected=0, queue_exhausted=0, unknown=0",
        "Recommended actions: none",
        `Reindex live index: ${productIndex}`,
        `Reindex target index: ${d.indexPrefix}_rebuild`,
        "Reindex task state: idle",
        "Reindex cutover: not_started",
      ]);
    });

    it("prints one JSON document with --json, without job payloads", async () => {
      const r = await cli(["reconcile", "posts", "--json"]);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc).toMatchObject({
        schema: POST,
        drift_signals: ["pending_queue_work", "failed_sync_work"],
        failed_work_counts: { version: 1, total: 5 },
      });
      expect(doc.actions.map((a: { kind: string }) => a.kind)).toEqual([
        "retry",
        "retry",
        "retry",
        "backfill",
      ]);
      expect(r.stdout).not.toContain("documents");
    });
  });

  describe("drift (index.contract_drift)", () => {
    it("prints the parity line and exits 0", async () => {
      const r = await cli(["drift", "products"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.lines).toEqual([`Index contract OK for ${PRODUCT} (index=${productIndex})`]);
    });

    it("answers to the upstream task name index.contract_drift", async () => {
      const r = await cli(["index.contract_drift", "products"]);
      expect(r.code).toBe(0);
      expect(r.lines).toEqual([`Index contract OK for ${PRODUCT} (index=${productIndex})`]);
    });

    it("prints each drifted dimension, the footer, and exits 2", async () => {
      const r = await cli(["drift", "posts"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe("");
      expect(r.lines).toEqual([
        `INDEX CONTRACT DRIFT for ${POST} (index=${live})`,
        '  ! filterable_attributes: {:only_declared, "status"}',
        '  ! sortable_attributes: {:only_declared, "inserted_at"}',
        expect.stringMatching(
          /^ {2}! settings: settings detail key="(synonyms|filterableAttributes|sortableAttributes)"$/,
        ),
        "",
        "Re-run with --json for the full machine-readable report.",
        "For declared-vs-applied Meilisearch settings keys only, see mix scrypath.settings.diff.",
        "For operational sync posture and managed reindex flows, see Scrypath.reconcile_sync/2 and Scrypath.reindex/2.",
      ]);
    });

    it("prints the JSON report with --json and still exits 2 on drift", async () => {
      const r = await cli(["drift", "posts", "--json"]);
      expect(r.code).toBe(2);
      const doc = JSON.parse(r.stdout);
      expect(Object.keys(doc)).toEqual(["version", "schema", "index", "dimensions"]);
      expect(doc).toMatchObject({ version: 1, schema: `Elixir.${POST}`, index: live });
      expect(Object.keys(doc.dimensions)).toEqual([
        "fields",
        "filterable_attributes",
        "sortable_attributes",
        "faceting",
        "settings",
      ]);
      expect(doc.dimensions.filterable_attributes).toEqual({
        match: false,
        details: [{ only_declared: "status" }],
      });
      expect(doc.dimensions.fields).toEqual({ match: true, details: [] });

      const parity = await cli(["index.contract_drift", "products", "--json"]);
      expect(parity.code).toBe(0);
      expect(JSON.parse(parity.stdout).dimensions.fields).toEqual({ match: true, details: [] });
    });
  });

  describe("settings", () => {
    it("diff: prints the parity line and exits 0", async () => {
      const r = await cli(["settings", "diff", "products"]);
      expect(r.code).toBe(0);
      expect(r.lines).toEqual([`No drift detected for ${PRODUCT} (index=${productIndex})`]);
      const json = await cli(["settings", "diff", "products", "--json"]);
      expect(json.code).toBe(0);
      const doc = JSON.parse(json.stdout);
      expect(Object.keys(doc)).toEqual(["schema", "index", "status", "declared", "applied", "drift"]);
      expect(doc).toEqual({
        schema: PRODUCT,
        index: productIndex,
        status: "parity",
        declared: {},
        applied: {},
        drift: [],
      });
    });

    it("diff: prints each drifted key and the remedy, and exits 2", async () => {
      const r = await cli(["settings", "diff", "posts"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe("");
      expect(r.lines[0]).toBe(`DRIFT for ${POST} (index=${live})`);
      expect(r.lines[1]).toBe("");
      const synonyms = r.lines.indexOf("  ! synonyms");
      expect(synonyms).toBeGreaterThan(0);
      expect(r.lines.slice(synonyms, synonyms + 3)).toEqual([
        "  ! synonyms",
        '    declared: {"car":["automobile"]}',
        "    applied:  {}",
      ]);
      expect(r.lines.slice(-2)).toEqual([
        "",
        `Set settings: %{...} on the schema OR run \`mix scrypath.reindex ${POST}\` to re-apply.`,
      ]);
      // Drifted keys are separated by blank lines.
      const keyLines = r.lines.filter((l) => l.startsWith("  ! "));
      for (const key of keyLines) expect(r.lines[r.lines.indexOf(key) - 1]).toBe("");

      const json = await cli(["settings", "diff", "posts", "--json"]);
      expect(json.code).toBe(2);
      const doc = JSON.parse(json.stdout);
      expect(Object.keys(doc)).toEqual(["schema", "index", "status", "declared", "applied", "drift"]);
      expect(doc.status).toBe("drift");
      expect(doc.drift).toContainEqual({ key: "synonyms", declared: { car: ["automobile"] }, applied: {} });
      expect(doc.drift.map((x: { key: string }) => x.key)).toEqual(keyLines.map((l) => l.slice(4)));
    });

    it("read: prints the applied settings as JSON", async () => {
      const r = await cli(["settings", "read", "posts"]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      const settings = JSON.parse(r.stdout);
      expect(settings).toMatchObject({
        searchableAttributes: ["*"],
        displayedAttributes: ["*"],
        filterableAttributes: [],
        synonyms: {},
      });
      expect(settings.rankingRules).toEqual(["words", "typo", "proximity", "attribute", "sort", "exactness"]);
    });
  });

  describe("help and usage", () => {
    it("prints the usage with --help, -h and help, and exits 0", async () => {
      for (const argv of [["--help"], ["-h"], ["help"]]) {
        const r = await cli(argv);
        expect(r.code).toBe(0);
        expect(r.stderr).toBe("");
        expect(r.lines[0]).toBe("Usage:");
        for (const command of [
          "status",
          "failed",
          "reconcile",
          "drift",
          "settings diff",
          "settings read",
          "playbooks validate",
        ]) {
          expect(r.stdout).toContain(`scrypath-bot ${command} `);
        }
        expect(r.stdout).toContain("Exit codes: 0 ok, 2 drift found, 1 could not complete.");
      }
    });

    it("prints one command's usage with <command> --help, and exits 0 without reading the config", async () => {
      const env = { SCRYPATH_BOT_CONFIG: "/nonexistent.yml" };
      const status = await cli(["status", "--help"], env);
      expect(status.code).toBe(0);
      expect(status.lines[0]).toBe("Usage: scrypath-bot status <Schema> [--json]");
      const failed = await cli(["failed", "posts", "-h"], env);
      expect(failed.code).toBe(0);
      expect(failed.lines[0]).toMatch(/^Usage: scrypath-bot failed <Schema> .*--no-class-summary/);
      const diff = await cli(["settings", "diff", "--help"], env);
      expect(diff.lines[0]).toBe("Usage: scrypath-bot settings diff <Schema> [--json]");
    });

    it("prints the usage on stderr and exits 1 without arguments", async () => {
      const r = await cli([]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(/^Usage:\n/);
    });
  });

  describe("playbooks validate", () => {
    const search = {
      playbook_format: 1,
      mode: "search",
      schema: POST,
      q: "elixir",
      opts: { filter: "status = 'published'", page: { number: 1, size: 20 } },
      title: "Published posts",
      tags: ["smoke"],
    };

    // Wording of upstream's scrypath_ops/lib/mix/tasks/scrypath_ops/playbooks/validate.ex (tested in
    // scrypath_ops/test/scrypath_ops/mix/playbooks_validate_test.exs: "Validated" on success, the
    // bad file's name on failure, exit 1). Unlike upstream, every invalid file is named, not the first.
    it("names each invalid file on stderr with upstream's reason and exits 1", async () => {
      const pbDir = mkdtempSync(join(dir, "playbooks-"));
      writeFileSync(join(pbDir, "good.json"), JSON.stringify(search));
      writeFileSync(
        join(pbDir, "leaky.json"),
        JSON.stringify({ ...search, opts: { ...search.opts, meilisearch_api_key: "sk-playbook-secret" } }),
      );
      writeFileSync(join(pbDir, "notes.txt"), "not a playbook");
      const r = await cli(["playbooks", "validate", pbDir], { SCRYPATH_BOT_CONFIG: "/nonexistent.yml" });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe("leaky.json: banned_key (meilisearch_api_key at opts)\n");
      expect(r.stderr).not.toContain("sk-playbook-secret");
    });

    it("reports unknown_top_level_keys, page_size_out_of_range, unknown opt keys and broken JSON", async () => {
      const pbDir = mkdtempSync(join(dir, "playbooks-"));
      writeFileSync(join(pbDir, "a-unknown.json"), JSON.stringify({ ...search, opts: { limit: 5 } }));
      writeFileSync(join(pbDir, "b-broken.json"), "{ not json");
      writeFileSync(join(pbDir, "c-extra.json"), JSON.stringify({ ...search, extra_field: true }));
      writeFileSync(
        join(pbDir, "d-page.json"),
        JSON.stringify({ ...search, opts: { page: { number: 1, size: 51 } } }),
      );
      const r = await cli(["playbooks", "validate", pbDir]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      const errors = r.stderr.replace(/\n$/, "").split("\n");
      expect(errors).toHaveLength(4);
      expect(errors[0]).toBe("a-unknown.json: unknown_opt_keys (limit)");
      expect(errors[1]).toMatch(/^b-broken\.json: invalid_json \(.+\)$/);
      expect(errors[2]).toBe("c-extra.json: unknown_top_level_keys (extra_field)");
      expect(errors[3]).toBe("d-page.json: page_size_out_of_range (size 51 is outside 1..50)");
    });

    it("says when the directory holds no eligible playbook", async () => {
      const pbDir = mkdtempSync(join(dir, "playbooks-"));
      writeFileSync(join(pbDir, "notes.txt"), "not a playbook");
      writeFileSync(join(pbDir, "with space.json"), JSON.stringify(search));
      const r = await cli(["playbooks", "validate", pbDir]);
      expect(r.code).toBe(0);
      expect(r.lines).toEqual([`No eligible *.json playbooks found under ${pbDir}`]);
    });

    it("exits 0 when every playbook is valid", async () => {
      const pbDir = mkdtempSync(join(dir, "playbooks-"));
      writeFileSync(join(pbDir, "one.json"), JSON.stringify(search));
      writeFileSync(
        join(pbDir, "two.json"),
        JSON.stringify({
          playbook_format: 1,
          mode: "search_many",
          entries: [
            [POST, "elixir", { facets: ["status"] }],
            [PRODUCT, "shoes", { federation_weight: 0.5 }],
          ],
          opts: { federation_limit: 20 },
        }),
      );
      const r = await cli(["playbooks", "validate", pbDir]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.lines).toEqual([`Validated 2 playbook(s) under ${pbDir}`]);
    });
  });
});
