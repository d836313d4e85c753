// The grants the README gives each role, checked by running the bot as those roles against the real
// Postgres (roles created here, dropped after): the migration role owns a state schema created for it
// (no CREATE on the database) and runs `scrypath-bot migrate`; the runtime role (SELECT, INSERT,
// UPDATE on the bot's tables, USAGE on their sequences, SELECT and INSERT on oban_jobs and USAGE on
// its sequence) takes a confirmed retry through the real Bolt app; the read-only role (SELECT on
// oban_jobs, and on the bot's tables: failed work shows the replays they record) answers reads.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { STATE_VERSION } from "../../src/state/migrations.ts";
import { runCaptured } from "../support/cli.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { ALICE, BOB, Harness, textOf } from "./confirmHarness.ts";

async function cli(argv: string[], config: string) {
  const { code, stdout, stderr } = await runCaptured([...argv, "--config", config], {
    env: {},
  });
  return { code, stdout, stderr };
}

describe("the grants each database role needs", () => {
  let d: TestDeployment;
  let h: Harness;
  let dir = "";
  let live = "";
  const password = randomBytes(12).toString("hex");
  const role = { migrator: "", runtime: "", reader: "", creator: "" };
  const config = { migrator: "", runtime: "", reader: "", creator: "" };
  const url = (name: string) => {
    const u = new URL(inject("databaseUrl"));
    u.username = name;
    u.password = password;
    return u.toString();
  };
  const failedJob = (ids: number[]) =>
    insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, ids),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 8,
      maxAttempts: 8,
    });

  beforeAll(async () => {
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })], { migrate: false });
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    for (const k of ["migrator", "runtime", "reader", "creator"] as const)
      role[k] = `${d.config.state.schema}_${k}`;
    const state = `"${d.config.state.schema}"`;
    const oban = `"${d.oban.prefix}"`;
    // As the README's DBA steps: once, by a superuser or the database owner.
    for (const statement of [
      ...Object.values(role).map((r) => `CREATE ROLE "${r}" LOGIN PASSWORD '${password}'`),
      `CREATE SCHEMA ${state} AUTHORIZATION "${role.migrator}"`,
      `GRANT USAGE ON SCHEMA ${state} TO "${role.runtime}", "${role.reader}"`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE "${role.migrator}" IN SCHEMA ${state} GRANT SELECT, INSERT, UPDATE ON TABLES TO "${role.runtime}"`,
      `ALTER DEFAULT PRIVILEGES FOR ROLE "${role.migrator}" IN SCHEMA ${state} GRANT USAGE ON SEQUENCES TO "${role.runtime}"`,
      // Reads show which failed jobs the bot replayed (replay_links) and the audit log.
      `ALTER DEFAULT PRIVILEGES FOR ROLE "${role.migrator}" IN SCHEMA ${state} GRANT SELECT ON TABLES TO "${role.reader}"`,
      `GRANT USAGE ON SCHEMA ${oban} TO "${role.runtime}", "${role.reader}"`,
      `GRANT SELECT, INSERT ON ${oban}.oban_jobs TO "${role.runtime}"`,
      `GRANT USAGE ON SEQUENCE ${oban}.oban_jobs_id_seq TO "${role.runtime}"`,
      `GRANT SELECT ON ${oban}.oban_jobs TO "${role.reader}"`,
      // The other way to let a migration role create the state schema itself.
      `GRANT CREATE ON DATABASE "${new URL(inject("databaseUrl")).pathname.slice(1)}" TO "${role.creator}"`,
    ]) {
      await d.oban.pool.query(statement);
    }
    dir = mkdtempSync(join(tmpdir(), "scrypath-grants-"));
    for (const k of ["migrator", "runtime", "reader", "creator"] as const) {
      config[k] = join(dir, `${k}.yml`);
      const database = { ...(d.raw.database as Record<string, unknown>), url: url(role[k]) };
      const state = k === "creator" ? { state: { schema: `${d.config.state.schema}_created` } } : {};
      writeFileSync(config[k], stringify({ ...d.raw, database, ...state }));
    }
    h = await Harness.create(d);
  });

  afterAll(async () => {
    await h?.close();
    if (d) {
      const names = Object.values(role).filter(Boolean);
      await d.oban.pool.query(`DROP SCHEMA IF EXISTS "${d.config.state.schema}" CASCADE`);
      await d.oban.pool.query(`DROP SCHEMA IF EXISTS "${d.config.state.schema}_created" CASCADE`);
      if (names.length > 0) {
        const list = names.map((r) => `"${r}"`).join(", ");
        await d.oban.pool.query(`DROP OWNED BY ${list}`).catch(() => {});
        await d.oban.pool.query(`DROP ROLE IF EXISTS ${list}`);
      }
      await d.close();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the migration role, owner of the state schema and nothing more, migrates; the runtime role may check", async () => {
    expect(await cli(["migrate", "--check"], config.runtime)).toMatchObject({ code: 1 });
    expect(await cli(["migrate"], config.migrator)).toEqual({
      code: 0,
      stdout: `applied ${STATE_VERSION} migrations (0 → ${STATE_VERSION})\n`,
      stderr: "",
    });
    expect(await cli(["migrate", "--check"], config.runtime)).toEqual({
      code: 0,
      stdout: `up to date at ${STATE_VERSION}\n`,
      stderr: "",
    });
  });

  it("a migration role with CREATE on the database creates the state schema itself", async () => {
    expect(await cli(["migrate"], config.creator)).toEqual({
      code: 0,
      stdout: `applied ${STATE_VERSION} migrations (0 → ${STATE_VERSION})\n`,
      stderr: "",
    });
    // Without that grant (the owner of a schema made for it only), creating another one is refused.
    const elsewhere = join(dir, "migrator-elsewhere.yml");
    const database = { ...(d.raw.database as Record<string, unknown>), url: url(role.migrator) };
    const schema = `${d.config.state.schema}_elsewhere`;
    writeFileSync(elsewhere, stringify({ ...d.raw, database, state: { schema } }));
    const denied = await cli(["migrate"], elsewhere);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^scrypath-bot\.migrate failed: .*permission denied for database/);
    const { rows } = await d.oban.pool.query("SELECT to_regnamespace($1)::text AS s", [schema]);
    expect(rows[0].s).toBeNull();
  });

  it("the runtime role takes a confirmed retry through the Slack app: job, NOTIFY, audit, card", async () => {
    const failed = await failedJob([501]);
    const listener = new pg.Client({ connectionString: inject("databaseUrl") });
    await listener.connect();
    const notified: string[] = [];
    listener.on("notification", (n) => notified.push(String(n.payload)));
    await listener.query(`LISTEN "${d.oban.prefix}.oban_insert"`);
    try {
      const bot = await h.bot({ database: { url: url(role.runtime) } });
      const status = await h.finalAnswer(bot, "status posts", ALICE);
      expect(status.text).toContain("1 terminal");
      const before = h.fake.posted.length;
      await h.command(bot, `retry posts ${failed}`, ALICE);
      const card = await h.nextCard(before);
      await h.decide(bot, card, BOB);
      const done = await h.cardUpdate(card.ts, /^Done/);
      const replays = await h.replaysOf(failed);
      expect(replays).toHaveLength(1);
      expect(textOf(done)).toContain(String(replays[0]));
      expect((await h.auditOf(card.id)).map((r) => r.outcome)).toContain("accepted");
      await expect.poll(() => notified).toContainEqual(JSON.stringify({ queue: QUEUE }));
      expect(bot.logs.join("\n")).not.toMatch(/permission denied|42501/);
    } finally {
      await listener.end();
    }
  });

  it("the read-only role answers status, failed (with the replay the runtime role made) and audit", async () => {
    const failed = await failedJob([502]);
    const status = await cli(["status", "posts"], config.reader);
    expect(status).toMatchObject({ code: 0, stderr: "" });
    const failedWork = await cli(["failed", "posts"], config.reader);
    expect(failedWork).toMatchObject({ code: 0, stderr: "" });
    expect(failedWork.stdout).toContain(String(failed));
    const audit = await cli(["audit", "--json"], config.reader);
    expect(audit.code).toBe(0);
    expect(JSON.parse(audit.stdout).map((r: { outcome: string }) => r.outcome)).toContain("accepted");
    // And it changes nothing: a retry fails on its first write.
    const retry = await cli(["retry", "posts", "--id", String(failed), "--yes"], config.reader);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toMatch(/permission denied/);
    expect(await h.replaysOf(failed)).toEqual([]);
  });
});
