import { describe, expect, it } from "vitest";
import { stripControls } from "../../src/core/sanitize.ts";

describe("stripControls", () => {
  it.each([
    ["ANSI colour", "\x1b[31mERROR\x1b[0m boom", "ERROR boom"],
    ["cursor movement that rewrites a line", "ok\x1b[2K\x1b[1Gall good", "okall good"],
    ["8-bit CSI", "\x9b31mred", "red"],
    ["OSC window title (BEL)", "\x1b]0;pwned\x07text", "text"],
    ["OSC 8 hyperlink (ST)", "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"],
    ["two-character ESC sequence", "a\x1bcb\x1b(Bc", "abc"],
    ["bare ESC", "a\x1b", "a"],
    ["C0 controls", "a\x00b\x07c\x08d\re\x0bf\x0cg", "abcdefg"],
    ["DEL and C1 controls", "a\x7fb\x85c\x9fd", "abcd"],
    ["bidi override (Trojan Source)", "job \u202egnp.exe\u202c done", "job gnp.exe done"],
    ["bidi isolates and marks", "\u2066a\u2067b\u2068c\u2069\u200ed\u200fe\u061cf", "abcdef"],
  ])("%s", (_name, input, expected) => {
    expect(stripControls(input)).toBe(expected);
  });

  it("keeps newlines, tabs and ordinary Unicode", () => {
    const text = "line 1\n\tline 2 — café 日本語 👩‍💻 myapp_posts_v2 [REDACTED]";
    expect(stripControls(text)).toBe(text);
  });

  it("is idempotent and linear on long adversarial input", () => {
    for (const make of [
      (n: number) => "\x1b[".repeat(n / 2),
      (n: number) => "\x1b]0;".repeat(n / 4),
      (n: number) => "\x9d".repeat(n),
      (n: number) => `\x1b]${"a".repeat(n)}`,
    ]) {
      const big = make(1_000_000);
      const start = performance.now();
      const out = stripControls(big);
      expect(performance.now() - start).toBeLessThan(1000);
      expect(stripControls(out)).toBe(out);
      for (const c of ["\u001b", "\u009b", "\u009d"]) expect(out).not.toContain(c);
    }
  });
});
