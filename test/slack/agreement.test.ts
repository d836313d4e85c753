// One deployment, every surface, the same moment: the overview, `status <schema>`, `failed`,
// `reconcile` and the digest preview report the same triage figures (terminal, retrying, resolved
// by replay and of those verified, needs triage), before and after three replays run: two
// confirmed in Slack and followed to "verified" by the bot, one made outside Slack and never
// followed ("completed"). The real Bolt app over signed HTTP, real Postgres and Meilisearch;
// the CLI keeps upstream's lines.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runScrypathJob } from "../../devkit/sandbox/worker.ts";
import {
  blockActionsRequest,
  SIGNING_SECRET,
  send,
  slashCommandRequest,
} from "../../devkit/slackRequests.ts";
import { formatFailed, formatStatus } from "../../src/cli/format.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { observeReplay, receiptFor } from "../../src/operator/verify.ts";
import { createSlackApp, type SlackApp } from "../../src/slack/app.ts";
import { CONFIRM_ACTIONS } from "../../views/confirm.ts";
import { ACTIONS } from "../../views/types.ts";
import { validateMessage } from "../support/blockKit.ts";
import { insertJob } from "../support/db.ts";
import { eventually } from "../support/eventually.ts";
import { failDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { buttonValues, slackEnv } from "../support/slack.ts";

const BOT_TOKEN = "xoxb-1111-2222-agreementtoken";
const CHANNEL = "C0ONCALL01";
/** The on-call operator who asks for and confirms the retries (no two-person rule here). */
const OPERATOR = "U0OPS0001";
/** Slack's bound for a slash command's final answer (DESIGN.md). */
const ANSWER_MS = 15_000;

describe("every Slack surface reports the same figures for the same moment", () => {
  let d: TestDeployment;
  let fake: FakeSlack;
  let bot: SlackApp;
  let base: string;
  let config: Config;
  let live: string;
  const discarded: number[] = [];
  const retryAt = new Date(Date.now() + 3 * 3600_000);

  /** The visible text of a slash command's answer, after checking it arrived in time and is valid. */
  const answer = async (text: string): Promise<string> => {
    const started = performance.now();
    const { id, url } = fake.responseUrl();
    const ack = await send(
      `${base}/slack/events`,
      slashCommandRequest({ text, responseUrl: url, channelId: CHANNEL }),
    );
    expect(ack.status).toBe(200);
    const posts = await fake.waitForPosts(id, 1);
    expect(performance.now() - started).toBeLessThan(ANSWER_MS);
    for (const post of posts) {
      expect(validateMessage({ text: post.body.text, blocks: post.body.blocks })).toEqual([]);
    }
    return JSON.stringify(posts.map((p) => p.body));
  };

  beforeAll(async () => {
    d = await testDeployment([postsSchema()]);
    live = `${d.indexPrefix}_post`;
    const job = (state: string, id: number, extra: Record<string, unknown> = {}) =>
      insertJob(d.oban.pool, d.oban.prefix, {
        state,
        queue: QUEUE,
        args: upsertArgs(POST, live, [id]),
        errors: [obanError("** (Req.TransportError) timeout")],
        attempt: 3,
        maxAttempts: 8,
        ...extra,
      });
    // Terminal: 6 discarded and 1 cancelled jobs, 2 failed Meilisearch document tasks.
    for (let i = 1; i <= 6; i++) discarded.push(await job("discarded", i));
    await job("cancelled", 7);
    // Retrying: 2 jobs Oban tries again in three hours. Pending: 1 available job.
    await job("retryable", 8, { scheduledAt: retryAt });
    await job("retryable", 9, { scheduledAt: new Date(retryAt.getTime() + 60_000) });
    await job("available", 10, { errors: [], attempt: 0 });
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    await failDocumentTask(d.meili, live, "missing_primary_key");
    await failDocumentTask(d.meili, live, "missing_primary_key");

    config = parseConfig(
      {
        ...d.raw,
        access: { channels: [CHANNEL], operators: { users: [OPERATOR] } },
        digests: [{ name: "morning", channel: CHANNEL, cron: "0 9 * * 1-5", timezone: "UTC" }],
      },
      {},
    );
    fake = await FakeSlack.start();
    fake.token = BOT_TOKEN;
    bot = createSlackApp({
      config,
      operator: d.operator,
      env: slackEnv(fake, BOT_TOKEN),
      logger: createLogger({ write: () => {}, secrets: [BOT_TOKEN, SIGNING_SECRET] }),
      digestSchedules: false,
      follow: { intervalMs: 100, maxIntervalMs: 300 },
    });
    const { port } = await bot.start();
    base = `http://127.0.0.1:${port}`;
  }, 60_000);

  afterAll(async () => {
    await bot?.stop();
    await fake?.close();
    await d?.close();
  });

  /**
   * `/scrypath retry posts <id>`, Confirm on the card, the application's worker runs the new job,
   * and the bot's follower (the thread reply under the card) follows it to the end.
   */
  const retryInSlack = async (failedId: number): Promise<void> => {
    const before = fake.posted.length;
    const asked = fake.responseUrl();
    await send(
      `${base}/slack/events`,
      slashCommandRequest({
        text: `retry posts ${failedId}`,
        responseUrl: asked.url,
        channelId: CHANNEL,
        userId: OPERATOR,
      }),
    );
    let card: { ts: string; body: Record<string, unknown> } | undefined;
    await fake.waitFor(
      () => {
        card = fake.posted
          .slice(before)
          .find((p) => buttonValues(p.body, CONFIRM_ACTIONS.confirm).length > 0);
        return card !== undefined;
      },
      () => `no confirmation card for job ${failedId}`,
    );
    const { ts, body } = card as { ts: string; body: Record<string, unknown> };
    const [requestId] = buttonValues(body, CONFIRM_ACTIONS.confirm);
    const clicked = await send(
      `${base}/slack/events`,
      blockActionsRequest({
        actionId: CONFIRM_ACTIONS.confirm,
        value: requestId as string,
        userId: OPERATOR,
        channelId: CHANNEL,
        ephemeral: false,
        messageTs: ts,
        responseUrl: fake.responseUrl().url,
      }),
    );
    expect(clicked.status).toBe(200);
    const replayId = await eventually(
      async () => {
        const { rows } = await d.oban.pool.query(
          `SELECT id FROM "${d.oban.prefix}".oban_jobs WHERE meta->'scrypath_bot'->>'replay_of' = $1`,
          [String(failedId)],
        );
        return rows[0] ? Number(rows[0].id) : undefined;
      },
      20_000,
      `the replay of job ${failedId}`,
    );
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, replayId);
    // The thread reply says verified, and the follower has ended (its verdict is recorded by then).
    await fake.waitFor(
      () => {
        const reply = fake.posted.find((p) => p.body.thread_ts === ts);
        const latest = reply ? (fake.updatesOf(reply.ts).at(-1) ?? reply.body) : undefined;
        return /verified/.test(String(latest?.text)) && bot.followers.active === 0;
      },
      () => `the reply under the card of job ${failedId} never said verified`,
    );
  };

  /** Every surface at one moment, each checked for the same figures. */
  const expectAgreement = async (figures: {
    line: string;
    needs: number;
    resolved: number;
    /** "replayed by the bot …" where the surface lists replays by outcome. */
    replayed?: string;
  }) => {
    const [overview, status, failed, reconcile, digest] = [
      await answer("status"),
      await answer("status posts"),
      await answer("failed posts"),
      await answer("reconcile posts"),
      await answer("digest preview morning"),
    ];
    // The same tally line everywhere.
    for (const [surface, text] of Object.entries({ overview, status, failed, reconcile, digest })) {
      expect(text, surface).toContain(figures.line);
      // Retrying work says when Oban tries again, as a date token.
      if (surface !== "overview") {
        expect(text, surface).toContain(`Oban tries again <!date^${Math.floor(retryAt.getTime() / 1000)}^`);
      }
    }
    // Headlines and the posture verdict count what needs a person.
    const needs = `${figures.needs} terminal failures need triage`;
    expect(status).toContain(needs);
    expect(failed).toContain(needs);
    expect(overview).toContain("Scrypath posture: Degraded");
    expect(overview).toContain(`${figures.needs} sync job(s) failed to apply and will not self-heal`);
    expect(digest).toContain(`${figures.needs} sync job(s) failed to apply and will not self-heal`);
    if (figures.resolved > 0) {
      expect(overview).toContain(`(${figures.resolved} more resolved by replay)`);
      expect(digest).toContain(`(${figures.resolved} more resolved by replay)`);
    }
    if (figures.replayed) {
      for (const [surface, text] of Object.entries({ status, failed, reconcile, digest })) {
        expect(text, surface).toContain(figures.replayed);
      }
    }
    // The overview's icon agrees with its verdict, and it has buttons for the schema.
    expect(overview).toContain(":red_circle: *posts*");
    expect(overview).toContain(ACTIONS.openFailed);
    expect(overview).toContain(ACTIONS.openReconcile);
    return { overview, status, failed, reconcile, digest };
  };

  /** The CLI keeps upstream's lines: its counts are the raw planes, replay or not. */
  const expectUpstreamLines = async () => {
    const status = formatStatus(await d.operator.syncStatus("posts"));
    expect(status).toEqual(
      expect.arrayContaining([
        "Backend failed: 2",
        "Queue pending: 1",
        "Queue retrying: 2",
        "Queue failed: 7",
      ]),
    );
    const failed = formatFailed(await d.operator.failedSyncWork("posts", { limit: 1 }), {
      classSummary: true,
    });
    expect(failed.slice(0, 2)).toEqual(["Schema: MyApp.Blog.Post", "Failed work: 11"]);
  };

  it("before any replay: 11 failed rows, 2 retrying, 9 need triage", async () => {
    await expectAgreement({ line: "11 failed rows · 2 retrying · 9 need triage", needs: 9, resolved: 0 });
    await expectUpstreamLines();
  }, 120_000);

  it("after three replays, two followed to verified: 3 resolved (2 verified), 6 need triage, on every surface", async () => {
    const [first, second, third] = discarded as [number, number, number];
    // Two retries confirmed in Slack: the bot follows each to "verified" and records it.
    await retryInSlack(first);
    await retryInSlack(second);
    // One replay made outside Slack and never followed: its documents are in the index, but no
    // follower looked, so it is "completed", not "verified"; it resolves its row all the same.
    const started = new Date();
    const result = await d.operator.retrySyncWork("posts", third, { id: OPERATOR });
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, result.job.id);
    const receipt = receiptFor(result.job.id, live, "upsert", upsertArgs(POST, live, [third]), started);
    expect((await observeReplay(operatorContext(d.operator), receipt)).state).toBe("verified");

    await expectAgreement({
      line: "11 failed rows · 3 resolved by replay (2 verified) · 2 retrying · 6 need triage",
      needs: 6,
      resolved: 3,
      replayed: "replayed by the bot 3: 1 completed, 2 verified",
    });
    // Each replayed row says what its replay became (the list of queue rows holds all three).
    const rows = await answer("failed posts --source oban");
    expect(rows.match(/replayed as #\d+ · verified · \*resolved\*/g)).toHaveLength(2);
    expect(rows.match(/replayed as #\d+ · completed · \*resolved\*/g)).toHaveLength(1);
    await expectUpstreamLines();
  }, 120_000);
});
