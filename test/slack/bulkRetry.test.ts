// Bulk retry from Slack end to end (issue 16): `/scrypath retry <schema> --class C` over signed HTTP
// into real Bolt apps, real Postgres and Meilisearch, the fake Slack recording every card and edit.
// The filter is resolved once to explicit ids stored with the request; the card states the blast
// radius (counts and five samples, never the ids); one authorised Confirm replays exactly those
// ids in batches, with progress edits at a bounded rate, once across replicas; a process killed
// between batches leaves whole batches, and asking again replays only the rest.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runScrypathJob } from "../../devkit/sandbox/worker.ts";
import { CONFIRM_ACTIONS } from "../../views/confirm.ts";
import { REQUEST_ACTIONS } from "../../views/types.ts";
import { advisoryWaiter, holdRetryLock } from "../support/bulk.ts";
import { insertJob } from "../support/db.ts";
import { eventually } from "../support/eventually.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { buttonValues, slackEnv } from "../support/slack.ts";
import { startTcpProxy } from "../support/tcpProxy.ts";
import {
  ALICE,
  BOB,
  CAROL,
  DAVE,
  Harness,
  jargonIn,
  operatorsConfig,
  readerText,
  type TestBot,
  textOf,
} from "./confirmHarness.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TRANSPORT = "** (Req.TransportError) timeout connecting to search.internal:7700 api_key=supersecret99";
const VALIDATION = '** (Ecto.CastError) cannot cast "abc" to :integer';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0)
    await closers
      .pop()?.()
      .catch(() => {});
});

interface Setup {
  d: TestDeployment;
  h: Harness;
  live: string;
}

async function setup(): Promise<Setup> {
  const d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })]);
  closers.push(() => d.close());
  const live = `${d.indexPrefix}_post`;
  await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
  const h = await Harness.create(d);
  closers.push(() => h.close());
  return { d, h, live };
}

/** `n` failed transport jobs (or `error`), oldest first, failed at `at` + i minutes. */
async function failed(
  { d, live }: Setup,
  n: number,
  fields: { state?: string; error?: string; args?: Record<string, unknown> } = {},
): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = new Date(Date.UTC(2026, 10, 20, 10, i));
    ids.push(
      await insertJob(d.oban.pool, d.oban.prefix, {
        state: fields.state ?? "discarded",
        queue: QUEUE,
        args: fields.args ?? upsertArgs(POST, live, [1000 + i]),
        errors: [obanError(fields.error ?? TRANSPORT, 3, at)],
        attempt: 3,
        maxAttempts: 3,
        attemptedAt: at,
      }),
    );
  }
  return ids;
}

/** failed job id → the ids of the jobs the bot inserted to replay it. */
async function replays({ d }: Setup): Promise<Map<number, number[]>> {
  const { rows } = await d.oban.pool.query(
    `SELECT (meta->'scrypath_bot'->>'replay_of')::int AS of, id::int AS id FROM "${d.oban.prefix}".oban_jobs
     WHERE meta ? 'scrypath_bot' ORDER BY id`,
  );
  const out = new Map<number, number[]>();
  for (const r of rows) out.set(r.of, [...(out.get(r.of) ?? []), r.id]);
  return out;
}

async function linkCount({ d }: Setup): Promise<number> {
  const { rows } = await d.oban.pool.query(
    `SELECT count(*)::int AS n FROM "${d.config.state.schema}".replay_links`,
  );
  return rows[0].n;
}

/** The request a confirmation row stores (what the confirm acts on). */
async function storedRequest(h: Harness, id: string): Promise<Record<string, unknown>> {
  const row = await h.recordedConfirmation(id);
  return (row.request as { request: Record<string, unknown> }).request;
}

const sortNum = (ids: number[]) => [...ids].sort((a, b) => a - b);

describe("/scrypath retry <schema> --class: the request and its card", () => {
  it("stores exactly the ids the failed-work listing shows for the class, and the card states the blast radius", async () => {
    const s = await setup();
    const { d, h } = s;
    const bot = await h.bot();
    const terminal = await failed(s, 6);
    const retrying = await failed(s, 2, { state: "retryable" });
    await failed(s, 2, { error: VALIDATION });
    const [noPayload] = await failed(s, 1, {
      args: { ...upsertArgs(POST, s.live, [9]), documents: undefined },
    });
    const replayed = terminal[0] as number;
    await d.operator.retrySyncWork("posts", replayed, { id: "cli:ops" });

    const before = h.fake.posted.length;
    const asked = await h.command(bot, "retry posts --class transport --state all", ALICE);
    const card = await h.nextCard(before);
    expect(h.fake.postsTo(asked)).toEqual([]);

    // The ids stored with the request: the listing of the class, less what a single retry refuses.
    const listing = await d.operator.failedSyncWork("posts", {
      source: "oban",
      reasonClass: "transport",
      limit: 1000,
    });
    const listed = listing.entries.filter((e) => e.retryable && !e.replayedAs).map((e) => e.id);
    const request = await storedRequest(h, card.id);
    expect(request).toMatchObject({ kind: "bulk_retry", reasonClass: "transport", state: "all" });
    expect(request.ids).toEqual(sortNum(listed));
    expect(request.ids).toEqual(sortNum([...terminal.slice(1), ...retrying]));
    expect(listing.entries.map((e) => e.id)).toEqual(expect.arrayContaining([replayed, noPayload]));

    // The blast radius: counts by class and state, the exclusions, what will happen; danger dialog.
    const text = readerText(card.body);
    expect(card.body.text).toMatch(/Retry 7 failed transport jobs in MyApp\.Blog\.Post/);
    expect(text).toContain("`search_sync`");
    expect(text).toMatch(/terminal \(`discarded`\): 5/);
    expect(text).toMatch(/retrying \(`retryable`\): 2/);
    expect(text).toMatch(/`transport`: 7/);
    expect(text).toContain("2 matching rows were left out: 1 already replayed, 1 not retryable");
    expect(text).toContain(
      "Inserts 7 new Oban jobs in queue search_sync, available now, in one transaction;",
    );
    expect(text).toContain("the failed jobs stay as they are");
    expect(text).toContain("2 of them are retrying: Oban will also run those originals again by itself");
    expect(text).toMatch(/Sample: 5 of 7, newest jobs first/);
    expect(text).not.toContain("supersecret99");
    // Five samples, never the whole list.
    expect(new Set(text.match(/oban:\d+/g) ?? []).size).toBe(5);
    expect(jargonIn(card.body)).toEqual([]);
    const confirm = JSON.stringify(card.body.blocks);
    expect(confirm).toContain('"style":"danger"');
    expect(confirm).toContain('"confirm":{');

    // The request's audit row names the filter and how many, not the ids.
    const [requested] = await h.auditOf(card.id);
    expect(requested).toMatchObject({
      actor: ALICE,
      outcome: "requested",
      action: "scrypath.ops.failed_work_retry",
      target: { source: "oban", bulk: { reasonClass: "transport", state: "all" }, count: 7 },
    });
    expect(JSON.stringify(requested?.target)).not.toContain(String(terminal[1]));

    // The two-person rule: the requester cannot confirm; a non-operator is denied. Nothing runs.
    const own = await h.decide(bot, card, ALICE);
    expect(textOf((await h.fake.waitForPosts(own, 1))[0]?.body ?? {})).toMatch(/Someone else must confirm/);
    const dave = await h.decide(bot, card, DAVE);
    expect(textOf((await h.fake.waitForPosts(dave, 1))[0]?.body ?? {})).toMatch(/needs the operator role/);
    expect((await h.confirmation(card.id)).status).toBe("pending");
    expect((await replays(s)).size).toBe(1);
    expect((await h.auditOf(card.id)).map((r) => [r.actor, r.outcome, r.reason])).toEqual([
      [ALICE, "requested", null],
      [ALICE, "refused", "two_person_rule"],
      [DAVE, "refused", "not_an_operator"],
    ]);
  });

  it("refuses privately above the cap (with the count, audited) and when nothing can be retried: no card", async () => {
    const s = await setup();
    const { h } = s;
    // Its own operator: the access section (the cap) is the operator's configuration.
    const bot = await h.bot({ access: operatorsConfig({ bulkRetryLimit: 3 }), ownOperator: true });
    await failed(s, 4);
    await failed(s, 1, {
      error: VALIDATION,
      args: { ...upsertArgs(POST, s.live, [9]), documents: undefined },
    });
    const before = h.fake.posted.length;

    const capped = await h.answer(await h.command(bot, "retry posts --class transport", ALICE));
    expect(readerText(capped)).toMatch(/4 failed jobs of class transport match, more than the limit of 3/);
    expect(readerText(capped)).toContain("narrow the filter with --since or --state");
    const [audit] = await h.auditWithReason("bulk_limit");
    expect(audit).toMatchObject({
      actor: ALICE,
      outcome: "refused",
      details: { matching: 4, limit: 3, step: "preview" },
      target: { source: "oban", bulk: { reasonClass: "transport" } },
    });
    // Audited once (by the workflow, with the requester), not twice.
    expect(await h.auditWithReason("bulk_limit")).toHaveLength(1);

    const nothing = await h.answer(await h.command(bot, "retry posts --class validation", ALICE));
    expect(readerText(nothing)).toMatch(/no failed terminal jobs of class validation can be retried/);
    expect(await h.auditWithReason("nothing_to_retry")).toHaveLength(1);
    expect(h.fake.posted.length).toBe(before);
  });
});

describe("confirming a bulk retry", () => {
  it("edits progress on the card at a bounded rate, then the counts per outcome; a row replayed meanwhile is skipped", async () => {
    const s = await setup();
    const { d, h } = s;
    // Postgres answers through a proxy that delays each answer: one row per batch then takes a few
    // tens of milliseconds, so the execution lasts seconds whatever the machine's speed.
    const url = new URL(d.config.database.url);
    const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    closers.push(() => proxy.close());
    const bot = await h.bot({
      access: operatorsConfig({ bulkRetryBatchSize: 1 }),
      database: { url: proxy.rewrite(d.config.database.url) },
    });
    const N = 60;
    const ids = await failed(s, N);
    const before = h.fake.posted.length;
    await h.command(bot, "retry posts --class transport", ALICE);
    const card = await h.nextCard(before);
    // Replayed meanwhile by a single retry: skipped at the confirm, and counted.
    await d.operator.retrySyncWork("posts", ids[10] as number, { id: "cli:ops" });

    proxy.setAnswerDelay(8);
    const started = Date.now();
    await h.decide(bot, card, BOB);
    const done = await h.cardUpdate(card.ts, /^Done/);
    const elapsed = Date.now() - started;
    proxy.setAnswerDelay(0);

    const updates = h.fake.updatesOf(card.ts);
    const progress = updates.filter((u) => /^Running/.test(String(u.text)) && / of 60/.test(String(u.text)));
    // "Running…", at most one progress edit per 2 s, and the final edit, last.
    expect(progress.length).toBeGreaterThanOrEqual(1);
    expect(progress.length).toBeLessThanOrEqual(Math.floor(elapsed / 2_000) + 1);
    expect(updates.length).toBe(progress.length + 2);
    expect(String(updates.at(-1)?.text)).toMatch(/^Done/);
    for (const u of progress) expect(readerText(u)).toMatch(/\d+ of 60/);

    const shown = readerText(done);
    expect(done.text).toMatch(/Bulk retry accepted · 59 of 60 replayed as new jobs, 1 skipped/);
    expect(shown).toContain("Replayed: 59");
    expect(shown).toContain("Skipped: 1 (1 already replayed)");
    expect(shown).toContain("Accepted is not searchable");
    expect(buttonValues(done, CONFIRM_ACTIONS.confirm)).toEqual([]);
    const all = await replays(s);
    expect(all.get(ids[10] as number)).toHaveLength(1);
    expect(ids.every((id) => all.get(id)?.length === 1)).toBe(true);
    expect(await h.confirmation(card.id)).toMatchObject({
      status: "done",
      result: { kind: "bulk_retry", replayed: 59, skipped: { already_replayed: 1 }, failed_batches: 0 },
    });
  });

  it("executes once under 20 concurrent confirms over two replicas on one database", async () => {
    const s = await setup();
    const { h } = s;
    const access = operatorsConfig({ bulkRetryBatchSize: 10 });
    const one = await h.bot({ access, ownOperator: true });
    const two = await h.bot({ access, ownOperator: true });
    const ids = await failed(s, 30);
    const before = h.fake.posted.length;
    await h.command(one, "retry posts --class transport", ALICE);
    const card = await h.nextCard(before);

    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.decide(i % 2 === 0 ? one : two, card, i % 3 === 0 ? CAROL : BOB),
      ),
    );
    await h.cardUpdate(card.ts, /^Done/);
    const all = await replays(s);
    expect([...all.keys()].sort((a, b) => a - b)).toEqual(ids);
    expect([...all.values()].every((jobs) => jobs.length === 1)).toBe(true);
    expect(await linkCount(s)).toBe(30);
    const audit = await h.auditOf(card.id);
    expect(audit.filter((r) => r.outcome === "confirmed")).toHaveLength(1);
    expect(audit.filter((r) => r.outcome === "accepted")).toHaveLength(30);
  });
});

describe("a bot stopped (SIGTERM's drain) during a bulk retry", () => {
  it("stops after the batch running, ends the card with how many were replayed, and drains in time", async () => {
    const s = await setup();
    const { d, h } = s;
    const bot = await h.bot({ access: operatorsConfig({ bulkRetryBatchSize: 1 }), ownOperator: true });
    const ids = await failed(s, 3);
    const before = h.fake.posted.length;
    await h.command(bot, "retry posts --class transport", ALICE);
    const card = await h.nextCard(before);

    // Batch two waits on its row's lock, held here, when the stop begins.
    const lock = await holdRetryLock(d, ids[1] as number);
    closers.push(() => lock.release());
    await h.decide(bot, card, BOB);
    await advisoryWaiter(d);
    const stopped = bot.bot.stop();
    await lock.release();
    expect(await stopped).toEqual({ drained: true });

    const final = await h.cardUpdate(card.ts, /^Failed/);
    expect(readerText(final)).toContain("2 of 3 replayed, 1 not attempted");
    expect(readerText(final)).toContain(
      "Not attempted: 1: the bot was shutting down, so it stopped between batches.",
    );
    expect(readerText(final)).toContain("Ask again for the rest");
    const made = await replays(s);
    expect([...made.keys()].sort((a, b) => a - b)).toEqual([ids[0], ids[1]]);
    expect((await h.confirmation(card.id)).status).toBe("failed");
  });
});

describe("a bot process killed between batches (SIGKILL)", () => {
  let dir: string | null = null;
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  async function serve(
    s: Setup,
    access: Record<string, unknown>,
  ): Promise<{ child: ChildProcess; base: string }> {
    dir = mkdtempSync(join(tmpdir(), "scrypath-bulk-"));
    writeFileSync(join(dir, "scrypath-bot.yml"), stringify({ ...s.d.raw, access }));
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...slackEnv(s.h.fake, undefined, {
          ADMIN_PORT: "0",
          SCRYPATH_BOT_CONFIG: join(dir, "scrypath-bot.yml"),
          LOG_LEVEL: "info",
        }),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let out = "";
    child.stdout?.on("data", (chunk) => (out += chunk));
    child.stderr?.on("data", (chunk) => (out += chunk));
    const port = await eventually(async () => /"port":(\d+)/.exec(out)?.[1], 60_000, "serve listening").catch(
      (error: Error) => {
        throw new Error(`${error.message}:\n${out}`);
      },
    );
    return { child, base: `http://127.0.0.1:${port}` };
  }

  it("closes the card and the audit with exactly how many were replayed; asking again replays only the rest", async () => {
    const s = await setup();
    const { d, h } = s;
    const access = operatorsConfig({ bulkRetryBatchSize: 2 });
    const ids = await failed(s, 7);
    const served = await serve(s, access);
    const before = h.fake.posted.length;
    await h.command(served, "retry posts --class transport", ALICE);
    const card = await h.nextCard(before);

    // The fifth row's per-job lock is held: batches one and two commit, the third waits on it.
    const lock = await holdRetryLock(d, ids[4] as number);
    closers.push(() => lock.release());
    await h.decide(served, card, BOB);
    await eventually(
      async () =>
        (await h.auditOf(card.id)).filter((r) => r.outcome === "accepted").length === 4 ? true : undefined,
      30_000,
      "two batches committed",
    );
    const exited = new Promise((resolve) => served.child.once("exit", resolve));
    served.child.kill("SIGKILL");
    await exited;
    await lock.release();

    // Another replica's sweeper finds the execution left behind (long enough ago) and closes it.
    const bot: TestBot = await h.bot();
    await d.oban.pool.query(
      `UPDATE "${d.config.state.schema}".confirmations SET decided_at = now() - interval '11 minutes' WHERE id = $1`,
      [card.id],
    );
    await bot.bot.confirmations.sweep();
    const closed = await h.cardUpdate(card.ts, /^Failed: .* — Not done: execution_interrupted/);
    expect(readerText(closed)).toContain("4 of 7 jobs were replayed (whole batches), the rest were not");
    expect(readerText(closed)).toContain("ask again for the rest");
    const audit = await h.auditOf(card.id);
    expect(audit.at(-1)).toMatchObject({
      actor: "scrypath-bot",
      outcome: "failed",
      reason: "execution_interrupted",
      details: { replayed: 4, not_replayed: 3 },
    });
    expect([...(await replays(s)).keys()].sort((a, b) => a - b)).toEqual(ids.slice(0, 4));

    // Asking again resolves only the rest (replayed rows are excluded by the same rule).
    const again = h.fake.posted.length;
    await h.command(bot, "retry posts --class transport", ALICE);
    const rest = await h.nextCard(again);
    expect((await storedRequest(h, rest.id)).ids).toEqual(ids.slice(4));
    expect(readerText(rest.body)).toContain("4 matching rows were left out: 4 already replayed");
    await h.decide(bot, rest, BOB);
    await h.cardUpdate(rest.ts, /^Done/);
    const all = await replays(s);
    expect([...all.keys()].sort((a, b) => a - b)).toEqual(ids);
    expect([...all.values()].every((jobs) => jobs.length === 1)).toBe(true);
    expect(await linkCount(s)).toBe(7);
  });
});

describe("Retry all N… on the /scrypath failed rollup", () => {
  it("asks for the class's bulk retry; once confirmed, the thread follows the replays as a group to verified", async () => {
    const s = await setup();
    const { d, h } = s;
    const bot = await h.bot();
    const transport = await failed(s, 3);
    await failed(s, 1, { error: VALIDATION });

    // The list (ephemeral) offers Retry all on each class line that has rows to retry.
    const list = await h.answer(await h.command(bot, "failed posts"));
    expect(textOf(list)).toContain("Retry all 3 transport…");
    expect(textOf(list)).toContain("Retry all 1 validation…");
    const value = buttonValues(list, REQUEST_ACTIONS.bulkRetry).find((v) => v.includes("transport"));
    expect(JSON.parse(value as string)).toEqual({
      schema: POST,
      reasonClass: "transport",
      state: "terminal",
    });

    const before = h.fake.posted.length;
    await h.click(bot, {
      actionId: REQUEST_ACTIONS.bulkRetry,
      value: value as string,
      userId: ALICE,
    });
    const card = await h.nextCard(before);
    expect(await storedRequest(h, card.id)).toMatchObject({
      kind: "bulk_retry",
      reasonClass: "transport",
      ids: sortNum(transport),
    });

    await h.decide(bot, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
    const fresh = [...(await replays(s)).values()].flat();
    expect(fresh).toHaveLength(3);

    // One reply in the card's thread follows the three new jobs as a group.
    const following = await h.reply(card.ts, /Bulk retry/);
    expect(String(following.text)).toMatch(/accepted is not searchable/);
    for (const job of fresh) await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, job);
    const done = await h.reply(card.ts, /^Bulk retry completed/);
    expect(readerText(done)).toMatch(/3 of 3 sampled documents verified|verified 3 of 3 sampled/);
    expect(
      h.fake.posted.filter((p) => p.body.thread_ts === card.ts && /Bulk retry/.test(String(p.body.text))),
    ).toHaveLength(1);
  });
});
