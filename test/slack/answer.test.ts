// How answers are posted: working note, replace_original / response_type on every body, sharing.
import type { RespondArguments } from "@slack/bolt";
import { describe, expect, it } from "vitest";
import type { CommandResult } from "../../commands/index.ts";
import { createLogger } from "../../src/log.ts";
import { createMetrics } from "../../src/metrics.ts";
import { type AnswerDeps, answer, type Delivery, withRequester } from "../../src/slack/answer.ts";
import { VERBS } from "../../src/slack/labels.ts";
import { context, finalizeMessage, section } from "../../views/common.ts";

const MESSAGE = finalizeMessage("posts: all good", [section("*posts* all good")]);

function result(overrides: Partial<CommandResult> = {}): CommandResult {
  return { message: MESSAGE, share: false, verb: "status", schema: "posts", outcome: "ok", ...overrides };
}

function setup(workingAfterMs: number) {
  const posted: RespondArguments[] = [];
  const deps: AnswerDeps = {
    logger: createLogger({ write: () => {} }),
    metrics: createMetrics({ defaultMetrics: false }),
    verbs: VERBS,
    workingAfterMs,
    requestId: () => "r000000000001",
  };
  const respond = async (m: string | RespondArguments) => {
    posted.push(typeof m === "string" ? { text: m } : m);
    return new Response("ok");
  };
  return { deps, posted, respond };
}

/** Runs `answer` with work that finishes only after the working note was posted (when slow). */
async function run(delivery: Delivery, slow: boolean, value: CommandResult) {
  const { deps, posted, respond } = setup(slow ? 5 : 60_000);
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const done = answer(deps, respond, {
    delivery,
    label: { verb: "status", schema: "posts" },
    userId: "U0ALICE001",
    fields: {},
    run: async () => {
      if (slow) await gate;
      return value;
    },
  });
  if (slow) {
    for (let i = 0; i < 400 && posted.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(posted[0]?.text).toContain("Still working on /scrypath status posts");
    release();
  }
  await done;
  return posted;
}

describe("answer", () => {
  it("answers a fast command once, ephemeral, replacing nothing", async () => {
    const posted = await run("command", false, result());
    expect(posted).toEqual([{ ...MESSAGE, response_type: "ephemeral", replace_original: false }]);
  });

  it("replaces the working note of a slow command", async () => {
    const posted = await run("command", true, result());
    expect(posted).toHaveLength(2);
    expect(posted[0]).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(posted[1]).toEqual({ ...MESSAGE, response_type: "ephemeral", replace_original: true });
  });

  it("shares a fast command in the channel with Requested by", async () => {
    const posted = await run("command", false, result({ share: true }));
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatchObject({
      response_type: "in_channel",
      replace_original: false,
      text: MESSAGE.text,
    });
    expect((posted[0] as { blocks?: unknown[] }).blocks?.at(-1)).toEqual(
      context(["Requested by <@U0ALICE001>"]),
    );
  });

  it("removes the working note before sharing a slow command", async () => {
    const posted = await run("command", true, result({ share: true }));
    expect(posted).toHaveLength(3);
    expect(posted[1]).toEqual({ delete_original: true });
    expect(posted[2]).toMatchObject({ response_type: "in_channel", replace_original: false });
  });

  it("replaces the message a page button is on, working note included", async () => {
    const posted = await run("replace", true, result());
    expect(posted.map((p) => [p.response_type, p.replace_original])).toEqual([
      ["ephemeral", true],
      ["ephemeral", true],
    ]);
  });

  it("posts new ephemeral messages for open buttons, and never shares from a button", async () => {
    const posted = await run("new", true, result({ share: true }));
    expect(posted.map((p) => [p.response_type, p.replace_original])).toEqual([
      ["ephemeral", false],
      ["ephemeral", false],
    ]);
  });

  it("keeps the list a failed page click was on, and answers the bug in a new message", async () => {
    const { deps, posted, respond } = setup(60_000);
    await answer(deps, respond, {
      delivery: "replace",
      label: { verb: "failed", schema: "posts" },
      userId: "U0ALICE001",
      fields: {},
      run: async () => {
        throw new Error("bug");
      },
    });
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatchObject({ response_type: "ephemeral", replace_original: false });
    expect(posted[0]?.text).toContain("request id r000000000001");
  });

  it("keeps a shared message within 50 blocks", () => {
    const full = finalizeMessage(
      "many",
      Array.from({ length: 50 }, (_, i) => section(`row ${i}`)),
    );
    const shared = withRequester(full, "U0ALICE001");
    expect(shared.blocks).toHaveLength(50);
    expect(JSON.stringify(shared.blocks.at(-1))).toContain("Requested by <@U0ALICE001>");
  });
});

describe("answers delivered elsewhere (a card in the channel, a modal)", () => {
  it("posts nothing for a fast silent result", async () => {
    expect(await run("command", false, result({ silent: true }))).toEqual([]);
  });

  it("removes its own working note for a slow one, and never a clicked message", async () => {
    const posted = await run("command", true, result({ silent: true }));
    expect(posted.slice(1)).toEqual([{ delete_original: true }]);
    // Behind a button, the response_url's original is the message holding the button: kept.
    expect((await run("new", true, result({ silent: true }))).slice(1)).toEqual([]);
  });

  it("posts no working note when asked not to (clicks on confirmation cards)", async () => {
    const { deps, posted, respond } = setup(5);
    await answer(deps, respond, {
      delivery: "new",
      label: { verb: "confirm" },
      userId: "U0BOB00002",
      fields: {},
      workingNote: false,
      run: async () => {
        await new Promise((r) => setTimeout(r, 50));
        return result({ verb: "confirm" });
      },
    });
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatchObject({ response_type: "ephemeral", replace_original: false });
  });
});
