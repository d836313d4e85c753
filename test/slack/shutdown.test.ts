// SIGTERM to the production entry (`npm run serve`'s command, a real process) during a confirmed
// retry whose execution is held: the test holds a SHARE lock on the deployment's oban_jobs, so the
// replay's INSERT waits. Real Postgres and Meilisearch, fake Slack.
//   - Released within the drain: readiness is 503 at once, a new slash command is told the bot is
//     restarting, the retry completes and the card says Done; exit 0, no row left `executing`.
//   - Held past the drain: the request is closed as interrupted (its card says so), nothing was
//     replayed, exit 0 within the bound, no row left `executing`.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { PoolClient } from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { send, slashCommandRequest } from "../../devkit/slackRequests.ts";
import { insertJob } from "../support/db.ts";
import { eventually } from "../support/eventually.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { slackEnv } from "../support/slack.ts";
import { ALICE, BOB, CHANNEL, Harness, operatorsConfig, type TestBot, textOf } from "./confirmHarness.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface Served {
  child: ChildProcess;
  bot: TestBot;
  admin: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

describe("SIGTERM during a confirmed retry (npm run serve as a process)", () => {
  let d: TestDeployment;
  let h: Harness;
  let dir: string;
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })]);
    await d.meili.createIndex(`${d.indexPrefix}_post`, { primaryKey: "id" }).waitTask();
    h = await Harness.create(d);
    dir = mkdtempSync(join(tmpdir(), "scrypath-shutdown-"));
    writeFileSync(join(dir, "scrypath-bot.yml"), stringify({ ...d.raw, access: operatorsConfig() }));
  });

  // A held lock never outlives its test (a failure would otherwise stall the next one).
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => {});
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await h?.close();
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const failedJob = () =>
    insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, `${d.indexPrefix}_post`, [3]),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 8,
      maxAttempts: 8,
    });

  async function serve(drainSeconds: number): Promise<Served> {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...slackEnv(h.fake, undefined, {
          ADMIN_PORT: "0",
          SCRYPATH_BOT_CONFIG: join(dir, "scrypath-bot.yml"),
          SHUTDOWN_DRAIN_SECONDS: String(drainSeconds),
          LOG_LEVEL: "info",
        }),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let out = "";
    child.stdout?.on("data", (chunk) => (out += chunk));
    child.stderr?.on("data", (chunk) => (out += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    const ports = await eventually(
      async () => {
        const port = /"port":(\d+)/.exec(out)?.[1];
        const adminPort = /"adminPort":(\d+)/.exec(out)?.[1];
        return port && adminPort ? { port, adminPort } : undefined;
      },
      60_000,
      "serve listening",
    ).catch((error: Error) => {
      throw new Error(`${error.message}:\n${out}`);
    });
    const bot = { base: `http://127.0.0.1:${ports.port}` } as TestBot;
    return { child, bot, admin: `http://127.0.0.1:${ports.adminPort}`, output: () => out, exited };
  }

  /** Asks for a retry, holds the replay's INSERT (a SHARE lock on oban_jobs), and confirms. */
  async function heldRetry(served: Served, failed: number) {
    const before = h.fake.posted.length;
    await h.command(served.bot, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    const locker: PoolClient = await d.oban.pool.connect();
    await locker.query("BEGIN");
    await locker.query(`LOCK TABLE "${d.oban.prefix}".oban_jobs IN SHARE MODE`);
    await h.decide(served.bot, card, BOB);
    await h.cardUpdate(card.ts, /^Running/);
    // The execution is under way and waits for the lock.
    await eventually(
      async () => {
        const { rows } = await d.oban.pool.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = $1::regclass`,
          [`"${d.oban.prefix}".oban_jobs`],
        );
        return rows[0].n > 0 ? true : undefined;
      },
      10_000,
      "the replay waiting for the lock",
    );
    expect((await h.confirmation(card.id)).status).toBe("executing");
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await locker.query("COMMIT");
      locker.release();
    };
    cleanups.push(release);
    return { card, release };
  }

  const executingRows = async () =>
    (
      await d.oban.pool.query(
        `SELECT count(*)::int AS n FROM "${d.config.state.schema}".confirmations WHERE status = 'executing'`,
      )
    ).rows[0].n as number;

  it("drains: readiness 503 at once, new work told to wait, the held retry completes, exit 0", async () => {
    const failed = await failedJob();
    const served = await serve(20);
    expect((await fetch(`${served.admin}/readyz`)).status).toBe(200);
    // A second request, still pending when the drain begins.
    const other = await failedJob();
    const before = h.fake.posted.length;
    await h.command(served.bot, `retry posts ${other}`, ALICE);
    const pending = await h.nextCard(before);
    const { card, release } = await heldRetry(served, failed);

    const signalledAt = Date.now();
    served.child.kill("SIGTERM");
    await eventually(
      async () => ((await fetch(`${served.admin}/readyz`)).status === 503 ? true : undefined),
      5_000,
      "readiness going 503",
    );
    // A new slash command is answered at once: the bot is restarting, nothing was done.
    const { url } = h.fake.responseUrl();
    const ack = await send(
      `${served.bot.base}/slack/events`,
      slashCommandRequest({ text: "status", responseUrl: url, channelId: CHANNEL, userId: ALICE }),
    );
    expect(ack.status).toBe(200);
    expect(ack.body).toMatch(/restarting, so nothing was done/);
    // A click is told the same, and its request stays pending for another replica.
    const click = await h.decide(served.bot, pending, BOB);
    expect(textOf(await h.answer(click))).toMatch(/restarting, so nothing was done/);
    expect((await h.confirmation(pending.id)).status).toBe("pending");

    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await release();
    const { code } = await served.exited;
    expect(code, served.output()).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(30_000);
    const done = await h.cardUpdate(card.ts, /^Done/);
    expect(textOf(done)).not.toMatch(/interrupted/);
    expect((await h.confirmation(card.id)).status).toBe("done");
    expect(await h.replaysOf(failed)).toHaveLength(1);
    expect(await h.replaysOf(other)).toEqual([]);
    expect((await h.confirmation(pending.id)).status).toBe("pending");
    expect(await executingRows()).toBe(0);
    expect(served.output()).toMatch(/"drained":true/);
  }, 120_000);

  it("closes a retry still held when the drain runs out as interrupted, card edited, exit 0", async () => {
    const failed = await failedJob();
    const served = await serve(2);
    const { card, release } = await heldRetry(served, failed);
    const signalledAt = Date.now();
    served.child.kill("SIGTERM");
    try {
      const { code } = await served.exited;
      expect(code, served.output()).toBe(0);
      // Drain (2 s) + closing what was interrupted and the pools (bounded): well inside 30 s.
      expect(Date.now() - signalledAt).toBeLessThan(25_000);
    } finally {
      await release();
    }
    await h.cardUpdate(card.ts, /^Failed: .* — Not done: execution_interrupted/);
    expect(await h.confirmation(card.id)).toMatchObject({
      status: "failed",
      result: { error: "execution_interrupted" },
    });
    expect(await executingRows()).toBe(0);
    // The process exited with the INSERT still waiting: it never happened.
    expect(await h.replaysOf(failed)).toEqual([]);
    expect(served.output()).toMatch(/"drained":false/);
  }, 120_000);
});
