// Finding a digest post in Slack by its metadata (recover.ts), against the fake Slack with the real
// WebClient: across history pages, within the write-ahead window, honouring 429s, and telling a
// permanent refusal (missing scope) from a passing failure.
import type { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "../../devkit/fakeSlack/index.ts";
import {
  CLOCK_SKEW_MS,
  DIGEST_EVENT,
  digestMetadata,
  findPosted,
  HistoryUnreadableError,
  MAX_PAGES,
  PAGE_SIZE,
} from "../../src/digest/recover.ts";
import { digestClient } from "../support/digest.ts";

describe("findPosted", () => {
  let fake: FakeSlack;
  let client: WebClient;
  let now = Date.parse("2026-11-20T08:00:00Z");
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
  };
  const ref = { digest: "d", slotKey: "2026-11-20T09:00 Europe/Berlin", part: 0 };

  beforeAll(async () => {
    fake = await FakeSlack.start({ realTime: true, clock: () => now });
    client = digestClient(fake.apiUrl);
  });
  afterAll(() => fake?.close());

  const reads = (channel: string) =>
    fake.calls.filter((c) => c.body.channel === channel && c.method.startsWith("conversations."));
  const post = async (channel: string, part: number, slotKey = ref.slotKey, thread_ts?: string) =>
    (
      await client.chat.postMessage({
        channel,
        text: `part ${part}`,
        ...(thread_ts ? { thread_ts } : {}),
        metadata: digestMetadata({ ...ref, slotKey, part }, 3),
      })
    ).ts as string;

  it("finds the parent under a busy channel, page after page, and nothing of another slot", async () => {
    const ch = "C0FIND1";
    const since = new Date(now);
    await post(ch, 0, "2026-11-20T08:00 Europe/Berlin");
    const parent = await post(ch, 0);
    for (let i = 0; i < 2 * PAGE_SIZE + 10; i++) fake.postUserMessage(ch, "U1", `chatter ${i}`);
    expect(await findPosted({ client, channel: ch, ref, since, parentTs: null, sleep })).toBe(parent);
    expect(reads(ch)).toHaveLength(3);
    expect(reads(ch)[0]?.body).toMatchObject({
      include_all_metadata: "true",
      limit: String(PAGE_SIZE),
      oldest: ((since.getTime() - CLOCK_SKEW_MS) / 1000).toFixed(6),
    });
    // Another slot's parent is never taken for this one.
    const other = { ...ref, slotKey: "2026-11-20T10:00 Europe/Berlin" };
    expect(await findPosted({ client, channel: ch, ref: other, since, parentTs: null, sleep })).toBeNull();
  });

  it("does not look before the write-ahead time (less the clock-skew margin)", async () => {
    const ch = "C0FIND2";
    await post(ch, 0);
    now += CLOCK_SKEW_MS + 60_000;
    expect(
      await findPosted({ client, channel: ch, ref, since: new Date(now), parentTs: null, sleep }),
    ).toBeNull();
  });

  it("finds a thread reply in its parent's thread", async () => {
    const ch = "C0FIND3";
    const since = new Date(now);
    const parent = await post(ch, 0);
    await post(ch, 1, ref.slotKey, parent);
    const second = await post(ch, 2, ref.slotKey, parent);
    expect(
      await findPosted({ client, channel: ch, ref: { ...ref, part: 2 }, since, parentTs: parent, sleep }),
    ).toBe(second);
    expect(reads(ch).map((c) => [c.method, c.body.ts])).toEqual([["conversations.replies", parent]]);
  });

  it("waits out a 429, and tells a missing scope (for good) from a 500 (passing)", async () => {
    const ch = "C0FIND4";
    const since = new Date(now);
    const parent = await post(ch, 0);
    fake.failApi("conversations.history", { status: 429, retryAfter: 3 });
    expect(await findPosted({ client, channel: ch, ref, since, parentTs: null, sleep })).toBe(parent);
    expect(sleeps).toContain(3000);

    fake.failApi("conversations.history", { status: 200, error: "missing_scope" });
    const missing = await findPosted({ client, channel: ch, ref, since, parentTs: null, sleep }).catch(
      (e) => e,
    );
    expect(missing).toBeInstanceOf(HistoryUnreadableError);
    expect(missing).toMatchObject({ code: "missing_scope", permanent: true });
    expect(missing.message).toBe("conversations.history failed with missing_scope");

    fake.failApi("conversations.history", { status: 500 });
    const passing = await findPosted({ client, channel: ch, ref, since, parentTs: null, sleep }).catch(
      (e) => e,
    );
    expect(passing).toMatchObject({ code: "http_error", permanent: false });
  });

  it("gives up (for good) past its page bound rather than read a channel without end", async () => {
    const ch = "C0FIND5";
    const since = new Date(now);
    for (let i = 0; i < MAX_PAGES * PAGE_SIZE + 1; i++) fake.postUserMessage(ch, "U1", `chatter ${i}`);
    const error = await findPosted({ client, channel: ch, ref, since, parentTs: null, sleep }).catch(
      (e) => e,
    );
    expect(error).toMatchObject({ code: "too_many_messages", permanent: true });
    expect(reads(ch)).toHaveLength(MAX_PAGES);
    expect(DIGEST_EVENT).toBe("scrypath_digest");
  });
});
