// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` placeholders in config text are under test
// Every error a user can cause: exactly one line on stderr, `<task> failed: <what failed and
// what to do>`, exit 1, no stack trace unless --debug, no secrets. And the read commands write
// nothing to Postgres or Meilisearch.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import type { CliIo } from "../../src/cli/main.ts";
import type { Operator } from "../../src/operator/index.ts";
import { runCaptured } from "../support/cli.ts";
import { insertJob } from "../support/db.ts";
import { failDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const ADMIN_POST = "MyApp.Admin.Post";
const PRODUCT = "MyApp.Catalog.Product";
const COMMENT = "MyApp.Blog.Comment";

const API_KEY = inject("meilisearchApiKey");
const DB_PASSWORD = decodeURIComponent(new URL(inject("databaseUrl")).password);
const SECRETS = [API_KEY, DB_PASSWORD].filter((s): s is string => typeof s === "string" && s.length > 0);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

let dir = "";
const files = {} as Record<
  | "main"
  | "pgClosed"
  | "pgWrongPassword"
  | "obanMissing"
  | "obanNoTables"
  | "meiliClosed"
  | "meiliWrongKey"
  | "invalid"
  | "yaml",
  string
>;

async function cli(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
  openOperator?: CliIo["openOperator"],
): Promise<Result> {
  const started = Date.now();
  const { code, stdout, stderr } = await runCaptured(argv, {
    env: { SCRYPATH_BOT_CONFIG: files.main, ...env },
    ...(openOperator ? { openOperator } : {}),
  });
  for (const secret of SECRETS) {
    expect(stdout).not.toContain(secret);
    expect(stderr).not.toContain(secret);
  }
  return { code, stdout, stderr, ms: Date.now() - started };
}

/** Runs argv and checks the one-line failure contract; returns the line after `<task> failed: `. */
async function fails(task: string, argv: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await cli(argv, env);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(/^[^\n]+\n$/);
  expect(r.stderr).not.toContain("    at ");
  const prefix = `${task} failed: `;
  expect(r.stderr.startsWith(prefix), r.stderr).toBe(true);
  return r.stderr.slice(prefix.length, -1);
}

function writeConfig(name: string, raw: Record<string, unknown>): string {
  const path = join(dir, `${name}.yml`);
  writeFileSync(path, stringify(raw));
  return path;
}

describe("CLI errors", () => {
  let d: TestDeployment;
  let live: string;

  beforeAll(async () => {
    d = await testDeployment([
      postsSchema({ contract: { fields: ["title"], filterable: ["status"] } }),
      { module: ADMIN_POST, alias: "admin_posts" },
      { module: PRODUCT, alias: "products", contract: { fields: ["name"] } },
      { module: COMMENT },
    ]);
    live = `${d.indexPrefix}_post`;
    dir = mkdtempSync(join(tmpdir(), "scrypath-cli-errors-"));
    const raw = d.raw as {
      meilisearch: Record<string, unknown>;
      database: Record<string, unknown>;
    };
    const dbUrl = new URL(inject("databaseUrl"));
    const closedDb = new URL(dbUrl);
    closedDb.port = "1";
    const wrongPassword = new URL(dbUrl);
    wrongPassword.password = "not-the-password";
    files.main = writeConfig("main", d.raw);
    files.pgClosed = writeConfig("pg-closed", {
      ...d.raw,
      database: { ...raw.database, url: closedDb.href },
    });
    files.pgWrongPassword = writeConfig("pg-wrong-password", {
      ...d.raw,
      database: { ...raw.database, url: wrongPassword.href },
    });
    files.obanMissing = writeConfig("oban-missing", {
      ...d.raw,
      database: { ...raw.database, obanPrefix: "no_such_schema" },
    });
    files.obanNoTables = writeConfig("oban-no-tables", {
      ...d.raw,
      database: { ...raw.database, obanPrefix: "information_schema" },
    });
    files.meiliClosed = writeConfig("meili-closed", {
      ...d.raw,
      meilisearch: { ...raw.meilisearch, url: "http://127.0.0.1:1" },
    });
    files.meiliWrongKey = writeConfig("meili-wrong-key", {
      ...d.raw,
      meilisearch: { ...raw.meilisearch, apiKey: "definitely-not-the-master-key" },
    });
    files.invalid = writeConfig("invalid", {
      ...d.raw,
      database: { ...raw.database, obanPrefix: "Bad-Prefix" },
      schemas: [{ module: POST, syncMode: "oban" }],
    });
    files.yaml = join(dir, "broken.yml");
    writeFileSync(files.yaml, `meilisearch:\n  url: "http://127.0.0.1:7700\n  apiKey: ${API_KEY ?? "k"}\n`);

    // Something to read, so the read commands do real work in the no-writes test.
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "retryable",
      queue: QUEUE,
      args: upsertArgs(POST, live, [1]),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 1,
    });
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [2]),
      errors: [obanError("** (RuntimeError) boom")],
      attempt: 8,
    });
    await failDocumentTask(d.meili, live, "missing_primary_key");
  });

  afterAll(async () => {
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe("arguments", () => {
    it("unknown schema: lists the configured schemas", async () => {
      expect(await fails("scrypath.status", ["status", "Nope"])).toBe(
        `unknown schema "Nope"; configured schemas: ${POST} (posts), ${ADMIN_POST} (admin_posts), ${PRODUCT} (products), ${COMMENT}`,
      );
    });

    it("ambiguous schema: names the candidates and what to type instead", async () => {
      expect(await fails("scrypath.failed", ["failed", "Post"])).toBe(
        `schema "Post" is ambiguous: it matches ${POST}, ${ADMIN_POST}; use the full module name`,
      );
    });

    it("no schema argument, or two", async () => {
      const expected = "expected one schema module argument, for example `SearchablePost`";
      expect(await fails("scrypath.status", ["status"])).toBe(expected);
      expect(await fails("scrypath.status", ["status", "posts", "products"])).toBe(expected);
      expect(await fails("scrypath.settings.diff", ["settings", "diff"])).toBe(expected);
      expect(await fails("scrypath_ops.playbooks.validate", ["playbooks", "validate"])).toBe(
        "expected one directory argument, for example `priv/playbooks`",
      );
    });

    it("unknown command: one line pointing at --help", async () => {
      expect(await fails("scrypath-bot", ["frobnicate", "posts"])).toBe(
        'unknown command "frobnicate posts"; run `scrypath-bot --help` for the list of commands',
      );
      expect(await fails("scrypath-bot", ["settings", "write", "posts"])).toMatch(
        /^unknown command "settings write/,
      );
    });

    it("a mistyped command: did you mean, as in Slack", async () => {
      expect(await fails("scrypath-bot", ["statsu", "posts"])).toBe(
        'unknown command "statsu posts"; did you mean `scrypath-bot status posts`? run `scrypath-bot --help` for the list of commands',
      );
      expect(await fails("scrypath-bot", ["Reconcile", "posts", "--json"])).toContain(
        "did you mean `scrypath-bot reconcile posts`?",
      );
      expect(await fails("scrypath-bot", ["settings", "hotapply", "posts"])).toContain(
        "did you mean `scrypath-bot settings hot-apply posts`?",
      );
      expect(await fails("scrypath-bot", ["setings", "dif", "posts"])).toContain(
        "did you mean `scrypath-bot settings diff posts`?",
      );
      expect(await fails("scrypath-bot", ["playbook", "validate", "priv"])).toContain(
        "did you mean `scrypath-bot playbooks validate priv`?",
      );
    });

    it("unknown or malformed flags: invalid options", async () => {
      expect(await fails("scrypath.status", ["status", "posts", "--frob"])).toBe(
        "invalid options: unknown option --frob; run `scrypath-bot status --help` for the options it accepts",
      );
      expect(await fails("scrypath.settings.read", ["settings", "read", "posts", "--json"])).toMatch(
        /^invalid options: unknown option --json; run `scrypath-bot settings read --help`/,
      );
      expect(await fails("scrypath.failed", ["failed", "posts", "--limit"])).toMatch(
        /^invalid options: option --limit <value> argument missing; run `scrypath-bot failed --help`/,
      );
      expect(await fails("scrypath.status", ["status", "posts", "--json=yes"])).toMatch(
        /^invalid options: option --json does not take an argument; /,
      );
    });

    it("options before the command or before the schema are read with their values", async () => {
      const a = await cli([
        "--config",
        files.main,
        "failed",
        "--class",
        "transport",
        "posts",
        "--no-class-summary",
      ]);
      expect(a.stderr).toBe("");
      expect(a.code).toBe(0);
      expect(a.stdout.split("\n").slice(0, 2)).toEqual([`Schema: ${POST}`, "Failed work: 1"]);
    });

    it("bad --sync-mode, --limit, --class, --source, --cursor, --meilisearch-url", async () => {
      expect(await fails("scrypath.status", ["status", "posts", "--sync-mode", "x"])).toBe(
        'unsupported sync mode "x"; use one of inline, manual, oban',
      );
      for (const limit of ["0", "-1", "ten", "1.5"]) {
        expect(await fails("scrypath.failed", ["failed", "posts", `--limit=${limit}`])).toBe(
          `--limit expects a positive whole number, got "${limit}"`,
        );
      }
      expect(await fails("scrypath.failed", ["failed", "posts", "--class", "network"])).toBe(
        "--class must be one of transport, validation, backend_rejected, queue_exhausted, unknown",
      );
      expect(await fails("scrypath.failed", ["failed", "posts", "--source", "redis"])).toBe(
        "--source must be oban or meilisearch",
      );
      expect(await fails("scrypath.failed", ["failed", "posts", "--cursor", "zzz"])).toBe(
        'invalid cursor "zzz"; pass the cursor printed by the previous page',
      );
      expect(await fails("scrypath.status", ["status", "posts", "--meilisearch-url", "ftp://x"])).toBe(
        'invalid --meilisearch-url "ftp://x"; pass an http(s) URL such as http://127.0.0.1:7700',
      );
    });

    it("--sync-mode oban on a schema without a queue", async () => {
      expect(await fails("scrypath.status", ["status", "products", "--sync-mode", "oban"])).toBe(
        `oban_queue is required when sync_mode is :oban; set obanQueue for ${PRODUCT} or pass --oban-queue`,
      );
      // With a queue it works.
      const r = await cli(["status", "products", "--sync-mode", "oban", "--oban-queue", QUEUE]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Mode: oban\n");
    });

    it("a playbook directory that does not exist", async () => {
      const missing = join(dir, "no-playbooks");
      expect(await fails("scrypath_ops.playbooks.validate", ["playbooks", "validate", missing])).toMatch(
        new RegExp(`^cannot read directory ${missing}: `),
      );
    });
  });

  describe("configuration", () => {
    it("missing file: names the path and what to do", async () => {
      const missing = join(dir, "absent.yml");
      expect(await fails("scrypath.status", ["status", "posts"], { SCRYPATH_BOT_CONFIG: missing })).toBe(
        `no configuration file at ${missing}; pass --config FILE, set SCRYPATH_BOT_CONFIG, or copy examples/scrypath-bot.yml to ./scrypath-bot.yml`,
      );
      expect(await fails("scrypath.status", ["status", "posts", "--config", missing])).toContain(missing);
    });

    it("unreadable YAML: names the file, quotes none of it", async () => {
      const message = await fails("scrypath.status", ["status", "posts", "--config", files.yaml]);
      expect(message).toMatch(
        new RegExp(`^${files.yaml} is not valid YAML \\(.+\\); fix the syntax and run again$`),
      );
    });

    it("invalid config: one line per problem, each naming its key path, as the README says", async () => {
      const started = Date.now();
      const r = await cli(["reconcile", "posts", "--config", files.invalid]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toBe(
        [
          `scrypath.reconcile failed: invalid configuration in ${files.invalid}:`,
          "  database.obanPrefix: expected a Postgres schema name",
          "  schemas.0.obanQueue: obanQueue is required when syncMode is oban",
          "",
        ].join("\n"),
      );
      expect(Date.now() - started).toBeLessThan(15_000);
    });

    it("a required variable that is not set", async () => {
      const path = join(dir, "env.yml");
      writeFileSync(
        path,
        "meilisearch:\n  url: ${SCRYPATH_TEST_UNSET_URL}\ndatabase:\n  url: postgres://h/db\n",
      );
      expect(await fails("scrypath.status", ["status", "posts", "--config", path])).toBe(
        `invalid configuration in ${path}: meilisearch.url: expected an http(s) URL (\${SCRYPATH_TEST_UNSET_URL} is not set)`,
      );
    });
  });

  describe("backends", () => {
    it("Postgres unreachable: answers at once", async () => {
      for (const argv of [
        ["status", "posts"],
        ["failed", "posts"],
        ["reconcile", "posts"],
      ]) {
        const r = await cli([...argv, "--config", files.pgClosed]);
        expect(r.ms).toBeLessThan(3_000);
        const message = await fails(`scrypath.${argv[0]}`, [...argv, "--config", files.pgClosed]);
        expect(message).toMatch(
          /^Postgres at 127\.0\.0\.1:1\/\S+ is unreachable: it refused the connection \(ECONNREFUSED\); check that the server is running and that database\.url names its host and port$/,
        );
      }
    });

    it("servers that accept connections but never answer: bounded by the connection and request timeouts", async () => {
      const sockets: Socket[] = [];
      const silent = createServer((socket) => {
        sockets.push(socket);
      });
      await new Promise<void>((ready) => silent.listen(0, "127.0.0.1", ready));
      const port = (silent.address() as AddressInfo).port;
      const raw = d.raw as { meilisearch: Record<string, unknown>; database: Record<string, unknown> };
      const pg = writeConfig("pg-silent", {
        ...d.raw,
        database: { ...raw.database, url: `postgres://postgres:pw@127.0.0.1:${port}/scrypath` },
      });
      const meili = writeConfig("meili-silent", {
        ...d.raw,
        meilisearch: { ...raw.meilisearch, url: `http://127.0.0.1:${port}`, timeoutMs: 1_000 },
      });
      try {
        const [a, b] = await Promise.all([
          cli(["reconcile", "posts", "--config", pg]),
          cli(["status", "products", "--config", meili]),
        ]);
        expect(a.code).toBe(1);
        expect(a.ms).toBeLessThan(10_000);
        expect(a.stderr).toBe(
          `scrypath.reconcile failed: Postgres at 127.0.0.1:${port}/scrypath did not answer within 5 s (no connection could be opened); check that the server is up and reachable from the bot, then try again\n`,
        );
        expect(b.code).toBe(1);
        expect(b.ms).toBeLessThan(5_000);
        expect(b.stderr).toBe(
          `scrypath.status failed: Meilisearch at http://127.0.0.1:${port} did not answer within 1 s (request timed out); check that the server is up and not overloaded (GET /health), then try again\n`,
        );
      } finally {
        for (const socket of sockets) socket.destroy();
        silent.close();
      }
    });

    it("Postgres refusing the password", async () => {
      const message = await fails("scrypath.status", ["status", "posts", "--config", files.pgWrongPassword]);
      expect(message).toMatch(
        /^Postgres at 127\.0\.0\.1:\d+\/\S+ refused the credentials; check the user and password in database\.url$/,
      );
      expect(message).not.toContain("not-the-password");
    });

    it("Oban tables missing", async () => {
      expect(await fails("scrypath.failed", ["failed", "posts", "--config", files.obanMissing])).toMatch(
        /^the Oban tables are missing at \S+ \(.*no_such_schema.*\); check database\.obanPrefix and that Oban's migrations ran$/,
      );
      expect(await fails("scrypath.status", ["status", "posts", "--config", files.obanNoTables])).toMatch(
        /^the Oban tables are missing at .*; check database\.obanPrefix and that Oban's migrations ran$/,
      );
    });

    it("an inline schema never touches Postgres", async () => {
      const r = await cli(["status", "products", "--config", files.pgClosed]);
      expect(r.code).toBe(0);
    });

    it("Meilisearch unreachable", async () => {
      for (const argv of [
        ["status", "products"],
        ["drift", "products"],
        ["settings", "read", "products"],
      ]) {
        const task =
          argv[0] === "drift" ? "scrypath.index.contract_drift" : `scrypath.${argv.slice(0, -1).join(".")}`;
        expect(await fails(task, [...argv, "--config", files.meiliClosed])).toBe(
          "Meilisearch at http://127.0.0.1:1 is unreachable (connection failed); check meilisearch.url and that the server is running",
        );
      }
    });

    it.skipIf(!API_KEY)("Meilisearch refusing the API key", async () => {
      const message = await fails("scrypath.status", ["status", "products", "--config", files.meiliWrongKey]);
      expect(message).toMatch(/refused the API key \(invalid_api_key\); check meilisearch\.apiKey/);
      expect(message).not.toContain("definitely-not-the-master-key");
    });

    it("index not found for drift, settings diff and settings read", async () => {
      const index = `${d.indexPrefix}_product`;
      const expected = `index not found: Meilisearch at ${inject("meilisearchUrl").replace(/\/+$/, "")} has no index "${index}"; check the index prefix or run a reindex`;
      expect(await fails("scrypath.index.contract_drift", ["drift", "products"])).toBe(expected);
      expect(await fails("scrypath.index.contract_drift", ["drift", "products", "--json"])).toBe(expected);
      expect(await fails("scrypath.settings.diff", ["settings", "diff", "products"])).toBe(expected);
      expect(await fails("scrypath.settings.read", ["settings", "read", "products"])).toBe(expected);
      expect(await fails("scrypath.reconcile", ["reconcile", "products", "--include-contract-drift"])).toBe(
        expected,
      );
    });

    it("a schema without a contract", async () => {
      const expected = `no contract is configured for ${COMMENT}; add schemas[].contract (fields, filterable, sortable, faceting, settings) to the config`;
      expect(await fails("scrypath.index.contract_drift", ["drift", COMMENT])).toBe(expected);
      expect(await fails("scrypath.settings.diff", ["settings", "diff", COMMENT])).toBe(expected);
    });
  });

  describe("--debug", () => {
    it("adds the stack trace after the one line", async () => {
      const r = await cli(["status", "Nope", "--debug"]);
      expect(r.code).toBe(1);
      const [first, ...rest] = r.stderr.split("\n");
      expect(first).toMatch(/^scrypath\.status failed: unknown schema "Nope"/);
      expect(rest.some((l) => l.startsWith("    at "))).toBe(true);
    });

    it("reports an unexpected error in one line, redacted, and its stack only with --debug", async () => {
      const broken = (): Operator =>
        ({
          syncStatus: async () => {
            throw new TypeError("driver exploded at postgres://postgres:hunter2@db:5432/app\n  more detail");
          },
          close: async () => {},
        }) as unknown as Operator;
      const plain = await cli(["status", "posts"], {}, broken);
      expect(plain.code).toBe(1);
      expect(plain.stderr).toBe(
        "scrypath.status failed: unexpected error: driver exploded at postgres://postgres:[REDACTED]@db:5432/app; re-run with --debug for the stack trace\n",
      );
      const debug = await cli(["status", "posts", "--debug"], {}, broken);
      expect(debug.stderr.split("\n")[0]).toBe(
        "scrypath.status failed: unexpected error: driver exploded at postgres://postgres:[REDACTED]@db:5432/app",
      );
      expect(debug.stderr).toContain("    at ");
      expect(debug.stderr).not.toContain("hunter2");
    });

    it("keeps secrets out of stack traces too", async () => {
      for (const config of [files.pgWrongPassword, files.meiliWrongKey, files.yaml, files.pgClosed]) {
        const r = await cli(["status", "posts", "--debug", "--config", config]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("    at ");
      }
    });
  });

  describe("the read side", () => {
    async function snapshot() {
      const { rows } = await d.oban.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${d.oban.prefix}".oban_jobs`,
      );
      // Other test files share this Meilisearch: count only the tasks on this file's indexes.
      const indexUids = ["post", "post__reindex", "product", "product__reindex", "comment", "other"].map(
        (n) => `${d.indexPrefix}_${n}`,
      );
      const tasks = await d.meili.tasks.getTasks({ indexUids, limit: 1 });
      const indexes = await d.meili.getRawIndexes({ limit: 1000 });
      return {
        jobs: rows[0]?.n,
        tasks: tasks.total,
        indexes: indexes.results.filter((i) => i.uid.startsWith(`${d.indexPrefix}_`)).map((i) => i.uid),
      };
    }

    it("writes nothing to Postgres or Meilisearch", async () => {
      const before = await snapshot();
      expect(before.jobs).toBe(2);
      expect(before.tasks).toBeGreaterThan(0);
      const commands = [
        ["status", "posts"],
        ["status", "posts", "--json"],
        ["failed", "posts"],
        ["failed", "posts", "--json", "--limit", "1"],
        ["reconcile", "posts"],
        ["reconcile", "posts", "--json", "--target-index", `${d.indexPrefix}_other`],
        ["reconcile", "posts", "--include-contract-drift"],
        ["drift", "posts"],
        ["drift", "posts", "--json"],
        ["settings", "diff", "posts"],
        ["settings", "diff", "posts", "--json"],
        ["settings", "read", "posts"],
        // Failing reads must not create what they did not find either.
        ["drift", "products"],
        ["settings", "read", "products"],
        ["status", "products", "--index-prefix", "nowhere"],
      ];
      for (const argv of commands) {
        const r = await cli(argv);
        expect([0, 1, 2]).toContain(r.code);
      }
      expect(await snapshot()).toEqual(before);
    });
  });
});
