// Confirmation cards end to end: signed HTTP into the real Bolt app, real Postgres and Meilisearch,
// the fake Slack recording every card and reply. A request never acts; one authorised Confirm does.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runScrypathJob } from "../../devkit/sandbox/worker.ts";
import { send, viewSubmissionRequest } from "../../devkit/slackRequests.ts";
import { CONFIRM_ACTIONS } from "../../views/confirm.ts";
import { HOT_APPLY_CALLBACK, SETTINGS_BLOCK, SETTINGS_INPUT } from "../../views/settingsModal.ts";
import { REQUEST_ACTIONS } from "../../views/types.ts";
import { expectValidModal } from "../support/blockKit.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { buttonValues } from "../support/slack.ts";
import {
  ALICE,
  BOB,
  CAROL,
  CHANNEL,
  DAVE,
  expectValid,
  Harness,
  jargonIn,
  operatorsConfig,
  readerText,
  type TestBot,
  textOf,
} from "./confirmHarness.ts";

const PRODUCT = "MyApp.Catalog.Product";

describe("confirmation cards over signed HTTP, real Postgres and Meilisearch", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let live: string;

  const failedJob = (ids: number[], error = "** (Req.TransportError) timeout") =>
    insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, ids),
      errors: [obanError(error)],
      attempt: 8,
      maxAttempts: 8,
    });

  beforeAll(async () => {
    d = await testDeployment([
      postsSchema({ contract: { fields: ["title"] } }),
      { module: PRODUCT, alias: "products", contract: { fields: ["title"] } },
    ]);
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    h = await Harness.create(d);
    bot = await h.bot();
  });

  afterAll(async () => {
    await h?.close();
    await d?.close();
  });

  it("retries from the failed list: card → confirm → new job → thread reply verified", async () => {
    const failed = await failedJob(
      [101, 102],
      "<!channel> ** (Req.TransportError) api_key=supersecret123 timeout",
    );
    // The list (ephemeral) offers Retry… on the row.
    const list = await h.answer(await h.command(bot, "failed posts"));
    const value = buttonValues(list, REQUEST_ACTIONS.retry).find((v) => v.includes(`oban:${failed}`));
    expect(value).toBeDefined();

    const before = h.fake.posted.length;
    const ask = await h.click(bot, {
      actionId: REQUEST_ACTIONS.retry,
      value: value as string,
      userId: ALICE,
    });
    const card = await h.nextCard(before);
    // Clicked on an ephemeral list: the card goes in the channel, not in a thread.
    expect(card.body).toMatchObject({ channel: CHANNEL });
    expect(card.body.thread_ts).toBeUndefined();
    const shown = textOf(card.body);
    expect(shown).toContain(`oban:${failed}`);
    expect(shown).toContain(`<@${ALICE}>`);
    // The expiry as an absolute date token only, never a relative "in 15 min" that goes stale.
    expect(shown).toMatch(/expires <!date\^\d+\^\{date_short_pretty\} \{time\}\|[^>]+>/);
    expect(shown).not.toMatch(/\(in \d+ (min|h|d)\)/);
    // Data is escaped and redacted.
    expect(shown).not.toContain("<!channel>");
    expect(shown).toContain("&lt;!channel&gt;");
    expect(shown).not.toContain("supersecret123");
    // The button value is the request id and nothing else.
    expect(card.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(h.fake.postsTo(ask)).toEqual([]);
    expect(await h.replaysOf(failed)).toEqual([]);
    const stored = await h.recordedConfirmation(card.id);
    expect(stored).toMatchObject({
      status: "pending",
      requestedBy: ALICE,
      channelId: CHANNEL,
      messageTs: card.ts,
    });
    expect(stored.expiresAt.getTime() - stored.createdAt.getTime()).toBeCloseTo(900_000, -3);

    await h.decide(bot, card, BOB);
    const done = await h.cardUpdate(card.ts, /^Done/);
    const [jobId] = await h.replaysOf(failed);
    expect(jobId).toBeDefined();
    expect(textOf(done)).toContain(`queue job ${jobId}`);
    expect(textOf(done)).toContain(`Confirmed by <@${BOB}>`);
    expect(buttonValues(done, CONFIRM_ACTIONS.confirm)).toEqual([]);
    expect((await h.confirmation(card.id)).status).toBe("done");

    // The thread reply under the card follows the job: accepted first, then verified.
    let reply: { ts: string; body: Record<string, unknown> } | undefined;
    await h.fake.waitFor(
      () => {
        reply = h.fake.posted.find((p) => p.body.thread_ts === card.ts);
        return reply !== undefined;
      },
      () => "no thread reply under the card",
    );
    const first = expectValid((reply as { body: Record<string, unknown> }).body);
    expect(String(first.text)).toMatch(/accepted is not searchable/);
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, jobId as number);
    const verified = await h.reply(card.ts, /verified/);
    expect(String(verified.text)).toContain("2 of 2 documents observed");

    const audit = await h.auditOf(card.id);
    expect(audit.map((r) => r.outcome)).toEqual(["requested", "confirmed", "accepted"]);
    for (const row of audit) {
      expect(row.action).toBe("scrypath.ops.failed_work_retry");
      expect(row.context).toMatchObject({
        channel: CHANNEL,
        team: "T0TEAM000",
        confirmation_id: card.id,
        via: "slack",
      });
    }
    expect(audit[1]).toMatchObject({ actor: BOB, context: { message_ts: card.ts } });
    const metrics = await (await fetch(`${bot.admin}/metrics`)).text();
    expect(metrics).toMatch(/scrypath_bot_confirmations_total\{kind="retry",outcome="done"\} [1-9]/);
    expect(metrics).toMatch(/scrypath_bot_retry_verifications_total\{state="verified"\} 1/);
  });

  it("requests with /scrypath retry, and refuses an unauthorised click: card stays pending, audited", async () => {
    const failed = await failedJob([201]);
    const before = h.fake.posted.length;
    const ask = await h.command(bot, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    // The requester gets nothing besides the card.
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fake.postsTo(ask)).toEqual([]);

    const denied = await h.answer(await h.decide(bot, card, DAVE));
    expect(textOf(denied)).toContain("operator");
    // Which user group grants the role, as a mention, once; no config key.
    const deniedText = readerText(denied);
    expect(deniedText).toContain(
      ":lock: *Not allowed — this needs the operator role.* The role comes with membership of <!subteam^S0OPS00001>. Ask an operator to do it. Nothing was done.",
    );
    expect(deniedText.match(/subteam/g)).toHaveLength(1);
    expect(deniedText).not.toContain("access.");
    expect(denied.replace_original).toBe(false);
    expect(h.fake.updatesOf(card.ts)).toEqual([]);
    expect((await h.confirmation(card.id)).status).toBe("pending");
    const refused = (await h.auditOf(card.id)).filter((r) => r.outcome === "refused");
    expect(refused).toEqual([
      expect.objectContaining({
        actor: DAVE,
        reason: "not_an_operator",
        action: "scrypath.ops.failed_work_retry",
      }),
    ]);

    // A member of the operators' user group may confirm (usergroups.users.list).
    await h.decide(bot, card, CAROL);
    await h.cardUpdate(card.ts, /^Done/);
    expect(h.fake.callsTo("usergroups.users.list").length).toBeGreaterThan(0);
    expect(await h.replaysOf(failed)).toHaveLength(1);
  });

  it("keeps to the two-person rule: the requester cannot confirm their own request", async () => {
    const failed = await failedJob([301]);
    const before = h.fake.posted.length;
    await h.command(bot, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    const own = await h.answer(await h.decide(bot, card, ALICE));
    expect(textOf(own)).toContain("two-person rule");
    // The real reason: the requester is an operator, so no word of a missing role.
    expect(readerText(own)).toContain("*Someone else must confirm this.* The two-person rule is on here");
    expect(readerText(own)).not.toContain("role");
    expect((await h.confirmation(card.id)).status).toBe("pending");
    expect(await h.replaysOf(failed)).toEqual([]);
    expect((await h.auditOf(card.id)).map((r) => r.reason)).toContain("two_person_rule");
    // The requester may still withdraw it.
    await h.decide(bot, card, ALICE, "cancel");
    const cancelled = await h.cardUpdate(card.ts, /^Cancelled/);
    expect(textOf(cancelled)).toContain(`Cancelled by <@${ALICE}>`);
    expect(textOf(cancelled)).toContain("nothing was done");
    expect((await h.confirmation(card.id)).status).toBe("cancelled");
    const late = await h.answer(await h.decide(bot, card, BOB));
    expect(textOf(late)).toContain("Already cancelled by");
    expect(await h.replaysOf(failed)).toEqual([]);
  });

  it("says not done, nothing changed, when the target stopped being failed before the confirm", async () => {
    const failed = await failedJob([401]);
    const before = h.fake.posted.length;
    await h.command(bot, `reconcile posts --action retry --id ${failed}`, ALICE);
    const card = await h.nextCard(before);
    await d.oban.pool.query(
      `UPDATE "${d.oban.prefix}".oban_jobs SET state = 'completed', completed_at = now() WHERE id = $1`,
      [failed],
    );
    await h.decide(bot, card, BOB);
    const update = await h.cardUpdate(card.ts, /^Failed: .* — Not done: not_found/);
    expect(textOf(update)).toContain("not_found");
    expect(textOf(update)).toContain("Nothing was changed");
    expect(await h.replaysOf(failed)).toEqual([]);
    expect((await h.confirmation(card.id)).status).toBe("failed");
    // The operator audited its own refusal next to the bot's rows.
    expect((await h.auditOf(card.id)).map((r) => r.outcome)).toEqual(["requested", "confirmed", "refused"]);
  });

  it("posts the card in the thread of a shared message, and refuses a swap the promotion rules forbid", async () => {
    // The swap is refused at the request, privately: no card to confirm in vain.
    const before = h.fake.posted.length;
    const ask = await h.click(bot, {
      actionId: REQUEST_ACTIONS.action,
      value: JSON.stringify({ schema: POST, action: "swap" }),
      userId: ALICE,
      ephemeral: false,
      messageTs: "1700000100.000100",
    });
    const refused = await h.answer(ask);
    expect(textOf(refused)).toContain("target_unobserved");
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fake.posted.length).toBe(before);
    const [row] = await h.auditWithReason("target_unobserved");
    expect(row).toMatchObject({ action: "scrypath.ops.swap_live", outcome: "refused", actor: ALICE });

    // A request that can run gets its card in the thread of the message holding the button.
    const failed = await failedJob([1001]);
    await h.click(bot, {
      actionId: REQUEST_ACTIONS.retry,
      value: JSON.stringify({ schema: POST, target: `oban:${failed}` }),
      userId: ALICE,
      ephemeral: false,
      messageTs: "1700000100.000100",
    });
    const card = await h.nextCard(before);
    expect(card.body.thread_ts).toBe("1700000100.000100");
    expect(textOf(card.body)).toContain(`oban:${failed}`);
    await h.decide(bot, card, BOB, "cancel");
    await h.cardUpdate(card.ts, /^Cancelled/);
  });

  it("swaps when every promotion rule holds", async () => {
    const liveProducts = `${d.indexPrefix}_product`;
    const target = `${liveProducts}__reindex`;
    await d.meili.createIndex(liveProducts, { primaryKey: "id" }).waitTask();
    await d.meili
      .index(liveProducts)
      .addDocuments([{ id: 1, title: "old" }])
      .waitTask();
    await d.meili.createIndex(target, { primaryKey: "id" }).waitTask();
    await d.meili
      .index(target)
      .addDocuments([{ id: 1, title: "rebuilt" }])
      .waitTask();
    const before = h.fake.posted.length;
    await h.command(bot, "reconcile products --action swap", ALICE);
    const card = await h.nextCard(before);
    expect(textOf(card.body)).toContain("Swap");
    // Swap is destructive: the Confirm button carries a danger dialog.
    expect(textOf(card.body)).toMatch(/"confirm":\{"title"/);
    await h.decide(bot, card, BOB);
    const done = await h.cardUpdate(card.ts, /^Done/);
    expect(textOf(done)).toMatch(/Swap succeeded · Meilisearch task \d+ succeeded/);
    expect((await d.meili.index(liveProducts).getDocument(1)).title).toBe("rebuilt");
    expect((await h.auditOf(card.id)).map((r) => r.outcome)).toEqual(["requested", "confirmed", "succeeded"]);
  });

  it("hot-applies through the modal: loading, live values, an inline error, then a card that applies", async () => {
    await d.meili
      .index(live)
      .updateSettings({ stopWords: ["an"] })
      .waitTask();
    const views = h.fake.callsTo("views.open").length;
    await h.command(bot, "settings hot-apply posts", ALICE);
    await h.fake.waitFor(
      () => h.fake.callsTo("views.update").length > 0 && h.fake.callsTo("views.open").length > views,
      () => "the modal was not opened and filled",
    );
    const opened = h.fake.callsTo("views.open").at(-1)?.body as Record<string, unknown>;
    expect(opened.trigger_id).toBe("1234567890.123456.abcdef");
    const loading = opened.view as Record<string, unknown>;
    expectValidModal(loading);
    expect(textOf(loading)).toContain("Loading live values");
    const filled = h.lastView("views.update");
    expectValidModal(filled);
    expect(textOf(filled)).toContain('\\"an\\"');
    const metadata = String(filled.private_metadata);

    const submit = (value: string) =>
      send(
        `${bot.base}/slack/events`,
        viewSubmissionRequest({
          callbackId: HOT_APPLY_CALLBACK,
          privateMetadata: metadata,
          values: { [SETTINGS_BLOCK]: { [SETTINGS_INPUT]: { type: "plain_text_input", value } } },
          userId: ALICE,
        }),
      );
    const bad = await submit('{"stopWords": ["the",');
    expect(bad.status).toBe(200);
    const errors = JSON.parse(bad.body) as { response_action: string; errors: Record<string, string> };
    expect(errors.response_action).toBe("errors");
    expect(errors.errors[SETTINGS_BLOCK]).toMatch(/Not valid JSON/);
    const refusedKey = JSON.parse((await submit('{"rankingRules": []}')).body) as {
      errors: Record<string, string>;
    };
    expect(refusedKey.errors[SETTINGS_BLOCK]).toMatch(/rankingRules/);

    // The live values again (synonyms and typo tolerance at their defaults): refused in the modal,
    // within the 3 s Slack gives the ack, and nothing is requested.
    const postedBefore = h.fake.posted.length;
    const sameAt = Date.now();
    const same = await submit('{"stopWords": ["an"], "synonyms": {}, "typoTolerance": {"enabled": true}}');
    expect(Date.now() - sameAt).toBeLessThan(3_000);
    const sameErrors = JSON.parse(same.body) as { response_action: string; errors: Record<string, string> };
    expect(sameErrors.response_action).toBe("errors");
    expect(sameErrors.errors[SETTINGS_BLOCK]).toBe(
      "These are the live values already: nothing would change. Edit a value, or cancel.",
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(h.fake.posted.length).toBe(postedBefore);

    const before = h.fake.posted.length;
    const good = await submit(
      '{"stopWords": ["the", "a"], "synonyms": {"tv": ["television"]}, "typoTolerance": {"minWordSizeForTypos": {"oneTypo": 4}}}',
    );
    expect(good).toEqual({ status: 200, body: "" });
    const card = await h.nextCard(before);
    expect(card.body.channel).toBe(CHANNEL);
    expect(textOf(card.body)).toContain("stopWords");
    expect(textOf(card.body)).toMatch(/"confirm":\{"title"/);
    // The card shows, per key, the live value read at the request and the requested one.
    const asked = readerText(card.body);
    expect(asked).toContain("*What changes on the live index* (live → requested; live values read <!date^");
    expect(asked).toContain("*stopWords*\nAdded (2): `a`, `the`\nRemoved (1): `an`");
    expect(asked).toContain("*synonyms*\nAdded (1): `tv → television`");
    expect(asked).toContain("*typoTolerance*\n`minWordSizeForTypos.oneTypo`: `5` → `4`");
    // What the confirmer approves is what was stored with the request.
    const storedPreview = ((await h.confirmation(card.id)).request as { preview: Record<string, unknown> })
      .preview;
    expect(storedPreview.settings).toMatchObject({
      kind: "hot_apply",
      changes: [
        { key: "stopWords", added: ["a", "the"], removed: ["an"], changed: [] },
        { key: "synonyms", added: ["tv → television"], removed: [], changed: [] },
        {
          key: "typoTolerance",
          changed: [{ what: "minWordSizeForTypos.oneTypo", live: "5", requested: "4" }],
        },
      ],
    });
    await h.decide(bot, card, BOB);
    const done = await h.cardUpdate(card.ts, /^Done/);
    expect(textOf(done)).toMatch(/Settings applied · Meilisearch task \d+ succeeded/);
    expect(await d.meili.index(live).getStopWords()).toEqual(expect.arrayContaining(["the", "a"]));
    expect((await h.auditOf(card.id)).map((r) => [r.action, r.outcome])).toEqual([
      ["scrypath.ops.hot_apply", "requested"],
      ["scrypath.ops.hot_apply", "confirmed"],
      ["scrypath.ops.hot_apply", "succeeded"],
    ]);

    // The card names the revert; /scrypath settings revert asks for its own confirmation.
    const changeId = /settings revert (\d+)/.exec(textOf(done))?.[1];
    expect(changeId).toBeDefined();
    const beforeRevert = h.fake.posted.length;
    await h.command(bot, `settings revert ${changeId}`, BOB);
    const revert = await h.nextCard(beforeRevert);
    expect(textOf(revert.body)).toContain(`Revert settings change ${changeId}`);
    // The revert card shows what it restores: the live values now → the ones put back.
    const restores = readerText(revert.body);
    expect(restores).toContain("*What the revert restores* (live now → restored; read <!date^");
    // The change was applied by whoever confirmed it.
    expect(restores).toContain(`Undoes a change applied by <@${BOB}>.`);
    expect(restores).toContain("*stopWords*\nPut back (1): `an`\nTaken out (2): `a`, `the`");
    expect(restores).toContain("*synonyms*\nTaken out (1): `tv → television`");
    expect(restores).toContain("`minWordSizeForTypos.oneTypo`: `4` → `5`");
    await h.decide(bot, revert, ALICE);
    const reverted = await h.cardUpdate(revert.ts, /^Done/);
    expect(textOf(reverted)).toMatch(/Settings reverted · Meilisearch task \d+ succeeded/);
    expect(await d.meili.index(live).getStopWords()).toEqual(["an"]);
  });

  it("opens no modal for someone who may not change settings", async () => {
    const opened = h.fake.callsTo("views.open").length;
    const answer = await h.answer(await h.command(bot, "settings hot-apply posts", DAVE));
    expect(textOf(answer)).toContain("operator");
    expect(h.fake.callsTo("views.open")).toHaveLength(opened);
    expect((await h.auditWithReason("not_an_operator"))[0]).toMatchObject({
      actor: DAVE,
      action: "scrypath.ops.hot_apply",
    });
  });

  it("follows a replay that fails, and one that never runs until the bound", async () => {
    const quick = await h.bot({ follow: { timeoutMs: 1_500, intervalMs: 100 } });
    const crashing = await failedJob([701]);
    let before = h.fake.posted.length;
    await h.command(quick, `retry posts ${crashing}`, ALICE);
    let card = await h.nextCard(before);
    await h.decide(quick, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
    const [job] = await h.replaysOf(crashing);
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, job as number, "fail");
    const failedReply = await h.reply(card.ts, /: failed/);
    expect(textOf(failedReply)).toContain("worker crashed");

    const idle = await failedJob([702]);
    before = h.fake.posted.length;
    await h.command(quick, `retry posts ${idle}`, ALICE);
    card = await h.nextCard(before);
    await h.decide(quick, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
    const timedOut = await h.reply(card.ts, /timed out/);
    expect(textOf(timedOut)).toContain("accepted is not searchable");
    await h.fake.waitFor(
      () => quick.bot.followers.active === 0,
      () => `${quick.bot.followers.active} followers still running`,
    );

    // A follower with minutes left ends when its app stops.
    const stopping = await h.bot();
    const waiting = await failedJob([703]);
    before = h.fake.posted.length;
    await h.command(stopping, `retry posts ${waiting}`, ALICE);
    card = await h.nextCard(before);
    await h.decide(stopping, card, BOB);
    await h.reply(card.ts, /accepted/);
    expect(stopping.bot.followers.active).toBe(1);
    const started = Date.now();
    await stopping.bot.stop();
    await h.fake.waitFor(
      () => stopping.bot.followers.active === 0,
      () => "the follower outlived its app",
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("expires: at click time without any sweeper, and by the sweeper", async () => {
    const short = await h.bot({ access: operatorsConfig({ confirmationTtl: 1 }), sweepIntervalMs: 60_000 });
    const failed = await failedJob([501]);
    let before = h.fake.posted.length;
    await h.command(short, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    const stored = await h.confirmation(card.id);
    expect(stored.expiresAt.getTime() - stored.createdAt.getTime()).toBeCloseTo(1_000, -2);
    await new Promise((r) => setTimeout(r, 1_300));
    const late = await h.answer(await h.decide(short, card, BOB));
    expect(textOf(late)).toContain("expired");
    const expired = await h.cardUpdate(card.ts, /^Expired, nothing was done/);
    expect(buttonValues(expired, CONFIRM_ACTIONS.confirm)).toEqual([]);
    expect((await h.confirmation(card.id)).status).toBe("expired");
    expect(await h.replaysOf(failed)).toEqual([]);
    expect((await h.auditOf(card.id)).map((r) => r.outcome)).toEqual(["requested", "expired"]);

    // Nobody clicks this one: the sweeper expires it and updates the card.
    before = h.fake.posted.length;
    await h.command(short, `retry posts ${failed}`, ALICE);
    const second = await h.nextCard(before);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(await short.bot.confirmations.sweep()).toBe(1);
    await h.cardUpdate(second.ts, /^Expired/);
    expect((await h.confirmation(second.id)).status).toBe("expired");
  });

  it("closes an execution that never recorded its end (a replica stopped mid-way), and only such", async () => {
    const state = `"${d.config.state.schema}".confirmations`;
    const cards = [];
    for (let i = 0; i < 2; i++) {
      // Two jobs: a second pending request for one job would link the first card instead.
      const failed = await failedJob([502 + i]);
      const before = h.fake.posted.length;
      await h.command(bot, `retry posts ${failed}`, ALICE);
      cards.push(await h.nextCard(before));
    }
    const [stale, running] = cards as [(typeof cards)[number], (typeof cards)[number]];
    // As a replica that claimed them and stopped would leave them: one long ago, one just now.
    await d.oban.pool.query(
      `UPDATE ${state} SET status = 'executing', decided_by = $2, decided_at = now() - interval '11 minutes' WHERE id = $1`,
      [stale.id, BOB],
    );
    await d.oban.pool.query(
      `UPDATE ${state} SET status = 'executing', decided_by = $2, decided_at = now() WHERE id = $1`,
      [running.id, BOB],
    );

    // (Any replica's sweeper may get there first: the end state is what counts.)
    await bot.bot.confirmations.sweep();
    const update = await h.cardUpdate(stale.ts, /^Failed: .* — Not done: execution_interrupted/);
    expect(textOf(update)).toContain("check `/scrypath audit`");
    expect(buttonValues(update, CONFIRM_ACTIONS.confirm)).toEqual([]);
    expect(await h.confirmation(stale.id)).toMatchObject({
      status: "failed",
      result: { error: "execution_interrupted" },
    });
    expect((await h.auditOf(stale.id)).map((r) => [r.actor, r.outcome, r.reason])).toEqual([
      [ALICE, "requested", null],
      ["scrypath-bot", "failed", "execution_interrupted"],
    ]);
    // The recent one may still be running somewhere: left alone, also by a second sweep.
    expect((await h.confirmation(running.id)).status).toBe("executing");
    expect(await bot.bot.confirmations.sweep()).toBe(0);
  });

  it("refuses every mutation when no operators are configured, saying how to configure them", async () => {
    const nobody = await h.bot({ access: { channels: [CHANNEL] } });
    const failed = await failedJob([601]);
    const before = h.fake.posted.length;
    const answer = await h.answer(await h.command(nobody, `retry posts ${failed}`, ALICE));
    expect(textOf(answer)).toContain("access.operators.users");
    await new Promise((r) => setTimeout(r, 100));
    expect(h.fake.posted.length).toBe(before);
    const rows = await h.auditWithReason("no_operators_configured");
    expect(rows[0]).toMatchObject({
      actor: ALICE,
      outcome: "refused",
      action: "scrypath.ops.failed_work_retry",
    });
  });

  it("lists the audit log with /scrypath audit to operators (a user-group member here), and only to them", async () => {
    const answer = await h.answer(await h.command(bot, "audit posts --limit 50", CAROL));
    expect(textOf(answer)).toContain("Audit log");
    expect(textOf(answer)).toContain("requested");
    expect(textOf(answer)).toContain("confirmed");

    const denied = await h.answer(await h.command(bot, "audit posts --share", DAVE));
    expect(textOf(denied)).toContain("Not allowed");
    expect(readerText(denied)).toContain(
      "The role comes with membership of <!subteam^S0OPS00001>. `/scrypath audit` is for operators in this workspace; ask an operator to do it.",
    );
    expect(textOf(denied)).not.toContain("access.");
    expect(textOf(denied)).not.toContain("Audit log");
    expect(denied.response_type).toBe("ephemeral");

    const open = await h.bot({ access: operatorsConfig({ auditReaders: "everyone" }) });
    expect(textOf(await h.answer(await h.command(open, "audit posts", DAVE)))).toContain("Audit log");
  });

  it("answers a refused request with the sentence and the reason code in code style, never a code dressed as a word", async () => {
    const before = h.fake.posted.length;
    const answer = await h.answer(await h.command(bot, "retry posts meilisearch:77", ALICE));
    const text = readerText(answer);
    expect(text).toContain("Backend rows have no replay action (`not_retryable`)");
    expect(text).not.toMatch(/Not_retryable/);
    expect(jargonIn(answer)).toEqual([]);
    expect(h.fake.posted.length).toBe(before);
  });

  it("names people as mentions and times as date tokens on every card and reply this file produced, without API jargon", () => {
    const messages = [
      ...h.fake.posted.map((p) => p.body),
      ...h.fake.callsTo("chat.update").map((c) => c.body as Record<string, unknown>),
    ];
    // Every state: pending, running, done, failed (refused), cancelled, expired; and the thread replies.
    expect(messages.length).toBeGreaterThan(30);
    for (const state of [/^Confirmation needed/, /^Running/, /^Done/, /^Failed/, /^Cancelled/, /^Expired/]) {
      expect(messages.some((m) => state.test(String(m.text)))).toBe(true);
    }
    const problems = messages.flatMap((m) => jargonIn(m).map((p) => `${p} in: ${String(m.text)}`));
    expect(problems).toEqual([]);
  });

  it("bounds a user-group lookup that does not answer, and says the role could not be checked", async () => {
    // A fresh replica: nothing cached. Slack rate-limits the lookup for a minute.
    const fresh = await h.bot();
    const failed = await failedJob([991]);
    const before = h.fake.posted.length;
    await h.command(fresh, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    h.fake.failApi("usergroups.users.list", { status: 429, retryAfter: 60 }, 5);
    const started = Date.now();
    const answer = await h.answer(await h.decide(fresh, card, CAROL));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(textOf(answer)).toContain("Could not check the operator role");
    expect(textOf(answer)).not.toContain("access.");
    expect(textOf(answer)).not.toContain("Not allowed");
    expect((await h.confirmation(card.id)).status).toBe("pending");
    expect((await h.auditOf(card.id)).filter((r) => r.outcome === "refused")).toEqual([
      expect.objectContaining({ actor: CAROL, reason: "membership_unknown" }),
    ]);
    // A listed operator needs no lookup and is not held up by it.
    await h.decide(fresh, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
  });
});
