import { describe, expect, it } from "vitest";
import {
  classifyBackendError,
  classifyQueueJob,
  classifyQueueText,
  containsWholeWord,
  QUEUE_TEXT_RULES,
  queueSignalText,
} from "../../src/core/reasonClass.ts";

describe("classifyBackendError", () => {
  it.each([
    [{ type: "invalid_request" }, "validation"],
    [{ type: "INVALID_REQUEST" }, "validation"],
    [{ type: "internal" }, "backend_rejected"],
    [{ type: "auth" }, "transport"],
    [{ type: "system" }, "unknown"],
    [{ message: "x", code: "invalid_state" }, "unknown"],
    [{}, "unknown"],
    [null, "unknown"],
    [undefined, "unknown"],
  ] as const)("%j → %s", (error, expected) => {
    expect(classifyBackendError(error)).toBe(expected);
  });

  it("ignores error codes", () => {
    expect(classifyBackendError({ code: "index_not_found", type: "invalid_request" })).toBe("validation");
    expect(classifyBackendError({ code: "database_size_limit_reached" })).toBe("unknown");
  });
});

describe("QUEUE_TEXT_RULES", () => {
  it("has the three rules in upstream order", () => {
    expect(QUEUE_TEXT_RULES.map((r) => r.reasonClass)).toEqual([
      "validation",
      "transport",
      "backend_rejected",
    ]);
    expect(QUEUE_TEXT_RULES[1]?.wholeWordNumbers).toEqual([
      "401",
      "403",
      "408",
      "429",
      "500",
      "501",
      "502",
      "503",
      "504",
      "505",
      "506",
      "507",
      "508",
      "509",
    ]);
  });
});

describe("classifyQueueText", () => {
  it.each([
    ["** (Ecto.CastError) cannot cast", "validation"],
    ["** (ArgumentError) bad arg", "validation"],
    ["** (Req.TransportError) econnrefused", "transport"],
    ["** (Mint.TransportError) closed", "transport"],
    ["{:timeout, %Task{}}", "transport"],
    ["TIMEOUT waiting", "transport"],
    ["invalid_state: index is processing", "backend_rejected"],
    ["database_size_limit reached", "backend_rejected"],
    ["no_space_left_on_device", "backend_rejected"],
    ["** (RuntimeError) boom", "unknown"],
    ["", "unknown"],
  ] as const)("%s → %s", (text, expected) => {
    expect(classifyQueueText(text)).toBe(expected);
  });

  it("null text is unknown", () => {
    expect(classifyQueueText(null)).toBe("unknown");
  });

  it("applies rules in order", () => {
    expect(classifyQueueText("ArgumentError after timeout")).toBe("validation");
    expect(classifyQueueText("Ecto.CastError with status 503")).toBe("validation");
    expect(classifyQueueText("invalid_state then timeout")).toBe("transport");
    expect(classifyQueueText("invalid_state http 429")).toBe("transport");
  });

  it.each(["401", "403", "408", "429", "500", "501", "505", "509"])("whole-word %s is transport", (n) => {
    expect(classifyQueueText(`{:http_error, ${n}, %{}}`)).toBe("transport");
    expect(classifyQueueText(n)).toBe("transport");
  });

  it.each(["status 510", "status 499", "id 4290", "id_429", "429x", "x429", "1500 docs", "5000 ms", "v4010"])(
    "%s is not transport",
    (text) => {
      expect(classifyQueueText(text)).toBe("unknown");
    },
  );

  it("numbers next to punctuation still count (the 429 quirk)", () => {
    expect(classifyQueueText("processed ids [17, 429, 88]")).toBe("transport");
    expect(classifyQueueText("order-500-x")).toBe("transport");
    expect(classifyQueueText("doc.503")).toBe("transport");
  });
});

describe("containsWholeWord", () => {
  it("finds later occurrences after an embedded one", () => {
    expect(containsWholeWord("4290 then 429", "429")).toBe(true);
    expect(containsWholeWord("a4290 b_429", "429")).toBe(false);
  });
});

describe("queueSignalText", () => {
  it("reads strings and error fields", () => {
    expect(queueSignalText("boom")).toBe("boom");
    expect(queueSignalText({ at: "2026-01-01", attempt: 1, error: "** (Ecto.CastError) x" })).toBe(
      "** (Ecto.CastError) x",
    );
  });
  it("returns null for nothing or an object without a string error", () => {
    expect(queueSignalText(null)).toBeNull();
    expect(queueSignalText(undefined)).toBeNull();
    expect(queueSignalText({ at: "x", attempt: 429, error: { nested: "timeout" } })).toBeNull();
  });
  it("stringifies other shapes", () => {
    expect(queueSignalText(429)).toBe("429");
    expect(queueSignalText(["timeout"])).toBe('["timeout"]');
  });
});

describe("classifyQueueJob", () => {
  const err = (text: string) => ({ at: "2026-04-16T22:00:00Z", attempt: 3, error: text });

  it("reference e-commerce fixtures", () => {
    expect(classifyQueueJob("discarded", err('** (Ecto.CastError) cannot cast "abc" to integer'))).toBe(
      "validation",
    );
    expect(classifyQueueJob("retryable", err("** (Req.TransportError) timeout connecting to meili"))).toBe(
      "transport",
    );
    expect(classifyQueueJob("discarded", err("invalid_state: index is processing another task"))).toBe(
      "backend_rejected",
    );
    expect(classifyQueueJob("discarded", err("** (RuntimeError) boom"))).toBe("queue_exhausted");
    expect(classifyQueueJob("retryable", err("** (RuntimeError) unclassified failure"))).toBe("unknown");
  });

  it("discarded delete with no errors → queue_exhausted", () => {
    expect(classifyQueueJob("discarded", undefined)).toBe("queue_exhausted");
    expect(classifyQueueJob("discarded", null)).toBe("queue_exhausted");
  });

  it("retryable and cancelled never become queue_exhausted", () => {
    expect(classifyQueueJob("retryable", null)).toBe("unknown");
    expect(classifyQueueJob("cancelled", null)).toBe("unknown");
    expect(classifyQueueJob("cancelled", err("{:invalid_job, :missing_index}"))).toBe("unknown");
  });

  it("a discarded job with a classifiable error keeps the text class", () => {
    expect(classifyQueueJob("discarded", "{:http_error, 503, %{}}")).toBe("transport");
  });
});
