// The bulk-retry confirmation card as a pure view (issue 16): the blast radius of up to 1,000 ids in
// counts and five samples (never the ids), the danger dialog, the progress line while it runs, the
// counts per outcome after, escaped and redacted, within Block Kit's limits in every state.
import { describe, expect, it } from "vitest";
import { OperatorError } from "../../src/errors.ts";
import { bulkEffect } from "../../src/operator/bulkRequest.ts";
import type { BulkRetryResult } from "../../src/operator/bulkRetry.ts";
import type { BulkPreview, RequestPreview } from "../../src/operator/requests.ts";
import { type CardState, CONFIRM_ACTIONS, confirmationCard, outcomeOf } from "../../views/confirm.ts";
import type { SlackMessage } from "../../views/types.ts";
import {
  buttons,
  expectSafe,
  HOSTILE,
  INDEX,
  NOW,
  SCHEMA,
  SECRET,
  viewContext,
  visibleText,
} from "./fixtures.ts";

const ID = "AbCdEfGhIjKlMnOpQrStUv";
const minutes = (m: number) => new Date(NOW.getTime() + m * 60_000);
/** The 1,000 failed ids a request stored, and the new job ids of their replays. */
const IDS = Array.from({ length: 1000 }, (_, i) => 70_001 + i);
const JOBS = IDS.map((id) => id + 500_000);

function bulk(over: Partial<BulkPreview> = {}): BulkPreview {
  const b: BulkPreview = {
    total: 1000,
    filter: { reasonClass: "transport", state: "all", since: "2026-11-20T08:00:00.000Z" },
    byClass: { transport: 1000 },
    byState: { discarded: 980, retryable: 20 },
    oldestFailure: "2026-11-20T08:01:00.000Z",
    newestFailure: "2026-11-20T09:59:00.000Z",
    sample: IDS.slice(-5)
      .reverse()
      .map((id, i) => ({
        id,
        state: i === 0 ? "retrying" : "failed",
        reasonClass: "transport",
        reason: `** (Req.TransportError) ${HOSTILE} api_key=${SECRET} ${"x".repeat(3000)}`,
        failedAt: "2026-11-20T09:59:00.000Z",
      })),
    excluded: { already_replayed: 4, not_retryable: 2 },
    queue: "search_sync",
    limit: 1000,
    retrying: 20,
    ...over,
  };
  return b;
}

function preview(b: BulkPreview = bulk()): RequestPreview {
  return {
    title: `Retry ${b.total.toLocaleString("en-US")} failed transport jobs in ${SCHEMA}`,
    schema: SCHEMA,
    index: INDEX,
    target: null,
    operation: null,
    documentCount: null,
    reasonClass: "transport",
    lastError: null,
    effect: bulkEffect(b, 100),
    danger: true,
    bulk: b,
  };
}

const pending: CardState = { status: "pending", requestedBy: "U0REQUEST", expiresAt: minutes(15) };
const decided = {
  requestedBy: "U0REQUEST",
  expiresAt: minutes(15),
  decidedBy: "U0DECIDE",
  decidedAt: minutes(2),
};

function result(over: Partial<BulkRetryResult> = {}): BulkRetryResult {
  return {
    replayed: IDS.slice(3).map((id, i) => ({ id, jobId: JOBS[i + 3] as number })),
    skipped: { already_replayed: 2, not_found: 1 },
    batches: 10,
    failedBatches: 0,
    notAttempted: 0,
    error: null,
    ...over,
  };
}

const card = (state: CardState, p = preview()) => confirmationCard(ID, p, state, viewContext());

/** How many of the stored ids (or their replays' ids) a message names. */
function idsNamed(message: SlackMessage): number {
  const json = JSON.stringify(message);
  return [...IDS, ...JOBS].filter((id) => json.includes(String(id))).length;
}

describe("the bulk-retry card", () => {
  it("pending: the blast radius in counts, five samples, exclusions, what happens, a danger dialog", () => {
    const m = card(pending);
    expectSafe(m, { allowedUsers: ["U0REQUEST"] });
    const text = visibleText(m);
    expect(m.text).toContain(`Retry 1,000 failed transport jobs in ${SCHEMA}`);
    for (const field of [
      "*Schema*",
      "*Index*",
      "*Queue*",
      "*Filter*",
      "*Jobs*",
      "*By state*",
      "*By class*",
    ]) {
      expect(text).toContain(field);
    }
    expect(text).toContain("`search_sync`");
    expect(text).toMatch(/class `transport` · state all · failed since <!date\^\d+\^/);
    expect(text).toContain("terminal (`discarded`): 980");
    expect(text).toContain("retrying (`retryable`): 20");
    expect(text).toContain("1,000 (limit 1,000)");
    expect(text).toMatch(/oldest <!date\^\d+\^[^>]+>\nnewest <!date\^\d+\^/);
    expect(text).toContain(
      "*Reason class `transport`:* network, timeout or HTTP 401/403/408/429/5xx — a single retry may help once the backend answers",
    );
    expect(text).toContain("Sample: 5 of 1,000, newest jobs first");
    expect(text).toContain("6 matching rows were left out: 4 already replayed, 2 not retryable");
    expect(text).toContain(
      "Inserts 1,000 new Oban jobs in queue search_sync, available now, in batches of 100 (each one transaction); the failed jobs stay as they are.",
    );
    expect(text).toContain("the failed jobs stay as they are");
    expect(text).toContain("20 of them are retrying: Oban will also run those originals again by itself");
    // The samples' errors: escaped, redacted, bounded.
    expect(text).not.toContain("<!channel>");
    expect(text).toContain("&lt;!channel&gt;");
    expect(text).not.toContain("x".repeat(200));
    // Five ids, never the 1,000.
    expect(idsNamed(m)).toBe(5);
    const [confirm] = buttons(m).filter((b) => b.action_id === CONFIRM_ACTIONS.confirm);
    expect(confirm?.style).toBe("danger");
    expect(confirm?.confirm?.title?.text).toContain("Retry 1,000 failed transport jobs");
  });

  it("executing: the progress line, in the fallback text too", () => {
    const m = card({ ...decided, status: "executing", progress: { done: 400, total: 812, skipped: 3 } });
    expectSafe(m, { allowedUsers: ["U0DECIDE", "U0REQUEST"] });
    expect(visibleText(m)).toContain("400 of 812 · 3 skipped");
    expect(m.text).toContain("400 of 812 · 3 skipped");
    expect(buttons(m)).toEqual([]);
    expect(visibleText(card({ ...decided, status: "executing" }))).not.toMatch(/ of 812/);
  });

  it("done: counts per outcome (replayed, skipped by reason), accepted is not searchable, no ids", () => {
    const m = card({
      ...decided,
      status: "done",
      outcome: outcomeOf({ kind: "bulk_retry", result: result() }),
    });
    expectSafe(m, { allowedUsers: ["U0DECIDE", "U0REQUEST"] });
    const text = visibleText(m);
    expect(m.text).toContain("Bulk retry accepted · 997 of 1,000 replayed as new jobs, 3 skipped");
    expect(text).toContain("Replayed: 997");
    expect(text).toContain("Skipped: 3 (2 already replayed, 1 not found)");
    expect(text).toContain("Accepted is not searchable");
    expect(text).toContain("The thread follows the new jobs and checks a sample of their documents");
    expect(idsNamed(m)).toBe(5);
  });

  it("done with every row skipped: nothing was replayed, so no thread follow-up is promised", () => {
    const m = card({
      ...decided,
      status: "done",
      outcome: outcomeOf({ kind: "bulk_retry", result: result({ replayed: [] }) }),
    });
    const text = visibleText(m);
    expect(text).toContain("Nothing was replayed; check `/scrypath failed");
    expect(text).not.toContain("The thread follows");
  });

  it("a failed batch: how many were replayed, not attempted and why, and to ask again for the rest", () => {
    const stopped = result({
      replayed: IDS.slice(0, 400).map((id, i) => ({ id, jobId: JOBS[i] as number })),
      skipped: {},
      failedBatches: 1,
      notAttempted: 600,
      error: new OperatorError(
        "postgres_unreachable",
        `Postgres at db:5432 did not answer ${HOSTILE}`,
        "postgres",
      ),
    });
    const m = card({
      ...decided,
      status: "failed",
      outcome: outcomeOf({ kind: "bulk_retry", result: stopped }),
    });
    expectSafe(m, { allowedUsers: ["U0DECIDE", "U0REQUEST"] });
    const text = visibleText(m);
    expect(m.text).toMatch(/^Failed: .* — Bulk retry stopped · 400 of 1,000 replayed, 600 not attempted/);
    expect(text).toContain("Not attempted: 600, because a batch failed: Postgres at db:5432 did not answer");
    expect(text).toContain("Ask again for the rest: rows already replayed are left out.");
    expect(text).not.toContain("<!channel>");
    expect(idsNamed(m)).toBe(5);
  });

  it("stays within Block Kit's limits in every state, whatever the counts", () => {
    const wide = bulk({
      byState: { discarded: 500, cancelled: 300, retryable: 200 },
      excluded: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`reason_${i}_${HOSTILE}`, i + 1])),
    });
    for (const status of ["pending", "executing", "done", "failed", "cancelled", "expired"] as const) {
      const state: CardState =
        status === "pending"
          ? pending
          : {
              ...decided,
              status,
              ...(status === "executing" ? { progress: { done: 1000, total: 1000, skipped: 999 } } : {}),
              ...(status === "done" || status === "failed"
                ? { outcome: outcomeOf({ kind: "bulk_retry", result: result() }) }
                : {}),
            };
      const m = card(state, preview(wide));
      expectSafe(m, { allowedUsers: ["U0DECIDE", "U0REQUEST"] });
      expect(idsNamed(m)).toBe(5);
    }
  });
});
