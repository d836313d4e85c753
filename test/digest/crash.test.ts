// A replica dies around a digest post, another replica (its own pool, same Postgres) takes the slot
// over: real Postgres and Meilisearch, the real WebClient against the fake Slack, whose crashOn plays
// the death (the post is performed, or not, and its answer never comes back; the claim stays
// pending). At every crash point the slot ends with exactly one parent and a complete thread, each
// message once; when Slack's history cannot be read, no second parent is posted and the slot says why.
import type { WebClient } from "@slack/web-api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { StoredMessage } from "../../devkit/fakeSlack/index.ts";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { createDigestRunner, type DigestRunnerOptions } from "../../src/digest/runner.ts";
import { createOperator } from "../../src/operator/index.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { findSlot } from "../../src/state/digestSlots.ts";
import { digestListView } from "../../views/digestList.ts";
import { digestClient } from "../support/digest.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { postsSchema } from "../support/posts.ts";

const PRODUCT = "MyApp.Catalog.Product";
/** Friday 2026-11-20 09:00 in Berlin. */
const NINE = new Date("2026-11-20T08:00:00Z");
const plus = (base: Date, minutes: number) => new Date(base.getTime() + minutes * 60_000);
const KEY = "2026-11-20T09:00 Europe/Berlin";
/** Enough schemas for a digest of several thread messages. */
const MANY = 200;
const manyModule = (i: number) => `MyApp.Many.Schema${i}`;
/** The spec's bound for an answer; a takeover is far quicker, but the machine is shared. */
const BOUND_MS = 15_000;

describe("digest posts after a replica crash", { timeout: 60_000 }, () => {
  let d: TestDeployment;
  let fake: FakeSlack;
  let client: WebClient;
  /** Slack's clock: the fake's ts follow the tests' clock, as the real ones follow real time. */
  let wall = NINE;
  let channelSeq = 0;

  beforeAll(async () => {
    d = await testDeployment([
      postsSchema(),
      { module: PRODUCT, alias: "products", syncMode: "inline" },
      ...Array.from({ length: MANY }, (_, i) => ({
        module: manyModule(i),
        syncMode: "oban",
        obanQueue: "many",
      })),
    ]);
    fake = await FakeSlack.start({ realTime: true, clock: () => wall.getTime() });
    client = digestClient(fake.apiUrl);
    // Real failed jobs for 60 of the many schemas: their digest needs several thread messages.
    await d.oban.pool.query(
      `INSERT INTO "${d.oban.prefix}".oban_jobs (state, queue, worker, args, errors, attempt, max_attempts)
       SELECT 'discarded', 'many', 'Scrypath.Oban.UpsertWorker',
              jsonb_build_object('operation', 'upsert', 'schema', 'Elixir.MyApp.Many.Schema' || g, 'document_ids', jsonb_build_array(g)),
              ARRAY[jsonb_build_object('at', '2026-11-20T07:00:00Z', 'attempt', 1, 'error', '** (Req.TransportError) timeout')],
              1, 1
       FROM generate_series(0, 59) g`,
    );
  });
  /** Replicas that died in a test: their sockets close and their pools end, whatever the test did. */
  const graves: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    fake.cancelCrashes();
    for (const bury of graves.splice(0)) await bury().catch(() => {});
  });
  afterAll(async () => {
    await fake?.close();
    await d?.close();
  });

  const channel = () => `C0CRASH${String(++channelSeq).padStart(3, "0")}`;
  const configWith = (digests: Record<string, unknown>[]): Config =>
    parseConfig({ ...d.raw, digests, digestGrace: "1h" }, {});
  const digest = (name: string, ch: string, extra: Record<string, unknown> = {}) => ({
    name,
    channel: ch,
    cron: "0 9 * * *",
    timezone: "Europe/Berlin",
    when: "always",
    schemas: ["posts", "products"],
    ...extra,
  });

  const logs: { level: string; msg: string; fields: unknown }[] = [];
  const logger = {
    info: (msg: string, fields?: unknown) => logs.push({ level: "info", msg, fields }),
    warn: (msg: string, fields?: unknown) => logs.push({ level: "warn", msg, fields }),
    error: (msg: string, fields?: unknown) => logs.push({ level: "error", msg, fields }),
  };

  function runner(config: Config, at: Date, extra: Partial<DigestRunnerOptions> = {}) {
    return createDigestRunner({
      operator: d.operator,
      config,
      client,
      clock: () => at,
      sleep: async () => {},
      logger: logger as unknown as DigestRunnerOptions["logger"],
      instanceId: "replica-2",
      retryEveryMs: 0,
      ...extra,
    });
  }

  /**
   * Replica 1, in its own pool, ticks at `at` and dies where the fake's crashOn says: returns once
   * the fatal call is held, with what releases the rest (the process is gone; its socket closes).
   */
  async function dyingReplica(config: Config, at: Date) {
    const pool = createPool(d.config.database.url, { max: 2 });
    const operator = createOperator({ ...operatorContext(d.operator), db: pool });
    const dead = runner(config, at, { operator, instanceId: "replica-dies" });
    const held = fake.crashedCalls;
    const tick = dead.tick();
    let buried: Promise<Awaited<typeof tick>> | undefined;
    const bury = () => {
      buried ??= (async () => {
        fake.releaseCrashed();
        try {
          return await tick;
        } finally {
          await pool.end();
        }
      })();
      return buried;
    };
    graves.push(bury);
    await fake.until(
      () => fake.crashedCalls > held,
      BOUND_MS,
      () => "the replica never reached its crash point",
    );
    return { bury };
  }

  const parents = (ch: string) => fake.listMessages(ch).filter((m) => m.threadTs === null);
  const replies = (ch: string, parent: StoredMessage) =>
    fake.listMessages(ch).filter((m) => m.threadTs === parent.ts);
  const payload = (m: StoredMessage | undefined) =>
    m?.metadata?.event_payload as Record<string, unknown> | undefined;
  const historyReads = (ch: string) =>
    fake.calls.filter(
      (c) =>
        (c.method === "conversations.history" || c.method === "conversations.replies") &&
        c.body.channel === ch,
    );
  const slot = (name: string, key = KEY) =>
    findSlot(operatorContext(d.operator).db, d.config.state.schema, name, key);

  /** One parent for the slot, with every thread message once and in order, all recorded. */
  async function expectOneCompleteDigest(
    ch: string,
    name: string,
    key = KEY,
    slotsInChannel = 1,
  ): Promise<StoredMessage> {
    // Told apart by what anyone sees (no metadata needed): one parent per slot, no reply twice.
    expect(parents(ch), "parents in the channel").toHaveLength(slotsInChannel);
    for (const p of parents(ch)) {
      const texts = replies(ch, p).map((m) => m.text);
      expect(texts.length - new Set(texts).size, "thread replies posted twice").toBe(0);
    }
    const mine = parents(ch).filter((m) => payload(m)?.slot === key && payload(m)?.digest === name);
    expect(mine).toHaveLength(1);
    const parent = mine[0] as StoredMessage;
    const parts = Number(payload(parent)?.parts);
    const thread = replies(ch, parent);
    expect(thread.map((m) => payload(m)?.part)).toEqual(Array.from({ length: parts - 1 }, (_, i) => i + 1));
    expect(new Set(thread.map((m) => m.text)).size).toBe(thread.length);
    const row = await slot(name, key);
    expect(row).toMatchObject({
      status: "posted",
      posting: null,
      messageTs: [parent.ts, ...thread.map((m) => m.ts)],
    });
    return parent;
  }

  async function timed<T>(work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await work();
    expect(performance.now() - started).toBeLessThan(BOUND_MS);
    return result;
  }

  it("died after the parent was posted, before its ts was stored: the takeover finds it and only finishes its thread", async () => {
    const ch = channel();
    const config = configWith([digest("crash-parent", ch)]);
    wall = plus(NINE, 1);
    fake.crashOn("chat.postMessage", "after", (b) => b.channel === ch && b.thread_ts === undefined);
    const dead = await dyingReplica(config, plus(NINE, 1));
    expect(parents(ch)).toHaveLength(1);
    expect(await slot("crash-parent")).toMatchObject({ status: "claimed", messageTs: [], posting: 0 });
    const writtenAhead = (await slot("crash-parent"))?.postingAt as Date;

    // Within the lease the claim is left alone, and Slack is not read.
    wall = plus(NINE, 5);
    expect((await runner(config, plus(NINE, 5)).tick())[0]?.outcome).toBe("taken");
    expect(historyReads(ch)).toHaveLength(0);

    wall = plus(NINE, 12);
    const [result] = await timed(() => runner(config, plus(NINE, 12)).tick());
    expect(result).toMatchObject({ outcome: "posted", messages: 1 });
    const parent = await expectOneCompleteDigest(ch, "crash-parent");
    expect(await slot("crash-parent")).toMatchObject({ attempts: 2 });
    // One history read, bounded by when the post was written ahead (less the clock-skew margin).
    const [read] = historyReads(ch);
    expect(historyReads(ch)).toHaveLength(1);
    expect(read).toMatchObject({ method: "conversations.history", body: { include_all_metadata: "true" } });
    const oldest = Number(read?.body.oldest) * 1000;
    expect(oldest).toBeLessThanOrEqual(writtenAhead.getTime());
    expect(oldest).toBeGreaterThanOrEqual(writtenAhead.getTime() - 5 * 60_000);
    expect(logs.some((l) => l.msg === "digest post found in Slack; resuming after it")).toBe(true);

    // The dead replica's socket closes: it records nothing and posts nothing more.
    const last = await dead.bury();
    expect(last?.[0]?.outcome).not.toBe("posted");
    expect(parents(ch)).toEqual([expect.objectContaining({ ts: parent.ts })]);
    await expectOneCompleteDigest(ch, "crash-parent");
  });

  it("died mid-thread, after a reply was posted and before its ts was stored: each reply once", async () => {
    const ch = channel();
    const modules = Array.from({ length: MANY }, (_, i) => manyModule(i));
    const config = configWith([digest("crash-thread", ch, { schemas: modules })]);
    wall = plus(NINE, 1);
    let posts = 0;
    fake.crashOn("chat.postMessage", "after", (b) => b.channel === ch && ++posts === 2);
    const dead = await dyingReplica(config, plus(NINE, 1));
    const parent = parents(ch)[0] as StoredMessage;
    expect(replies(ch, parent)).toHaveLength(1);
    expect(Number(payload(parent)?.parts)).toBeGreaterThanOrEqual(3);
    expect(await slot("crash-thread")).toMatchObject({ messageTs: [parent.ts], posting: 1 });

    wall = plus(NINE, 12);
    const [result] = await timed(() => runner(config, plus(NINE, 12)).tick());
    expect(result?.outcome).toBe("posted");
    await expectOneCompleteDigest(ch, "crash-thread");
    expect(result?.messages).toBe(Number(payload(parent)?.parts) - 2);
    expect(historyReads(ch).map((c) => [c.method, c.body.ts])).toEqual([
      ["conversations.replies", parent.ts],
    ]);
    await dead.bury();
    await expectOneCompleteDigest(ch, "crash-thread");
  });

  it("died after its last reply was posted, before the slot was marked done: the takeover posts nothing", async () => {
    const ch = channel();
    const config = configWith([digest("crash-last", ch)]);
    wall = plus(NINE, 1);
    fake.crashOn("chat.postMessage", "after", (b) => b.channel === ch && b.thread_ts !== undefined);
    const dead = await dyingReplica(config, plus(NINE, 1));
    expect(await slot("crash-last")).toMatchObject({ status: "claimed", posting: 1 });
    const before = fake.listMessages(ch).length;

    wall = plus(NINE, 12);
    const [result] = await timed(() => runner(config, plus(NINE, 12)).tick());
    expect(result).toMatchObject({ outcome: "posted", messages: 0 });
    expect(fake.listMessages(ch)).toHaveLength(before);
    await expectOneCompleteDigest(ch, "crash-last");
    await dead.bury();
  });

  it("died before the post reached Slack: the takeover finds nothing and posts the digest once", async () => {
    const ch = channel();
    const config = configWith([digest("crash-before", ch)]);
    wall = plus(NINE, 1);
    fake.crashOn("chat.postMessage", "before", (b) => b.channel === ch);
    const dead = await dyingReplica(config, plus(NINE, 1));
    expect(fake.listMessages(ch)).toHaveLength(0);

    wall = plus(NINE, 12);
    const [result] = await timed(() => runner(config, plus(NINE, 12)).tick());
    expect(result).toMatchObject({ outcome: "posted", messages: 2 });
    await expectOneCompleteDigest(ch, "crash-before");
    await dead.bury();
  });

  it("died after the parent was stored, as its reply was being sent (it never reached Slack): the reply is posted once", async () => {
    const ch = channel();
    const config = configWith([digest("crash-reply-before", ch)]);
    wall = plus(NINE, 1);
    fake.crashOn("chat.postMessage", "before", (b) => b.channel === ch && b.thread_ts !== undefined);
    const dead = await dyingReplica(config, plus(NINE, 1));
    const [parent] = parents(ch);
    expect(await slot("crash-reply-before")).toMatchObject({ messageTs: [parent?.ts], posting: 1 });

    wall = plus(NINE, 12);
    const [result] = await timed(() => runner(config, plus(NINE, 12)).tick());
    expect(result).toMatchObject({ outcome: "posted", messages: 1 });
    await expectOneCompleteDigest(ch, "crash-reply-before");
    expect(historyReads(ch).map((c) => c.method)).toEqual(["conversations.replies"]);
    await dead.bury();
  });

  it("history unreadable (missing_scope): no second parent; the slot is left unconfirmed, saying why", async () => {
    const ch = channel();
    const config = configWith([digest("no-history", ch)]);
    wall = plus(NINE, 1);
    fake.crashOn("chat.postMessage", "after", (b) => b.channel === ch && b.thread_ts === undefined);
    const dead = await dyingReplica(config, plus(NINE, 1));
    fake.failApi(
      "conversations.history",
      { status: 200, error: "missing_scope" },
      5,
      (b) => b.channel === ch,
    );

    wall = plus(NINE, 12);
    const [result] = await timed(() => runner(config, plus(NINE, 12)).tick());
    expect(result?.outcome).toBe("unconfirmed");
    expect(result?.reason).toBe(
      "not posted again: the parent may already be in Slack (a replica stopped before recording it) and the bot " +
        "could not check: conversations.history failed with missing_scope; add the channels:history and " +
        "groups:history scopes",
    );
    expect(parents(ch)).toHaveLength(1);
    expect(fake.listMessages(ch)).toHaveLength(1);
    expect(await slot("no-history")).toMatchObject({
      status: "unconfirmed",
      reason: result?.reason,
      messageTs: [],
    });
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: "error",
        msg: "digest unconfirmed",
        fields: expect.objectContaining({ digest: "no-history" }),
      }),
    );
    // `/scrypath digest list` says so.
    const list = digestListView(await runner(config, plus(NINE, 13)).list(), {
      now: plus(NINE, 13),
      dashboardLinks: {},
    });
    expect(list.text + JSON.stringify(list.blocks)).toContain(":warning: may be incomplete for");
    expect(JSON.stringify(list.blocks)).toContain(
      "could not check: conversations.history failed with missing_scope",
    );
    // For good: later ticks leave it alone, and post nothing.
    wall = plus(NINE, 30);
    expect((await runner(config, plus(NINE, 30)).tick())[0]?.outcome).toBe("taken");
    expect(fake.listMessages(ch)).toHaveLength(1);
    await dead.bury();
  });

  it("history read fails for a moment (HTTP 500): the attempt fails without posting; the next one finishes the thread", async () => {
    const ch = channel();
    const config = configWith([digest("flaky-history", ch)]);
    wall = plus(NINE, 1);
    fake.crashOn("chat.postMessage", "after", (b) => b.channel === ch && b.thread_ts === undefined);
    const dead = await dyingReplica(config, plus(NINE, 1));
    fake.failApi("conversations.history", { status: 500 }, 1, (b) => b.channel === ch);

    wall = plus(NINE, 12);
    const [first] = await timed(() => runner(config, plus(NINE, 12)).tick());
    expect(first?.outcome).toBe("failed");
    expect(first?.reason).toMatch(/^conversations\.history failed with http_error/);
    expect(fake.listMessages(ch)).toHaveLength(1);
    expect(await slot("flaky-history")).toMatchObject({ status: "failed", posting: 0 });

    wall = plus(NINE, 13);
    const [second] = await timed(() => runner(config, plus(NINE, 13)).tick());
    expect(second).toMatchObject({ outcome: "posted", messages: 1 });
    await expectOneCompleteDigest(ch, "flaky-history");
    await dead.bury();
  });

  it("a short schedule moves on: the half-posted older slot gets its thread, the new slot its own digest", async () => {
    const ch = channel();
    const config = configWith([digest("short", ch, { cron: "*/5 * * * *" })]);
    wall = plus(NINE, 0.5);
    fake.crashOn("chat.postMessage", "after", (b) => b.channel === ch && b.thread_ts === undefined);
    const dead = await dyingReplica(config, plus(NINE, 0.5));
    expect(parents(ch)).toHaveLength(1);

    // 09:11: the latest slot is 09:10; the 09:00 one was abandoned with its parent out.
    wall = plus(NINE, 11);
    const [result] = await timed(() => runner(config, plus(NINE, 11)).tick());
    expect(result).toMatchObject({ outcome: "posted", slot: { key: "2026-11-20T09:10 Europe/Berlin" } });
    // Both slots show the same schemas: the older thread is as long as the newer one, not empty.
    const [first, second] = parents(ch) as [StoredMessage, StoredMessage];
    expect(replies(ch, second)).toHaveLength(1);
    expect(replies(ch, first)).toHaveLength(1);
    const older = await expectOneCompleteDigest(ch, "short", KEY, 2);
    const newer = await expectOneCompleteDigest(ch, "short", "2026-11-20T09:10 Europe/Berlin", 2);
    // The older thread is finished before the newer digest is posted.
    expect(parents(ch).map((m) => m.ts)).toEqual([older.ts, newer.ts]);
    expect(replies(ch, older)[0]?.ts.localeCompare(newer.ts)).toBeLessThan(0);
    await dead.bury();
  });

  it("a short schedule moves on from a slot of which nothing reached Slack: it is superseded, not posted late", async () => {
    const ch = channel();
    const config = configWith([digest("short-before", ch, { cron: "*/5 * * * *" })]);
    wall = plus(NINE, 0.5);
    fake.crashOn("chat.postMessage", "before", (b) => b.channel === ch);
    const dead = await dyingReplica(config, plus(NINE, 0.5));

    wall = plus(NINE, 11);
    const [result] = await timed(() => runner(config, plus(NINE, 11)).tick());
    expect(result?.outcome).toBe("posted");
    expect(parents(ch)).toHaveLength(1);
    await expectOneCompleteDigest(ch, "short-before", "2026-11-20T09:10 Europe/Berlin");
    expect(await slot("short-before")).toMatchObject({
      status: "superseded",
      posting: null,
      messageTs: [],
      reason: "a later slot came before anything of this one was posted",
    });
    await dead.bury();
  });
});
