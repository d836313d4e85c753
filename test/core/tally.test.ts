import { describe, expect, it } from "vitest";
import { posture } from "../../src/core/posture.ts";
import {
  addTallies,
  REPLAY_VERDICTS,
  replayOutcome,
  replayOutcomeOf,
  resolvesRow,
  triageTally,
} from "../../src/core/tally.ts";

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
    expect(t.replayed).toEqual({ pending: 1, completed: 4, verified: 0, failed: 1, gone: 1, total: 7 });
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

  it("counts a verified replay as verified, and it resolves its row like a completed one", () => {
    const t = triageTally({
      backend: { failed: 0, pending: 0 },
      queue: queue(6, 2),
      replays: [
        { row: "terminal", replayState: "completed", verification: "verified", count: 2 },
        { row: "terminal", replayState: "completed", verification: "queue_only_completed", count: 1 },
        { row: "terminal", replayState: "completed", verification: null, count: 1 },
        // Pruned after it was verified: still verified. Pruned after it failed: still failed.
        { row: "terminal", replayState: null, verification: "verified", count: 1 },
        { row: "terminal", replayState: null, verification: "failed", count: 1 },
        { row: "retrying", replayState: "completed", verification: "verified", count: 1 },
        // A verdict never overrides a live job: running again (someone retried it) is pending.
        { row: "retrying", replayState: "available", verification: "verified", count: 1 },
      ],
    });
    expect(t.replayed).toEqual({ pending: 1, completed: 2, verified: 4, failed: 1, gone: 0, total: 8 });
    expect(t.resolved).toBe(6);
    // 6 terminal − 5 resolved (2 + 1 + 1 + 1); the failed replay's row still needs a person.
    expect(t.needsTriage).toBe(1);
    expect(t.retrying.total).toBe(1);
    expect(t.rows).toBe(t.resolved + t.retrying.total + t.needsTriage);
  });

  it("takes verified from the Oban state and the verdict together", () => {
    expect(replayOutcomeOf("completed", "verified")).toBe("verified");
    expect(replayOutcomeOf(null, "verified")).toBe("verified");
    expect(replayOutcomeOf("completed", "queue_only_completed")).toBe("completed");
    expect(replayOutcomeOf(null, "queue_only_completed")).toBe("completed");
    expect(replayOutcomeOf(null, "failed")).toBe("failed");
    expect(replayOutcomeOf(null, "timed_out")).toBe("gone");
    expect(replayOutcomeOf(null, null)).toBe("gone");
    for (const state of ["available", "executing", "retryable", "discarded", "cancelled"]) {
      expect(replayOutcomeOf(state, "verified")).toBe(replayOutcome(state));
    }
    expect(
      ["pending", "completed", "verified", "failed", "gone"].filter((o) => resolvesRow(o as never)),
    ).toEqual(["completed", "verified"]);
    // Weakest first: what a replica may replace.
    expect(REPLAY_VERDICTS.at(-1)).toBe("verified");
    expect(REPLAY_VERDICTS.indexOf("queue_only_completed")).toBeGreaterThan(
      REPLAY_VERDICTS.indexOf("timed_out"),
    );
  });

  it("adds verified counts, also to a stored tally from before verified existed", () => {
    const a = triageTally({
      backend: null,
      queue: queue(2, 0),
      replays: [{ row: "terminal", replayState: "completed", verification: "verified", count: 2 }],
    });
    const old = triageTally({ backend: null, queue: queue(1, 0), replays: [] });
    const { verified: _dropped, ...replayed } = old.replayed;
    const sum = addTallies([a, { ...old, replayed: replayed as typeof old.replayed }]);
    expect(sum.replayed).toMatchObject({ verified: 2, completed: 0, total: 2 });
    expect(sum).toMatchObject({ rows: 3, resolved: 2, needsTriage: 1 });
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
