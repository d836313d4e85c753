// JSON-lines logs: shape, levels, redaction, and the Bolt Logger adapter.
import { LogLevel } from "@slack/bolt";
import { describe, expect, it } from "vitest";
import { boltLogger, createLogger } from "../src/log.ts";

function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: string[] = [];
  const logger = createLogger({
    now: () => new Date("2026-11-20T10:00:00Z"),
    ...options,
    write: (l) => lines.push(l),
  });
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("createLogger", () => {
  it("writes one JSON object per line: level, time, msg, then fields", () => {
    const { logger, lines } = capture();
    logger.child({ requestId: "r1" }).info("answered", { verb: "status", durationMs: 12 });
    expect(lines).toEqual([
      '{"level":"info","time":"2026-11-20T10:00:00.000Z","msg":"answered","requestId":"r1","verb":"status","durationMs":12}',
    ]);
  });

  it("drops lines below the level", () => {
    const { logger, lines } = capture({ level: "warn" });
    logger.info("no");
    logger.debug("no");
    logger.warn("yes");
    expect(lines).toHaveLength(1);
  });

  it("never writes secrets: known values, Slack tokens, secret-named fields, URLs with passwords", () => {
    const { logger, lines } = capture({ secrets: ["sig-secret-123456"] });
    logger.error("failed with sig-secret-123456 and xoxb-1234-5678-abcdefgh", {
      apiKey: "masterKey123",
      url: "postgres://bot:hunter22@db:5432/app",
      response_url: "https://hooks.slack.com/commands/T1/123/abcdef",
      error: new Error("Authorization: Bearer abc.def.ghi"),
    });
    const all = lines.join("\n");
    const secrets = [
      "sig-secret-123456",
      "xoxb-1234",
      "masterKey123",
      "hunter22",
      "abc.def.ghi",
      "T1/123/abcdef",
    ];
    for (const secret of secrets) {
      expect(all).not.toContain(secret);
    }
    expect(all).toContain("[REDACTED]");
  });

  it("serialises errors with their stack", () => {
    const { logger, parsed } = capture();
    logger.error("boom", { error: new TypeError("bad", { cause: new Error("root") }) });
    const error = parsed()[0]?.error as Record<string, unknown>;
    expect(error).toMatchObject({ name: "TypeError", message: "bad", cause: { message: "root" } });
    expect(String(error.stack)).toContain("TypeError: bad");
  });
});

describe("boltLogger", () => {
  it("turns Bolt's variadic calls into JSON lines named by component", () => {
    const { logger, parsed } = capture({ level: "debug" });
    const bolt = boltLogger(logger, "bolt");
    bolt.setName("web-api:WebClient:0");
    bolt.warn("http request failed", "ECONNRESET", { url: "x" });
    bolt.error(new Error("listener threw"));
    expect(parsed()).toEqual([
      expect.objectContaining({
        level: "warn",
        msg: "http request failed ECONNRESET",
        logger: "web-api:WebClient:0",
        detail: { url: "x" },
      }),
      expect.objectContaining({ level: "error", msg: "listener threw", error: expect.any(Object) }),
    ]);
  });

  it("shares the level with the JSON logger", () => {
    const { logger } = capture();
    const bolt = boltLogger(logger);
    expect(bolt.getLevel()).toBe(LogLevel.INFO);
    bolt.setLevel(LogLevel.ERROR);
    expect(logger.level).toBe("error");
  });
});
