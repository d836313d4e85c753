// The real executable, end to end: `node bin/scrypath-bot.js …` in a child process. Spawns are
// few and run in parallel (each costs about half a second).
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` placeholders in config text are under test
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { spawnBin } from "../support/cli.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema } from "../support/posts.ts";

const SECRETS = [
  inject("meilisearchApiKey"),
  decodeURIComponent(new URL(inject("databaseUrl")).password),
].filter((s): s is string => typeof s === "string" && s.length > 0);

describe("bin/scrypath-bot.js", () => {
  let d: TestDeployment;
  let dir: string;
  let configFile: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    dir = mkdtempSync(join(tmpdir(), "scrypath-bin-"));
    configFile = join(dir, "bot.yml");
    // Secrets come from the environment, as in production; the file holds only references.
    const raw = d.raw as { meilisearch: Record<string, unknown>; database: Record<string, unknown> };
    writeFileSync(
      configFile,
      stringify({
        ...d.raw,
        meilisearch: { ...raw.meilisearch, apiKey: "${SCRYPATH_TEST_MEILI_KEY}" },
        database: { ...raw.database, url: "${SCRYPATH_TEST_DB_URL}" },
      }),
    );
    const { DATABASE_URL: _db, MEILISEARCH_URL: _m, MEILISEARCH_API_KEY: _k, ...rest } = process.env;
    env = {
      ...rest,
      SCRYPATH_TEST_DB_URL: inject("databaseUrl"),
      SCRYPATH_TEST_MEILI_KEY: inject("meilisearchApiKey") ?? "",
    };
    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "retryable",
      queue: "search_sync",
      args: upsertArgs(POST, `${d.indexPrefix}_post`),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 1,
    });
  });

  afterAll(async () => {
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("runs status, --help and a failing command with the right exit codes and output", async () => {
    const [status, help, failing] = await Promise.all([
      spawnBin(["status", "posts", "--config", configFile], env),
      spawnBin(["--help"], env),
      spawnBin(["drift", "posts", "--config", configFile], env),
    ]);

    expect(status.stderr).toBe("");
    expect(status.code).toBe(0);
    expect(status.stdout).toBe(
      [
        `Schema: ${POST}`,
        "Mode: oban",
        `Index: ${d.indexPrefix}_post`,
        "Backend pending: 0",
        "Backend failed: 0",
        "Backend last succeeded: none",
        "Queue observed: yes",
        "Queue pending: 0",
        "Queue retrying: 1",
        "Queue failed: 0",
        "Queue last succeeded: none",
        "",
      ].join("\n"),
    );

    expect(help.code).toBe(0);
    expect(help.stderr).toBe("");
    expect(help.stdout).toMatch(/^Usage:\n {2}scrypath-bot status <Schema>/);

    // One line on stderr, exit 1, nothing on stdout.
    expect(failing.code).toBe(1);
    expect(failing.stdout).toBe("");
    expect(failing.stderr).toBe(
      `scrypath.index.contract_drift failed: no contract is configured for ${POST}; add schemas[].contract (fields, filterable, sortable, faceting, settings) to the config\n`,
    );

    for (const r of [status, help, failing]) {
      for (const secret of SECRETS) {
        expect(r.stdout).not.toContain(secret);
        expect(r.stderr).not.toContain(secret);
      }
    }
  });

  it("dispatches serve to the production bot: listed in --help, its own --help, one line without credentials", async () => {
    const noSlack = Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith("SLACK_")));
    const [help, serveHelp, serve] = await Promise.all([
      spawnBin(["--help"], env),
      spawnBin(["serve", "--help"], env),
      spawnBin(["serve", "--config", configFile], noSlack),
    ]);
    expect(help.stdout).toMatch(/\nRunning the bot:\n {2}scrypath-bot serve \[--config FILE\] \[--port N\] /);
    expect(serveHelp.code).toBe(0);
    expect(serveHelp.stdout).toMatch(/^Usage: scrypath-bot serve \[--config FILE\] \[--port N\]\n/);
    expect(serveHelp.stdout).toContain("SLACK_SIGNING_SECRET");

    // The bot, not the sandbox and not the command table: one line naming what is missing, exit 1.
    expect(serve.code).toBe(1);
    expect(serve.stdout).toBe("");
    expect(serve.stderr.trim().split("\n")).toHaveLength(1);
    expect(serve.stderr).toMatch(
      /^scrypath-bot: Slack settings: SLACK_BOT_TOKEN is not set .*SLACK_SIGNING_SECRET is not set/,
    );
  });
});
