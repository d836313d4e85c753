import { describe, expect, it } from "vitest";
import { countReasonClasses, emptyCounts } from "../../src/core/rollup.ts";
import type { ReasonClass } from "../../src/core/types.ts";
import { BACKEND_NO_REPLAY, FAILED_PAGE_SIZE, failedView } from "../../views/failed.ts";
import { ACTIONS, type BulkRetryRequestValue, type OpenValue, REQUEST_ACTIONS } from "../../views/types.ts";
import {
  backendRow,
  buttons,
  expectSafe,
  failedResult,
  hostileRow,
  queueRow,
  SCHEMA,
  SECRET,
  thousandRows,
  viewContext,
  visibleText,
} from "./fixtures.ts";

const opts = (over: Partial<Parameters<typeof failedView>[1]> = {}) => ({
  ...viewContext(),
  page: 1,
  pageSize: FAILED_PAGE_SIZE,
  ...over,
});

const sections = (m: ReturnType<typeof failedView>) =>
  m.blocks.filter((b) => b.type === "section").map((b) => (b.type === "section" ? (b.text?.text ?? "") : ""));

describe("failedView", () => {
  it("says so when there is nothing to triage", () => {
    const m = failedView(failedResult([]), opts());
    expectSafe(m);
    expect(visibleText(m)).toContain(":white_check_mark: No failed sync work for this schema");
    expect(m.text).toBe(`${SCHEMA}: No failed sync work for this schema`);
    expect(buttons(m).map((b) => b.text.text)).toEqual(["Status"]);
  });

  it("leads with the count, the class rollup in canonical order, and the dominant class", () => {
    const rows = [
      backendRow(),
      queueRow(),
      queueRow({ id: 605, state: "retryable" }),
      queueRow({ id: 606, lastError: { error: "** (Ecto.CastError) cannot cast" } }),
    ];
    const m = failedView(failedResult(rows), opts());
    expectSafe(m);
    const text = visibleText(m);
    expect(m.blocks[0]?.type).toBe("header");
    // One retrying row of four: the headline counts the three terminal ones that need a person.
    expect(text).toContain(":rotating_light: 3 terminal failures need triage");
    expect(text).toContain("*4 failed rows · 1 retrying · 3 need triage*");
    const rollup = /```\n([\s\S]*?)\n```/.exec(text)?.[1] ?? "";
    expect(rollup.split("\n").map((l) => l.split(" ")[0])).toEqual([
      "transport",
      "validation",
      "backend_rejected",
      "queue_exhausted",
      "unknown",
    ]);
    expect(rollup).toMatch(/transport\s+█████░░░░░\s+50%\s+2/);
    expect(rollup).toMatch(/validation\s+█████░░░░░\s+50%\s+2/);
    expect(rollup).toMatch(/unknown\s+░{10}\s+0%\s+0/);
    expect(text).toContain("*Dominant reason:* `transport` (50%)");
    expect(m.text).toContain("(mostly transport)");
  });

  it("renders one compact section per row with id, source, state, class, error, attempts and age", () => {
    const m = failedView(failedResult([backendRow(), queueRow()]), opts());
    expectSafe(m);
    const [backend, queue] = sections(m).filter((s) => s.startsWith("*`"));
    expect(backend).toContain("*`meilisearch:403`* · upsert · terminal · validation · retryable: no");
    expect(backend).toContain("failed 2 h ago · task `documentAdditionOrUpdate` on `prod_posts`");
    expect(backend).toContain("> Document `42` has an invalid `_geo` field");
    expect(backend).toContain(`_${BACKEND_NO_REPLAY}._`);
    expect(backend).not.toContain("oban.example.com");

    expect(queue).toContain("*`oban:601`* · upsert · terminal · transport · retryable: yes");
    expect(queue).toContain("attempt 3/20 · failed 4 min ago · queue `search_sync`");
    expect(queue).toContain("> ** (Req.TransportError) timeout connecting to https://search.internal:7700");
    expect(queue).toContain("<https://oban.example.com/jobs/601?queue=search_sync|Open job in dashboard>");
    expect(queue).not.toContain(BACKEND_NO_REPLAY);
  });

  it("shows what a replay became", () => {
    const row = {
      ...queueRow(),
      replayedAs: {
        jobId: 1234,
        state: "completed",
        requestedBy: "U1",
        at: new Date("2026-11-20T09:58:00Z"),
      },
    };
    const gone = {
      ...queueRow({ id: 700 }),
      replayedAs: { jobId: 1300, state: null, requestedBy: "U1", at: new Date("2026-11-19T10:00:00Z") },
    };
    const m = failedView(failedResult([row, gone]), opts());
    expectSafe(m);
    expect(visibleText(m)).toContain(
      ":white_check_mark: replayed as #1234 · completed · *resolved* 2 min ago",
    );
    expect(visibleText(m)).toContain(":repeat: replayed as #1300 · no longer in oban_jobs 24 h ago");
    // Closure: the completed replay resolved its row; the pruned one is still counted as needing triage.
    expect(visibleText(m)).toContain(":rotating_light: 1 terminal failure needs triage");
    expect(visibleText(m)).toContain("*2 failed rows · 1 resolved by replay · 1 needs triage*");
  });

  it("says verified once a follower observed the replay's documents, and counts it resolved", () => {
    const at = new Date("2026-11-20T09:58:00Z");
    const verified = {
      ...queueRow(),
      replayedAs: { jobId: 25, state: "completed", verification: "verified" as const, requestedBy: "U1", at },
    };
    // Oban pruned the verified replay job since: the recorded verdict still tells how it ended.
    const prunedVerified = {
      ...queueRow({ id: 700 }),
      replayedAs: { jobId: 26, state: null, verification: "verified" as const, requestedBy: "U1", at },
    };
    // Completed, documents not observed in time: completed, not verified.
    const queueOnly = {
      ...queueRow({ id: 701 }),
      replayedAs: {
        jobId: 27,
        state: "completed",
        verification: "queue_only_completed" as const,
        requestedBy: "U1",
        at,
      },
    };
    // A verdict never outranks the job's own state: a retried-again job is pending again.
    const pendingAgain = {
      ...queueRow({ id: 702 }),
      replayedAs: { jobId: 28, state: "available", verification: "verified" as const, requestedBy: "U1", at },
    };
    const m = failedView(failedResult([verified, prunedVerified, queueOnly, pendingAgain]), opts());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":white_check_mark: replayed as #25 · verified · *resolved* 2 min ago");
    expect(text).toContain(":white_check_mark: replayed as #26 · verified · *resolved* 2 min ago");
    expect(text).toContain(":white_check_mark: replayed as #27 · completed · *resolved* 2 min ago");
    expect(text).toContain(":repeat: replayed as #28 · available 2 min ago");
    expect(text).toContain("*4 failed rows · 3 resolved by replay (2 verified) · 1 needs triage*");
    expect(text).toContain("replayed by the bot 4: 1 pending, 1 completed, 2 verified");
  });

  it("escapes, redacts and cuts hostile error text, and never shows job args", () => {
    const row = hostileRow();
    // The row's replay payload carries the raw key; the view must not render it.
    expect(JSON.stringify(row.recovery?.reference?.payload)).toContain(SECRET);
    const m = failedView(failedResult([row]), opts());
    expectSafe(m);
    const section = sections(m).find((s) => s.startsWith("*`oban:602`")) ?? "";
    expect(section).toContain("&lt;!channel&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt; &amp;");
    expect(section).toContain("api_key=[REDACTED] ");
    expect(section).not.toContain("]]");
    expect(section).toContain("Bearer [REDACTED]");
    expect(section).not.toContain("meilisearch_api_key");
    const quote = section.split("\n").find((l) => l.startsWith("> ")) ?? "";
    expect(quote.replace(/&[a-z]+;/g, "_").length).toBeLessThanOrEqual(205);
    expect(quote.endsWith("…")).toBe(true);
  });

  it("keeps unicode intact in errors and names", () => {
    const row = queueRow({ id: 610, lastError: { error: `Crème brûlée 🍮 ${"é🍮".repeat(200)}` } });
    const m = failedView(failedResult([row]), opts());
    expectSafe(m);
    expect(visibleText(m)).toContain("> Crème brûlée 🍮 é🍮");
  });

  it("shows one page of a 1,000-row result, with Next carrying the cursor and filters", () => {
    const all = thousandRows();
    const result = failedResult(all.slice(0, FAILED_PAGE_SIZE), {
      counts: countReasonClasses(all),
      nextCursor: "o8990",
      backendCoverage: { total: 100, classified: 100 },
    });
    const m = failedView(result, opts({ reasonClass: "validation", source: "oban" }));
    expectSafe(m);
    expect(m.blocks.length).toBeLessThanOrEqual(25);
    const text = visibleText(m);
    expect(text).toContain("1,000 failed rows with these filters");
    expect(sections(m).filter((s) => s.startsWith("*`")).length).toBe(FAILED_PAGE_SIZE);
    expect(text).toContain("*Page 1* · rows 1–10 of 1,000");
    expect(text).toContain("Filters: class `validation`, source `oban` · page 1");

    const next = buttons(m).find((b) => b.text.text.startsWith("Next"));
    expect(next?.action_id).toBe(ACTIONS.page);
    expect(JSON.parse(next?.value ?? "") as OpenValue).toEqual({
      schema: SCHEMA,
      page: 2,
      cursor: "o8990",
      reasonClass: "validation",
      source: "oban",
    });
    expect(buttons(m).some((b) => b.text.text.includes("Previous"))).toBe(false);
  });

  it("never shows more than a page even when handed 1,000 entries", () => {
    const all = thousandRows();
    const m = failedView(failedResult(all, { nextCursor: "o1" }), opts({ page: 3, pageSize: 500 }));
    expectSafe(m);
    expect(m.blocks.length).toBeLessThan(50);
    expect(sections(m).filter((s) => s.startsWith("*`")).length).toBe(20);
    expect(visibleText(m)).toContain("980 more rows on this page not shown");
  });

  it("offers Previous without a cursor on later pages, and no Next on the last", () => {
    const m = failedView(
      failedResult([queueRow()], { counts: countReasonClasses(thousandRows()) }),
      opts({ page: 4 }),
    );
    expectSafe(m);
    const prev = buttons(m).find((b) => b.text.text.includes("Previous"));
    expect(JSON.parse(prev?.value ?? "")).toEqual({ schema: SCHEMA, page: 3 });
    expect(buttons(m).some((b) => b.text.text.startsWith("Next"))).toBe(false);
    expect(visibleText(m)).toContain("*Page 4* · rows 31–31 of 1,000 · last page");
    // Both page buttons share ACTIONS.page, so they never sit in one actions block.
    for (const b of m.blocks) {
      if (b.type !== "actions") continue;
      const ids = b.elements.map((e) => ("action_id" in e ? e.action_id : null));
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it("marks a partial result: the unread backend is unknown, not zero", () => {
    const m = failedView(
      failedResult([queueRow()]),
      opts({
        partial: { backend: "meilisearch", message: "Meilisearch at http://m is unreachable <!channel>" },
      }),
    );
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":warning: *Meilisearch could not be read:*");
    expect(text).toContain("backend plane (Meilisearch tasks) is unknown, not zero");
    expect(text).toContain("&lt;!channel&gt;");
    expect(m.text).toContain("partial");
    expect(text).toContain("1 failed row in what could be read");

    const none = failedView(failedResult([]), opts({ partial: { backend: "meilisearch", message: "down" } }));
    expectSafe(none);
    expect(visibleText(none)).toContain(":warning: No failed sync work in what could be read");
    expect(visibleText(none)).not.toContain("No failed sync work for this schema");
  });

  it("says when only part of the failed backend tasks were classified", () => {
    const m = failedView(
      failedResult([backendRow()], { backendCoverage: { total: 12_000, classified: 10_000 } }),
      opts(),
    );
    expectSafe(m);
    expect(visibleText(m)).toContain("Only 10,000 of 12,000 failed Meilisearch tasks were classified");
  });

  it("renders without dashboard links and with a shared requester", () => {
    const m = failedView(failedResult([queueRow()]), opts({ dashboardLinks: {}, sharedBy: "W0XYZ" }));
    expectSafe(m, { allowedUsers: ["W0XYZ"] });
    expect(visibleText(m)).not.toContain("Open job in dashboard");
    expect(visibleText(m)).toContain("Requested by <@W0XYZ>");
  });
});

describe("failedView: Retry all N <class>…", () => {
  /** The operator's per-class figure of terminal rows a bulk retry takes. */
  const bulk = (byClass: Partial<Record<ReasonClass, number>>) => {
    const counts = emptyCounts();
    for (const [cls, n] of Object.entries(byClass)) {
      counts.byClass[cls as ReasonClass] = n;
      counts.total += n;
    }
    return { bulkRetryable: counts, bulkRetryLimit: 1000 };
  };
  const rows = [
    backendRow(),
    queueRow(),
    queueRow({ id: 606, lastError: { error: "** (Ecto.CastError) cannot cast" } }),
  ];
  const bulkButtons = (m: ReturnType<typeof failedView>) =>
    buttons(m).filter((b) => b.action_id === REQUEST_ACTIONS.bulkRetry);

  it("offers one per class with rows to replay, under the rollup, in canonical order, carrying schema, class and state", () => {
    const m = failedView(failedResult(rows, bulk({ validation: 3, transport: 812 })), opts());
    expectSafe(m);
    const found = bulkButtons(m);
    expect(found.map((b) => b.text.text)).toEqual(["Retry all 812 transport…", "Retry all 3 validation…"]);
    expect(found.map((b) => JSON.parse(b.value ?? "") as BulkRetryRequestValue)).toEqual([
      { schema: SCHEMA, reasonClass: "transport", state: "terminal" },
      { schema: SCHEMA, reasonClass: "validation", state: "terminal" },
    ]);
    // Each on its own class line, between the rollup and the rows, saying what N counts.
    const texts = sections(m);
    const rollupAt = texts.findIndex((t) => t.includes("*Dominant reason:*"));
    const lineAt = texts.findIndex((t) => t.startsWith("`transport` · 812 terminal rows to replay"));
    const firstRowAt = texts.findIndex((t) => t.startsWith("*`"));
    expect(rollupAt).toBeGreaterThanOrEqual(0);
    expect(lineAt).toBeGreaterThan(rollupAt);
    expect(firstRowAt).toBeGreaterThan(lineAt);
    expect(texts[lineAt]).toContain("replayable, not replayed yet");
    // Never two of one action_id in an actions block: they are accessories.
    for (const b of m.blocks) {
      if (b.type !== "actions") continue;
      expect(b.elements.some((e) => "action_id" in e && e.action_id === REQUEST_ACTIONS.bulkRetry)).toBe(
        false,
      );
    }
  });

  it("offers none for a class with nothing to replay, nor without the figure", () => {
    expect(bulkButtons(failedView(failedResult(rows, bulk({})), opts()))).toEqual([]);
    // A backend-only class: the failed Meilisearch task's class has no queue rows to replay.
    const backendOnly = failedView(failedResult([backendRow()], bulk({ transport: 0 })), opts());
    expect(bulkButtons(backendOnly)).toEqual([]);
    expect(bulkButtons(failedView(failedResult(rows), opts()))).toEqual([]);
    expect(bulkButtons(failedView(failedResult(rows, { bulkRetryable: null }), opts()))).toEqual([]);
  });

  it("follows the list's filters: only the filtered class, none for Meilisearch rows only", () => {
    const result = failedResult(rows, bulk({ transport: 2, validation: 1 }));
    const byClass = failedView(result, opts({ reasonClass: "validation" }));
    expectSafe(byClass);
    expect(bulkButtons(byClass).map((b) => b.text.text)).toEqual(["Retry all 1 validation…"]);
    expect(bulkButtons(failedView(result, opts({ source: "meilisearch" })))).toEqual([]);
    expect(bulkButtons(failedView(result, opts({ source: "oban" }))).length).toBe(2);
  });

  it("says a class is over the bulk retry limit instead of offering a request that would be refused", () => {
    const m = failedView(failedResult(rows, bulk({ transport: 5503, validation: 1000 })), opts());
    expectSafe(m);
    expect(bulkButtons(m).map((b) => b.text.text)).toEqual(["Retry all 1,000 validation…"]);
    expect(visibleText(m)).toContain(
      "`transport` · 5,503 terminal rows to replay (replayable, not replayed yet) — more than one bulk retry takes (1,000)",
    );
  });

  it("stays valid Block Kit with all five classes and a full page of rows", () => {
    const all = thousandRows();
    const m = failedView(
      failedResult(all.slice(0, 20), {
        counts: countReasonClasses(all),
        nextCursor: "o1",
        ...bulk({ transport: 999, validation: 1, backend_rejected: 20, queue_exhausted: 300, unknown: 7 }),
      }),
      opts({ page: 2, pageSize: 20 }),
    );
    expectSafe(m);
    expect(bulkButtons(m).map((b) => b.text.text)).toEqual([
      "Retry all 999 transport…",
      "Retry all 1 validation…",
      "Retry all 20 backend_rejected…",
      "Retry all 300 queue_exhausted…",
      "Retry all 7 unknown…",
    ]);
    expect(buttons(m).some((b) => b.text.text.startsWith("Next"))).toBe(true);
  });
});
