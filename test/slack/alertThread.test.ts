// The alert card's "Failed work" and "Reconcile" buttons answer in the card's thread, for the
// channel; the Retry button of that answer puts its confirmation card in the same thread, and the
// confirmation's outcome and the replay follow-up stay there: the incident's story is one thread.
// Signed HTTP into the real Bolt app, real Postgres and Meilisearch, the fake Slack's store.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runScrypathJob } from "../../devkit/sandbox/worker.ts";
import { OTHER_ACTIONS } from "../../src/slack/listeners/actions.ts";
import { ALERT_ACTIONS, REQUEST_ACTIONS } from "../../views/types.ts";
import { insertJob } from "../support/db.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { buttonValues, slackEnv } from "../support/slack.ts";
import { ALICE, BOB, CHANNEL, DAVE, expectValid, Harness, type TestBot, textOf } from "./confirmHarness.ts";

describe("answers to an alert card's buttons, in its thread", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let live: string;

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

  /** An alert card as the bot would have posted it: a message in the channel with the card's buttons. */
  const postAlertCard = async (): Promise<string> => {
    const value = JSON.stringify({ schema: POST });
    const response = await fetch(`${h.fake.apiUrl}chat.postMessage`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json; charset=utf-8",
        Authorization: `Bearer ${slackEnv(h.fake).SLACK_BOT_TOKEN}`,
      },
      body: JSON.stringify({
        channel: CHANNEL,
        text: "Terminal failures in MyApp.Blog.Post",
        blocks: [
          {
            type: "section",
            text: { type: "mrkdwn", text: ":rotating_light: *Terminal failures* in `posts`" },
          },
          {
            type: "actions",
            elements: [
              {
                type: "button",
                action_id: ALERT_ACTIONS.failed,
                text: { type: "plain_text", text: "Failed work" },
                value,
              },
              {
                type: "button",
                action_id: ALERT_ACTIONS.reconcile,
                text: { type: "plain_text", text: "Reconcile" },
                value,
              },
            ],
          },
        ],
      }),
    });
    const answer = (await response.json()) as { ok: boolean; ts: string };
    expect(answer.ok).toBe(true);
    return answer.ts;
  };

  /** The next bot post in `thread` after `after` posts, matching `pattern`. */
  const nextInThread = async (thread: string, after: number, pattern: RegExp) => {
    let found: { ts: string; body: Record<string, unknown> } | undefined;
    await h.fake.waitFor(
      () => {
        found = h.fake.posted
          .slice(after)
          .find((p) => p.body.thread_ts === thread && pattern.test(textOf(p.body)));
        return found !== undefined;
      },
      () => `no post matching ${pattern} in thread ${thread}`,
    );
    const post = found as { ts: string; body: Record<string, unknown> };
    expectValid(post.body);
    return post;
  };

  it("leaves the alert buttons to their own listener, not the catch-all", () => {
    expect(OTHER_ACTIONS.test(ALERT_ACTIONS.failed)).toBe(false);
    expect(OTHER_ACTIONS.test(ALERT_ACTIONS.reconcile)).toBe(false);
  });

  it("Failed work → threaded answer → Retry → card, outcome and follow-up, all in the alert's thread", async () => {
    const failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, live, [301, 302]),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 8,
      maxAttempts: 8,
    });
    const alertTs = await postAlertCard();

    const before = h.fake.posted.length;
    const click = await h.click(bot, {
      actionId: ALERT_ACTIONS.failed,
      value: JSON.stringify({ schema: POST }),
      userId: ALICE,
      ephemeral: false,
      messageTs: alertTs,
    });
    const listing = await nextInThread(alertTs, before, new RegExp(`oban:${failed}`));
    expect(listing.body.channel).toBe(CHANNEL);
    expect(textOf(listing.body)).toContain(`<@${ALICE}>`);
    // Nothing went to the clicker alone: the answer is the channel's.
    expect(h.fake.postsTo(click).filter((p) => !/Still working/.test(textOf(p.body)))).toEqual([]);

    const retry = buttonValues(listing.body, REQUEST_ACTIONS.retry).find((v) => v.includes(`oban:${failed}`));
    expect(retry).toBeDefined();
    const beforeCard = h.fake.posted.length;
    await h.click(bot, {
      actionId: REQUEST_ACTIONS.retry,
      value: retry as string,
      userId: ALICE,
      ephemeral: false,
      messageTs: listing.ts,
      threadTs: alertTs,
    });
    const card = await h.nextCard(beforeCard);
    expect(card.body.thread_ts).toBe(alertTs);

    const beforeDecision = h.fake.posted.length;
    await h.decide(bot, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
    const [jobId] = await h.replaysOf(failed);
    expect(jobId).toBeDefined();
    const followUp = await nextInThread(alertTs, beforeDecision, /accepted is not searchable/);
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, jobId as number);
    await h.fake.waitFor(
      () => /verified/.test(String((h.fake.updatesOf(followUp.ts).at(-1) ?? followUp.body).text)),
      () => "the follow-up never said verified",
    );

    // In the conversation: the answer, the card and the follow-up are replies of the alert card.
    const thread = h.fake.listMessages(CHANNEL).filter((m) => m.threadTs === alertTs);
    expect(thread.map((m) => m.ts)).toEqual([listing.ts, card.ts, followUp.ts]);
    expect(h.fake.message(CHANNEL, alertTs)?.replyCount).toBe(3);
  });

  it("Reconcile answers in the thread too; what is not the channel's answer goes to the clicker only", async () => {
    const alertTs = await postAlertCard();
    const before = h.fake.posted.length;
    const asked = await h.click(bot, {
      actionId: ALERT_ACTIONS.reconcile,
      value: JSON.stringify({ schema: "posts" }),
      userId: DAVE,
      ephemeral: false,
      messageTs: alertTs,
    });
    const report = await nextInThread(alertTs, before, /Recommended actions/);
    expect(report.body.channel).toBe(CHANNEL);
    expect(textOf(report.body)).toContain(`<@${DAVE}>`);
    expect(h.fake.postsTo(asked).filter((p) => !/Still working/.test(textOf(p.body)))).toEqual([]);

    const stale = h.fake.posted.length;
    const invalid = await h.click(bot, {
      actionId: ALERT_ACTIONS.failed,
      value: "not json",
      userId: DAVE,
      ephemeral: false,
      messageTs: alertTs,
    });
    const [answer] = await h.fake.waitForPosts(invalid, 1);
    expect(answer?.body).toMatchObject({ response_type: "ephemeral" });
    expect(textOf(answer?.body ?? {})).toContain("this button is not valid any more");
    expect(h.fake.posted.length).toBe(stale);
  });
});
