// JSON-lines logs: shape, levels, redaction, and the Bolt Logger adapter.
import { LogLevel } from "@slack/bolt";
import { describe, expect, it } from "vitest";
import { boltLogger, createLogger } from "../src/log.ts";
import { configuredSecrets } from "../src/secrets.ts";
import { ALL_SECRETS, CREDENTIALS, NOT_SECRETS } from "./support/credentials.ts";

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

describe("the credential corpus in log lines", () => {
  it("no shape survives as message, field, error message, error cause or Bolt argument", () => {
    const { logger, lines } = capture({ level: "debug" });
    const bolt = boltLogger(logger);
    for (const c of CREDENTIALS) {
      logger.error(c.text, { detail: c.text, args: { nested: [c.text] } });
      logger.warn("job failed", { error: new Error(c.text, { cause: new Error(c.text) }) });
      bolt.error("http request failed", c.text, { body: c.text });
    }
    expect(lines).toHaveLength(CREDENTIALS.length * 3);
    const all = lines.join("\n");
    // JSON escapes quotes and backslashes: compare against the decoded strings too.
    const decoded = lines.map((l) => JSON.stringify(JSON.parse(l), null, 0)).join("\n");
    for (const secret of ALL_SECRETS) {
      expect(all).not.toContain(secret);
      expect(decoded).not.toContain(secret);
      expect(all).not.toContain(JSON.stringify(secret).slice(1, -1));
    }
  });

  it("keeps operator text that is not a secret", () => {
    const { logger, parsed } = capture();
    for (const text of NOT_SECRETS) logger.info(text);
    expect(parsed().map((l) => l.msg)).toEqual(NOT_SECRETS);
  });

  it("redacts the configured secrets literally: API key, and the passwords of database.url and meilisearch.url", () => {
    const config = {
      meilisearch: {
        url: "http://admin:m3ili%40Pw@meili:7700",
        apiKey: "plainApiKey42",
        timeoutMs: 1,
        taskWaitMs: 1,
      },
      database: { url: "postgres://bot:dbPw-s3cret@db:5432/app", obanPrefix: "public" },
    };
    const { logger, lines } = capture({
      secrets: configuredSecrets(config, { SLACK_SIGNING_SECRET: "signingS3cretValue" }),
    });
    // Out of URL context, where only the literal list can recognise them.
    logger.error("auth failed: m3ili@Pw / dbPw-s3cret / plainApiKey42 / signingS3cretValue");
    const all = lines.join("\n");
    for (const secret of ["m3ili@Pw", "dbPw-s3cret", "plainApiKey42", "signingS3cretValue"]) {
      expect(all).not.toContain(secret);
    }
  });

  it("strips terminal escapes and bidi overrides from what it writes", () => {
    const { logger, parsed } = capture();
    logger.error("\u001b[31mboom\u001b[0m in job \u202eevil\u202c", {
      error: new Error("\u001b]0;title\u0007x"),
    });
    const line = parsed()[0] as { msg: string; error: { message: string } };
    expect(line.msg).toBe("boom in job evil");
    expect(line.error.message).toBe("x");
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
