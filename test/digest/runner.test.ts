// The digest runner end to end: real Postgres and Meilisearch, the real WebClient against the
// fake Slack API, an injected clock (nothing waits for real time): claiming across replicas, each
// `when` mode, catch-up after downtime, 429s, resuming after a crash, many schemas, a backend down.
import type { WebClient } from "@slack/web-api";
import cron from "node-cron";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import type { ChatClient } from "../../src/digest/port.ts";
import { createDigestRunner, type DigestRunnerOptions } from "../../src/digest/runner.ts";
import { createOperator } from "../../src/operator/index.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { findSlot, lastSlot } from "../../src/state/digestSlots.ts";
import type { SlackMessage } from "../../views/types.ts";
import { expectValidMessage } from "../support/blockKit.ts";
import { insertJob } from "../support/db.ts";
import { closedPort, digestClient } from "../support/digest.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST, postsSchema, QUEUE } from "../support/posts.ts";

const PRODUCT = "MyApp.Catalog.Product";
/** Friday 2026-11-20 09:00 in Berlin. */
const NINE = new Date("2026-11-20T08:00:00Z");
const plus = (base: Date, minutes: number) => new Date(base.getTime() + minutes * 60_000);

/** Many schemas for the split test: most have no data at all, some have real failed jobs. */
const MANY = 200;
const manyModule = (i: number) => `MyApp.Many.Schema${i}`;

describe("digest runner", () => {
  let d: TestDeployment;
  let fake: FakeSlack;
  let client: WebClient;
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
    fake = await FakeSlack.start();
    client = digestClient(fake.apiUrl);
    // Real failed jobs for 60 of the many schemas, seeded with one statement.
    await d.oban.pool.query(
      `INSERT INTO "${d.oban.prefix}".oban_jobs (state, queue, worker, args, errors, attempt, max_attempts)
       SELECT 'discarded', 'many', 'Scrypath.Oban.UpsertWorker',
              jsonb_build_object('operation', 'upsert', 'schema', 'Elixir.MyApp.Many.Schema' || g, 'document_ids', jsonb_build_array(g)),
              ARRAY[jsonb_build_object('at', '2026-11-20T07:00:00Z', 'attempt', 1, 'error', '** (Req.TransportError) timeout')],
              1, 1
       FROM generate_series(0, 59) g`,
    );
  });
  afterAll(async () => {
    await fake?.close();
    await d?.close();
  });

  /** A fresh channel per test, so calls can be told apart. */
  const channel = () => `C0TEST${String(++channelSeq).padStart(4, "0")}`;

  function configWith(digests: Record<string, unknown>[], grace: string | number = "1h"): Config {
    return parseConfig({ ...d.raw, digests, digestGrace: grace }, {});
  }

  function runner(config: Config, clock: { now: Date }, extra: Partial<DigestRunnerOptions> = {}) {
    const sleeps: number[] = [];
    // Pacing time only moves when the runner sleeps: spacing is exact however slow the machine is.
    let monotonic = 0;
    const r = createDigestRunner({
      operator: d.operator,
      config,
      client,
      clock: () => clock.now,
      sleep: async (ms) => {
        sleeps.push(ms);
        monotonic += ms;
      },
      monotonic: () => monotonic,
      instanceId: "replica-1",
      retryEveryMs: 0,
      ...extra,
    });
    return Object.assign(r, { sleeps });
  }

  const postsTo = (ch: string) => fake.callsTo("chat.postMessage").filter((c) => c.body.channel === ch);
  const parentsIn = (ch: string) => postsTo(ch).filter((c) => c.body.thread_ts === undefined);
  const asMessage = (body: Record<string, unknown>) =>
    ({ text: body.text, blocks: body.blocks }) as SlackMessage;
  const digest = (name: string, ch: string, extra: Record<string, unknown> = {}) => ({
    name,
    channel: ch,
    cron: "0 9 * * *",
    timezone: "Europe/Berlin",
    schemas: ["posts", "products"],
    ...extra,
  });

  it("posts ONE digest when three replicas tick the same slot at once", async () => {
    const ch = channel();
    const config = configWith([digest("race", ch, { when: "always" })]);
    const clock = { now: plus(NINE, 0.5) };
    const pools = [
      createPool(d.config.database.url, { max: 4 }),
      createPool(d.config.database.url, { max: 4 }),
    ];
    const operators = [
      d.operator,
      ...pools.map((db) => createOperator({ ...operatorContext(d.operator), db })),
    ];
    try {
      const replicas = operators.map((operator, i) =>
        runner(config, clock, { operator, instanceId: `replica-${i + 1}` }),
      );
      const results = (await Promise.all(replicas.map((r) => r.tick()))).flat();
      expect(results.map((r) => r.outcome).sort()).toEqual(["posted", "taken", "taken"]);
      expect(parentsIn(ch)).toHaveLength(1);
      for (const call of postsTo(ch)) expectValidMessage(asMessage(call.body));
      // Ticking again (the cron task and the retry tick both fire) changes nothing.
      const again = (await Promise.all(replicas.map((r) => r.tick()))).flat();
      expect(again.every((r) => r.outcome === "taken")).toBe(true);
      expect(parentsIn(ch)).toHaveLength(1);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it("says when its data was read (the clock), not the slot it was for; a run by hand says so", async () => {
    const ch = channel();
    const readDate = (at: Date) => `<!date^${Math.floor(at.getTime() / 1000)}^`;
    // A cron task that fires early ticks with its slot's time; the data is read at 08:59:58.
    const early = plus(NINE, -2 / 60);
    const r = runner(configWith([digest("stamped", ch, { when: "always" })]), { now: early });
    const started = Date.now();
    const [scheduled] = await r.tick(NINE);
    expect(scheduled?.outcome).toBe("posted");
    const first = JSON.stringify(parentsIn(ch)[0]?.body);
    expect(first).toContain(`data read ${readDate(early)}`);
    expect(first).toContain(`for the slot of ${readDate(NINE)}`);
    expect(first).not.toContain("On demand");

    // "Run digest now" for the next slot, a day ahead: the data is read now, and it says so.
    const tomorrow = plus(NINE, 24 * 60);
    const byHand = runner(configWith([digest("stamped", ch, { when: "always" })]), { now: plus(NINE, 5) });
    const [onDemand] = await byHand.tick(tomorrow, ["stamped"], { onDemand: true });
    expect(onDemand?.outcome).toBe("posted");
    const second = parentsIn(ch)[1]?.body as Record<string, unknown>;
    expectValidMessage(asMessage(second));
    expect(second.text).toMatch(/^Scrypath digest stamped \(on demand\): /);
    const shown = JSON.stringify(second);
    expect(shown).toContain(
      `*On demand:* run by hand, not by its schedule (for the slot of ${readDate(tomorrow)}`,
    );
    expect(shown).toContain(`the data was read ${readDate(plus(NINE, 5))}`);
    expect(shown).toContain(`data read ${readDate(plus(NINE, 5))}`);
    expect(shown).not.toContain(`data read ${readDate(tomorrow)}`);
    const stored = await findSlot(d.oban.pool, d.config.state.schema, "stamped", onDemand?.slot?.key ?? "");
    expect(stored?.content).toMatchObject({ onDemand: true, checkedAt: plus(NINE, 5).toISOString() });
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("changed: posts the first digest, stays quiet when unchanged, posts when a class increases", async () => {
    const ch = channel();
    const r = runner(configWith([digest("changed", ch, { cron: "0 * * * *" })]), { now: NINE });
    const clock = { now: NINE };
    const tickAt = (at: Date) => {
      clock.now = at;
      return r.tick(at);
    };
    expect((await tickAt(plus(NINE, 1)))[0]).toMatchObject({ outcome: "posted", reason: null, late: false });
    expect(parentsIn(ch)).toHaveLength(1);
    expect(JSON.stringify(parentsIn(ch)[0]?.body)).toContain("First digest of this schedule");

    expect((await tickAt(plus(NINE, 61)))[0]).toMatchObject({
      outcome: "skipped",
      reason: "unchanged since the previous digest",
    });
    expect(parentsIn(ch)).toHaveLength(1);
    const skipped = await findSlot(
      operatorContext(d.operator).db,
      d.config.state.schema,
      "changed",
      "2026-11-20T10:00 Europe/Berlin",
    );
    expect(skipped).toMatchObject({ status: "skipped", messageTs: [] });
    expect(skipped?.content).toMatchObject({ digest: "changed" });

    await insertJob(d.oban.pool, d.oban.prefix, {
      state: "discarded",
      queue: QUEUE,
      args: upsertArgs(POST, `${d.indexPrefix}_post`, [1]),
      errors: [obanError("** (Mint.TransportError) timeout")],
    });
    expect((await tickAt(plus(NINE, 121)))[0]).toMatchObject({ outcome: "posted" });
    const parents = parentsIn(ch);
    expect(parents).toHaveLength(2);
    const text = JSON.stringify(parents[1]?.body);
    expect(text).toContain("*posts* — failed work: transport +1 (now 1)");
  });

  it("degraded: stays quiet while posture is ok, posts (with the mention) when it is not", async () => {
    const ch = channel();
    const config = configWith([
      digest("degraded", ch, { when: "degraded", schemas: ["products"], mention: "S0ONCALL1" }),
      digest("degraded-posts", ch, { when: "degraded", schemas: ["posts"], mention: "S0ONCALL1" }),
    ]);
    const r = runner(config, { now: plus(NINE, 1) });
    const results = await r.tick();
    expect(results.map((x) => [x.digest, x.outcome])).toEqual([
      ["degraded", "skipped"],
      ["degraded-posts", "posted"],
    ]);
    const [parent] = parentsIn(ch);
    expect(parent?.body.text).toMatch(/^<!subteam\^S0ONCALL1> Scrypath digest degraded-posts: Degraded/);
  });

  it("always: posts at every slot, saying when nothing changed", async () => {
    const ch = channel();
    const clock = { now: plus(NINE, 1) };
    const r = runner(configWith([digest("always", ch, { when: "always", cron: "*/30 * * * *" })]), clock);
    await r.tick();
    clock.now = plus(NINE, 31);
    await r.tick();
    const parents = parentsIn(ch);
    expect(parents).toHaveLength(2);
    expect(JSON.stringify(parents[1]?.body)).toContain("Nothing changed since the previous check");
  });

  it("catches up after downtime with ONE late digest for the latest slot, and none beyond grace", async () => {
    const ch = channel();
    const config = configWith([digest("catchup", ch, { when: "always", cron: "*/15 * * * *" })]);
    const clock = { now: plus(NINE, 1) };
    const r = runner(config, clock);
    expect((await r.tick())[0]?.outcome).toBe("posted");
    // Down from 09:01 to 09:50: the 09:15, 09:30 and 09:45 slots passed unseen.
    clock.now = plus(NINE, 50);
    const [late] = await r.tick();
    expect(late).toMatchObject({
      outcome: "posted",
      late: true,
      slot: { key: "2026-11-20T09:45 Europe/Berlin" },
    });
    const parents = parentsIn(ch);
    expect(parents).toHaveLength(2);
    expect(JSON.stringify(parents[1]?.body)).toContain("*Late:* this digest was due");
    const db = operatorContext(d.operator).db;
    const state = d.config.state.schema;
    for (const missed of ["09:15", "09:30"]) {
      expect(await findSlot(db, state, "catchup", `2026-11-20T${missed} Europe/Berlin`)).toBeNull();
    }
    // A tick right after changes nothing: that slot is done.
    expect((await r.tick())[0]?.outcome).toBe("taken");

    // Beyond grace nothing is posted at all.
    const ch2 = channel();
    const strict = runner(
      configWith([digest("catchup-strict", ch2, { when: "always", cron: "*/15 * * * *" })], "3m"),
      {
        now: plus(NINE, 50),
      },
    );
    expect((await strict.tick())[0]).toMatchObject({
      outcome: "outside_grace",
      slot: { key: "2026-11-20T09:45 Europe/Berlin" },
    });
    expect(postsTo(ch2)).toHaveLength(0);
    expect(await lastSlot(db, state, "catchup-strict")).toBeNull();
  });

  it("honours a 429's Retry-After: the post is retried after the delay, exactly once", async () => {
    const ch = channel();
    const retries: string[] = [];
    const r = runner(
      configWith([digest("ratelimited", ch, { when: "always" })]),
      { now: plus(NINE, 1) },
      {
        hooks: { slackRetry: (reason) => retries.push(reason) },
      },
    );
    fake.failApi("chat.postMessage", { status: 429, retryAfter: 3 });
    const [result] = await r.tick();
    expect(result?.outcome).toBe("posted");
    expect(r.sleeps).toContain(3000);
    expect(retries).toEqual(["rate_limited"]);
    // The refused call, then the parent once, then its thread reply.
    const calls = postsTo(ch);
    expect(calls.map((c) => c.body.thread_ts === undefined)).toEqual([true, true, false]);
    expect(calls[0]?.body.text).toBe(calls[1]?.body.text);
    const row = await findSlot(
      operatorContext(d.operator).db,
      d.config.state.schema,
      "ratelimited",
      "2026-11-20T09:00 Europe/Berlin",
    );
    expect(row?.messageTs).toHaveLength(2);
    expect(calls[2]?.body.thread_ts).toBe(row?.messageTs[0]);
  });

  /**
   * A replica of a 200-schema digest whose third post never comes back (it crashes, or its drain
   * runs out, mid-thread), ticked until the parent and one reply are recorded.
   */
  const replicaStuckMidThread = async (name: string, instanceId: string) => {
    const ch = channel();
    const modules = Array.from({ length: MANY }, (_, i) => manyModule(i));
    const config = configWith([digest(name, ch, { when: "always", schemas: modules })]);
    let calls = 0;
    const stuck: ChatClient = {
      conversations: client.conversations,
      chat: {
        postMessage: (args) => {
          calls += 1;
          return calls === 3 ? new Promise(() => {}) : client.chat.postMessage(args);
        },
      },
    };
    const first = runner(config, { now: plus(NINE, 1) }, { client: stuck, instanceId });
    void first.tick();
    await fake.until(
      () => postsTo(ch).length >= 2 && calls >= 3,
      20_000,
      () => `posts: ${postsTo(ch).length}`,
    );
    const db = operatorContext(d.operator).db;
    const state = d.config.state.schema;
    const key = "2026-11-20T09:00 Europe/Berlin";
    await expect.poll(async () => (await findSlot(db, state, name, key))?.messageTs.length).toBe(2);
    return { ch, config, first, db, state, key };
  };

  it("a stopping replica hands its slot back: another replica resumes it at once, without waiting for the lease, and nothing is posted twice", async () => {
    // The stopping replica's third post never comes back (its drain ran out mid-thread).
    const {
      ch,
      config,
      first: stopping,
      db,
      state,
      key,
    } = await replicaStuckMidThread("handback", "replica-stops");

    expect(await stopping.releaseClaims()).toEqual([key]);
    expect(await findSlot(db, state, "handback", key)).toMatchObject({
      status: "failed",
      reason: "the replica posting it stopped before it finished; another replica resumes it",
    });
    // Four minutes later, well within the lease that an abandoned claim would need to expire.
    const [result] = await runner(config, { now: plus(NINE, 5) }, { instanceId: "replica-2" }).tick();
    expect(result).toMatchObject({ outcome: "posted" });
    const posts = postsTo(ch);
    expect(posts.map((c) => c.body.text)).toEqual([...new Set(posts.map((c) => String(c.body.text)))]);
    expect(posts.filter((c) => c.body.thread_ts === undefined)).toHaveLength(1);
    expect(await findSlot(db, state, "handback", key)).toMatchObject({ status: "posted", attempts: 2 });
    // Nothing is left to hand back.
    expect(await stopping.releaseClaims()).toEqual([]);
  });

  it("splits a digest of 200 schemas into several valid thread messages, and a retry after a crash between two thread posts does not double-post", async () => {
    // The first replica "crashes" while posting the second thread reply: that call never returns.
    const { ch, config, db, state, key } = await replicaStuckMidThread("many", "replica-crashes");
    expect((await findSlot(db, state, "many", key))?.status).toBe("claimed");

    // Another replica, within grace: a fresh claim is left alone; an abandoned one is taken over.
    const second = runner(config, { now: plus(NINE, 5) }, { instanceId: "replica-2" });
    expect((await second.tick())[0]?.outcome).toBe("taken");
    const resumed = runner(config, { now: plus(NINE, 12) }, { instanceId: "replica-2" });
    const [result] = await resumed.tick();
    expect(result).toMatchObject({ outcome: "posted" });

    const row = await findSlot(db, state, "many", key);
    expect(row).toMatchObject({ status: "posted", attempts: 2 });
    const calls2 = postsTo(ch);
    // Every message exactly once: the parent, then each thread reply, in order.
    expect(calls2.map((c) => c.body.text)).toEqual([...new Set(calls2.map((c) => String(c.body.text)))]);
    expect(calls2.filter((c) => c.body.thread_ts === undefined)).toHaveLength(1);
    expect(row?.messageTs).toHaveLength(calls2.length);
    expect(result?.messages).toBe(calls2.length - 2);

    const details = calls2.slice(1).map((c) => asMessage(c.body));
    expect(details.length).toBeGreaterThanOrEqual(2);
    for (const m of [asMessage(calls2[0]?.body ?? {}), ...details]) {
      expectValidMessage(m);
      expect(m.blocks.length).toBeLessThanOrEqual(50);
    }
    const all = JSON.stringify(details);
    for (const i of [0, 59, 60, 199]) expect(all).toContain(manyModule(i));
    expect(all).toContain("*Failed work:* 1 failed row · 1 needs triage — transport 1");
    expect(JSON.stringify(calls2[0]?.body)).toContain(
      "*200 schemas checked* · 60 with failed work (60 failed rows · 60 need triage: transport 60)",
    );
    // Posting was paced: a second before each message after the first this runner posted.
    expect(resumed.sleeps).toEqual(Array.from({ length: details.length - 2 }, () => 1000));
  });

  it("records a failed attempt with what it posted, and the next tick posts only the rest", async () => {
    const ch = channel();
    const config = configWith([digest("flaky", ch, { when: "always" })]);
    let calls = 0;
    const flaky: ChatClient = {
      conversations: client.conversations,
      chat: {
        postMessage: (args) => {
          calls += 1;
          return calls === 2
            ? Promise.reject(new Error("An API error occurred: internal_error"))
            : client.chat.postMessage(args);
        },
      },
    };
    const r = runner(config, { now: plus(NINE, 1) }, { client: flaky });
    expect((await r.tick())[0]).toMatchObject({
      outcome: "failed",
      reason: "An API error occurred: internal_error",
    });
    const db = operatorContext(d.operator).db;
    const key = "2026-11-20T09:00 Europe/Berlin";
    expect(await findSlot(db, d.config.state.schema, "flaky", key)).toMatchObject({
      status: "failed",
      attempts: 1,
    });
    expect(postsTo(ch)).toHaveLength(1);
    expect((await r.tick())[0]).toMatchObject({ outcome: "posted", messages: 1 });
    const [parent, reply] = postsTo(ch);
    expect(postsTo(ch)).toHaveLength(2);
    expect(reply?.body.thread_ts).toBe(
      (await findSlot(db, d.config.state.schema, "flaky", key))?.messageTs[0],
    );
    expect(parent?.body.thread_ts).toBeUndefined();
  });

  it("still posts when Meilisearch is down, saying what could not be checked", async () => {
    const ch = channel();
    const port = await closedPort();
    const down = createOperator({
      ...operatorContext(d.operator),
      meili: createMeiliClient({ url: `http://127.0.0.1:${port}`, apiKey: null, timeoutMs: 2000 }),
    });
    const r = runner(
      configWith([digest("down", ch, { when: "degraded", mention: "S0ONCALL1" })]),
      { now: plus(NINE, 1) },
      { operator: down },
    );
    expect((await r.tick())[0]?.outcome).toBe("posted");
    const [parent, ...replies] = postsTo(ch);
    const text = JSON.stringify(parent?.body);
    expect(text).toContain("Scrypath digest: Degraded");
    expect(text).toContain("2 could not be fully checked");
    expect(text).toContain(
      `Meilisearch could not be read for 2 checks: Meilisearch at http://127.0.0.1:${port} is unreachable`,
    );
    expect(parent?.body.text).toMatch(/^<!subteam\^S0ONCALL1> /);
    expect(JSON.stringify(replies)).toContain(
      "sync status and failed work could not be checked:* Meilisearch",
    );
  });

  it("previews without posting or claiming, and lists next runs and the last slot", async () => {
    const ch = channel();
    const config = configWith([
      digest("preview-me", ch, { when: "changed" }),
      digest("other", ch, { cron: "30 7 * * 1-5", timezone: "America/New_York" }),
    ]);
    const r = runner(config, { now: plus(NINE, 1) });
    const preview = await r.preview("preview-me");
    expect(preview).toMatchObject({
      name: "preview-me",
      channel: ch,
      decision: { post: true, reason: "first digest" },
    });
    expectValidMessage(preview.parent);
    for (const m of preview.details) expectValidMessage(m);
    expect(postsTo(ch)).toHaveLength(0);
    const db = operatorContext(d.operator).db;
    expect(await lastSlot(db, d.config.state.schema, "preview-me")).toBeNull();
    await expect(r.preview("preview-mee")).rejects.toThrow(
      'unknown digest "preview-mee" (did you mean preview-me?); configured digests: preview-me, other',
    );
    await expect(r.preview(null)).rejects.toThrow("name the digest to preview: preview-me, other");

    await r.tick();
    const list = await r.list(plus(NINE, 2));
    expect(list.map((e) => [e.name, e.nextRun?.toISOString(), e.lastSlot?.status ?? null])).toEqual([
      ["preview-me", "2026-11-21T08:00:00.000Z", "posted"],
      ["other", "2026-11-20T12:30:00.000Z", null],
    ]);
  });

  it("start() schedules one unref'd cron task per digest and catches up once; stop() removes them", async () => {
    const ch = channel();
    const config = configWith([
      digest("started", ch, { when: "always" }),
      digest("started-2", ch, { cron: "0 3 * * *" }),
    ]);
    const before = cron.getTasks().size;
    const r = runner(config, { now: plus(NINE, 4) });
    r.start();
    expect(cron.getTasks().size).toBe(before + 2);
    await fake.until(
      () => parentsIn(ch).length >= 1,
      20_000,
      () => "no catch-up digest",
    );
    await r.stop();
    expect(cron.getTasks().size).toBe(before);
    const row = await lastSlot(operatorContext(d.operator).db, d.config.state.schema, "started");
    expect(row).toMatchObject({ status: "posted", late: true });
  });
});
