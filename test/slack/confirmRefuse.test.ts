// Refuse before the card, not after the confirm: a request runs the checks the confirm will run and
// answers at once, privately, with what would be refused: audited, and no public card. Signed HTTP
// into the real Bolt app, real Postgres and Meilisearch, the fake Slack recording what was sent.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { ALICE, BOB, CHANNEL, Harness, type TestBot, textOf } from "./confirmHarness.ts";

/** The spec's bound for a slash command's final answer. */
const ANSWER_WITHIN_MS = 15_000;

describe("requests refused before any card is posted", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let live: string;

  const job = (state: string, ids: number[]) =>
    insertJob(d.oban.pool, d.oban.prefix, {
      state,
      queue: QUEUE,
      args: upsertArgs(POST, live, ids),
      errors: state === "available" ? [] : [obanError("** (Req.TransportError) timeout")],
      attempt: state === "available" ? 0 : 8,
      maxAttempts: 8,
    });

  /** The requester's private answer, its time, and that no card (nor any other message) was posted. */
  const refusedPrivately = async (text: string): Promise<{ shown: string; ms: number }> => {
    const before = h.fake.posted.length;
    const started = Date.now();
    const answer = await h.answer(await h.command(bot, text, ALICE));
    const ms = Date.now() - started;
    // Anything the bot would have posted would be there by now.
    await new Promise((r) => setTimeout(r, 300));
    expect(h.fake.posted.slice(before)).toEqual([]);
    return { shown: textOf(answer), ms };
  };

  const lastRefusal = async (reason: string) => {
    const [row] = await h.auditWithReason(reason);
    return row;
  };

  beforeAll(async () => {
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })]);
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    h = await Harness.create(d);
    bot = await h.bot();
  });

  afterAll(async () => {
    await h?.close();
    await d?.close();
  });

  it("a job already replayed: names the replay and its state, audited, no card", async () => {
    const failed = await job("discarded", [301]);
    const replay = await d.operator.retrySyncWork("posts", failed, { id: BOB });
    const { shown, ms } = await refusedPrivately(`retry posts ${failed}`);
    expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
    expect(shown).toContain("already_replayed");
    expect(shown).toContain(`already replayed as job ${replay.job.id} (available)`);
    expect(await h.replaysOf(failed)).toEqual([replay.job.id]);
    expect(await lastRefusal("already_replayed")).toMatchObject({
      actor: ALICE,
      action: "scrypath.ops.failed_work_retry",
      outcome: "refused",
      target: { source: "oban", id: failed },
      details: { step: "check", replayJobId: replay.job.id, replayState: "available" },
      context: { channel: CHANNEL, via: "slack", confirmation_id: null },
    });
    // No request was stored either: nothing can be confirmed.
    const { rows } = await d.oban.pool.query(
      `SELECT count(*)::int AS n FROM "${d.config.state.schema}".confirmations`,
    );
    expect(rows[0].n).toBe(0);
  });

  it("a reindex the fresh reconcile report does not recommend: refused, audited, no card", async () => {
    const { shown, ms } = await refusedPrivately("reconcile posts --action reindex");
    expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
    expect(shown).toContain("no_action");
    expect(shown).toContain("no reindex action is available for this report");
    expect(await lastRefusal("no_action")).toMatchObject({
      actor: ALICE,
      action: "scrypath.ops.reindex",
      outcome: "refused",
      details: { step: "check", drift_signals: expect.any(Array) },
    });
  });

  it("a backfill the report recommends but no worker can take: the mix command, at once, no card", async () => {
    const { shown } = await refusedPrivately("reconcile posts --action backfill");
    expect(shown).toContain("hand_off_not_configured");
    expect(shown).toContain(`mix scrypath.reconcile ${POST} --action backfill`);
    expect(await lastRefusal("hand_off_not_configured")).toMatchObject({
      actor: ALICE,
      action: "scrypath.ops.backfill",
      details: { step: "check", command: expect.stringContaining("mix scrypath.reconcile") },
    });
  });

  it("a swap whose promotion rules fail: every failing rule with its count, audited, no card", async () => {
    const target = `${live}__reindex`;
    await d.meili.createIndex(target, { primaryKey: "id" }).waitTask();
    await d.meili
      .index(target)
      .addDocuments([{ id: 1, title: "rebuilt" }])
      .waitTask();
    // A fresh schema state: the earlier tests' rows are gone, these five are all there is.
    await d.oban.pool.query(`DELETE FROM "${d.oban.prefix}".oban_jobs`);
    for (const ids of [[401], [402], [403]]) await job("discarded", ids);
    for (const ids of [[404], [405]]) await job("available", ids);

    const { shown, ms } = await refusedPrivately("reconcile posts --action swap");
    expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
    expect(shown).toContain(`a swap of ${live} with ${target} would be refused`);
    expect(shown).toContain("2 queue jobs pending");
    expect(shown).toContain("3 failed rows");
    // The reason is the first failing rule, as the confirm would give it.
    expect(await lastRefusal("queue_work_pending")).toMatchObject({
      actor: ALICE,
      action: "scrypath.ops.swap_live",
      outcome: "refused",
      details: { step: "check", failing: ["queue_work_pending", "failed_work"] },
    });
    await d.oban.pool.query(`DELETE FROM "${d.oban.prefix}".oban_jobs`);
  });

  it("the confirm still re-validates: a replay made between the request and the confirm is refused then", async () => {
    const failed = await job("discarded", [501]);
    const before = h.fake.posted.length;
    await h.command(bot, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    await h.recordedConfirmation(card.id);
    // Someone replays it from the CLI while the card waits.
    const replay = await d.operator.retrySyncWork("posts", failed, { id: "cli:oncall" });
    await h.decide(bot, card, BOB);
    const refused = await h.cardUpdate(card.ts, /Not done: already_replayed/);
    expect(textOf(refused)).toContain("Nothing was changed");
    expect(await h.replaysOf(failed)).toEqual([replay.job.id]);
    expect((await h.confirmation(card.id)).status).toBe("failed");
    expect((await h.auditOf(card.id)).map((r) => r.outcome)).toEqual(["requested", "confirmed", "refused"]);
  });

  it("a second request for a pending target links the first card instead of posting another", async () => {
    const failed = await job("discarded", [601]);
    const before = h.fake.posted.length;
    await h.command(bot, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    await h.recordedConfirmation(card.id);

    // The same job through the reconcile form, by someone else: the same target.
    const started = Date.now();
    const answer = await h.answer(await h.command(bot, `reconcile posts --action retry --id ${failed}`, BOB));
    expect(Date.now() - started).toBeLessThan(ANSWER_WITHIN_MS);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.fake.posted.length).toBe(before + 1);
    const shown = textOf(answer);
    const permalink = `/archives/${CHANNEL}/p${card.ts.replace(".", "")}`;
    expect(shown).toContain(permalink);
    expect(shown).toContain(`<@${ALICE}>`);
    expect(shown).toContain("No second card was posted");
    expect(h.fake.callsTo("chat.getPermalink").at(-1)?.body).toMatchObject({
      channel: CHANNEL,
      message_ts: card.ts,
    });
    expect(await lastRefusal("already_requested")).toMatchObject({
      actor: BOB,
      action: "scrypath.ops.failed_work_retry",
      outcome: "refused",
      details: { step: "check", pending_confirmation_id: card.id, requested_by: ALICE },
    });
    const { rows } = await d.oban.pool.query(
      `SELECT count(*)::int AS n FROM "${d.config.state.schema}".confirmations WHERE request->>'target' = $1`,
      [`retry:${POST}:oban:${failed}`],
    );
    expect(rows[0].n).toBe(1);

    // Only a pending card counts: once it is cancelled, asking again posts a new one.
    await h.decide(bot, card, BOB, "cancel");
    await h.cardUpdate(card.ts, /^Cancelled/);
    const again = h.fake.posted.length;
    await h.command(bot, `retry posts oban:${failed}`, BOB);
    const second = await h.nextCard(again);
    expect(second.id).not.toBe(card.id);
  });

  it("two requests for one target at the same moment post one card", async () => {
    const failed = await job("discarded", [701]);
    const before = h.fake.posted.length;
    const second = await h.bot({ ownOperator: true });
    const [a, b] = await Promise.all([
      h.command(bot, `retry posts ${failed}`, ALICE),
      h.command(second, `retry posts ${failed}`, BOB),
    ]);
    await h.nextCard(before);
    // One of the two is told about the other's card.
    await h.fake.waitFor(
      () => h.fake.postsTo(a).length + h.fake.postsTo(b).length > 0,
      () => "neither requester was told about the other card",
    );
    await new Promise((r) => setTimeout(r, 300));
    const cards = h.fake.posted.slice(before);
    expect(cards).toHaveLength(1);
    const told = [...h.fake.postsTo(a), ...h.fake.postsTo(b)].map((p) =>
      textOf((p as { body: Record<string, unknown> }).body),
    );
    expect(told).toHaveLength(1);
    expect(told[0]).toContain("No second card was posted");
  });

  it("a retryable row: the failed list marks it retrying, the card says Oban retries it by itself", async () => {
    const next = new Date(Date.now() + 12 * 60_000);
    const unix = Math.floor(next.getTime() / 1000);
    const retryable = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "retryable",
      queue: QUEUE,
      args: upsertArgs(POST, live, [801]),
      errors: [obanError("** (Req.TransportError) timeout", 2)],
      attempt: 2,
      maxAttempts: 8,
      scheduledAt: next,
    });
    const terminal = await job("discarded", [802]);

    const list = textOf(await h.answer(await h.command(bot, "failed posts", ALICE)));
    const rowOf = (id: number) => {
      const blocks = JSON.parse(list).blocks as { text?: { text?: string } }[];
      return blocks.map((b) => b.text?.text ?? "").find((t) => t.includes(`oban:${id}`)) ?? "";
    };
    expect(rowOf(retryable)).toContain(`retrying · Oban tries again <!date^${unix}^`);
    expect(rowOf(retryable)).toContain("(attempt 3 of 8)");
    expect(rowOf(terminal)).not.toContain("Oban tries again");

    const before = h.fake.posted.length;
    await h.command(bot, `retry posts ${retryable}`, ALICE);
    const card = await h.nextCard(before);
    const shown = textOf(card.body);
    expect(shown).toContain(`Oban will retry this by itself at <!date^${unix}^`);
    expect(shown).toContain("(attempt 3 of 8)");
    expect(shown).toContain("a replay now runs the same work twice");
    // Upstream's semantics are kept: confirming still replays it as a new job.
    await h.decide(bot, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
    expect(await h.replaysOf(retryable)).toHaveLength(1);

    // A terminal row's card says nothing of the kind.
    const again = h.fake.posted.length;
    await h.command(bot, `retry posts ${terminal}`, ALICE);
    expect(textOf((await h.nextCard(again)).body)).not.toContain("Oban will retry");
  });

  it("a settings revert already reverted: refused at the request, audited, no card; a fresh one gets its card", async () => {
    const applied = await d.operator.hotApplySettings("posts", {
      settings: { stopWords: ["zz"] },
      acknowledgeLive: true,
      actor: { id: BOB },
    });
    expect(applied.task.status).toBe("succeeded");
    await d.operator.revertHotApply(applied.changeId, { actor: { id: BOB } });

    const { shown, ms } = await refusedPrivately(`settings revert ${applied.changeId}`);
    expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
    expect(shown).toContain("already_reverted");
    expect(shown).toContain(`settings change ${applied.changeId} was already reverted by ${BOB}`);
    expect(await lastRefusal("already_reverted")).toMatchObject({
      actor: ALICE,
      outcome: "refused",
      target: { revert_of: applied.changeId },
      details: { step: "check" },
    });

    const fresh = await d.operator.hotApplySettings("posts", {
      settings: { stopWords: ["yy"] },
      acknowledgeLive: true,
      actor: { id: BOB },
    });
    const before = h.fake.posted.length;
    await h.command(bot, `settings revert ${fresh.changeId}`, ALICE);
    const card = await h.nextCard(before);
    await h.decide(bot, card, BOB, "cancel");
    await h.cardUpdate(card.ts, /^Cancelled/);
  });
});
