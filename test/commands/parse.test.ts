import { describe, expect, it } from "vitest";
import { MAX_TEXT_LENGTH, parseFlags, tokenize, UsageProblem } from "../../commands/parse.ts";

const spec = { class: "string", page: "integer", share: "boolean", help: "boolean" } as const;

describe("tokenize", () => {
  it("splits on whitespace and keeps quoted runs", () => {
    expect(tokenize(`failed  "My App.Post"  'two words' --page 2`)).toEqual([
      "failed",
      "My App.Post",
      "two words",
      "--page",
      "2",
    ]);
    expect(tokenize("")).toEqual([]);
    expect(tokenize("  \t\n ")).toEqual([]);
  });

  it("refuses text beyond the limit and too many words", () => {
    expect(() => tokenize("x".repeat(MAX_TEXT_LENGTH + 1))).toThrow(UsageProblem);
    expect(() => tokenize("a ".repeat(100))).toThrow(/too many words/);
  });

  it("keeps an unterminated quote as plain text", () => {
    expect(tokenize(`status "posts`)).toEqual(["status", `"posts`]);
  });
});

describe("parseFlags", () => {
  it("reads --name value, --name=value and booleans", () => {
    expect(parseFlags(["posts", "--class", "transport", "--page=3", "--share"], spec)).toEqual({
      positionals: ["posts"],
      flags: { class: "transport", page: 3, share: true },
    });
  });

  it("refuses unknown flags with a did-you-mean", () => {
    const error = (() => {
      try {
        parseFlags(["--clas", "x"], spec);
      } catch (e) {
        return e as UsageProblem;
      }
    })();
    expect(error?.message).toBe("unknown option --clas");
    expect(error?.suggestion).toBe("--class");
  });

  it.each([
    [["--page", "0"], /positive whole number/],
    [["--page", "abc"], /positive whole number/],
    [["--page"], /needs a value/],
    [["--class", "--share"], /needs a value/],
    [["--share=yes"], /takes no value/],
    [["--page", "1", "--page", "2"], /given twice/],
    [["--page", "9999999"], /positive whole number/],
  ])("refuses %j", (tokens, message) => {
    expect(() => parseFlags(tokens, spec)).toThrow(message);
  });

  it("treats a bare -- and single-dash words as positionals", () => {
    expect(parseFlags(["--", "-x"], spec).positionals).toEqual(["--", "-x"]);
  });

  it("cannot be steered into prototype keys", () => {
    expect(() => parseFlags(["--__proto__", "x"], spec)).toThrow("unknown option --__proto__");
    expect(() => parseFlags(["--constructor"], spec)).toThrow("unknown option --constructor");
    expect(() => parseFlags(["--toString"], spec)).toThrow("unknown option --toString");
  });
});
