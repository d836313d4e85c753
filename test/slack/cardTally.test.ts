// Cards speak the tally: a confirmation card shows where its row and its schema stand in the one
// vocabulary (terminal, retrying, pending, replayed, resolved), with the words and figures
// `/scrypath failed <schema>` prints at that moment; once confirmed, the figures after it ran.
// Signed HTTP into the real Bolt app, real Postgres and Meilisearch, the fake Slack.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { runScrypathJob } from "../../devkit/sandbox/worker.ts";
import { insertJob } from "../support/db.ts";
import { failDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { ALICE, BOB, Harness, jargonIn, readerText, type TestBot } from "./confirmHarness.ts";

const POST = "MyApp.Blog.Post";
const QUEUE = "search_sync";

describe("confirmation cards show the tally /scrypath failed prints", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let live: string;
  const discarded: number[] = [];
  let retryable = 0;
  const retryAt = new Date(Date.now() + 3 * 3600_000);
  const retryToken = `Oban tries again <!date^${Math.floor(retryAt.getTime() / 1000)}^`;
  const cards: Record<string, unknown>[] = [];

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

  /** What `/scrypath failed posts` shows right now, as a reader sees it. */
  const failedNow = async () => readerText(await h.answer(await h.command(bot, "failed posts", ALICE)));
  /** The tally line of a failed list (its bold line), e.g. "7 failed rows · 2 retrying · 5 need triage". */
  const tallyLineOf = (text: string) => {
    const line = /\*(\d+ failed rows?[^*\n]*need(?:s)? triage)\*/.exec(text)?.[1];
    expect(line, text).toBeDefined();
    return line as string;
  };
  const ask = async (text: string) => {
    const before = h.fake.posted.length;
    await h.command(bot, text, ALICE);
    const card = await h.nextCard(before);
    cards.push(card.body);
    return { ...card, shown: readerText(card.body) };
  };

  beforeAll(async () => {
    d = await testDeployment([
      {
        module: POST,
        alias: "posts",
        syncMode: "oban",
        obanQueue: QUEUE,
        contract: { fields: ["title"] },
        backfillWorker: { worker: "MyApp.Search.BackfillWorker", queue: "search_maintenance" },
      },
    ]);
    live = `${d.indexPrefix}_post`;
    // Terminal: 3 discarded and 1 cancelled jobs, 1 failed Meilisearch document task.
    for (let i = 1; i <= 3; i++) discarded.push(await job("discarded", i));
    await job("cancelled", 4);
    // Retrying: 2 jobs Oban tries again in three hours. Pending: 1 available job.
    retryable = await job("retryable", 5, { scheduledAt: retryAt });
    await job("retryable", 6, { scheduledAt: new Date(retryAt.getTime() + 60_000) });
    await job("available", 7, { errors: [], attempt: 0 });
    await d.meili.createIndex(live, { primaryKey: "id" }).waitTask();
    await failDocumentTask(d.meili, live, "missing_primary_key");
    h = await Harness.create(d);
    bot = await h.bot();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
    await d?.close();
  });

  it("a retry card: the row's standing and the schema's figures, as the failed list has them; after the confirm, the figures it changed", async () => {
    const listed = await failedNow();
    const line = tallyLineOf(listed);
    expect(line).toBe("7 failed rows · 2 retrying · 5 need triage");

    const [failed] = discarded as [number];
    const card = await ask(`retry posts ${failed}`);
    expect(card.shown).toContain("*Standing now* · read <!date^");
    expect(card.shown).toContain("as `/scrypath failed posts` counts it");
    expect(card.shown).toContain("*This row:* terminal (`discarded`), not replayed yet");
    // The same line, the same next retry, as the failed list at this moment.
    expect(card.shown).toContain(`*posts:* ${line}`);
    expect(card.shown).toContain(retryToken);
    expect(listed).toContain(retryToken);
    expect(card.shown).toContain("1 pending (queued or processing: Meilisearch 0, Oban 1)");
    // The notification text carries the figures too.
    expect(String(card.body.text)).toContain(`(posts: ${line})`);

    await h.decide(bot, card, BOB);
    const done = readerText(await h.cardUpdate(card.ts, /^Done/));
    const [replay] = await h.replaysOf(failed);
    expect(done).toContain("*Standing after this ran* · read <!date^");
    // The row now has its replay; the schema counts it as replayed and pending.
    expect(done).toContain(
      `*This row:* terminal (\`discarded\`)\n:repeat: replayed as #${replay} · available`,
    );
    expect(done).toContain(`*posts:* ${line}`);
    expect(done).toContain("replayed by the bot 1: 1 pending");
    expect(done).toContain("2 pending (queued or processing: Meilisearch 0, Oban 2)");
    const after = await failedNow();
    expect(after).toContain("replayed by the bot 1: 1 pending");
    expect(tallyLineOf(after)).toBe(line);

    // The replay completes: the failed list and the next card both count it resolved.
    await runScrypathJob(d.oban.pool, d.oban.prefix, d.meili, replay as number);
    // The bot follows the confirmed retry to "verified" and records it before its follower ends.
    await h.reply(card.ts, /verified/);
    await h.fake.waitFor(
      () => bot.bot.followers.active === 0,
      () => "the follower never ended",
    );
    const resolved = tallyLineOf(await failedNow());
    expect(resolved).toBe("7 failed rows · 1 resolved by replay (1 verified) · 2 retrying · 4 need triage");
    const next = await ask(`retry posts ${discarded[1]}`);
    expect(next.shown).toContain(`*posts:* ${resolved}`);
    expect(next.shown).toContain("replayed by the bot 1: 1 verified");
    await h.decide(bot, next, ALICE, "cancel");
    // Cancelled: the figures stay, dated as of the request, not claimed as current.
    const cancelled = readerText(await h.cardUpdate(next.ts, /^Cancelled/));
    expect(cancelled).toContain("*Standing when requested* · figures as of <!date^");
    expect(cancelled).toContain(`*posts:* ${resolved}`);
  });

  it("a retrying row's card says retrying, not terminal, with Oban's own time", async () => {
    const card = await ask(`retry posts ${retryable}`);
    expect(card.shown).toContain("*This row:* retrying (`retryable`), not replayed yet");
    expect(card.shown).toContain("Oban will retry this by itself at <!date^");
    expect(card.shown).toContain(`*posts:* ${tallyLineOf(await failedNow())}`);
    await h.decide(bot, card, ALICE, "cancel");
    await h.cardUpdate(card.ts, /^Cancelled/);
  });

  it("a schema-level card (a backfill hand-off) shows the schema's figures, before and after", async () => {
    const line = tallyLineOf(await failedNow());
    const card = await ask("reconcile posts --action backfill");
    expect(card.shown).toContain("*Standing now* · read <!date^");
    expect(card.shown).toContain(`*posts:* ${line}`);
    expect(card.shown).not.toContain("*This row:*");
    await h.decide(bot, card, BOB);
    const done = readerText(await h.cardUpdate(card.ts, /^Done/));
    expect(done).toContain("*Standing after this ran*");
    // The hand-off job runs in its own queue: the sync figures did not move.
    expect(done).toContain(`*posts:* ${line}`);
  });

  it("names times as date tokens and nobody by a raw id on every card this file produced", () => {
    expect(cards.length).toBeGreaterThan(0);
    for (const body of cards) expect(jargonIn(body)).toEqual([]);
  });
});
