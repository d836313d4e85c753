import { describe, expect, it } from "vitest";
import { reindexVisibility } from "../../src/core/reconcile.ts";
import { triageTally } from "../../src/core/tally.ts";
import { reconcileView } from "../../views/reconcile.ts";
import { ACTIONS, REQUEST_ACTIONS } from "../../views/types.ts";
import {
  backendRow,
  buttons,
  cleanStatus,
  driftReport,
  expectSafe,
  HOSTILE,
  INDEX,
  queueRow,
  reconcileReport,
  SCHEMA,
  viewContext,
  visibleText,
} from "./fixtures.ts";

describe("reconcileView", () => {
  it("says plainly when every failed row was resolved by replay, and does not lead in red", () => {
    const report = reconcileReport({
      status: cleanStatus(SCHEMA),
      failed: [queueRow(), queueRow({ id: 605 })],
    });
    report.tally = triageTally({
      backend: { failed: 0, pending: 0 },
      queue: { terminal: 2, retrying: 0, pending: 0, nextRetryAt: null },
      replays: [{ row: "terminal", replayState: "completed", count: 2 }],
    });
    const m = reconcileView(report, viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(report.summary).toBe("Sync failures need attention");
    expect(text).not.toContain(":red_circle:");
    expect(m.text).toBe(
      `${SCHEMA}: Nothing needs a person · Reindex work is pending (2 failed rows · 2 resolved by replay · 0 need triage)`,
    );
    expect(text).toContain("Nothing here needs a person: replays resolved the terminal failures.");
    expect(text).toContain("replayed by the bot 2: 2 completed");
  });

  it("leads with the summary, then signals with their labels in order, rollup and actions", () => {
    const report = reconcileReport();
    const m = reconcileView(report, viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":red_circle: Sync failures need attention");
    expect(m.text).toBe(`${SCHEMA}: Sync failures need attention (3 failed rows · 3 need triage)`);
    const labels = [
      "Backend tasks pending — 1 task",
      "Queue jobs pending — 3 pending, 1 retrying",
      "Failed sync work — 3 failed rows · 3 need triage",
      "Reindex task history available — on `prod_posts__reindex`",
      "Reindex in progress",
    ];
    const at = labels.map((l) => text.indexOf(`• ${l}`));
    expect(at.every((i) => i >= 0)).toBe(true);
    expect(at).toEqual([...at].sort((a, b) => a - b));
    expect(text).not.toContain("Index swap pending");
    expect(text).toContain(
      "*Failed work:* 3 failed rows · 3 need triage — transport 2 · validation 1 (mostly transport)",
    );
    // Retry first, then the single repair action (reindex: a target task is processing).
    expect(text).toMatch(/1\. `retry\(ids=601,605\)` — replay each listed failed queue job/);
    expect(text).toMatch(/2\. `reindex` — rebuild into `prod_posts__reindex`, then swap it live/);
    expect(text).toContain("Recommendations only");
  });

  it("shows reindex visibility: live, target, task state, cutover, last task", () => {
    const m = reconcileView(reconcileReport(), viewContext());
    const text = visibleText(m);
    expect(text).toContain("*Live index*\n`prod_posts`");
    expect(text).toContain("*Target index*\n`prod_posts__reindex`");
    expect(text).toContain("*Task state*\npending");
    expect(text).toContain("*Cutover*\nnot started");
    expect(text).toContain("*Last task*\n#701 `documentAdditionOrUpdate` (processing)");
  });

  it("shortens a long retry list and says how many more", () => {
    const failed = Array.from({ length: 150 }, (_, i) => queueRow({ id: 1000 + i }));
    const report = { ...reconcileReport({ failed }), retryableTotal: 420 };
    const m = reconcileView(report, viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain("`retry(ids=1000,1001,1002,1003,1004,1005,1006,1007,…)` and 412 more");
  });

  it("recommends backfill when failed work exists without reindex activity", () => {
    const quietReindex = reindexVisibility(INDEX, `${INDEX}__reindex`, {
      total: 0,
      anyPending: false,
      anyFailed: false,
      anySwap: false,
      anySwapSucceeded: false,
      lastTask: null,
    });
    const base = reconcileReport({ failed: [backendRow()] });
    const report = {
      ...base,
      reindex: quietReindex,
      actions: [
        {
          ...base.actions[0],
          kind: "backfill" as const,
          index: INDEX,
          reference: null,
          schema: SCHEMA,
          backend: "meilisearch",
          mode: "oban" as const,
          operation: "unknown" as const,
        },
      ],
    };
    const m = reconcileView(report, viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toMatch(/1\. `backfill` — re-send the schema's documents to the live index `prod_posts`/);
    expect(text).not.toContain("retry(");
    expect(text).toContain("*Last task*\nnone observed");
    expect(text).toContain("idle (no task history)");
  });

  it("warns that reindex stays recommended after a completed swap", () => {
    const base = reconcileReport();
    const report = {
      ...base,
      reindex: { ...base.reindex, cutover: "completed" as const, taskState: "completed" as const },
    };
    const text = visibleText(reconcileView(report, viewContext()));
    expect(text).toContain("A completed swap is still in task history");
  });

  it("says the quiet case plainly", () => {
    const st = cleanStatus(SCHEMA);
    const report = reconcileReport({ status: st, failed: [] });
    const quiet = {
      ...report,
      reindex: { ...report.reindex, observed: false, taskState: "idle" as const, lastTask: null },
      driftSignals: [],
      actions: [],
      summary: "No pending or failed sync work found",
    };
    const m = reconcileView(quiet, viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":large_green_circle: No pending or failed sync work found");
    expect(text).toContain("*Signals:* none");
    expect(text).toContain("*Failed work:* none");
    expect(text).toContain("*Recommended actions:* none");
    expect(text).not.toContain("Recommendations only");
  });

  it("adds the contract drift count when the report includes it", () => {
    const drifted = driftReport({
      searchableAttributes: ["title"],
      filterableAttributes: ["status"],
      sortableAttributes: [],
    });
    const m = reconcileView({ ...reconcileReport(), indexContractDrift: drifted }, viewContext());
    expectSafe(m);
    expect(visibleText(m)).toMatch(
      /:warning: \*Index contract:\* \d of 5 differ \(fields, filterable_attributes/,
    );
  });

  it("escapes backend-supplied task types and offers Failed work and Contract drift", () => {
    const base = reconcileReport();
    const report = {
      ...base,
      reindex: { ...base.reindex, lastTask: { id: 9, state: "failed" as const, type: HOSTILE } },
    };
    const m = reconcileView(report, viewContext({ sharedBy: "U42" }));
    expectSafe(m, { allowedUsers: ["U42"] });
    expect(visibleText(m)).toContain("&lt;!channel&gt;");
    // Request buttons (Retry…, Reindex…, Swap…) ride on their action rows; the reads sit together.
    const bs = buttons(m).filter((b) => b.action_id !== REQUEST_ACTIONS.action);
    expect(bs.map((b) => b.action_id)).toEqual([ACTIONS.openFailed, ACTIONS.openDrift]);
    expect(JSON.parse(bs[0]?.value ?? "")).toEqual({ schema: SCHEMA });
    expect(bs[0]?.style).toBe("primary");
  });
});
