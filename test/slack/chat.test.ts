// The bot's own Slack calls (cards, replies, modals) through real WebClients against the fake
// Slack: the SDK's bounded retries honour Retry-After, back off on 5xx, and never retry what cannot
// work; chat.postMessage is never retried, so a post whose answer was lost is not posted twice.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { createLogger } from "../../src/log.ts";
import { createMetrics } from "../../src/metrics.ts";
import { createChat } from "../../src/slack/chat.ts";
import { slackFetch } from "../../src/slack/slackFetch.ts";
import { rateLimitWait, SlackCallError } from "../../src/slackErrors.ts";

const MESSAGE = {
  text: "hello",
  blocks: [{ type: "section" as const, text: { type: "mrkdwn" as const, text: "hello" } }],
};

describe("chat: bounded retries of the bot's own Slack calls", () => {
  let fake: FakeSlack;
  beforeAll(async () => {
    fake = await FakeSlack.start();
  });
  afterAll(() => fake?.close());

  const make = (options: { maxAttempts?: number; timeoutMs?: number; maxPostWaitMs?: number } = {}) => {
    const metrics = createMetrics({ defaultMetrics: false });
    const lines: Record<string, unknown>[] = [];
    const { timeoutMs, ...rest } = options;
    const chat = createChat({
      token: "xoxb-chat-test-0000",
      client: {
        slackApiUrl: fake.apiUrl,
        fetch: slackFetch(metrics, fake.apiUrl),
        ...(timeoutMs ? { timeout: timeoutMs } : {}),
      },
      metrics,
      logger: createLogger({ write: (l) => lines.push(JSON.parse(l)) }),
      baseDelayMs: 10,
      ...rest,
    });
    const count = async (name: string) => (await metrics.registry.getSingleMetricAsString(name)) ?? "";
    return { chat, metrics, lines, count };
  };

  const callsOf = (method: string, from: number) => fake.callsTo(method).length - from;

  it("posts in a thread and returns the new message's ts", async () => {
    const { chat } = make();
    const ts = await chat.post("C0ONCALL01", MESSAGE, { threadTs: "1700000000.000100" });
    expect(ts).toMatch(/^\d+\.\d+$/);
    expect(fake.callsTo("chat.postMessage").at(-1)?.body).toMatchObject({
      channel: "C0ONCALL01",
      thread_ts: "1700000000.000100",
      text: "hello",
      blocks: MESSAGE.blocks,
    });
  });

  it("waits as long as Retry-After says after a 429, then succeeds", async () => {
    const { chat, count } = make();
    const before = fake.callsTo("chat.update").length;
    fake.failApi("chat.update", { status: 429, retryAfter: 1 }, 1);
    const started = Date.now();
    await chat.update("C0ONCALL01", "1.2", MESSAGE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(callsOf("chat.update", before)).toBe(2);
    expect(await count("scrypath_bot_slack_retries_total")).toContain(
      'scrypath_bot_slack_retries_total{method="chat.update",reason="ratelimited"} 1',
    );
    expect(await count("scrypath_bot_slack_rate_limited_total")).toContain('{method="chat.update"} 1');
    expect(await count("scrypath_bot_slack_rate_limit_wait_seconds_total")).toContain(
      '{method="chat.update"} 1',
    );
  });

  it("backs off after 5xx answers, and gives up after the bounded number of attempts", async () => {
    const { chat, count, lines } = make({ maxAttempts: 3 });
    let before = fake.callsTo("chat.update").length;
    fake.failApi("chat.update", { status: 503 }, 2);
    await chat.update("C0ONCALL01", "1.2", MESSAGE);
    expect(callsOf("chat.update", before)).toBe(3);
    expect(await count("scrypath_bot_slack_retries_total")).toContain('reason="http_503"} 2');

    before = fake.callsTo("chat.update").length;
    fake.failApi("chat.update", { status: 500 }, 10);
    const error = await chat.update("C0ONCALL01", "1.2", MESSAGE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlackCallError);
    expect(error).toMatchObject({ method: "chat.update", reason: "http_500" });
    expect(callsOf("chat.update", before)).toBe(3);
    expect(lines.some((l) => l.msg === "Slack call failed" && l.attempts === 3)).toBe(true);
    fake.failApi("chat.update", { status: 500 }, 0);
  });

  it("does not retry an error that cannot go away, nor wait longer than it may", async () => {
    const { chat } = make();
    let before = fake.callsTo("chat.postMessage").length;
    fake.failApi("chat.postMessage", { status: 200, error: "not_in_channel" }, 1);
    await expect(chat.post("C0ONCALL01", MESSAGE)).rejects.toMatchObject({ reason: "not_in_channel" });
    expect(callsOf("chat.postMessage", before)).toBe(1);

    before = fake.callsTo("chat.postMessage").length;
    fake.failApi("chat.postMessage", { status: 429, retryAfter: 30 }, 1);
    const started = Date.now();
    await expect(chat.post("C0ONCALL01", MESSAGE)).rejects.toMatchObject({ reason: "ratelimited" });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(callsOf("chat.postMessage", before)).toBe(1);
  });

  it("tries a call once when asked to (views.open: its trigger cannot wait)", async () => {
    const { chat } = make();
    const before = fake.callsTo("views.open").length;
    fake.failApi("views.open", { status: 503 }, 1);
    await expect(
      chat.call("views.open", { trigger_id: "1.2.3", view: {} }, { maxAttempts: 1 }),
    ).rejects.toMatchObject({
      reason: "http_503",
    });
    expect(callsOf("views.open", before)).toBe(1);
  });

  it("never posts twice: a chat.postMessage whose answer is lost or a 5xx is not retried", async () => {
    const { chat, count } = make({ timeoutMs: 500 });
    const channel = "C0LOSTPOST1";
    const postsIn = () => fake.posted.filter((p) => p.body.channel === channel).length;

    // Slack posts the message, and its answer never comes back.
    fake.crashOn("chat.postMessage", "after", (b) => b.channel === channel);
    const lost = await chat.post(channel, MESSAGE).catch((e: unknown) => e);
    fake.releaseCrashed();
    expect(lost).toMatchObject({ method: "chat.postMessage", reason: "network" });
    expect(postsIn()).toBe(1);
    expect(fake.callsTo("chat.postMessage").filter((c) => c.body.channel === channel)).toHaveLength(1);

    fake.failApi("chat.postMessage", { status: 503 }, 1, (b) => b.channel === channel);
    await expect(chat.post(channel, MESSAGE)).rejects.toMatchObject({ reason: "http_503" });
    expect(fake.callsTo("chat.postMessage").filter((c) => c.body.channel === channel)).toHaveLength(2);
    expect(postsIn()).toBe(1);
    expect(await count("scrypath_bot_slack_retries_total")).not.toContain('method="chat.postMessage"');
  });

  it("sends a post again after a short 429 (nothing was posted), hands a longer one back at once", async () => {
    const { chat, count } = make();
    const channel = "C0RATELIM01";
    const postsIn = () => fake.posted.filter((p) => p.body.channel === channel).length;
    fake.failApi("chat.postMessage", { status: 429, retryAfter: 1 }, 1, (b) => b.channel === channel);
    const started = Date.now();
    await chat.post(channel, MESSAGE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(fake.callsTo("chat.postMessage").filter((c) => c.body.channel === channel)).toHaveLength(2);
    expect(postsIn()).toBe(1);
    expect(await count("scrypath_bot_slack_retries_total")).toContain(
      'scrypath_bot_slack_retries_total{method="chat.postMessage",reason="ratelimited"} 1',
    );

    const capped = make({ maxPostWaitMs: 5_000 });
    fake.failApi("chat.postMessage", { status: 429, retryAfter: 7 }, 1, (b) => b.channel === channel);
    const error = await capped.chat.post(channel, MESSAGE).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlackCallError);
    expect(rateLimitWait(error)).toBe(7_000);
    expect(postsIn()).toBe(1);
    expect(await capped.count("scrypath_bot_slack_rate_limited_total")).toContain(
      '{method="chat.postMessage"} 1',
    );
  });

  it("a method waiting out a 429 does not hold up another method", async () => {
    const { chat } = make();
    const done: string[] = [];
    const before = fake.callsTo("chat.update").length;
    fake.failApi("chat.update", { status: 429, retryAfter: 2 }, 1);
    const update = chat.update("C0ONCALL01", "1.2", MESSAGE).then(() => done.push("chat.update"));
    // The update's 429 has been answered: its client now waits Retry-After.
    await fake.waitFor(
      () => callsOf("chat.update", before) > 0,
      () => "chat.update was not called",
    );
    await chat.history("conversations.history", { channel: "C0ONCALL01", limit: 1 });
    done.push("conversations.history");
    await update;
    expect(done).toEqual(["conversations.history", "chat.update"]);
  });
});
