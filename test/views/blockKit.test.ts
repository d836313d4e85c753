// The test validator must reject what Slack rejects, or every view test would pass vacuously.
import { describe, expect, it } from "vitest";
import { expectValidMessage, unexpectedTokens, validateMessage } from "../support/blockKit.ts";

const mrkdwn = (text: string) => ({ type: "mrkdwn", text });
const plain = (text: string) => ({ type: "plain_text", text });
const sectionBlock = (text = "hello") => ({ type: "section", text: mrkdwn(text) });
const buttonEl = (text = "Open", actionId = "a") => ({
  type: "button",
  text: plain(text),
  action_id: actionId,
});

const good = {
  text: "fallback",
  blocks: [
    { type: "header", text: { type: "plain_text", text: "Title", emoji: true } },
    { type: "section", text: mrkdwn("*hi*"), accessory: buttonEl("Next", "next") },
    { type: "section", fields: [mrkdwn("a"), plain("b")] },
    { type: "context", elements: [mrkdwn("ctx"), plain("p")] },
    { type: "divider" },
    {
      type: "actions",
      block_id: "nav",
      elements: [
        {
          ...buttonEl("Retry", "retry"),
          style: "danger",
          value: "{}",
          confirm: {
            title: plain("Sure?"),
            text: plain("Retry 3 jobs"),
            confirm: plain("Yes"),
            deny: plain("No"),
          },
        },
        { ...buttonEl("Docs", "docs"), url: "https://example.com/docs" },
      ],
    },
  ],
};

function rejects(message: unknown, pattern: RegExp): void {
  const problems = validateMessage(message);
  expect(problems.join("\n")).toMatch(pattern);
  expect(() => expectValidMessage(message)).toThrow(/invalid Block Kit message/);
}

describe("Block Kit validator", () => {
  it("accepts a message using every block and element the views use", () => {
    expect(validateMessage(good)).toEqual([]);
    expect(() => expectValidMessage(good)).not.toThrow();
  });

  it("rejects 51 blocks", () => {
    rejects(
      { text: "x", blocks: Array.from({ length: 51 }, () => ({ type: "divider" })) },
      /more than 50 items/,
    );
  });

  it("rejects a 3001-character section and accepts 3000", () => {
    rejects({ text: "x", blocks: [sectionBlock("a".repeat(3001))] }, /blocks\/0\/text\/text.*3000/);
    expect(validateMessage({ text: "x", blocks: [sectionBlock("a".repeat(3000))] })).toEqual([]);
  });

  it("rejects 11 fields and a 2001-character field", () => {
    const fields = (n: number, len = 1) => Array.from({ length: n }, () => mrkdwn("f".repeat(len)));
    rejects({ text: "x", blocks: [{ type: "section", fields: fields(11) }] }, /fields.*10 items/);
    rejects({ text: "x", blocks: [{ type: "section", fields: fields(1, 2001) }] }, /2000/);
  });

  it("rejects duplicate block_ids", () => {
    rejects(
      {
        text: "x",
        blocks: [
          { type: "divider", block_id: "a" },
          { type: "divider", block_id: "a" },
        ],
      },
      /duplicate block_id "a"/,
    );
  });

  it("rejects a 76-character button text, a 2001-character value and a 256-character action_id", () => {
    rejects({ text: "x", blocks: [{ type: "actions", elements: [buttonEl("b".repeat(76))] }] }, /75/);
    rejects(
      { text: "x", blocks: [{ type: "actions", elements: [{ ...buttonEl(), value: "v".repeat(2001) }] }] },
      /2000/,
    );
    rejects({ text: "x", blocks: [{ type: "actions", elements: [buttonEl("b", "a".repeat(256))] }] }, /255/);
  });

  it("rejects a missing, empty or blank text fallback", () => {
    rejects({ blocks: [sectionBlock()] }, /text/);
    rejects({ text: "", blocks: [sectionBlock()] }, /text/);
    rejects({ text: "   ", blocks: [sectionBlock()] }, /non-empty fallback/);
  });

  it("rejects unknown block types, unknown elements and unknown properties", () => {
    rejects(
      { text: "x", blocks: [{ type: "image", image_url: "https://x", alt_text: "x" }] },
      /unknown type/,
    );
    rejects(
      { text: "x", blocks: [{ type: "actions", elements: [{ type: "overflow", options: [] }] }] },
      /button/,
    );
    rejects({ text: "x", blocks: [{ ...sectionBlock(), colour: "red" }] }, /unexpected property "colour"/);
  });

  it("rejects an over-long header, too many context elements, and a section with neither text nor fields", () => {
    rejects({ text: "x", blocks: [{ type: "header", text: plain("h".repeat(151)) }] }, /150/);
    rejects({ text: "x", blocks: [{ type: "header", text: mrkdwn("h") }] }, /header|constant|type/);
    rejects(
      { text: "x", blocks: [{ type: "context", elements: Array.from({ length: 11 }, () => mrkdwn("c")) }] },
      /10 items/,
    );
    rejects({ text: "x", blocks: [{ type: "section" }] }, /text|fields/);
  });

  it("rejects duplicate action_ids in one actions block and bad confirm dialogs", () => {
    rejects(
      { text: "x", blocks: [{ type: "actions", elements: [buttonEl(), buttonEl()] }] },
      /duplicate action_id/,
    );
    const confirm = {
      title: plain("t"),
      text: plain("x".repeat(301)),
      confirm: plain("y"),
      deny: plain("n"),
    };
    rejects({ text: "x", blocks: [{ type: "actions", elements: [{ ...buttonEl(), confirm }] }] }, /300/);
  });

  it("accepts a static_select in an actions block, strictly", () => {
    const option = (text: string, value: string) => ({ text: plain(text), value });
    const select = {
      type: "static_select",
      action_id: "snooze",
      placeholder: plain("Snooze…"),
      options: [option("1 h", "7:1h"), option("until resolved", "7:resolved")],
    };
    const message = (el: unknown) => ({
      text: "x",
      blocks: [{ type: "actions", elements: [buttonEl(), el] }],
    });
    expect(validateMessage(message(select))).toEqual([]);
    rejects(message({ ...select, options: [] }), /options.*fewer than 1/);
    rejects(message({ ...select, action_id: undefined }), /action_id/);
    rejects(message({ ...select, placeholder: mrkdwn("Snooze") }), /placeholder/);
    rejects(message({ ...select, placeholder: plain("p".repeat(151)) }), /150/);
    rejects(message({ ...select, options: [option("o".repeat(76), "v")] }), /75/);
    rejects(message({ ...select, options: [option("o", "v".repeat(151))] }), /150/);
    rejects(
      message({ ...select, options: [{ ...option("o", "v"), url: "https://x" }] }),
      /unexpected property "url"/,
    );
    rejects(message({ ...select, max_selected_items: 2 }), /unexpected property "max_selected_items"/);
    rejects(message({ ...select, type: "multi_static_select" }), /unknown type/);
  });

  it("finds mention and link tokens that did not come from an allowed source", () => {
    const message = {
      text: "<!channel> hi",
      blocks: [
        sectionBlock("<@U123> <https://evil.example|click> <https://ok.example/x|ok> <!date^1^{time}|10:00>"),
      ],
    };
    expect(unexpectedTokens(message, { allowedHosts: ["ok.example"] })).toEqual([
      "<!channel>",
      "<@U123>",
      "<https://evil.example|click>",
    ]);
    expect(unexpectedTokens(message, { allowedHosts: ["ok.example"], allowedUsers: ["U123"] })).toHaveLength(
      2,
    );
  });
});
