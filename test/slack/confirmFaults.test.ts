// Confirmation cards under pressure: two bot replicas sharing Postgres, twenty clicks at once,
// Meilisearch down at the moment of acting, Slack rate-limiting and failing chat.update, and
// tampered or foreign button values. The action runs at most once; only card edits are retried.
import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { send, viewSubmissionRequest } from "../../devkit/slackRequests.ts";
import { CONFIRM_ACTIONS } from "../../views/confirm.ts";
import { HOT_APPLY_CALLBACK, SETTINGS_BLOCK, SETTINGS_INPUT } from "../../views/settingsModal.ts";
import { REQUEST_ACTIONS } from "../../views/types.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { buttonValues } from "../support/slack.ts";
import { ALICE, BOB, CAROL, CHANNEL, Harness, type TestBot, textOf } from "./confirmHarness.ts";

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("confirmation cards with replicas, faults and hostile clicks", () => {
  let d: TestDeployment;
  let h: Harness;
  let a: TestBot;
  let b: TestBot;
  let live: string;

  const failedJob = (ids: number[]) =>
    insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, ids),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 8,
      maxAttempts: 8,
    });

  const retryCard = async (bot: TestBot, failed: number) => {
    const before = h.fake.posted.length;
    await h.command(bot, `retry posts ${failed}`, ALICE);
    return h.nextCard(before);
  };

  const metrics = async (bot: TestBot) => (await fetch(`${bot.admin}/metrics`)).text();

  beforeAll(async () => {
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })]);
    live = `${d.indexPrefix}_post`;
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    h = await Harness.create(d);
    a = await h.bot();
    // A second replica: its own process-like pool, the same database.
    b = await h.bot({ ownOperator: true });
  });

  afterAll(async () => {
    await h?.close();
    await d?.close();
  });

  it("executes once for 20 concurrent Confirm clicks split across two replicas", async () => {
    const failed = await failedJob([11, 12]);
    const card = await retryCard(a, failed);
    const clicks = await Promise.all(
      Array.from({ length: 20 }, (_, i) => h.decide(i % 2 ? a : b, card, i % 3 ? BOB : CAROL)),
    );
    await h.cardUpdate(card.ts, /^Done/);
    // Nineteen clicks are told who confirmed first; the winner's click needs no answer.
    await h.fake.waitFor(
      () => clicks.filter((id) => h.fake.postsTo(id).length > 0).length >= 19,
      () => `only ${clicks.filter((id) => h.fake.postsTo(id).length > 0).length} clicks were answered`,
    );
    await new Promise((r) => setTimeout(r, 300));
    const answered = clicks.filter((id) => h.fake.postsTo(id).length > 0);
    expect(answered).toHaveLength(19);
    for (const id of answered) {
      const [post] = h.fake.postsTo(id);
      expect(textOf(post?.body ?? {})).toMatch(/Already confirmed by <@U0(BOB00002|CAROL003)>/);
    }
    expect(await h.replaysOf(failed)).toHaveLength(1);
    expect(h.fake.updatesOf(card.ts).filter((u) => /^Done/.test(String(u.text)))).toHaveLength(1);
    const audit = await h.auditOf(card.id);
    expect(audit.filter((r) => r.outcome === "confirmed")).toHaveLength(1);
    expect(audit.filter((r) => r.outcome === "accepted")).toHaveLength(1);
  });

  it("says Meilisearch failed and nothing changed when it is down at confirm time; the request is failed", async () => {
    const down = await h.bot({
      meilisearch: { url: `http://127.0.0.1:${await closedPort()}`, timeoutMs: 1_000 },
    });
    await d.meili
      .index(live)
      .updateSettings({ stopWords: ["before"] })
      .waitTask();
    // Request through the modal on a healthy replica…
    await h.command(a, "settings hot-apply posts", ALICE);
    await h.fake.waitFor(
      () => h.fake.callsTo("views.update").length > 0,
      () => "the modal was not filled",
    );
    const view = h.lastView("views.update") as { private_metadata: string };
    const before = h.fake.posted.length;
    const submitted = await send(
      `${a.base}/slack/events`,
      viewSubmissionRequest({
        callbackId: HOT_APPLY_CALLBACK,
        privateMetadata: view.private_metadata,
        values: {
          [SETTINGS_BLOCK]: {
            [SETTINGS_INPUT]: { type: "plain_text_input", value: '{"stopWords": ["after"]}' },
          },
        },
      }),
    );
    expect(submitted).toEqual({ status: 200, body: "" });
    const card = await h.nextCard(before);
    // …and confirm it on the replica whose Meilisearch is down.
    await h.decide(down, card, BOB);
    const failed = await h.cardUpdate(card.ts, /^Failed/);
    expect(textOf(failed)).toContain("meilisearch_unreachable");
    expect(textOf(failed)).toContain("Meilisearch at http://127.0.0.1:");
    expect(textOf(failed)).toContain("Nothing was changed");
    expect(buttonValues(failed, CONFIRM_ACTIONS.confirm)).toEqual([]);
    expect(await h.confirmation(card.id)).toMatchObject({
      status: "failed",
      result: { error: "meilisearch_unreachable" },
    });
    expect(await d.meili.index(live).getStopWords()).toEqual(["before"]);
    expect((await h.auditOf(card.id)).map((r) => [r.outcome, r.reason])).toEqual([
      ["requested", null],
      ["confirmed", null],
      ["failed", "meilisearch_unreachable"],
    ]);
  });

  it("retries chat.update after a 429 (Retry-After) and after 503s; the action runs once, the card ends Done once", async () => {
    const failed = await failedJob([21]);
    const card = await retryCard(a, failed);
    h.fake.failApi("chat.update", { status: 429, retryAfter: 1 }, 1, (body) => body.ts === card.ts);
    const started = Date.now();
    await h.decide(a, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
    // Honoured Retry-After: 1 before the card could change.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(await h.replaysOf(failed)).toHaveLength(1);
    expect(h.fake.updatesOf(card.ts).filter((u) => /^Done/.test(String(u.text)))).toHaveLength(1);
    expect(h.fake.callsTo("chat.update").filter((c) => c.body.ts === card.ts)).toHaveLength(3);
    expect(await metrics(a)).toMatch(
      /scrypath_bot_slack_retries_total\{method="chat.update",reason="ratelimited"\} 1/,
    );

    const second = await failedJob([22]);
    const other = await retryCard(a, second);
    h.fake.failApi("chat.update", { status: 503 }, 2, (body) => body.ts === other.ts);
    await h.decide(a, other, BOB);
    await h.cardUpdate(other.ts, /^Done/);
    expect(await h.replaysOf(second)).toHaveLength(1);
    expect(await metrics(a)).toMatch(
      /scrypath_bot_slack_retries_total\{method="chat.update",reason="http_503"\} 2/,
    );
  });

  it("tells the requester when Slack refuses the card, and leaves nothing to confirm", async () => {
    const failed = await failedJob([41]);
    // Only the card (thread replies of earlier retries may still be posted meanwhile).
    h.fake.failApi(
      "chat.postMessage",
      { status: 200, error: "not_in_channel" },
      1,
      (body) => !body.thread_ts,
    );
    const answer = await h.answer(await h.command(a, `retry posts ${failed}`, ALICE));
    expect(textOf(answer)).toContain("not_in_channel");
    expect(textOf(answer)).toContain("invite the bot");
    const [row] = await h.auditWithReason("card_not_posted");
    expect(row).toMatchObject({
      actor: ALICE,
      outcome: "refused",
      details: { slack_error: "not_in_channel" },
    });
    const id = String((row?.context as { confirmation_id?: string } | undefined)?.confirmation_id);
    expect((await h.confirmation(id)).status).toBe("cancelled");
  });

  it("refuses tampered, unknown and foreign button values: audited, nothing executed", async () => {
    const failed = await failedJob([31]);
    const card = await retryCard(a, failed);
    const refusals: [string, Parameters<Harness["click"]>[1]][] = [
      ["invalid_button_value", { actionId: CONFIRM_ACTIONS.confirm, value: '{"id":"x"}', userId: BOB }],
      ["unknown_request", { actionId: CONFIRM_ACTIONS.confirm, value: "A".repeat(22), userId: BOB }],
      [
        "foreign_team",
        {
          actionId: CONFIRM_ACTIONS.confirm,
          value: card.id,
          userId: BOB,
          teamId: "T0OTHER999",
          messageTs: card.ts,
        },
      ],
      [
        "foreign_channel",
        {
          actionId: CONFIRM_ACTIONS.confirm,
          value: card.id,
          userId: BOB,
          channelId: "C0ELSEWHERE",
          messageTs: card.ts,
        },
      ],
      [
        "foreign_message",
        {
          actionId: CONFIRM_ACTIONS.cancel,
          value: card.id,
          userId: BOB,
          messageTs: "1700000999.000001",
          ephemeral: false,
        },
      ],
    ];
    for (const [reason, click] of refusals) {
      const answer = await h.answer(await h.click(a, { ephemeral: false, ...click }));
      expect({ reason, text: textOf(answer) }).toEqual({
        reason,
        text: expect.stringContaining("nothing was done"),
      });
      const [row] = await h.auditWithReason(reason);
      expect(row).toMatchObject({ actor: BOB, outcome: "refused" });
    }
    // A request button whose value was tampered with posts no card.
    const before = h.fake.posted.length;
    const tampered = await h.answer(
      await h.click(a, {
        actionId: REQUEST_ACTIONS.retry,
        value: JSON.stringify({ schema: POST, target: "oban:1; DROP TABLE oban_jobs" }),
        userId: ALICE,
      }),
    );
    expect(textOf(tampered)).toContain("not valid");
    expect((await h.auditWithReason("invalid_request"))[0]).toMatchObject({
      actor: ALICE,
      outcome: "refused",
    });
    expect(h.fake.posted.length).toBe(before);

    expect(h.fake.updatesOf(card.ts)).toEqual([]);
    expect((await h.confirmation(card.id)).status).toBe("pending");
    expect(await h.replaysOf(failed)).toEqual([]);
    // The genuine click still works.
    await h.decide(b, card, CAROL);
    await h.cardUpdate(card.ts, /^Done/);
    expect(await h.replaysOf(failed)).toHaveLength(1);
    expect(h.fake.posted.filter((p) => p.body.channel !== CHANNEL)).toEqual([]);
  });
});
