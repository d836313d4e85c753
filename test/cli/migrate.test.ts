// `scrypath-bot migrate [--check]` against the real Postgres, on a state schema of its own: the only
// DDL the bot runs, its exit codes (0 up to date, 1 pending, 2 could not check), and the CLI's own
// mutations refused (never auto-migrated) while migrations are pending.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { STATE_VERSION } from "../../src/state/migrations.ts";
import { runCaptured } from "../support/cli.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(argv: string[]): Promise<Result> {
  const { code, stdout, stderr } = await runCaptured(argv, {
    env: {},
  });
  return { code, stdout, stderr };
}

describe("scrypath-bot migrate", () => {
  let d: TestDeployment;
  let dir = "";
  let config = "";
  let unreachable = "";

  const schemaTables = async (): Promise<string[]> => {
    const { rows } = await d.oban.pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
      [d.config.state.schema],
    );
    return rows.map((r) => r.table_name);
  };
  const schemaExists = async (): Promise<boolean> => {
    const { rows } = await d.oban.pool.query(
      "SELECT 1 FROM information_schema.schemata WHERE schema_name = $1",
      [d.config.state.schema],
    );
    return rows.length > 0;
  };

  beforeAll(async () => {
    d = await testDeployment([postsSchema()], { migrate: false });
    dir = mkdtempSync(join(tmpdir(), "scrypath-migrate-"));
    config = join(dir, "scrypath-bot.yml");
    writeFileSync(config, stringify(d.raw));
    // A port nobody listens on: Postgres cannot be reached there.
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    unreachable = join(dir, "unreachable.yml");
    writeFileSync(
      unreachable,
      stringify({
        ...d.raw,
        database: {
          ...(d.raw.database as Record<string, unknown>),
          url: `postgres://bot@127.0.0.1:${port}/app`,
          connectTimeoutMs: 2_000,
        },
      }),
    );
  });

  afterAll(async () => {
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("--check on a fresh state schema: exit 1, how many are pending, and nothing created", async () => {
    const r = await cli(["migrate", "--check", "--config", config]);
    expect(r).toMatchObject({ code: 1, stderr: "" });
    expect(r.stdout).toBe(
      `${STATE_VERSION} migrations pending (0 → ${STATE_VERSION}); run \`scrypath-bot migrate\`\n`,
    );
    expect(await schemaExists()).toBe(false);
  });

  it("a CLI mutation with migrations pending is refused with the migrate hint, not migrated", async () => {
    const failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, `${d.indexPrefix}_post`, [1]),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 3,
      maxAttempts: 3,
    });
    const r = await cli(["retry", "posts", "--id", String(failed), "--yes", "--config", config]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("migrations_pending");
    expect(r.stderr).toContain("run `scrypath-bot migrate`");
    expect(r.stderr).toContain("not in the audit log");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(await schemaExists()).toBe(false);
    const { rows } = await d.oban.pool.query(`SELECT count(*)::int AS n FROM "${d.oban.prefix}".oban_jobs`);
    expect(rows[0].n).toBe(1);
  });

  it("migrate applies every migration at once (two at the same time: one applies, one finds it done)", async () => {
    const [a, b] = await Promise.all([
      cli(["migrate", "--config", config]),
      cli(["migrate", "--config", config]),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect([a.stdout, b.stdout].sort()).toEqual(
      [
        `applied ${STATE_VERSION} migrations (0 → ${STATE_VERSION})\n`,
        `up to date at ${STATE_VERSION}\n`,
      ].sort(),
    );
    expect(await schemaTables()).toEqual(
      expect.arrayContaining([
        "audit_log",
        "confirmations",
        "digest_slots",
        "replay_links",
        "schema_migrations",
      ]),
    );
    const { rows } = await d.oban.pool.query(
      `SELECT array_agg(version ORDER BY version) AS v FROM "${d.config.state.schema}".schema_migrations`,
    );
    expect(rows[0].v).toEqual(Array.from({ length: STATE_VERSION }, (_, i) => i + 1));
  });

  it("once migrated: migrate is a no-op and --check exits 0", async () => {
    expect(await cli(["migrate", "--config", config])).toEqual({
      code: 0,
      stdout: `up to date at ${STATE_VERSION}\n`,
      stderr: "",
    });
    expect(await cli(["migrate", "--check", "--config", config])).toEqual({
      code: 0,
      stdout: `up to date at ${STATE_VERSION}\n`,
      stderr: "",
    });
  });

  it("Postgres unreachable: --check exits 2 (could not check), migrate exits 1, one line each", async () => {
    const check = await cli(["migrate", "--check", "--config", unreachable]);
    expect(check.code).toBe(2);
    expect(check.stdout).toBe("");
    expect(check.stderr).toMatch(/^scrypath-bot\.migrate failed: .*Postgres/);
    expect(check.stderr.trim().split("\n")).toHaveLength(1);
    const migrate = await cli(["migrate", "--config", unreachable]);
    expect(migrate.code).toBe(1);
    expect(migrate.stderr).toMatch(/^scrypath-bot\.migrate failed: .*Postgres/);
  });

  it("--check with options it does not know exits 2, never 1 (which means pending)", async () => {
    const r = await cli(["migrate", "--check", "--cehck-twice", "--config", config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --cehck-twice");
    expect((await cli(["migrate", "extra", "--config", config])).code).toBe(1);
  });

  it("--help names the command and its own exit codes", async () => {
    const r = await cli(["migrate", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: scrypath-bot migrate [--check]");
    expect(r.stdout).toContain("1 could not migrate, or with --check: migrations are pending");
    expect(r.stdout).toContain("2 with --check: could not check");
    expect((await cli(["--help"])).stdout).toContain("scrypath-bot migrate [--check]");
  });
});
