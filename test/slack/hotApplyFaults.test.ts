// A settings hot-apply whose PATCH reached Meilisearch but whose answer was lost, driven through
// the real Slack app (signed requests, fake Slack API) and the CLI, with a fault proxy between the
// bot and the real Meilisearch. The bot runs with the default Meilisearch timeouts (10 s per
// request, 15 s task wait): the hot-apply bounds itself so the click shows "Running…" within 5 s
// and the final card within 15 s. A change that left without an answer is "outcome unconfirmed",
// never "Nothing was changed"; it is recorded unconfirmed and revertible, and its task is found.
// A change that never left, or provably never arrived, is "Not done: nothing was changed".
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { CONFIRM_ACTIONS } from "../../views/confirm.ts";
import { runCaptured } from "../support/cli.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { buttonValues } from "../support/slack.ts";
import { type ProxiedConnection, startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts";
import { ALICE, BOB, Harness, type TestBot, textOf } from "./confirmHarness.ts";

const POST = "MyApp.Blog.Post";
/** The bounds the issue sets: a visible reaction to a click, and the final card. */
const RUNNING_WITHIN_MS = 5_000;
const FINAL_WITHIN_MS = 15_000;

describe("hot-apply when Meilisearch's answer is lost", () => {
  let d: TestDeployment;
  let h: Harness;
  let proxy: TcpProxy;
  let bot: TestBot;
  let live: string;
  let dir: string;
  let configFile: string;
  let stopWatching: (() => void) | null = null;

  const state = () => `"${d.config.state.schema}"`;

  beforeAll(async () => {
    d = await testDeployment([{ module: POST, alias: "posts", contract: { fields: ["title"] } }]);
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    const meili = d.raw.meilisearch as { url: string; apiKey?: string };
    const target = new URL(meili.url);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
    // The bot reaches Meilisearch only through the proxy, with the default timeouts.
    const viaProxy = { ...meili, url: proxy.rewrite(meili.url) };
    h = await Harness.create(d);
    bot = await h.bot({ meilisearch: viaProxy });
    dir = mkdtempSync(join(tmpdir(), "hot-apply-faults-"));
    configFile = join(dir, "scrypath-bot.yml");
    writeFileSync(configFile, stringify({ ...d.raw, meilisearch: viaProxy }));
  });

  afterAll(async () => {
    await h?.close();
    await proxy?.close();
    await d?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await d.meili
      .index(live)
      .updateSettings({ stopWords: ["before"] })
      .waitTask();
  });

  afterEach(() => {
    stopWatching?.();
    stopWatching = null;
    proxy.setMode("pass");
    proxy.setAnswerDelay(0);
  });

  /** Run `fault` at the moment the bot's settings PATCH reaches the proxy (once). */
  const onPatch = (fault: (connection: ProxiedConnection) => void) => {
    let fired = false;
    stopWatching = proxy.watch((chunk, connection) => {
      if (fired || !chunk.toString("latin1").startsWith("PATCH /indexes/")) return;
      fired = true;
      fault(connection);
    });
  };

  const stopWords = () => d.meili.index(live).getStopWords();

  /** The hot-apply card, requested through the modal as an operator would. */
  const requestHotApply = (settings: Record<string, unknown>) => h.requestHotApply(bot, settings);

  /** Confirm `card`; the "Running…" edit within 5 s and the final edit within 15 s of the click. */
  const confirmTimed = async (card: { ts: string; id: string }, final: RegExp) => {
    const clicked = Date.now();
    await h.decide(bot, card, BOB);
    await h.cardUpdate(card.ts, /^Running/);
    const runningMs = Date.now() - clicked;
    const body = await h.cardUpdate(card.ts, final);
    const finalMs = Date.now() - clicked;
    expect(runningMs).toBeLessThan(RUNNING_WITHIN_MS);
    expect(finalMs).toBeLessThan(FINAL_WITHIN_MS);
    expect(buttonValues(body, CONFIRM_ACTIONS.confirm)).toEqual([]);
    if (process.env.HOT_APPLY_TIMINGS)
      console.log(`running ${runningMs} ms, final ${finalMs} ms: ${body.text}`);
    return { text: textOf(body), finalMs };
  };

  const lastChange = async () =>
    (
      await d.oban.pool.query(
        `SELECT id, status, task_uid, task_floor, reverted_at, revert_task_uid FROM ${state()}.settings_changes ORDER BY id DESC LIMIT 1`,
      )
    ).rows[0] as {
      id: string;
      status: string;
      task_uid: string | null;
      task_floor: string | null;
      reverted_at: Date | null;
      revert_task_uid: string | null;
    };

  const changeCount = async () =>
    Number((await d.oban.pool.query(`SELECT count(*) AS n FROM ${state()}.settings_changes`)).rows[0]?.n);

  /** The operator's own audit row of the last hot-apply (or revert). */
  const lastHotApplyAudit = async () =>
    (
      await d.oban.pool.query(
        `SELECT outcome, reason, details, target FROM ${state()}.audit_log
         WHERE action = 'scrypath.ops.hot_apply' AND outcome <> 'refused' ORDER BY id DESC LIMIT 1`,
      )
    ).rows[0] as { outcome: string; reason: string | null; details: Record<string, unknown> };

  /** The real settingsUpdate tasks on the index carrying these stop words, as Meilisearch lists them. */
  const tasksSetting = async (words: string[]) =>
    (await d.meili.tasks.getTasks({ types: ["settingsUpdate"], indexUids: [live] })).results.filter(
      (t) => JSON.stringify(t.details?.stopWords) === JSON.stringify(words),
    );

  const revertThroughSlack = async (changeId: number) => {
    const before = h.fake.posted.length;
    await h.command(bot, `settings revert ${changeId}`, ALICE);
    return h.nextCard(before);
  };

  const cli = async (argv: string[]) => {
    const { code, stdout, stderr } = await runCaptured(argv, {
      env: { SCRYPATH_BOT_CONFIG: configFile },
    });
    return { code, stdout, stderr };
  };

  it("the PATCH arrives, its answer never does: outcome unconfirmed, recorded revertible; the revert finds its task", async () => {
    const card = await requestHotApply({ stopWords: ["after"] });
    onPatch(() => proxy.setMode("dropAnswers"));
    const { text } = await confirmTimed(card, /^Outcome unconfirmed/);

    expect(text).toContain("Outcome unconfirmed · no Meilisearch task found");
    expect(text).toContain("did not answer the settings PATCH within 5 s");
    expect(text).toContain("could not confirm whether Meilisearch received it");
    expect(text).toContain("the live settings could not be read");
    expect(text).toContain(`scrypath-bot settings read ${POST}`);
    expect(text).not.toContain("Nothing was changed");
    // Meilisearch did apply it.
    expect(await stopWords()).toEqual(["after"]);
    const [task] = await tasksSetting(["after"]);
    expect(task?.status).toBe("succeeded");

    const change = await lastChange();
    expect(change).toMatchObject({ status: "unconfirmed", task_uid: null, reverted_at: null });
    expect(change.task_floor).toEqual(expect.any(String));
    expect(Number(change.task_floor)).toBeLessThan(task?.uid ?? 0);
    expect(text).toContain(`/scrypath settings revert ${change.id}`);
    const audit = await lastHotApplyAudit();
    expect(audit.outcome).toBe("unconfirmed");
    expect(audit.reason).toContain("could not confirm whether Meilisearch received it");
    expect(audit.details).toMatchObject({
      change_id: Number(change.id),
      task_uid: null,
      answer_lost: { task: null, live: "unreadable" },
    });
    expect((await h.auditOf(card.id)).map((r) => r.outcome)).toEqual([
      "requested",
      "confirmed",
      "unconfirmed",
    ]);
    expect(await h.confirmation(card.id)).toMatchObject({
      status: "failed",
      result: { kind: "hot_apply", status: "unconfirmed", task_uid: null },
    });

    // The network heals: the revert finds the change's task, records it, and restores the value.
    proxy.setMode("pass");
    const revert = await revertThroughSlack(Number(change.id));
    const reverted = await confirmTimed(revert, /^Done/);
    expect(reverted.text).toContain("Settings reverted · Meilisearch task ");
    expect(await stopWords()).toEqual(["before"]);
    expect(await lastChange()).toMatchObject({
      id: change.id,
      status: "unconfirmed",
      task_uid: String(task?.uid),
      reverted_at: expect.any(Date),
      revert_task_uid: expect.any(String),
    });
  });

  it("Meilisearch answers after the client gave up: outcome unconfirmed; the CLI revert restores the value", async () => {
    const card = await requestHotApply({ stopWords: ["slow"] });
    // From the PATCH on, every answer comes 7 s late: later than the PATCH and every read wait.
    onPatch(() => proxy.setAnswerDelay(7_000));
    const { text } = await confirmTimed(card, /^Outcome unconfirmed/);
    expect(text).toContain("did not answer the settings PATCH within 5 s");
    expect(text).toContain("could not confirm whether Meilisearch received it");
    expect(text).not.toContain("Nothing was changed");
    expect(await stopWords()).toEqual(["slow"]);
    const change = await lastChange();
    expect(change).toMatchObject({ status: "unconfirmed", task_uid: null });

    proxy.setAnswerDelay(0);
    const r = await cli(["settings", "revert", change.id, "--yes"]);
    expect(r.stderr).toBe(`Reverted settings change ${change.id} on ${live}.\n`);
    expect(r.stdout).toMatch(/^task uid=\d+ status=succeeded\n$/);
    expect(r.code).toBe(0);
    expect(await stopWords()).toEqual(["before"]);
    const [task] = await tasksSetting(["slow"]);
    expect(await lastChange()).toMatchObject({ status: "unconfirmed", task_uid: String(task?.uid) });
  });

  it("only the PATCH's answer is lost: the bot finds its task and says it applied", async () => {
    const card = await requestHotApply({ stopWords: ["found"] });
    onPatch(() => {
      proxy.setAnswerDelay(8_000);
      // The PATCH's answer is already held back; the reads that follow are answered at once.
      setTimeout(() => proxy.setAnswerDelay(0), 1_000);
    });
    const { text } = await confirmTimed(card, /^Done/);
    const [task] = await tasksSetting(["found"]);
    expect(text).toContain(`Settings applied · Meilisearch task ${task?.uid} succeeded`);
    expect(text).toContain(
      `answer to the settings change was lost (Meilisearch at ${proxy.rewrite("http://x").replace(/\/$/, "")} did not answer the settings PATCH within 5 s); the change was found afterwards as Meilisearch task ${task?.uid}`,
    );
    expect(await stopWords()).toEqual(["found"]);
    expect(await lastChange()).toMatchObject({ status: "succeeded", task_uid: String(task?.uid) });
    expect((await lastHotApplyAudit()).details).toMatchObject({
      answer_lost: { task: { uid: task?.uid, status: "succeeded" }, live: "show_change" },
    });
  });

  it("Meilisearch accepts the PATCH, then stalls: unconfirmed with its task uid, and the revert checks that task", async () => {
    const card = await requestHotApply({ stopWords: ["accepted"] });
    let patched = false;
    let stalled = false;
    stopWatching = proxy.watch((chunk) => {
      const head = chunk.toString("latin1");
      if (head.startsWith("PATCH /indexes/")) patched = true;
      // The PATCH is answered; the first look at its task goes nowhere.
      else if (patched && !stalled && head.startsWith("GET /tasks/")) {
        stalled = true;
        proxy.setMode("blackhole");
      }
    });
    const { text } = await confirmTimed(card, /^Outcome unconfirmed/);
    const [task] = await tasksSetting(["accepted"]);
    expect(text).toContain(`Outcome unconfirmed · Meilisearch task ${task?.uid} not seen to finish`);
    expect(text).toContain(
      `Meilisearch received the change as task ${task?.uid} (enqueued) — accepted is not applied yet: then Meilisearch did not answer about it`,
    );
    expect(text).toContain(`Check Meilisearch task ${task?.uid} (\`GET /tasks/${task?.uid}\`)`);
    expect(text).not.toContain("Nothing was changed");
    const change = await lastChange();
    expect(change).toMatchObject({ status: "unconfirmed", task_uid: String(task?.uid) });

    proxy.setMode("pass");
    const revert = await revertThroughSlack(Number(change.id));
    const reverted = await confirmTimed(revert, /^Done/);
    expect(reverted.text).toContain("Settings reverted · Meilisearch task ");
    expect(await stopWords()).toEqual(["before"]);
  });

  it("the PATCH is held and dropped with its connection: checked afterwards, Not done, nothing changed", async () => {
    const card = await requestHotApply({ stopWords: ["never"] });
    onPatch((connection) => {
      // Nothing reaches Meilisearch; the path heals once the bot has given up on that connection.
      proxy.setMode("blackhole");
      void connection.closed.then(() => setTimeout(() => proxy.setMode("pass"), 300));
    });
    const { text } = await confirmTimed(card, /^Failed/);
    expect(text).toContain("Not done: `meilisearch_unreachable`");
    expect(text).toContain("did not answer the settings PATCH within 5 s");
    expect(text).toContain(
      "checked afterwards: Meilisearch has no settings task for this change and the live settings do not carry it",
    );
    expect(text).toContain("Nothing was changed");
    expect(await stopWords()).toEqual(["before"]);
    expect(await tasksSetting(["never"])).toEqual([]);
    const change = await lastChange();
    expect(change).toMatchObject({ status: "not_applied", task_uid: null });

    // A revert says so instead of pretending to restore anything.
    const revert = await revertThroughSlack(Number(change.id));
    const refused = await confirmTimed(revert, /^Failed/);
    expect(refused.text).toContain("Not done: `not_applied`");
    expect(refused.text).toContain(
      `settings change ${change.id} never applied: Meilisearch has no settings task for it and the live stopWords do not carry it`,
    );
    expect(await lastChange()).toMatchObject({ status: "not_applied", reverted_at: null });
  });

  it("a revert whose answer is lost is unconfirmed too, and keeps its claim: a second revert is refused", async () => {
    const card = await requestHotApply({ stopWords: ["undo"] });
    await confirmTimed(card, /^Done/);
    const change = await lastChange();
    const revert = await revertThroughSlack(Number(change.id));
    onPatch(() => proxy.setMode("dropAnswers"));
    const { text } = await confirmTimed(revert, /^Outcome unconfirmed/);
    expect(text).toContain("did not answer the settings PATCH within 5 s");
    expect(text).toContain(`Revert of settings change ${change.id}`);
    expect(text).not.toContain("Nothing was changed");
    expect(await stopWords()).toEqual(["before"]);
    expect(await lastChange()).toMatchObject({ status: "succeeded", reverted_at: expect.any(Date) });

    proxy.setMode("pass");
    // The claim holds: a second revert is refused at once, privately, with no card to confirm.
    const before = h.fake.posted.length;
    const refused = await h.answer(await h.command(bot, `settings revert ${change.id}`, ALICE));
    expect(JSON.stringify(refused)).toContain("already_reverted");
    await new Promise((r) => setTimeout(r, 300));
    expect(h.fake.posted.length).toBe(before);
  });

  it("black-holed before anything is sent: Not done within the bound, nothing recorded, nothing changed", async () => {
    const card = await requestHotApply({ stopWords: ["hidden"] });
    const changes = await changeCount();
    proxy.setMode("blackhole");
    const { text } = await confirmTimed(card, /^Failed/);
    expect(text).toContain("Not done: `meilisearch_unreachable`");
    expect(text).toMatch(/Meilisearch at http:\/\/127\.0\.0\.1:\d+/);
    expect(text).toContain("Nothing was changed");
    proxy.setMode("pass");
    expect(await stopWords()).toEqual(["before"]);
    expect(await tasksSetting(["hidden"])).toEqual([]);
    expect(await changeCount()).toBe(changes);
  });

  it("the CLI says outcome unconfirmed, how to check and how to revert, and exits 1", async () => {
    const file = join(dir, "cli.json");
    writeFileSync(file, JSON.stringify({ stopWords: ["terminal"] }));
    onPatch(() => proxy.setMode("dropAnswers"));
    const started = Date.now();
    const r = await cli(["settings", "hot-apply", "posts", "--settings-file", file, "--ack-live", "--yes"]);
    expect(Date.now() - started).toBeLessThan(FINAL_WITHIN_MS);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("task uid=unknown status=unconfirmed\n");
    const change = await lastChange();
    expect(r.stderr).toContain(`Settings change ${change.id}: outcome unconfirmed: `);
    expect(r.stderr).toContain("did not answer the settings PATCH within 5 s");
    expect(r.stderr).toContain(`check the live settings with: scrypath-bot settings read ${POST}`);
    expect(r.stderr).toContain(`undo it with: scrypath-bot settings revert ${change.id}`);
    expect(r.stderr).not.toMatch(/nothing was (changed|done)/i);
    expect(await stopWords()).toEqual(["terminal"]);
    expect(change).toMatchObject({ status: "unconfirmed" });
  });
});
