import { describe, expect, it } from "vitest";
import { REASON_CLASSES } from "../../src/core/types.ts";
import type { ReplayGroupObservation } from "../../src/operator/replayGroup.ts";
import { groupFigures, replayGroupReply } from "../../views/replayGroup.ts";
import { expectSafe, HOSTILE, INDEX, SCHEMA, viewContext, visibleText } from "./fixtures.ts";

const obs = (over: Partial<ReplayGroupObservation> = {}): ReplayGroupObservation => ({
  state: "following",
  total: 812,
  completed: 640,
  pending: 160,
  retrying: 0,
  failed: 12,
  failedByClass: { transport: 10, unknown: 2 },
  pruned: 0,
  sample: { sampled: 5, verified: 5 },
  index: INDEX,
  ...over,
});
const opts = { final: false, elapsedMs: 12_000, schema: SCHEMA };

describe("replayGroupReply: a bulk retry followed as a group in the thread", () => {
  it("states the figures on one line while following, and that accepted is not searchable", () => {
    const m = replayGroupReply(obs(), viewContext(), opts);
    expectSafe(m);
    expect(groupFigures(obs())).toBe(
      "812 replays · 640 completed · 160 pending · 12 failed (transport 10, unknown 2) · verified 5 of 5 sampled documents",
    );
    const text = visibleText(m);
    expect(text).toContain(groupFigures(obs()));
    expect(text).toContain("160 still pending: accepted is not searchable");
    expect(text).toContain("Following… 12 s so far; this reply updates in place");
    expect(m.text).toMatch(/accepted is not searchable/);
    expect(visibleText(replayGroupReply(obs({ retrying: 3 }), viewContext(), opts))).toContain(
      "160 pending (3 retrying)",
    );
  });

  it("ends completed with the sampled verification, never claiming every document", () => {
    const m = replayGroupReply(
      obs({ state: "completed", completed: 812, pending: 0, failed: 0, failedByClass: {} }),
      viewContext(),
      { ...opts, final: true },
    );
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(`Completed, 5 of 5 sampled documents verified in \`${INDEX}\`.`);
    expect(m.text).toBe(
      "Bulk retry completed: 812 replays · 812 completed · verified 5 of 5 sampled documents",
    );
    expect(text).not.toMatch(/all (documents|replays) (are )?(verified|searchable)/i);
    expect(text).toContain("Stopped following after 12 s");
  });

  it("lists the failed classes with a failed --class hint for each", () => {
    const m = replayGroupReply(obs({ state: "failed", completed: 800, pending: 0 }), viewContext(), {
      ...opts,
      final: true,
    });
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain("12 replays failed (transport 10, unknown 2)");
    expect(text).toContain(`\`/scrypath failed ${SCHEMA} --class transport\``);
    expect(text).toContain(`\`/scrypath failed ${SCHEMA} --class unknown\``);
    expect(text).not.toContain("--class validation");
    expect(text).toContain("5 of 5 sampled documents verified");
  });

  it("says what is known and what is not when following timed out", () => {
    const m = replayGroupReply(
      obs({ state: "timed_out", sample: { sampled: 5, verified: 3 } }),
      viewContext(),
      {
        ...opts,
        final: true,
        elapsedMs: 60_000,
      },
    );
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain("160 still pending after 60 s; accepted is not searchable.");
    expect(text).toContain("3 of 5 sampled documents verified");
    expect(text).toContain("12 replays failed");
    expect(m.text).toMatch(/^Bulk retry timed out: /);
  });

  it("says pruned replays have an unknown outcome", () => {
    const m = replayGroupReply(
      obs({ state: "unknown", completed: 800, pending: 0, failed: 0, failedByClass: {}, pruned: 12 }),
      viewContext(),
      { ...opts, final: true },
    );
    expectSafe(m);
    expect(visibleText(m)).toContain("12 replay jobs are no longer in `oban_jobs` (pruned, or deleted)");
    expect(visibleText(m)).toContain("12 pruned");
  });

  it("stays within Block Kit limits for 1,000 jobs with every class failing, and escapes what it is given", () => {
    const failedByClass = Object.fromEntries(REASON_CLASSES.map((c, i) => [c, 100 + i]));
    const failed = Object.values(failedByClass).reduce((a, b) => a + b, 0);
    for (const state of ["following", "failed", "timed_out"] as const) {
      const m = replayGroupReply(
        obs({
          state,
          total: 1000,
          completed: 1000 - failed - 40,
          pending: state === "failed" ? 0 : 40,
          failed,
          failedByClass,
          pruned: state === "failed" ? 40 : 0,
          index: HOSTILE,
        }),
        viewContext(),
        { ...opts, final: state !== "following", schema: HOSTILE },
      );
      expectSafe(m);
      expect(m.blocks.length).toBeLessThanOrEqual(5);
      const text = visibleText(m);
      for (const c of REASON_CLASSES) expect(text).toContain(`--class ${c}`);
      expect(text).not.toContain("<!channel>");
    }
  });
});
