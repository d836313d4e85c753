// Posting a digest to the fake Slack Web API with the real WebClient: thread replies, pacing per
// channel, 429 + Retry-After, resuming after recorded messages. Sleeps are recorded, not waited.
import type { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import { ClaimLostError, createPacer, postDigest } from "../../src/digest/poster.ts";
import { finalizeMessage, section } from "../../views/common.ts";
import type { SlackMessage } from "../../views/types.ts";
import { digestClient } from "../support/digest.ts";

const message = (text: string): SlackMessage => finalizeMessage(text, [section(text)]);
const MESSAGES = [message("parent"), message("details 1"), message("details 2")];

describe("postDigest", () => {
  let fake: FakeSlack;
  let client: WebClient;
  let sleeps: number[];
  // Pacing time only moves when the poster sleeps, so the spacing is exact on a loaded machine.
  let monotonic = 0;
  const sleep = async (ms: number) => {
    sleeps.push(ms);
    monotonic += ms;
  };
  const pacer = () => createPacer({ sleep, now: () => monotonic });

  beforeAll(async () => {
    fake = await FakeSlack.start();
    client = digestClient(fake.apiUrl);
  });
  afterAll(() => fake?.close());
  beforeEach(() => {
    fake.calls.length = 0;
    sleeps = [];
  });

  const posts = () => fake.callsTo("chat.postMessage").map((c) => c.body);

  it("posts the parent, then each detail in its thread, one per second per channel", async () => {
    const recorded: Array<[string[], boolean]> = [];
    const result = await postDigest({
      client,
      channel: "C0DIGEST",
      messages: MESSAGES,
      posted: [],
      record: async (ts, complete) => {
        recorded.push([ts, complete]);
        return true;
      },
      pacer: pacer(),
      sleep,
    });
    expect(result.postedNow).toBe(3);
    const [parent, ...replies] = posts();
    expect(parent).toMatchObject({ channel: "C0DIGEST", text: "parent", unfurl_links: "false" });
    expect(parent?.thread_ts).toBeUndefined();
    expect(replies.map((r) => [r.text, r.thread_ts])).toEqual([
      ["details 1", result.ts[0]],
      ["details 2", result.ts[0]],
    ]);
    // Each ts is recorded as soon as it is known; the last marks the slot complete.
    expect(recorded).toEqual([
      [result.ts.slice(0, 1), false],
      [result.ts.slice(0, 2), false],
      [result.ts, true],
    ]);
    // No wait before the first post, about a second before each of the others.
    expect(sleeps).toEqual([1000, 1000]);
  });

  it("honours a 429's Retry-After and posts the message exactly once", async () => {
    fake.failApi("chat.postMessage", { status: 429, retryAfter: 2 });
    const retries: number[] = [];
    const result = await postDigest({
      client,
      channel: "C0RATE",
      messages: MESSAGES.slice(0, 2),
      posted: [],
      record: async () => true,
      pacer: pacer(),
      sleep,
      onRetry: (_reason, ms) => retries.push(ms),
    });
    expect(retries).toEqual([2000]);
    expect(sleeps).toContain(2000);
    // One refused call, then the parent once and its reply once.
    expect(posts().map((p) => p.text)).toEqual(["parent", "parent", "details 1"]);
    expect(result.ts).toHaveLength(2);
    expect(new Set(result.ts).size).toBe(2);
  });

  it("gives up after the bounded retries, having recorded nothing it did not post", async () => {
    fake.failApi("chat.postMessage", { status: 429, retryAfter: 1 }, 10);
    const recorded: string[][] = [];
    await expect(
      postDigest({
        client,
        channel: "C0LIMIT",
        messages: MESSAGES,
        posted: [],
        record: async (ts) => {
          recorded.push(ts);
          return true;
        },
        pacer: pacer(),
        sleep,
        maxRetries: 2,
      }),
    ).rejects.toMatchObject({ code: "slack_webapi_rate_limited_error" });
    expect(posts()).toHaveLength(3);
    expect(recorded).toEqual([]);
    fake.failApi("chat.postMessage", { status: 429, retryAfter: 1 }, 0);
  });

  it("resumes after the messages an earlier attempt recorded", async () => {
    const result = await postDigest({
      client,
      channel: "C0RESUME",
      messages: MESSAGES,
      posted: ["1700000000.000100", "1700000000.000200"],
      record: async () => true,
      pacer: pacer(),
      sleep,
    });
    expect(posts().map((p) => [p.text, p.thread_ts])).toEqual([["details 2", "1700000000.000100"]]);
    expect(result).toMatchObject({ postedNow: 1 });
    expect(result.ts.slice(0, 2)).toEqual(["1700000000.000100", "1700000000.000200"]);
    // Everything posted already: nothing is sent, the slot is only marked complete.
    let completed = false;
    await postDigest({
      client,
      channel: "C0RESUME",
      messages: MESSAGES,
      posted: result.ts,
      record: async (_ts, complete) => {
        completed = complete;
        return true;
      },
      pacer: pacer(),
      sleep,
    });
    expect(posts()).toHaveLength(1);
    expect(completed).toBe(true);
  });

  it("stops when the claim was lost, and refuses an answer without a ts", async () => {
    await expect(
      postDigest({
        client,
        channel: "C0LOST",
        messages: MESSAGES,
        posted: [],
        record: async () => false,
        pacer: pacer(),
        sleep,
      }),
    ).rejects.toBeInstanceOf(ClaimLostError);
    expect(posts()).toHaveLength(1);
    const broken = { chat: { postMessage: async () => ({ ok: true }) } };
    await expect(
      postDigest({
        client: broken,
        channel: "C0X",
        messages: MESSAGES,
        posted: [],
        record: async () => true,
        pacer: pacer(),
        sleep,
      }),
    ).rejects.toThrow("chat.postMessage did not post (no ts in the answer)");
  });
});

describe("postDigest written ahead", () => {
  let fake: FakeSlack;
  let client: WebClient;
  const sleep = async () => {};
  let monotonic = 0;
  const pacer = () => createPacer({ sleep, now: () => monotonic++ });

  beforeAll(async () => {
    fake = await FakeSlack.start();
    client = digestClient(fake.apiUrl);
  });
  afterAll(() => fake?.close());

  it("writes each post ahead before it is sent and attaches its metadata", async () => {
    const steps: string[] = [];
    const result = await postDigest({
      client,
      channel: "C0AHEAD",
      messages: MESSAGES,
      posted: [],
      intent: async (i) => {
        steps.push(`intent ${i} (${fake.callsTo("chat.postMessage").length} sent)`);
        return true;
      },
      record: async (ts) => {
        steps.push(`record ${ts.length}`);
        return true;
      },
      metadata: (i) => ({ event_type: "scrypath_digest", event_payload: { slot: "k", part: i } }),
      pacer: pacer(),
      sleep,
    });
    expect(steps).toEqual([
      "intent 0 (0 sent)",
      "record 1",
      "intent 1 (1 sent)",
      "record 2",
      "intent 2 (2 sent)",
      "record 3",
    ]);
    expect(fake.listMessages("C0AHEAD").map((m) => [m.ts, m.metadata?.event_payload.part])).toEqual(
      result.ts.map((ts, i) => [ts, i]),
    );
  });

  it("stops before sending when the write-ahead finds the claim lost", async () => {
    await expect(
      postDigest({
        client,
        channel: "C0AHEADLOST",
        messages: MESSAGES,
        posted: [],
        intent: async () => false,
        record: async () => true,
        pacer: pacer(),
        sleep,
      }),
    ).rejects.toBeInstanceOf(ClaimLostError);
    expect(fake.listMessages("C0AHEADLOST")).toHaveLength(0);
  });

  it("clears the mark when Slack refused the post, keeps it when the post may have gone out", async () => {
    const run = (channel: string, recorded: string[][]) =>
      postDigest({
        client,
        channel,
        messages: MESSAGES,
        posted: [],
        intent: async () => true,
        record: async (ts) => {
          recorded.push(ts);
          return true;
        },
        pacer: pacer(),
        sleep,
      });
    // Refused: nothing went out, the record (which clears the mark) says so.
    fake.failApi(
      "chat.postMessage",
      { status: 200, error: "not_in_channel" },
      1,
      (b) => b.thread_ts !== undefined,
    );
    const refused: string[][] = [];
    await expect(run("C0REFUSED", refused)).rejects.toMatchObject({ data: { error: "not_in_channel" } });
    expect(refused).toHaveLength(2);
    expect(refused[1]).toEqual(refused[0]);
    // fatal_error, or a 5xx: it may have gone out, so the mark stays for the next attempt to check.
    for (const failure of [{ status: 200, error: "fatal_error" }, { status: 503 }]) {
      fake.failApi("chat.postMessage", failure, 1, (b) => b.thread_ts !== undefined);
      const unsure: string[][] = [];
      await expect(run(`C0UNSURE${failure.status}`, unsure)).rejects.toThrow();
      expect(unsure).toHaveLength(1);
    }
  });
});

describe("createPacer", () => {
  it("spaces turns on one channel, not across channels", async () => {
    const sleeps: number[] = [];
    let now = 0;
    const pacer = createPacer({
      sleep: async (ms) => {
        sleeps.push(ms);
        now += ms;
      },
      now: () => now,
    });
    await Promise.all([pacer.turn("C1"), pacer.turn("C1"), pacer.turn("C2"), pacer.turn("C1")]);
    expect(sleeps).toEqual([1000, 1000]);
  });
});
