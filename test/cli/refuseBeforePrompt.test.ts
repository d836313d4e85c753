// Refuse before the prompt, not after the "yes": the real executable, spawned at a terminal (a
// pseudo-terminal from util-linux `script`, so the CLI asks its question as it does for a person)
// without --yes, over the real Postgres and Meilisearch. A request the execution would refuse is
// refused before any question (no "Type yes" ever appears, nothing is typed), exit 1, with exactly
// one audit row; a row Oban retries by itself is explained first, then asked about.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, QUEUE } from "../support/posts.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const ACTOR = `cli:${userInfo().username}`;
const PROMPT = "Type yes to continue: ";
/** Generous: a spawn loads TypeScript through tsx on a busy machine. */
const SPAWN_TIMEOUT_MS = 60_000;

const SECRETS = [
  inject("meilisearchApiKey"),
  decodeURIComponent(new URL(inject("databaseUrl")).password),
].filter((s): s is string => typeof s === "string" && s.length > 0);

interface TerminalRun {
  code: number | null;
  /** Everything the terminal showed (stdout and stderr share it), escape sequences and \r removed. */
  shown: string;
  /** What the terminal showed before the question, when one was asked. */
  beforePrompt: string | null;
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escape sequences are what it removes
const ESCAPES = /\u001b\[[0-9;?]*[A-Za-z]/g;
const plain = (text: string) => text.replace(ESCAPES, "").replace(/\r/g, "");

/**
 * `scrypath-bot <args>` at a terminal. When the question appears, types `answer` (or, with no
 * answer, stops the process: the test then fails on `beforePrompt`). Nothing is ever typed otherwise.
 */
function atTerminal(args: string[], env: NodeJS.ProcessEnv, answer?: string): Promise<TerminalRun> {
  const command = [process.execPath, "bin/scrypath-bot.js", ...args].map(quote).join(" ");
  return new Promise((done, fail) => {
    const child = spawn("script", ["--quiet", "--return", "--command", command, "/dev/null"], {
      cwd: ROOT,
      env: { ...env, SHELL: "/bin/sh", TERM: "dumb" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let raw = "";
    let beforePrompt: string | null = null;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`scrypath-bot ${args.join(" ")} did not finish; it showed: ${plain(raw)}`));
    }, SPAWN_TIMEOUT_MS);
    const read = (chunk: Buffer) => {
      raw += chunk.toString("utf8");
      if (beforePrompt === null && plain(raw).includes(PROMPT)) {
        beforePrompt = plain(raw).slice(0, plain(raw).indexOf(PROMPT));
        if (answer === undefined) child.kill("SIGTERM");
        else child.stdin.write(`${answer}\n`);
      }
    };
    child.stdout.on("data", read);
    child.stderr.on("data", read);
    child.on("error", (error) => {
      clearTimeout(timer);
      fail(new Error(`cannot run util-linux script(1) for a pseudo-terminal: ${error.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const shown = plain(raw);
      for (const secret of SECRETS) expect(shown).not.toContain(secret);
      done({ code, shown, beforePrompt });
    });
  });
}

describe("the CLI refuses before its confirmation prompt (issue 12)", () => {
  let d: TestDeployment;
  let dir: string;
  let configFile: string;
  let env: NodeJS.ProcessEnv;
  let live: string;

  beforeAll(async () => {
    d = await testDeployment([
      { module: POST, alias: "posts", syncMode: "oban", obanQueue: QUEUE, contract: { fields: ["title"] } },
    ]);
    live = `${d.indexPrefix}_post`;
    dir = mkdtempSync(join(tmpdir(), "scrypath-cli-refuse-"));
    configFile = join(dir, "scrypath-bot.yml");
    writeFileSync(configFile, stringify(d.raw));
    const { DATABASE_URL: _db, MEILISEARCH_URL: _m, MEILISEARCH_API_KEY: _k, ...rest } = process.env;
    env = rest;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    await d.meili
      .index(live)
      .updateSettings({ stopWords: ["a"] })
      .waitTask();
  });

  afterAll(async () => {
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cli = (args: string[], answer?: string) => atTerminal([...args, "--config", configFile], env, answer);

  const job = (state: string, ids: number[], extra: { attempt?: number; scheduledAt?: Date } = {}) =>
    insertJob(d.oban.pool, d.oban.prefix, {
      state,
      queue: QUEUE,
      args: upsertArgs(POST, live, ids),
      errors: state === "available" ? [] : [obanError("** (Req.TransportError) timeout")],
      attempt: extra.attempt ?? (state === "available" ? 0 : 8),
      maxAttempts: 8,
      ...(extra.scheduledAt ? { scheduledAt: extra.scheduledAt } : {}),
    });

  const audits = async () =>
    (
      await d.oban.pool.query(
        `SELECT actor, action, schema_module, outcome, reason, target, details, context
         FROM "${d.config.state.schema}".audit_log ORDER BY id`,
      )
    ).rows;

  const replaysOf = async (failedId: number) =>
    (
      await d.oban.pool.query(
        `SELECT id::int FROM "${d.oban.prefix}".oban_jobs WHERE meta @> $1::jsonb ORDER BY id`,
        [JSON.stringify({ scrypath_bot: { replay_of: failedId } })],
      )
    ).rows.map((r) => r.id as number);

  /**
   * Run a request that must be refused: no question, exit 1, the one-line failure, and exactly one
   * new audit row (returned).
   */
  const refusedBeforePrompt = async (args: string[], task: string) => {
    const before = (await audits()).length;
    const r = await cli(args);
    expect(r.beforePrompt, r.shown).toBeNull();
    expect(r.shown).not.toContain("Type yes");
    expect(r.shown).not.toContain("About to");
    expect(r.code, r.shown).toBe(1);
    expect(r.shown).toMatch(new RegExp(`^${task.replace(/\./g, "\\.")} failed: [^\n]+\n$`));
    const added = (await audits()).slice(before);
    expect(added).toHaveLength(1);
    return { shown: r.shown, audit: added[0] };
  };

  it("a job already replayed: names the replay and its state, before any question", async () => {
    const failed = await job("discarded", [301]);
    const replay = await d.operator.retrySyncWork("posts", failed, { id: "cli:oncall" });
    const { shown, audit } = await refusedBeforePrompt(
      ["retry", "posts", "--id", String(failed)],
      "scrypath.retry",
    );
    expect(shown).toMatch(
      new RegExp(
        `^scrypath\\.retry failed: already_replayed: job ${failed} was already replayed as job ${replay.job.id} \\(available\\) by cli:oncall at \\d{4}-`,
      ),
    );
    expect(audit).toMatchObject({
      actor: ACTOR,
      action: "scrypath.ops.failed_work_retry",
      schema_module: POST,
      outcome: "refused",
      reason: "already_replayed",
      target: { source: "oban", id: failed },
      details: { step: "check", replayJobId: replay.job.id, replayState: "available" },
      context: { via: "cli" },
    });
    expect(await replaysOf(failed)).toEqual([replay.job.id]);
  });

  it("the same through reconcile --action retry", async () => {
    const failed = await job("discarded", [302]);
    const replay = await d.operator.retrySyncWork("posts", failed, { id: "cli:oncall" });
    const { shown, audit } = await refusedBeforePrompt(
      ["reconcile", "posts", "--action", "retry", "--id", `oban:${failed}`],
      "scrypath.reconcile",
    );
    expect(shown).toContain(`already replayed as job ${replay.job.id} (available)`);
    expect(audit).toMatchObject({ reason: "already_replayed", details: { step: "check" } });
    expect(await replaysOf(failed)).toEqual([replay.job.id]);
  });

  it("a reindex the fresh report does not recommend: no_action, before any question", async () => {
    const { shown, audit } = await refusedBeforePrompt(
      ["reconcile", "posts", "--action", "reindex"],
      "scrypath.reconcile",
    );
    expect(shown).toBe(
      "scrypath.reconcile failed: no_action: no reindex action is available for this report\n",
    );
    expect(audit).toMatchObject({
      actor: ACTOR,
      action: "scrypath.ops.reindex",
      outcome: "refused",
      reason: "no_action",
      target: { target_index: `${live}__reindex` },
      details: { step: "check", drift_signals: expect.any(Array) },
    });
  });

  it("a backfill no worker can take: the mix command to run, before any question", async () => {
    const { shown, audit } = await refusedBeforePrompt(
      ["reconcile", "posts", "--action", "backfill"],
      "scrypath.reconcile",
    );
    expect(shown).toContain(
      `hand_off_not_configured: the bot cannot build documents for ${POST}; run \`mix scrypath.reconcile ${POST} --action backfill --index-prefix ${d.indexPrefix}\` in the application`,
    );
    expect(audit).toMatchObject({
      action: "scrypath.ops.backfill",
      reason: "hand_off_not_configured",
      details: { step: "check" },
    });
  });

  it("a swap whose promotion rules fail: every failing rule with its count, before any question", async () => {
    const target = `${live}__reindex`;
    await d.meili.createIndex(target, { primaryKey: "id" }).waitTask();
    await d.meili
      .index(target)
      .addDocuments([{ id: 1, title: "rebuilt" }])
      .waitTask();
    // A fresh schema state: these five rows are all there is.
    await d.oban.pool.query(`DELETE FROM "${d.oban.prefix}".oban_jobs`);
    for (const ids of [[401], [402], [403]]) await job("discarded", ids);
    for (const ids of [[404], [405]]) await job("available", ids);
    const tasks = (await d.meili.tasks.getTasks({ indexUids: [live], limit: 1 })).total;

    const { shown, audit } = await refusedBeforePrompt(
      ["reconcile", "posts", "--action", "swap"],
      "scrypath.reconcile",
    );
    expect(shown).toBe(
      `scrypath.reconcile failed: queue_work_pending: a swap of ${live} with ${target} would be refused: 2 queue jobs pending; 3 failed rows\n`,
    );
    expect(audit).toMatchObject({
      actor: ACTOR,
      action: "scrypath.ops.swap_live",
      outcome: "refused",
      reason: "queue_work_pending",
      target: { live_index: live, target_index: target },
      details: { step: "check", failing: ["queue_work_pending", "failed_work"] },
    });
    expect((await d.meili.tasks.getTasks({ indexUids: [live], limit: 1 })).total).toBe(tasks);
    await d.oban.pool.query(`DELETE FROM "${d.oban.prefix}".oban_jobs`);
  });

  it("settings: values that are live already, and a revert of a reverted change, before any question", async () => {
    const same = join(dir, "same.json");
    writeFileSync(same, JSON.stringify({ stop_words: ["a"] }));
    const noChange = await refusedBeforePrompt(
      ["settings", "hot-apply", "posts", "--settings-file", same, "--ack-live"],
      "scrypath.settings.hot_apply",
    );
    expect(noChange.shown).toBe(
      "scrypath.settings.hot_apply failed: no_change: these are the live values already: nothing would change\n",
    );
    expect(noChange.audit).toMatchObject({
      action: "scrypath.ops.hot_apply",
      schema_module: POST,
      reason: "no_change",
      target: { keys: ["stopWords"] },
      details: { step: "check" },
    });

    const applied = await d.operator.hotApplySettings("posts", {
      settings: { stop_words: ["the"] },
      acknowledgeLive: true,
      actor: { id: "cli:oncall" },
    });
    await d.operator.revertHotApply(applied.changeId, { actor: { id: "cli:oncall" } });
    const reverted = await refusedBeforePrompt(
      ["settings", "revert", String(applied.changeId)],
      "scrypath.settings.revert",
    );
    expect(reverted.shown).toMatch(
      new RegExp(
        `^scrypath\\.settings\\.revert failed: already_reverted: settings change ${applied.changeId} was already reverted by cli:oncall at \\d{4}-`,
      ),
    );
    expect(reverted.audit).toMatchObject({
      action: "scrypath.ops.hot_apply",
      reason: "already_reverted",
      target: { keys: ["stopWords"], revert_of: applied.changeId },
      details: { step: "check" },
    });
  });

  it("a row Oban retries by itself: says so first, then asks; yes replays it", async () => {
    const at = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000);
    const failed = await job("retryable", [501, 502], { attempt: 2, scheduledAt: at });
    const before = (await audits()).length;
    const r = await cli(["retry", "posts", "--id", String(failed)], "yes");
    expect(r.code, r.shown).toBe(0);
    const note = `Oban will retry this by itself at ${at.toISOString().replace(".000Z", "Z")} (attempt 3 of 8); a replay now runs the same work twice.`;
    expect(r.beforePrompt).toBe(
      [
        note,
        `About to retry failed work oban:${failed} in ${POST} (index ${live}, operation upsert, 2 documents, reason class transport). Inserts one new Oban job in queue ${QUEUE}; the failed job stays as it is.`,
        "Last error: ** (Req.TransportError) timeout",
        "",
      ].join("\n"),
    );
    expect(r.shown).toContain(`${PROMPT}yes\nRetried failed work ${failed}\nStatus: accepted\n`);
    const replays = await replaysOf(failed);
    expect(replays).toHaveLength(1);
    expect((await audits()).slice(before)).toMatchObject([
      { action: "scrypath.ops.failed_work_retry", outcome: "accepted", target: { new_job_id: replays[0] } },
    ]);
  });

  it("a hot-apply asks with the live and the requested values; no changes nothing", async () => {
    const file = join(dir, "change.json");
    writeFileSync(file, JSON.stringify({ stop_words: ["the", "an"], synonyms: { car: ["automobile"] } }));
    const settings = await d.meili.index(live).getSettings();
    const before = (await audits()).length;
    const r = await cli(["settings", "hot-apply", "posts", "--settings-file", file, "--ack-live"], "no");
    expect(r.code, r.shown).toBe(1);
    expect(r.beforePrompt).toMatch(
      new RegExp(
        [
          `^About to hot-apply settings to ${live} in ${POST} \\(operation stopWords, synonyms\\)\\. Changes stopWords, synonyms on the live index ${live} and waits for Meilisearch's settings task; the previous values are kept for a revert\\.`,
          `What changes on the live index \\(live → requested, read \\S+Z\\):`,
          "  stopWords:",
          "    added \\(2\\): an, the",
          "    removed \\(1\\): a",
          "  synonyms:",
          "    added \\(1\\): car → automobile",
          `Settings file: ${file}`,
          "$",
        ].join("\n"),
      ),
    );
    expect(r.shown).toContain("scrypath.settings.hot_apply failed: cancelled at the confirmation prompt");
    expect(await d.meili.index(live).getSettings()).toEqual(settings);
    expect((await audits()).slice(before)).toEqual([]);
  });
});
