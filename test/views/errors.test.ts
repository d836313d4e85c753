import { describe, expect, it } from "vitest";
import { backendErrorView, sharedContext, workingView } from "../../views/errors.ts";
import { expectSafe, HOSTILE, SECRET, visibleText } from "./fixtures.ts";

describe("backendErrorView", () => {
  it("names Meilisearch, what to check, and that the plane is unknown", () => {
    const m = backendErrorView(
      {
        code: "meilisearch_unreachable",
        backend: "meilisearch",
        message:
          "Meilisearch at http://search:7700 is unreachable (connection failed); check meilisearch.url",
      },
      { verb: "status", schema: "posts" },
    );
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":x: *Meilisearch did not answer* `/scrypath status posts`");
    expect(text).toContain("is unreachable (connection failed)");
    expect(text).toContain("`meilisearch.url`");
    expect(text).toContain("backend plane (Meilisearch tasks) is unknown, not zero");
    expect(m.text).toMatch(/^Meilisearch: \/scrypath status posts failed: /);
  });

  it("points at the API key's permissions on an auth failure", () => {
    const m = backendErrorView(
      {
        code: "meilisearch_auth",
        backend: "meilisearch",
        message: "Meilisearch refused the API key (invalid_api_key)",
      },
      { verb: "drift", schema: "posts" },
    );
    expectSafe(m);
    expect(visibleText(m)).toContain("`meilisearch.apiKey`");
    expect(visibleText(m)).toContain("`tasks.get`");
  });

  it("names PostgreSQL and the Oban prefix when the tables are missing", () => {
    const m = backendErrorView(
      { code: "oban_tables_missing", backend: "postgres", message: "the Oban tables are missing at db/app" },
      { verb: "failed", schema: "posts" },
    );
    expectSafe(m);
    expect(visibleText(m)).toContain("*PostgreSQL did not answer*");
    expect(visibleText(m)).toContain("`database.obanPrefix`");
    expect(visibleText(m)).toContain("queue plane (Oban jobs) is unknown, not zero");
  });

  it("escapes and redacts the message, and copes with an unknown backend and code", () => {
    const m = backendErrorView(
      {
        code: "something_new",
        backend: null,
        message: `${HOSTILE} postgres://bot:hunter2@db/app api_key=${SECRET} ${"z".repeat(10_000)}`,
      },
      { verb: "<!channel>" },
    );
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain("`/scrypath &lt;!channel&gt;` *could not finish*");
    expect(text).not.toContain("hunter2");
    expect(text).toContain("Try again in a minute");
    expect(text).toMatch(/more characters\)/);
  });
});

describe("workingView", () => {
  it("says which command is still running", () => {
    const m = workingView("failed", "posts");
    expectSafe(m);
    expect(m.text).toBe("Still working on /scrypath failed posts…");
    expect(visibleText(m)).toContain("Still working on `/scrypath failed posts`…");
    expect(workingView("status").text).toBe("Still working on /scrypath status…");
  });
});

describe("sharedContext", () => {
  it("mentions a real user id and escapes anything else", () => {
    expect(sharedContext("U0123ABC").text).toBe("Requested by <@U0123ABC>");
    expect(sharedContext("W9").text).toBe("Requested by <@W9>");
    expect(sharedContext("<!channel>").text).toBe("Requested by `&lt;!channel&gt;`");
    expect(sharedContext("U123> <!channel").text).not.toContain("<!");
    expect(sharedContext("u0123abc").text).toBe("Requested by `u0123abc`");
  });
});
