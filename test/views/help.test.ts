import { describe, expect, it } from "vitest";
import { type HelpVerb, helpView, MUTATES_NOTE, usageView } from "../../views/help.ts";
import { expectSafe, HOSTILE, visibleText } from "./fixtures.ts";

const VERBS: HelpVerb[] = [
  {
    name: "status",
    usage: "/scrypath status [schema] [--share]",
    summary: "posture of every schema, or both planes of one",
  },
  {
    name: "failed",
    usage: "/scrypath failed <schema> [--class C] [--page N]",
    summary: "failed sync work by reason class",
  },
  {
    name: "retry",
    usage: "/scrypath retry <schema> <id>",
    summary: "replay one failed queue job",
    mutates: true,
  },
  { name: "help", usage: "/scrypath help [verb]", summary: "this list, or one verb's usage" },
];

describe("helpView", () => {
  it("lists every verb with its usage, read-only first, mutating verbs marked", () => {
    const m = helpView(VERBS);
    expectSafe(m);
    const text = visibleText(m);
    for (const v of VERBS)
      expect(text).toContain(`\`${v.usage.replace(/</g, "&lt;").replace(/>/g, "&gt;")}\``);
    expect(text).toContain(
      `• \`/scrypath retry &lt;schema&gt; &lt;id&gt;\` — replay one failed queue job :lock: _${MUTATES_NOTE}_`,
    );
    expect(text).not.toMatch(/status \[schema\] \[--share\]` — [^\n]*:lock:/);
    expect(text.indexOf("/scrypath help [verb]")).toBeLessThan(text.indexOf("*Changes state*"));
    expect(m.text).toBe("Scrypath bot commands: status, failed, retry, help");
  });

  it("shows one verb's usage, and says when a verb is unknown", () => {
    const one = helpView(VERBS, "retry");
    expectSafe(one);
    expect(visibleText(one)).toContain("Usage: `/scrypath retry &lt;schema&gt; &lt;id&gt;`");
    expect(visibleText(one)).toContain(`:lock: This verb ${MUTATES_NOTE}.`);
    const unknown = helpView(VERBS, "<!channel>");
    expectSafe(unknown);
    expect(visibleText(unknown)).toContain("No verb named `&lt;!channel&gt;`");
  });

  it("escapes whatever the caller passes", () => {
    const m = helpView([{ name: "x", usage: HOSTILE, summary: HOSTILE, mutates: true }]);
    expectSafe(m);
    expect(visibleText(m)).toContain("&lt;@U123&gt;");
  });
});

describe("usageView", () => {
  it("says what was wrong, suggests a fix, and shows the usage", () => {
    const m = usageView("unknown schema `psots`", "/scrypath failed <schema>", "/scrypath failed posts");
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":warning: Unknown schema `psots`");
    expect(text).toContain("Did you mean `/scrypath failed posts`?");
    expect(text).toContain("Usage: `/scrypath failed &lt;schema&gt;`");
    expect(m.text).toBe("unknown schema `psots` — did you mean /scrypath failed posts?");
  });

  it("leaves out the suggestion when there is none, and escapes hostile input", () => {
    const m = usageView(`unknown command ${HOSTILE}`, "/scrypath help", null);
    expectSafe(m);
    expect(visibleText(m)).not.toContain("Did you mean");
    expect(visibleText(m)).toContain("&lt;!here&gt;");
  });

  it("keeps channel links in prose usage, which never ping anyone", () => {
    const m = usageView(
      "scrypath-bot does not answer in this channel",
      "Ask in one of the configured channels (access.channels), e.g. <#C0123ABC>.",
    );
    expect(visibleText(m)).toContain("e.g. <#C0123ABC>.");
    expect(visibleText(m)).not.toContain("`Ask in");
    expectSafe({ ...m, text: m.text, blocks: [] });
  });
});
