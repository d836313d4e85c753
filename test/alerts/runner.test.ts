// The alert runner end to end: real Postgres and Meilisearch (terminal failures are real Oban rows
// and real failed Meilisearch tasks), the real WebClient against the fake Slack API, an injected
// clock (the fake's too, so history reads agree). An incident's life on one card; three replicas;
// a replica that dies around its post; Slack 429s on chat.update.
import type { WebClient } from "@slack/web-api";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { upsertArgs } from "../../devkit/oban/jobArgs.ts";
import { type AlertRunnerOptions, capNote, createAlertRunner } from "../../src/alerts/runner.ts";
import { createMeiliClient } from "../../src/backends/meilisearch.ts";
import { createPool } from "../../src/backends/postgres.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { TIMELINE_MAX_POSTS } from "../../src/core/alerts.ts";
import type { AlertSubscription } from "../../src/core/alertTypes.ts";
import { createOperator, type Operator } from "../../src/operator/index.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { recordReplay } from "../../src/state/replayLinks.ts";
import type { SlackMessage } from "../../views/types.ts";
import { expectValidMessage } from "../support/blockKit.ts";
import { insertJob } from "../support/db.ts";
import { closedPort, digestClient } from "../support/digest.ts";
import { failDocumentTask } from "../support/meili.ts";
import { obanError, type TestDeployment, testDeployment } from "../support/operator.ts";

const MINUTE = 60_000;
const STORY = "MyApp.Story.Article";
const RACE = "MyApp.Race.Comment";
const CRASH = "MyApp.Crash.Note";
const LIMITED = "MyApp.Limit.Tag";
const TASKS = "MyApp.Tasks.Page";
const CAPPED = "MyApp.Cap.Label";
const DOWN = "MyApp.Down.Entry";
const UNWATCHED = "MyApp.Gone.Badge";
const MODULES = [STORY, RACE, CRASH, LIMITED, TASKS, CAPPED, DOWN, UNWATCHED];
const queueOf = (module: string) => `q_${module.split(".")[1]?.toLowerCase()}`;

describe("alert runner", { timeout: 120_000 }, () => {
  let d: TestDeployment;
  let fake: FakeSlack;
  let client: WebClient;
  let config: Config;
  /** The operator with the alerts: settings (the observation's window is the operator's). */
  let operator: Operator;
  /** The one clock of the test file: the runners', the fake Slack's (message ts), the failures'. */
  let wall = new Date(Math.floor(Date.now() / MINUTE) * MINUTE);
  const pools: { end(): Promise<void> }[] = [];
  const channels = new Map<string, string>(MODULES.map((m, i) => [m, `C0ALERT${i}`]));
  const channelOf = (m: string) => channels.get(m) as string;

  beforeAll(async () => {
    d = await testDeployment(
      MODULES.map((module) => ({ module, syncMode: "oban", obanQueue: queueOf(module) })),
    );
    config = parseConfig(
      {
        ...d.raw,
        alerts: {
          interval: "30s",
          resolveAfter: "5m",
          window: "10m",
          timelineEvery: "2m",
          subscriptions: MODULES.map((m) => ({
            channel: channelOf(m),
            schemas: [m],
            on: ["failures", "drift", "unreadable"],
            ...(m === STORY ? { mention: "S0ONCALL" } : {}),
          })),
        },
      },
      {},
    );
    operator = createOperator({ ...operatorContext(d.operator), config });
    fake = await FakeSlack.start({ realTime: true, clock: () => wall.getTime() });
    client = digestClient(fake.apiUrl);
  });
  afterEach(() => fake.cancelCrashes());
  afterAll(async () => {
    fake.releaseCrashed();
    await Promise.all(pools.map((p) => p.end()));
    await fake?.close();
    await d?.close();
  });

  const yamlSubscriptions = (c: Config) => async (): Promise<AlertSubscription[]> =>
    c.alerts.subscriptions.map((s, i) => ({
      key: `config:${i}`,
      source: "config",
      channel: s.channel,
      schemas: s.schemas,
      on: s.on,
      minFailures: s.minFailures,
      mention: s.mention,
      createdBy: null,
      createdAt: null,
    }));

  function runner(extra: Partial<AlertRunnerOptions> = {}) {
    const sleeps: number[] = [];
    const r = createAlertRunner({
      operator,
      config,
      client,
      clock: () => wall,
      subscriptions: yamlSubscriptions(config),
      instanceId: "replica-1",
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      ...extra,
    });
    return Object.assign(r, { sleeps });
  }

  function replicaOperator(): Operator {
    const pool = createPool(d.config.database.url, { max: 3 });
    pools.push(pool);
    return createOperator({ ...operatorContext(d.operator), config, db: pool });
  }

  const advance = (ms: number) => {
    wall = new Date(wall.getTime() + ms);
    return wall;
  };

  let doc = 0;
  async function fail(
    module: string,
    error: string,
    at = wall,
    state: "discarded" | "cancelled" = "discarded",
  ) {
    return insertJob(d.oban.pool, d.oban.prefix, {
      state,
      queue: queueOf(module),
      args: upsertArgs(module, `${d.indexPrefix}_${module.split(".").pop()?.toLowerCase()}`, [++doc]),
      errors: [obanError(error, 3, at)],
      attempt: 3,
      maxAttempts: 3,
      attemptedAt: at,
      discardedAt: at,
    });
  }
  const transport = (m: string, at?: Date) =>
    fail(m, "** (Req.TransportError) timeout connecting to 127.0.0.1:7700", at);
  const validation = (m: string, at?: Date) => fail(m, '** (Ecto.CastError) cannot cast "x" to integer', at);

  const parents = (ch: string) =>
    fake.callsTo("chat.postMessage").filter((c) => c.body.channel === ch && c.body.thread_ts === undefined);
  const replies = (ch: string) =>
    fake.callsTo("chat.postMessage").filter((c) => c.body.channel === ch && c.body.thread_ts !== undefined);
  /** The cards in the channel as Slack holds them (a crashed call may be recorded as a call). */
  const cardsIn = (ch: string) => fake.listMessages(ch).filter((m) => m.threadTs === null);
  const updates = (ch: string) => fake.callsTo("chat.update").filter((c) => c.body.channel === ch);
  const asMessage = (body: Record<string, unknown>) =>
    ({ text: body.text, blocks: body.blocks }) as SlackMessage;
  function expectAllValid(ch: string) {
    for (const c of [...fake.callsTo("chat.postMessage"), ...fake.callsTo("chat.update")]) {
      if (c.body.channel === ch) expectValidMessage(asMessage(c.body));
    }
  }
  const alertsOf = async (module: string) =>
    (
      await d.oban.pool.query(
        `SELECT id, condition, status, clearing_since, message_ts, posted_hash, content_hash, acked_by, snoozed_by, timeline_posts
         FROM "${d.config.state.schema}".alerts WHERE schema_module = $1 ORDER BY id`,
        [module],
      )
    ).rows;

  it("real failed Meilisearch tasks open a failures card", async () => {
    const ch = channelOf(TASKS);
    // Meilisearch stamps its tasks with the real time: this test runs first, at the real time.
    wall = new Date(Date.now());
    const index = `${d.indexPrefix}_page`;
    await d.meili.createIndex(index, { primaryKey: "id" }).waitTask();
    await failDocumentTask(d.meili, index, "invalid_document_id");
    advance(5_000);
    const result = await runner().tick();
    expect(result.opened).toHaveLength(1);
    expect(parents(ch)).toHaveLength(1);
    expectAllValid(ch);
  });

  it("an incident on one card: open, evolve, thread timeline with its rate limit, acknowledge, snooze, clear, flap, resolve", async () => {
    const ch = channelOf(STORY);
    const r = runner();
    // Past the previous test's check leases.
    const t0 = advance(30_000);
    await transport(STORY, new Date(t0.getTime() - MINUTE));
    await transport(STORY, new Date(t0.getTime() - MINUTE));

    const opened = await r.tick();
    expect(opened.checked).toContain(STORY);
    expect(opened.opened).toHaveLength(1);
    expect(parents(ch)).toHaveLength(1);
    const first = parents(ch)[0]?.body as Record<string, unknown>;
    expect(first.metadata).toEqual({
      event_type: "scrypath_alert",
      event_payload: { alert_id: opened.opened[0] },
    });
    // The mention goes on the first post only.
    expect(JSON.stringify(first.blocks)).toContain("<!subteam^S0ONCALL>");
    const [alert] = await alertsOf(STORY);
    expect(alert.message_ts).toBeTruthy();
    expect(alert.posted_hash).toBe(alert.content_hash);

    // Nothing moved: no edit, no thread line.
    advance(30_000);
    await r.tick();
    expect(updates(ch)).toHaveLength(0);
    expect(replies(ch)).toHaveLength(0);

    // A new class appears and the count more than doubles (2 → 5): one edit, one thread message.
    advance(30_000);
    await validation(STORY);
    await transport(STORY);
    await transport(STORY);
    await r.tick();
    expect(updates(ch)).toHaveLength(1);
    expect(replies(ch)).toHaveLength(1);
    expect(JSON.stringify(updates(ch)[0]?.body.blocks)).not.toContain("subteam");

    // Doubled again (5 → 10) 30 s later: the card is edited, the thread line waits for the rate limit.
    advance(30_000);
    for (let i = 0; i < 5; i++) await transport(STORY);
    await r.tick();
    expect(updates(ch)).toHaveLength(2);
    expect(replies(ch)).toHaveLength(1);
    advance(60_000);
    await r.tick();
    expect(replies(ch)).toHaveLength(1);
    // Two minutes after the last thread message: the queued line goes out, the card is not edited.
    advance(30_000);
    await r.tick();
    expect(replies(ch)).toHaveLength(2);
    expect(updates(ch)).toHaveLength(2);

    // Acknowledge: recorded, the card re-rendered at once; its thread line waits for the rate limit.
    const id = Number(alert.id);
    advance(10_000);
    const acked = await operator.alertCards.acknowledge({ id, userId: "U0ACK", at: wall });
    expect(acked.ok).toBe(true);
    await r.refresh(id);
    expect(updates(ch)).toHaveLength(3);
    expect(JSON.stringify(updates(ch)[2]?.body)).toContain("U0ACK");
    // Snooze for an hour: the card says so; nothing more goes to the thread while snoozed.
    const snoozed = await operator.alertCards.snooze({ id, userId: "U0OPS", at: wall, seconds: 3600 });
    expect(snoozed.ok).toBe(true);
    await r.refresh(id);
    expect(updates(ch)).toHaveLength(4);
    const audit = await operator.auditLog({ limit: 5 });
    expect(audit.map((a) => a.action)).toEqual(
      expect.arrayContaining(["scrypath.alerts.acknowledge", "scrypath.alerts.snooze"]),
    );

    // Every failure leaves the 10 min window: the card says cleared (edited silently: snoozed).
    wall = new Date(t0.getTime() + 12 * MINUTE);
    await r.tick();
    expect(updates(ch)).toHaveLength(5);
    expect(replies(ch)).toHaveLength(2);
    // It comes back before the hold-down ends: the SAME card.
    advance(60_000);
    await transport(STORY);
    await r.tick();
    expect(parents(ch)).toHaveLength(1);
    expect(updates(ch)).toHaveLength(6);
    // Cleared again (the new failure leaves the window), then false for the hold-down: resolved,
    // the card edited to Resolved, one thread line although the alert was snoozed.
    wall = new Date(wall.getTime() + 10 * MINUTE + 30_000);
    await r.tick();
    expect(updates(ch)).toHaveLength(7);
    advance(5 * MINUTE);
    const resolved = await r.tick();
    expect(resolved.resolved).toEqual([id]);
    expect(updates(ch)).toHaveLength(8);
    expect(replies(ch)).toHaveLength(3);
    expect(JSON.stringify(replies(ch)[2]?.body)).toContain("resolved");
    const [after] = await alertsOf(STORY);
    expect(after).toMatchObject({ status: "resolved", acked_by: "U0ACK" });
    expect(after.posted_hash).toBe(after.content_hash);
    expect(parents(ch)).toHaveLength(1);

    // A new occurrence after resolution opens a NEW card.
    advance(30_000);
    await transport(STORY);
    const again = await r.tick();
    expect(again.opened).toHaveLength(1);
    expect(parents(ch)).toHaveLength(2);
    expectAllValid(ch);
  });

  it("three replicas ticking at once: one card, one edit per change, a confirmed retry on the thread", async () => {
    const ch = channelOf(RACE);
    const replicas = [operator, replicaOperator(), replicaOperator()].map((operator, i) =>
      runner({ operator, instanceId: `replica-${i + 1}` }),
    );
    const failed = await transport(RACE);
    advance(30_000);
    // Slack refuses the first post: the alert is open, its card not posted yet.
    fake.failApi("chat.postMessage", { status: 200, error: "restricted_action" }, 1, (b) => b.channel === ch);
    const first = await (replicas[0] as (typeof replicas)[number]).tick();
    expect(first.opened).toHaveLength(1);
    expect(fake.listMessages(ch)).toHaveLength(0);
    // All three find the card unposted at the same moment: exactly one posts it.
    const within = await Promise.all(replicas.map((r) => r.tick()));
    // Within the interval nobody reads the schema again (replica 1 holds its check lease).
    expect(within.flatMap((r) => r.checked)).not.toContain(RACE);
    expect(fake.listMessages(ch)).toHaveLength(1);
    await Promise.all(replicas.map((r) => r.tick()));
    expect(fake.listMessages(ch)).toHaveLength(1);

    await transport(RACE);
    advance(30_000);
    const results = await Promise.all(replicas.map((r) => r.tick()));
    expect(results.flatMap((r) => r.checked).filter((s) => s === RACE)).toHaveLength(1);
    expect(results.flatMap((r) => r.taken).filter((s) => s === RACE)).toHaveLength(2);
    expect(parents(ch).filter((c) => c.body.channel === ch)).toHaveLength(2);
    expect(fake.listMessages(ch).filter((m) => m.threadTs === null)).toHaveLength(1);
    expect(updates(ch)).toHaveLength(1);
    // Nothing changed: nobody edits, however often they tick.
    await Promise.all(replicas.map((r) => r.tick()));
    advance(30_000);
    await Promise.all(replicas.map((r) => r.tick()));
    expect(updates(ch)).toHaveLength(1);

    // A change decided but not yet shown (a click recorded, its refresh never ran): the three
    // replicas find the card behind at the same moment, and exactly one edits it.
    const [row] = await alertsOf(RACE);
    await operator.alertCards.acknowledge({ id: Number(row.id), userId: "U0ACK", at: wall });
    await Promise.all(replicas.map((r) => r.tick()));
    expect(updates(ch)).toHaveLength(2);
    const [synced] = await alertsOf(RACE);
    expect(synced.posted_hash).toBe(synced.content_hash);

    // A retry was confirmed (a replay of the failed row): one edit, one thread line.
    const replay = await insertJob(d.oban.pool, d.oban.prefix, {
      state: "available",
      queue: queueOf(RACE),
      args: upsertArgs(RACE, `${d.indexPrefix}_comment`, [doc]),
    });
    await recordReplay(d.oban.pool, d.config.state.schema, {
      obanPrefix: d.oban.prefix,
      failedJobId: failed,
      replayJobId: replay,
      schema: RACE,
      requestedBy: "U0OPS",
    });
    advance(30_000);
    await Promise.all(replicas.map((r) => r.tick()));
    expect(updates(ch)).toHaveLength(3);
    // The count doubled (1 → 2) on the thread already; the retry's line waits for the rate limit.
    expect(replies(ch)).toHaveLength(1);
    advance(2 * MINUTE);
    await Promise.all(replicas.map((r) => r.tick()));
    expect(replies(ch)).toHaveLength(2);
    expect(updates(ch)).toHaveLength(3);
    expect(JSON.stringify(replies(ch)[1]?.body)).toMatch(/retry/i);
    expectAllValid(ch);
  });

  /** A replica, in its own pool, that dies at the fake's crash point during its tick. */
  async function dyingTick() {
    const dead = runner({ operator: replicaOperator(), instanceId: "replica-dies" });
    const held = fake.crashedCalls;
    void dead.tick().catch(() => {});
    await fake.until(
      () => fake.crashedCalls > held,
      30_000,
      () => "the replica never reached its crash point",
    );
  }

  it("a replica killed after its post reached Slack: another finds the card by its metadata, no second card", async () => {
    const ch = channelOf(CRASH);
    await transport(CRASH);
    advance(30_000);
    fake.crashOn("chat.postMessage", "after", (b) => b.channel === ch);
    await dyingTick();
    expect(cardsIn(ch)).toHaveLength(1);
    const [row] = await alertsOf(CRASH);
    expect(row.message_ts).toBeNull();

    // Within the post lease nobody touches it.
    advance(30_000);
    await runner({ instanceId: "replica-2" }).tick();
    expect(cardsIn(ch)).toHaveLength(1);
    // After it, replica 2 looks in history, adopts the card and brings it up to date.
    advance(2 * MINUTE);
    await runner({ instanceId: "replica-2" }).tick();
    expect(cardsIn(ch)).toHaveLength(1);
    const [adopted] = await alertsOf(CRASH);
    expect(adopted.message_ts).toBe(fake.listMessages(ch)[0]?.ts);
    expect(adopted.posted_hash).toBe(adopted.content_hash);
    expect(fake.callsTo("conversations.history").some((c) => c.body.channel === ch)).toBe(true);
  });

  it("a replica killed before its post reached Slack: another posts the card once", async () => {
    const ch = channelOf(CRASH);
    // The previous card resolves first (its failure leaves the window, then the hold-down).
    advance(11 * MINUTE);
    await runner().tick();
    advance(6 * MINUTE);
    await runner().tick();
    expect((await alertsOf(CRASH)).every((a) => a.status === "resolved")).toBe(true);
    const before = cardsIn(ch).length;

    await transport(CRASH);
    advance(30_000);
    fake.crashOn("chat.postMessage", "before", (b) => b.channel === ch && b.thread_ts === undefined);
    await dyingTick();
    expect(cardsIn(ch)).toHaveLength(before);
    advance(2 * MINUTE + 30_000);
    await runner({ instanceId: "replica-2" }).tick();
    expect(cardsIn(ch)).toHaveLength(before + 1);
    await runner({ instanceId: "replica-2" }).tick();
    advance(30_000);
    await runner({ instanceId: "replica-2" }).tick();
    expect(cardsIn(ch)).toHaveLength(before + 1);
    expectAllValid(ch);
  });

  it("Slack 429 on chat.update: waits Retry-After and edits once; past the retries the next tick repairs it; a refused thread message goes out with the next", async () => {
    const ch = channelOf(LIMITED);
    const r = runner();
    await transport(LIMITED);
    advance(30_000);
    await r.tick();
    const ts = (await alertsOf(LIMITED))[0]?.message_ts;
    expect(ts).toBeTruthy();

    fake.failApi("chat.update", { status: 429, retryAfter: 7 }, 1, (b) => b.channel === ch);
    await transport(LIMITED);
    advance(30_000);
    await r.tick();
    expect(r.sleeps).toContain(7000);
    expect(fake.updatesOf(String(ts))).toHaveLength(1);

    // More 429s than the runner waits for: left unsynced, repaired by the next tick.
    fake.failApi("chat.update", { status: 429, retryAfter: 1 }, 10, (b) => b.channel === ch);
    await transport(LIMITED);
    advance(30_000);
    await r.tick();
    expect(fake.updatesOf(String(ts))).toHaveLength(1);
    const [left] = await alertsOf(LIMITED);
    expect(left.posted_hash).not.toBe(left.content_hash);
    fake.failApi("chat.update", { status: 429, retryAfter: 1 }, 0);
    advance(30_000);
    await r.tick();
    expect(fake.updatesOf(String(ts))).toHaveLength(2);
    const [synced] = await alertsOf(LIMITED);
    expect(synced.posted_hash).toBe(synced.content_hash);
    expect(parents(ch)).toHaveLength(1);

    // Slack refuses a thread message: its lines go back to the queue and go out with the next one.
    const thread = () => fake.listMessages(ch).filter((m) => m.threadTs !== null);
    const before = thread().length;
    advance(2 * MINUTE);
    await operator.alertCards.acknowledge({ id: Number(synced.id), userId: "U0LATE", at: wall });
    fake.failApi("chat.postMessage", { status: 200, error: "restricted_action" }, 1, (b) => b.channel === ch);
    await r.tick();
    expect(thread()).toHaveLength(before);
    expect((await alertsOf(LIMITED))[0]?.timeline_posts).toBe(synced.timeline_posts);
    await r.tick();
    expect(thread()).toHaveLength(before + 1);
    expect(JSON.stringify(thread().at(-1)?.blocks)).toContain("U0LATE");
    expectAllValid(ch);
  });

  it("the thread gets at most TIMELINE_MAX_POSTS messages per incident, the last one saying so", async () => {
    const ch = channelOf(CAPPED);
    const r = runner();
    await transport(CAPPED);
    advance(30_000);
    const opened = await r.tick();
    const id = opened.opened[0] as number;
    // One notable change per rate-limit period: each acknowledgement by someone new.
    for (let i = 0; i < TIMELINE_MAX_POSTS + 3; i++) {
      // (A failure now and then keeps the incident open meanwhile.)
      if (i % 3 === 0) await transport(CAPPED);
      await operator.alertCards.acknowledge({ id, userId: `U0LOOK${i}`, at: wall });
      advance(2 * MINUTE);
      await r.tick();
    }
    expect(replies(ch)).toHaveLength(TIMELINE_MAX_POSTS);
    const last = JSON.stringify(replies(ch).at(-1)?.body.blocks);
    expect(last).toContain(capNote());
    expect(JSON.stringify(replies(ch).at(-2)?.body.blocks)).not.toContain(capNote());
    // The card still carries every change.
    expect(JSON.stringify(updates(ch).at(-1)?.body)).toContain(`U0LOOK${TIMELINE_MAX_POSTS + 2}`);
    expectAllValid(ch);
  });

  it("a backend unreadable for unreadableAfter checks opens its card; unknown keeps the failures card open", async () => {
    const ch = channelOf(DOWN);
    await transport(DOWN);
    advance(30_000);
    const r = runner({
      subscriptions: async () => (await yamlSubscriptions(config)()).filter((s) => s.schemas?.includes(DOWN)),
    });
    expect((await r.tick()).opened).toHaveLength(1);
    // Meilisearch stops answering: its part of every check is unknown.
    const down = `http://127.0.0.1:${await closedPort()}`;
    const meilisearch = { ...config.meilisearch, url: down, timeoutMs: 2_000 };
    const brokenOperator = createOperator({
      ...operatorContext(d.operator),
      config: { ...config, meilisearch },
      meili: createMeiliClient(meilisearch),
    });
    const onlyDown = async () => (await yamlSubscriptions(config)()).filter((s) => s.schemas?.includes(DOWN));
    const blind = runner({ operator: brokenOperator, subscriptions: onlyDown });
    // The Oban failure leaves the window meanwhile: counted without Meilisearch, zero proves nothing.
    advance(11 * MINUTE);
    for (let i = 1; i <= 3; i++) {
      await blind.tick();
      const downRows = await alertsOf(DOWN);
      expect(downRows).toHaveLength(i === 3 ? 2 : 1);
      expect(downRows.every((a) => a.status === "open")).toBe(true);
      advance(30_000);
    }
    const rows = await alertsOf(DOWN);
    expect(rows).toHaveLength(2);
    expect(rows.every((a) => a.status === "open")).toBe(true);
    // Unknown is not false: the failures card did not even start clearing.
    expect(rows.find((a) => a.condition === "failures")).toMatchObject({ clearing_since: null });
    expect(cardsIn(ch)).toHaveLength(2);
    expect(JSON.stringify(parents(ch).at(-1)?.body)).toMatch(/unreadable/i);
    // Meilisearch answers again: both clear, and resolve after the hold-down.
    await r.tick();
    advance(5 * MINUTE);
    await r.tick();
    expect((await alertsOf(DOWN)).map((a) => a.status)).toEqual(["resolved", "resolved"]);
    expect(cardsIn(ch)).toHaveLength(2);
    expectAllValid(ch);
  });

  it("a subscription removed: its open card clears and resolves after the hold-down", async () => {
    const ch = channelOf(UNWATCHED);
    const only = (keep: (s: AlertSubscription) => boolean) => async () =>
      (await yamlSubscriptions(config)()).filter(keep);
    await transport(UNWATCHED);
    advance(30_000);
    const watched = runner({ subscriptions: only((s) => s.schemas?.includes(UNWATCHED) === true) });
    expect((await watched.tick()).opened).toHaveLength(1);
    // The watch is removed (another schema's subscription remains): the card clears, then resolves.
    const others = runner({ subscriptions: only((s) => s.schemas?.includes(UNWATCHED) !== true) });
    advance(30_000);
    expect((await others.tick()).checked).toContain(UNWATCHED);
    const [clearing] = await alertsOf(UNWATCHED);
    expect(clearing.clearing_since).not.toBeNull();
    advance(5 * MINUTE);
    const done = await others.tick();
    expect(done.resolved).toContain(Number(clearing.id));
    advance(30_000);
    expect((await others.tick()).checked).not.toContain(UNWATCHED);
    expect(cardsIn(ch)).toHaveLength(1);
    expectAllValid(ch);
  });

  it("a stopping replica hands its check leases back: another checks those schemas at once", async () => {
    advance(30_000);
    const only = async () => (await yamlSubscriptions(config)()).filter((s) => s.schemas?.includes(LIMITED));
    const stopping = runner({ instanceId: "replica-stops", subscriptions: only });
    expect((await stopping.tick()).checked).toContain(LIMITED);
    const other = runner({ instanceId: "replica-2", subscriptions: only });
    expect((await other.tick()).taken).toContain(LIMITED);
    expect(await stopping.releaseClaims()).toBeGreaterThanOrEqual(1);
    expect((await other.tick()).checked).toContain(LIMITED);
  });
});
