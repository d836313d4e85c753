// A short Postgres network outage: a TCP proxy between the bot and the real Postgres black-holes
// every byte for 12 s (connections stay open, nothing moves, new connections hang), then heals.
// During the outage commands get an honest answer naming Postgres within 15 s and Confirm clicks a
// refusal within 5 s; /readyz stays 200 (a backend outage is not a readiness failure) while the deep
// check (/readyz?deep=1) names Postgres; after healing the pool serves again within 10 s and the deep
// check is 200 within 10 s.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { ALICE, BOB, Harness, type TestBot, textOf } from "../slack/confirmHarness.ts";
import { insertJob } from "../support/db.ts";
import { eventually } from "../support/eventually.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";
import { startTcpProxy, type TcpProxy } from "../support/tcpProxy.ts";

const OUTAGE_MS = 12_000;

describe("Postgres black-holed for 12 s, then healed", () => {
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let proxy: TcpProxy;
  let failed: number;
  const unhandled: unknown[] = [];
  const onUnhandled = (error: unknown) => unhandled.push(error);

  /** `/scrypath failed posts` → its final answer (not the working note) and how long it took. */
  const failedPosts = () => h.finalAnswer(bot, "failed posts", ALICE);
  const succeeded = (text: string) => text.includes(String(failed)) && !/Postgres/.test(text);

  const readyz = async () => (await fetch(`${bot.admin}/readyz`)).status;
  const deepCheck = async () => {
    const response = await fetch(`${bot.admin}/readyz?deep=1`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    process.on("uncaughtException", onUnhandled);
    d = await testDeployment([postsSchema({ contract: { fields: ["title"] } })]);
    await d.meili.createIndex(`${d.indexPrefix}_post`, { primaryKey: "id" }).waitTask();
    failed = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, `${d.indexPrefix}_post`, [7]),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 8,
      maxAttempts: 8,
    });
    const url = new URL(d.config.database.url);
    proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port) });
    h = await Harness.create(d);
    bot = await h.bot({ database: { url: proxy.rewrite(d.config.database.url) } });
  });

  afterAll(async () => {
    process.off("uncaughtException", onUnhandled);
    proxy?.setMode("pass");
    await h?.close();
    await proxy?.close();
    await d?.close();
  });

  it("answers honestly during the outage and serves again within 10 s of healing", async () => {
    // A warm pool, and a card to click during the outage.
    expect(succeeded((await failedPosts()).text)).toBe(true);
    const before = h.fake.posted.length;
    await h.command(bot, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    expect(await readyz()).toBe(200);
    expect((await deepCheck()).status).toBe(200);

    proxy.setMode("blackhole");
    const darkAt = Date.now();
    const duringOutage = Promise.all([
      failedPosts(),
      new Promise((resolve) => setTimeout(resolve, 3_000)).then(failedPosts),
    ]);
    // A Confirm click: a refusal within 5 s, and nothing done.
    const clickedAt = Date.now();
    const click = await h.decide(bot, card, BOB);
    const refusal = textOf(await h.answer(click));
    expect(Date.now() - clickedAt).toBeLessThan(5_000);
    expect(refusal).toMatch(/Postgres did not answer within [0-9.]+ s; nothing was done; try again/);
    expect(await readyz()).toBe(200);
    const deep = await deepCheck();
    expect(deep.status).toBe(503);
    expect(deep.body.down).toEqual([
      { backend: "postgres", error: expect.stringMatching(/Postgres at .* did not answer within/) },
    ]);

    for (const answer of await duringOutage) {
      expect(answer.ms).toBeLessThan(15_000);
      expect(answer.text).toMatch(/Postgres/);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(darkAt + OUTAGE_MS - Date.now(), 0)));
    proxy.setMode("pass");
    const healedAt = Date.now();

    // The deep check follows within 10 s.
    let readyAfter = Number.POSITIVE_INFINITY;
    while (Date.now() - healedAt < 15_000) {
      if ((await deepCheck()).status === 200) {
        readyAfter = Date.now() - healedAt;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(readyAfter).toBeLessThan(10_000);

    // Commands succeed within 10 s of healing, and keep succeeding: the pool is not stuck.
    const results: { at: number; ok: boolean }[] = [];
    for (let i = 0; i < 8; i++) {
      const answer = await failedPosts();
      results.push({ at: Date.now() - healedAt, ok: succeeded(answer.text) });
    }
    const firstOk = results.find((r) => r.ok);
    expect(firstOk?.at ?? Number.POSITIVE_INFINITY).toBeLessThan(10_000);
    expect(results.filter((r) => !r.ok && r.at > 10_000)).toEqual([]);
    expect(results.slice(-5).every((r) => r.ok)).toBe(true);

    // The refused click is audited once Postgres is back, and it did nothing; the card still works.
    const refused = await eventually(
      async () => (await h.auditWithReason("postgres_timeout"))[0],
      10_000,
      "the refused click's audit row",
    );
    expect(refused).toMatchObject({ actor: BOB, outcome: "refused", context: { confirmation_id: card.id } });
    expect(String((refused.details as Record<string, unknown>).message)).toMatch(/nothing was done/);
    expect((await h.confirmation(card.id)).status).toBe("pending");
    await h.decide(bot, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
    expect(await h.replaysOf(failed)).toHaveLength(1);
    expect(unhandled).toEqual([]);
  }, 90_000);
});
