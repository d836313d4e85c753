import { describe, expect, it } from "vitest";
import { firstLine, isSecretKey, REDACTED, redactText, redactValue } from "../../src/core/redact.ts";

describe("isSecretKey", () => {
  it.each([
    "meilisearch_api_key",
    "api_key",
    "apiKey",
    "apikey",
    "MEILI_MASTER_KEY",
    "key",
    "token",
    "access_token",
    "slackBotToken",
    "client_secret",
    "secret",
    "password",
    "db_password",
    "passwd",
    "credentials",
    "authorization",
    "x-meili-api-key",
  ])("%s is secret", (key) => {
    expect(isSecretKey(key)).toBe(true);
  });

  it.each([
    "primary_key",
    "primaryKey",
    "document_key",
    "foreignKeys",
    "separatorTokens",
    "nonSeparatorTokens",
    "index",
    "document_ids",
    "keyboard",
    "monkey_business",
    "tokenizer",
    "author",
    "operation",
  ])("%s is not secret", (key) => {
    expect(isSecretKey(key)).toBe(false);
  });
});

describe("redactValue", () => {
  it("redacts secret keys deeply and leaves the input untouched", () => {
    const args = {
      operation: "upsert",
      index: "scrypath_post",
      meilisearch_api_key: "masterKey123",
      meilisearch_url: "http://admin:hunter2@meili:7700",
      documents: [{ id: 1, data: { title: "x", token: "abc" } }],
      primary_key: "id",
    };
    const out = redactValue(args) as typeof args;
    expect(out.meilisearch_api_key).toBe(REDACTED);
    expect(out.documents[0]?.data.token).toBe(REDACTED);
    expect(out.primary_key).toBe("id");
    expect(out.operation).toBe("upsert");
    expect(out.meilisearch_url).toBe(`http://admin:${REDACTED}@meili:7700`);
    expect(args.meilisearch_api_key).toBe("masterKey123");
    expect(out).not.toBe(args);
  });

  it("keeps null/empty secret values visible as absent", () => {
    expect(redactValue({ api_key: null, token: "" })).toEqual({ api_key: null, token: "" });
  });

  it("passes scalars through", () => {
    expect(redactValue(5)).toBe(5);
    expect(redactValue(null)).toBe(null);
    expect(redactValue([1, "a"])).toEqual([1, "a"]);
  });
});

describe("redactText", () => {
  it("redacts bearer tokens", () => {
    const out = redactText("GET /tasks with Authorization: Bearer sk_live_abc.def-123 failed");
    expect(out).not.toContain("sk_live_abc");
    expect(out).toContain(`Bearer ${REDACTED}`);
  });

  it("redacts url passwords but keeps the user and host", () => {
    const out = redactText("** (Req.TransportError) http://user:p%40ss@meili.internal:7700/tasks");
    expect(out).toBe(`** (Req.TransportError) http://user:${REDACTED}@meili.internal:7700/tasks`);
  });

  it.each([
    ['"api_key": "abc123"', `"api_key": "${REDACTED}"`],
    ['meilisearch_api_key: "abc123"', `meilisearch_api_key: "${REDACTED}"`],
    ['%{"meilisearch_api_key" => "abc123"}', `%{"meilisearch_api_key" => "${REDACTED}"}`],
    ["url?api_key=abc123&x=1", `url?api_key=${REDACTED}&x=1`],
    ["password=hunter2 next", `password=${REDACTED} next`],
    ["token: 'abc'", `token: '${REDACTED}'`],
  ])("%s", (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });

  it("leaves non-secret pairs and plain text alone", () => {
    const text = 'primary_key=id timeout: 5000 "index": "scrypath_post" ** (RuntimeError) boom';
    expect(redactText(text)).toBe(text);
  });
});

describe("firstLine", () => {
  it("takes the first non-empty line, trimmed", () => {
    expect(firstLine("\n\n  ** (Ecto.CastError) bad  \n    stack line")).toBe("** (Ecto.CastError) bad");
  });
  it("truncates with an ellipsis", () => {
    const out = firstLine("x".repeat(500));
    expect(out).toHaveLength(300);
    expect(out.endsWith("…")).toBe(true);
    expect(firstLine("abcdef", 4)).toBe("abc…");
    expect(firstLine("abcd", 4)).toBe("abcd");
  });
  it("returns empty for blank text", () => {
    expect(firstLine("  \n ")).toBe("");
  });
});

describe("redactText is idempotent", () => {
  it("leaves already-redacted text as it is", () => {
    const once = redactText('api_key=sk-1 token: "t" Bearer abc https://u:p@h/x {"password": "p"}');
    expect(redactText(once)).toBe(once);
    expect(once).not.toMatch(/\]\]/);
  });
});
