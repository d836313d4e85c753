import type { KnownBlock } from "@slack/types";
import { describe, expect, it } from "vitest";
import {
  actions,
  age,
  button,
  code,
  context,
  escapeMrkdwn,
  excerpt,
  fields,
  fillTemplate,
  finalizeMessage,
  header,
  packLines,
  redact,
  section,
  slackDate,
  staticSelect,
  truncate,
} from "../../views/common.ts";
import { expectValidMessage, validateMessage } from "../support/blockKit.ts";
import { HOSTILE, NOW, SECRET } from "./fixtures.ts";

const sectionText = (b: KnownBlock): string => (b.type === "section" ? (b.text?.text ?? "") : "");

describe("escapeMrkdwn", () => {
  it("turns mentions, links and ampersands into literal text", () => {
    expect(escapeMrkdwn(HOSTILE)).toBe(
      "&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; &amp; &lt;!here&gt; &lt;!subteam^S1&gt;",
    );
    expect(escapeMrkdwn(HOSTILE)).not.toContain("<");
  });

  it("escapes ampersands first, so an existing entity stays visible as typed", () => {
    expect(escapeMrkdwn("&lt;")).toBe("&amp;lt;");
  });

  it("keeps code spans closed when data holds backticks, and unicode intact", () => {
    expect(code("a`b<c")).toBe("`aˋb&lt;c`");
    expect(code("Crème 🍮")).toBe("`Crème 🍮`");
  });

  it("redacts idempotently, so text the core already redacted stays readable", () => {
    const once = redact(`api_key=${SECRET} Authorization: Bearer abc.def password: "hunter2"`);
    expect(once).toBe('api_key=[REDACTED] Authorization: Bearer [REDACTED] password: "[REDACTED]"');
    expect(redact(once)).toBe(once);
  });

  it("excerpts redact secrets and escape", () => {
    const out = excerpt(`${HOSTILE} api_key=${SECRET}\nsecond line`, 200);
    expect(out).not.toContain(SECRET);
    expect(out).not.toContain("second line");
    expect(out).not.toMatch(/<[!@h]/);
  });
});

describe("truncate", () => {
  it("leaves short text alone", () => {
    expect(truncate("hello", 10)).toBe("hello");
  });

  it("cuts to the limit and says how much was cut", () => {
    const text = "a".repeat(10_000);
    const out = truncate(text, 3000);
    expect(out.length).toBeLessThanOrEqual(3000);
    const match = /… \(([\d,]+) more characters\)$/.exec(out);
    expect(match).not.toBeNull();
    const cut = Number(match?.[1]?.replace(/,/g, ""));
    expect(out.length - (match?.[0].length ?? 0) + cut).toBe(10_000);
    expect(match?.[1]).toContain(",");
  });

  it("adds a hint to the note, or uses a custom suffix", () => {
    expect(truncate("x".repeat(100), 60, "see the dashboard")).toMatch(
      /more characters — see the dashboard\)$/,
    );
    expect(truncate("x".repeat(100), 20, () => "…")).toBe(`${"x".repeat(19)}…`);
  });

  it("never splits an entity, a <…> token or a surrogate pair", () => {
    const entity = truncate(`${"a".repeat(30)}&amp;${"b".repeat(100)}`, 60);
    expect(entity).not.toMatch(/&a?m?p?…/);
    const token = truncate(`${"a".repeat(10)}<https://example.com/${"p".repeat(80)}|link> tail`, 60);
    expect(token).not.toContain("<");
    const emoji = truncate("🍮".repeat(50), 31);
    expect(emoji).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it("still answers within the limit when the limit is tiny", () => {
    expect(truncate("abcdefghij", 4).length).toBeLessThanOrEqual(4);
  });
});

describe("dates", () => {
  it("renders a date token with an absolute UTC fallback", () => {
    expect(slackDate(NOW)).toBe(
      `<!date^${NOW.getTime() / 1000}^{date_short_pretty} {time}|2026-11-20 10:00 UTC>`,
    );
    expect(slackDate(NOW, "a|b <c>")).toContain("|a/b &lt;c&gt;>");
    expect(slackDate(new Date(Number.NaN))).toBe("unknown time");
  });

  it("says how long ago in minutes, hours and days", () => {
    const ago = (ms: number) => age(new Date(NOW.getTime() - ms), NOW);
    expect(ago(10_000)).toBe("just now");
    expect(ago(3 * 60_000)).toBe("3 min ago");
    expect(ago(2 * 3_600_000)).toBe("2 h ago");
    expect(ago(4 * 86_400_000)).toBe("4 d ago");
    expect(ago(-5 * 60_000)).toBe("in 5 min");
  });
});

describe("fillTemplate", () => {
  it("URL-encodes each value", () => {
    expect(fillTemplate("https://x.example/jobs/{id}?q={queue}", { id: 7, queue: "a b/&c" })).toBe(
      "https://x.example/jobs/7?q=a%20b%2F%26c",
    );
  });

  it("gives no link when a placeholder is missing or the URL is not http(s)", () => {
    expect(fillTemplate("https://x.example/{index}", {})).toBeNull();
    expect(fillTemplate("javascript:alert({id})", { id: 1 })).toBeNull();
  });
});

describe("block builders enforce limits", () => {
  it("section text ≤ 3000, with a note", () => {
    const b = section("s".repeat(10_000));
    expect(sectionText(b).length).toBeLessThanOrEqual(3000);
    expect(sectionText(b)).toMatch(/more characters\)$/);
    expect(sectionText(section(""))).toBe("—");
  });

  it("a static select cuts option texts to 75, drops options whose value would not fit, keeps ≤ 100", () => {
    const select = staticSelect({
      placeholder: "p".repeat(200),
      actionId: "pick",
      options: [
        { text: "o".repeat(100), value: "ok" },
        { text: "too long", value: "v".repeat(151) },
        ...Array.from({ length: 120 }, (_, i) => ({ text: `n${i}`, value: `n${i}` })),
      ],
    });
    expect(select.placeholder?.text.length).toBeLessThanOrEqual(150);
    expect(select.options).toHaveLength(100);
    expect(select.options?.[0]?.text.text.length).toBeLessThanOrEqual(75);
    expect(select.options?.some((o) => o.value === "v".repeat(151))).toBe(false);
    expect(validateMessage({ text: "x", blocks: [actions([select])] })).toEqual([]);
  });

  it("fields ≤ 10, each ≤ 2000", () => {
    const b = fields(Array.from({ length: 14 }, (_, i) => `${i}`.repeat(2500)));
    expect(b.fields).toHaveLength(10);
    expect(b.fields?.[9]?.text).toContain("5 more not shown");
    for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
  });

  it("header ≤ 150 plain text, context ≤ 10, actions ≤ 25", () => {
    expect(header("h".repeat(400)).text.text.length).toBeLessThanOrEqual(150);
    const ctx = context(Array.from({ length: 12 }, (_, i) => `c${i}`));
    expect(ctx.elements).toHaveLength(10);
    const many = Array.from({ length: 30 }, (_, i) => button({ text: `b${i}`, actionId: `a${i}` }));
    expect(actions(many).elements).toHaveLength(25);
  });

  it("button text ≤ 75, value ≤ 2000, action_id ≤ 255, confirm within its limits", () => {
    const b = button({
      text: "t".repeat(100),
      actionId: "a".repeat(300),
      value: "v".repeat(3000),
      url: `https://x.example/${"u".repeat(3000)}`,
      style: "danger",
      confirm: {
        title: "T".repeat(200),
        text: "x".repeat(500),
        confirm: "c".repeat(40),
        deny: "d".repeat(40),
      },
    });
    expect(b.text.text.length).toBeLessThanOrEqual(75);
    expect(b.action_id?.length).toBe(255);
    expect(b.value?.length).toBe(2000);
    expect(b.url).toBeUndefined();
    expectValidMessage({ text: "x", blocks: [actions([b])] });
  });

  it("packs lines into sections within the block and character budgets", () => {
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i} ${"x".repeat(90)}`);
    const blocks = packLines(lines, { maxBlocks: 3, more: (n) => `${n} more` });
    expect(blocks.length).toBeLessThanOrEqual(3);
    for (const b of blocks) expect(sectionText(b).length).toBeLessThanOrEqual(3000);
    expect(sectionText(blocks[blocks.length - 1] as KnownBlock)).toMatch(/\d+ more$/);
  });
});

describe("finalizeMessage", () => {
  it("caps at 50 blocks and says how many were cut and how to see the rest", () => {
    const blocks = Array.from({ length: 70 }, (_, i) => section(`s${i}`));
    const m = finalizeMessage("sixty", blocks, { overflowHint: "use Next" });
    expect(m.blocks).toHaveLength(50);
    const last = m.blocks[49];
    expect(last?.type).toBe("context");
    expect(JSON.stringify(last)).toContain("21 more blocks not shown — use Next");
    expectValidMessage(m);
  });

  it("always has a text fallback within 3000 characters", () => {
    expect(finalizeMessage("", [section("x")]).text).toBe("Scrypath");
    expect(finalizeMessage("t".repeat(5000), []).text.length).toBeLessThanOrEqual(3000);
  });

  it("makes block_ids unique and drops absent blocks", () => {
    const m = finalizeMessage("x", [
      section("a", { blockId: "same" }),
      null,
      false,
      section("b", { blockId: "same" }),
      section("c", { blockId: "same" }),
    ]);
    expect(m.blocks.map((b) => b.block_id)).toEqual(["same", "same-2", "same-3"]);
    expect(validateMessage(m)).toEqual([]);
  });
});
