import { describe, expect, it } from "vitest";
import { posture } from "../../src/core/posture.ts";
import { addTallies, replayOutcome, triageTally } from "../../src/core/tally.ts";

const queue = (terminal: number, retrying: number, pending = 0, nextRetryAt: Date | null = null) => ({
  terminal,
  retrying,
  pending,
  nextRetryAt,
});

describe("triageTally", () => {
  it("splits failed rows into resolved by replay, retrying and what needs triage", () => {
    const at = new Date("2026-11-20T10:05:00Z");
    const t = triageTally({
      backend: { failed: 2, pending: 1 },
      queue: queue(8, 3, 4, at),
      replays: [
        { row: "terminal", replayState: "completed", count: 3 },
        { row: "terminal", replayState: "available", count: 1 },
        { row: "terminal", replayState: "discarded", count: 1 },
        { row: "terminal", replayState: null, count: 1 },
        { row: "retrying", replayState: "completed", count: 1 },
      ],
    });
    expect(t.terminal).toEqual({ backend: 2, queue: 8, total: 10 });
    expect(t.rows).toBe(13);
    expect(t.resolved).toBe(4);
    // 10 terminal − 3 resolved; the pending, failed and pruned replays still need a person.
    expect(t.needsTriage).toBe(7);
    expect(t.retrying).toEqual({ total: 2, nextAt: at });
    expect(t.pending).toEqual({ backend: 1, queue: 4, total: 5 });
    expect(t.replayed).toEqual({ pending: 1, completed: 4, failed: 1, gone: 1, total: 7 });
    expect(t.rows).toBe(t.resolved + t.retrying.total + t.needsTriage);
  });

  it("says nothing needs a person once every terminal row is resolved", () => {
    const t = triageTally({
      backend: { failed: 0, pending: 0 },
      queue: queue(3, 0),
      replays: [{ row: "terminal", replayState: "completed", count: 3 }],
    });
    expect(t).toMatchObject({ rows: 3, resolved: 3, needsTriage: 0 });
  });

  it("keeps an unread plane unknown, and ignores replays when the queue was not read", () => {
    const t = triageTally({
      backend: null,
      queue: null,
      replays: [{ row: "terminal", replayState: "completed", count: 3 }],
    });
    expect(t.read).toEqual({ backend: false, queue: false });
    expect(t.resolved).toBe(0);
  });

  it("maps Oban states of a replay to its outcome", () => {
    expect(["available", "scheduled", "executing", "retryable", "suspended"].map(replayOutcome)).toEqual(
      Array(5).fill("pending"),
    );
    expect(replayOutcome("completed")).toBe("completed");
    expect(replayOutcome("discarded")).toBe("failed");
    expect(replayOutcome("cancelled")).toBe("failed");
    expect(replayOutcome(null)).toBe("gone");
  });

  it("adds tallies of several schemas, keeping the earliest retry", () => {
    const a = triageTally({
      backend: { failed: 1, pending: 0 },
      queue: queue(2, 1, 0, new Date(2000)),
      replays: [],
    });
    const b = triageTally({
      backend: { failed: 0, pending: 2 },
      queue: queue(0, 1, 0, new Date(1000)),
      replays: [],
    });
    const sum = addTallies([a, b]);
    expect(sum).toMatchObject({ rows: 5, needsTriage: 3, pending: { total: 2 } });
    expect(sum.retrying).toEqual({ total: 2, nextAt: new Date(1000) });
  });
});

describe("posture with closure", () => {
  it("counts only terminal failures no replay resolved, and says plainly when none is left", () => {
    const some = posture([{ schema: "A", ok: true, backendFailed: 1, queueFailed: 4, resolved: 3 }]);
    expect(some.state).toBe("degraded");
    expect(some.evidence[0]).toMatch(/^2 sync job\(s\) failed to apply .* \(3 more resolved by replay\)/);
    const none = posture([{ schema: "A", ok: true, backendFailed: 0, queueFailed: 3, resolved: 3 }]);
    expect(none.state).toBe("ok");
    expect(none.evidence[0]).toMatch(
      /^Nothing needs a person: .*3 terminal sync failure\(s\) were resolved by replay/,
    );
  });
});
