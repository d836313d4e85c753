// Postgres frozen (SIGSTOP on the postmaster and every backend) with a warm pool, then thawed
// (SIGCONT). A PRIVATE embedded server is started for this file, so the shared one is never frozen.
// While frozen, a read gets its answer naming Postgres within 15 s and a Confirm click a refusal
// within 5 s (nothing done); after the thaw everything works again.
import { readdirSync, readFileSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { createObanSchema } from "../../devkit/oban/schema.ts";
import { type PostgresServer, startPostgres } from "../../devkit/services/postgresServer.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { parseConfig } from "../../src/config.ts";
import { createOperator, poolOptions } from "../../src/operator/index.ts";
import { ALICE, BOB, Harness, type TestBot, textOf } from "../slack/confirmHarness.ts";
import { insertJob } from "../support/db.ts";
import { eventually } from "../support/eventually.ts";
import { deleteIndexes, testClient, uniqueIndexPrefix } from "../support/meili.ts";
import { obanError, type TestDeployment, testConfigObject } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const PREFIX = "public";

/** The parent pid of `pid`, from /proc (Linux). */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // "pid (comm) state ppid …": comm may hold spaces, so read after its closing parenthesis.
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** The postmaster of the backend `backendPid`, and every process it forked. */
function serverProcesses(backendPid: number): number[] {
  const postmaster = parentOf(backendPid);
  const children = readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return parentOf(pid) === postmaster;
      } catch {
        return false; // gone meanwhile
      }
    });
  return [postmaster, ...children];
}

describe("Postgres frozen with SIGSTOP, then thawed", () => {
  let server: PostgresServer;
  let d: TestDeployment;
  let h: Harness;
  let bot: TestBot;
  let failed: number;
  let frozen: number[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (error: unknown) => unhandled.push(error);

  const thaw = () => {
    for (const pid of frozen) {
      try {
        process.kill(pid, "SIGCONT");
      } catch {
        // already gone
      }
    }
    frozen = [];
  };

  const failedPosts = () => h.finalAnswer(bot, "failed posts", ALICE);
  const succeeded = (text: string) => text.includes(String(failed)) && !/Postgres/.test(text);

  beforeAll(async () => {
    process.on("uncaughtException", onUnhandled);
    server = await startPostgres();
    const obanPool = new pg.Pool({ connectionString: server.url, max: 2 });
    obanPool.on("error", () => {});
    await createObanSchema(obanPool, PREFIX);
    const indexPrefix = uniqueIndexPrefix().replace(/_$/, "");
    const raw = testConfigObject(PREFIX, indexPrefix, [postsSchema({ contract: { fields: ["title"] } })]);
    (raw.database as Record<string, unknown>).url = server.url;
    const config = parseConfig(raw, {});
    const operator = createOperator({
      config,
      db: createPool(config.database.url, { ...poolOptions(config), max: 4 }),
      meili: createMeiliClient(config.meilisearch),
    });
    await operator.migrate();
    const meili = testClient();
    d = {
      config,
      operator,
      oban: { prefix: PREFIX, pool: obanPool, close: () => obanPool.end() },
      meili,
      indexPrefix,
      raw,
      async close() {
        await operator.close();
        await obanPool.end();
        await deleteIndexes(meili, `${indexPrefix}_`);
      },
    };
    await meili.createIndex(`${indexPrefix}_post`, { primaryKey: "id" }).waitTask();
    failed = await insertJob(obanPool, PREFIX, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, `${indexPrefix}_post`, [9]),
      errors: [obanError("** (Req.TransportError) timeout")],
      attempt: 8,
      maxAttempts: 8,
    });
    h = await Harness.create(d);
    bot = await h.bot({ ownOperator: true });
  }, 120_000);

  afterAll(async () => {
    thaw();
    process.off("uncaughtException", onUnhandled);
    await h?.close();
    await d?.close();
    await server?.stop();
  }, 60_000);

  it("answers a read within 15 s and a click within 5 s while frozen, and works after the thaw", async () => {
    // Warm pool: a read, a request card (the state tables exist), a ready bot.
    expect(succeeded((await failedPosts()).text)).toBe(true);
    const before = h.fake.posted.length;
    await h.command(bot, `retry posts ${failed}`, ALICE);
    const card = await h.nextCard(before);
    expect((await fetch(`${bot.admin}/readyz`)).status).toBe(200);

    const { rows } = await d.oban.pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    frozen = serverProcesses(rows[0]?.pid as number);
    expect(frozen.length).toBeGreaterThan(1);
    for (const pid of frozen) process.kill(pid, "SIGSTOP");
    try {
      const read = failedPosts();
      const clickedAt = Date.now();
      const click = await h.decide(bot, card, BOB);
      const refusal = textOf(await h.answer(click));
      expect(Date.now() - clickedAt).toBeLessThan(5_000);
      expect(refusal).toMatch(/Postgres did not answer within [0-9.]+ s; nothing was done; try again/);
      const answer = await read;
      expect(answer.ms).toBeLessThan(15_000);
      expect(answer.text).toMatch(/Postgres/);
    } finally {
      thaw();
    }
    const thawedAt = Date.now();

    // After the thaw: reads answer in full again, and the card (untouched by the refused click) works.
    let ok = false;
    while (!ok && Date.now() - thawedAt < 15_000) ok = succeeded((await failedPosts()).text);
    expect(ok).toBe(true);
    expect(Date.now() - thawedAt).toBeLessThan(10_000);
    const refused = await eventually(
      async () => (await h.auditWithReason("postgres_timeout"))[0],
      10_000,
      "the refused click's audit row",
    );
    expect(refused).toMatchObject({ actor: BOB, outcome: "refused", context: { confirmation_id: card.id } });
    expect((await h.confirmation(card.id)).status).toBe("pending");
    await h.decide(bot, card, BOB);
    await h.cardUpdate(card.ts, /^Done/);
    expect(await h.replaysOf(failed)).toHaveLength(1);
    expect((await fetch(`${bot.admin}/readyz`)).status).toBe(200);
    expect(unhandled).toEqual([]);
  }, 90_000);
});
