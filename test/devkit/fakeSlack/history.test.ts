// The fake Slack's history reads and crash hook, through the real WebClient: message metadata kept
// from chat.postMessage and returned only with include_all_metadata; conversations.history newest
// first within oldest/latest, paged by cursor; conversations.replies parent first; a crash that
// performs the post but never answers.
import type { WebClient } from "@slack/web-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FakeSlack } from "../../../devkit/fakeSlack/index.ts";
import { digestClient } from "../../support/digest.ts";

describe("fake Slack history and crashes", () => {
  let fake: FakeSlack;
  let client: WebClient;
  let now = Date.parse("2026-11-20T08:00:00Z");

  beforeAll(async () => {
    fake = await FakeSlack.start({ realTime: true, clock: () => now });
    client = digestClient(fake.apiUrl);
  });
  afterAll(() => fake?.close());

  const event = (part: number) => ({ event_type: "scrypath_digest", event_payload: { slot: "s1", part } });

  it("keeps metadata and returns it only when asked; pages history newest first within oldest", async () => {
    const ch = "C0HIST01";
    const posted: string[] = [];
    for (let i = 0; i < 5; i++) {
      now += 1000;
      const answer = await client.chat.postMessage({ channel: ch, text: `m${i}`, metadata: event(i) });
      posted.push(answer.ts as string);
    }
    // Slack's ts follow its clock.
    expect(Math.floor(Number(posted[0]))).toBe(Math.floor(Date.parse("2026-11-20T08:00:01Z") / 1000));
    const plain = await client.conversations.history({ channel: ch });
    expect(plain.messages?.map((m) => m.text)).toEqual(["m4", "m3", "m2", "m1", "m0"]);
    expect(plain.messages?.every((m) => m.metadata === undefined)).toBe(true);

    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await client.conversations.history({
        channel: ch,
        oldest: posted[0] as string,
        limit: 2,
        include_all_metadata: true,
        ...(cursor ? { cursor } : {}),
      });
      pages.push(
        (page.messages ?? []).map(
          (m) => `${m.text}:${(m.metadata?.event_payload as Record<string, unknown> | undefined)?.part}`,
        ),
      );
      cursor = page.has_more ? page.response_metadata?.next_cursor : undefined;
    } while (cursor);
    // oldest is exclusive: m0 is left out.
    expect(pages).toEqual([
      ["m4:4", "m3:3"],
      ["m2:2", "m1:1"],
    ]);
    const inclusive = await client.conversations.history({ channel: ch, oldest: posted[0], inclusive: true });
    expect(inclusive.messages).toHaveLength(5);
  });

  it("returns a thread parent first, then its replies, with their metadata", async () => {
    const ch = "C0HIST02";
    const parent = await client.chat.postMessage({ channel: ch, text: "parent", metadata: event(0) });
    for (let i = 1; i <= 3; i++) {
      await client.chat.postMessage({
        channel: ch,
        text: `reply ${i}`,
        thread_ts: parent.ts,
        metadata: event(i),
      });
    }
    const first = await client.conversations.replies({
      channel: ch,
      ts: parent.ts as string,
      limit: 3,
      include_all_metadata: true,
    });
    expect(
      first.messages?.map((m) => [
        m.text,
        (m.metadata?.event_payload as Record<string, unknown> | undefined)?.part,
      ]),
    ).toEqual([
      ["parent", 0],
      ["reply 1", 1],
      ["reply 2", 2],
    ]);
    expect(first.has_more).toBe(true);
    const second = await client.conversations.replies({
      channel: ch,
      ts: parent.ts as string,
      cursor: first.response_metadata?.next_cursor as string,
    });
    expect(second.messages?.map((m) => m.text)).toEqual(["reply 3"]);
    expect(second.has_more).toBe(false);
    // History shows only the parent, with its thread.
    const history = await client.conversations.history({ channel: ch });
    expect(history.messages?.map((m) => [m.text, m.reply_count])).toEqual([["parent", 3]]);
    await expect(client.conversations.replies({ channel: ch, ts: "1.000001" })).rejects.toMatchObject({
      data: { error: "thread_not_found" },
    });
  });

  it("crashOn 'after' performs the post and never answers; 'before' never performs it", async () => {
    const ch = "C0HIST03";
    fake.crashOn("chat.postMessage", "after", (body) => body.channel === ch);
    let settled = false;
    const lost = client.chat.postMessage({ channel: ch, text: "lost answer" }).finally(() => {
      settled = true;
    });
    await fake.until(
      () => fake.crashedCalls === 1,
      10_000,
      () => "no held call",
    );
    expect(fake.listMessages(ch).map((m) => m.text)).toEqual(["lost answer"]);
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    fake.releaseCrashed();
    await expect(lost).rejects.toThrow();

    fake.crashOn("chat.postMessage", "before", (body) => body.channel === ch);
    const never = client.chat.postMessage({ channel: ch, text: "never sent" });
    await fake.until(
      () => fake.crashedCalls === 1,
      10_000,
      () => "no held call",
    );
    fake.releaseCrashed();
    await expect(never).rejects.toThrow();
    expect(fake.listMessages(ch).map((m) => m.text)).toEqual(["lost answer"]);
    // Metadata that is not an event is refused, as Slack does.
    await expect(
      client.chat.postMessage({ channel: ch, text: "x", metadata: { event_type: "x" } as never }),
    ).rejects.toMatchObject({ data: { error: "invalid_metadata_format" } });
  });
});
