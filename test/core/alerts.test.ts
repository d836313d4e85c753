import { describe, expect, it } from "vitest";
import {
  type AlertState,
  type AlertTimings,
  applyChange,
  cardModel,
  contentHash,
  decideAlert,
  dominantClass,
  evidenceEvents,
  isSnoozed,
  nextStreak,
  queueEvents,
  readCondition,
  stableJson,
  TIMELINE_MAX_POSTS,
  TIMELINE_QUEUE_MAX,
  timelineDue,
  watchesFor,
} from "../../src/core/alerts.ts";
import type {
  AlertEvidence,
  AlertSubscription,
  FailuresObservation,
  SchemaObservation,
  TimelineEvent,
} from "../../src/core/alertTypes.ts";

const T0 = new Date("2026-11-20T09:00:00Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const timings: AlertTimings = {
  resolveAfter: 300,
  unreadableAfter: 3,
  window: 900,
  stuckAfter: 600,
  timelineEvery: 120,
};
const sub = { minFailures: 1 };

function failures(recent: number, extra: Partial<FailuresObservation> = {}): FailuresObservation {
  return {
    terminal: recent,
    byClass: { transport: recent },
    needTriage: recent,
    recent,
    recentByClass: recent > 0 ? { transport: recent } : {},
    oldestRecentAt: recent > 0 ? T0.toISOString() : null,
    newest: null,
    replays: { total: 0, resolved: 0, verified: 0 },
    scope: "all",
    ...extra,
  };
}

function observation(extra: Partial<SchemaObservation> = {}, seconds = 0): SchemaObservation {
  return {
    schema: "MyApp.Blog.Post",
    alias: "posts",
    index: "prod_posts",
    checkedAt: at(seconds).toISOString(),
    failures: failures(0),
    drift: null,
    stuck: null,
    problems: [],
    fingerprint: "f",
    full: true,
    ...extra,
  };
}

const clean = { failedChecks: 0, since: null };
const read = (o: SchemaObservation, condition: "failures" | "drift" | "unreadable" | "stuck" = "failures") =>
  readCondition(condition, o, nextStreak(null, o), sub, timings);

function openAlert(evidence: AlertEvidence, extra: Partial<AlertState> = {}): AlertState {
  return {
    id: 1,
    channel: "C1",
    schema: "MyApp.Blog.Post",
    alias: "posts",
    index: "prod_posts",
    condition: evidence.condition,
    status: "open",
    openedAt: T0.toISOString(),
    clearingSince: null,
    resolvedAt: null,
    checkedAt: T0.toISOString(),
    evidence,
    mention: "S0ONCALL",
    acknowledgedBy: null,
    acknowledgedAt: null,
    snoozedUntil: null,
    snoozedUntilResolved: false,
    snoozedBy: null,
    recentBaseline: evidence.condition === "failures" ? evidence.recent : null,
    timeline: [],
    timelinePostedAt: null,
    timelinePosts: 0,
    ...extra,
  };
}

const failuresEvidence = (o: SchemaObservation) => read(o).evidence as AlertEvidence;

/** Runs a sequence of checks through the decisions, as the runner does. */
function run(alert: AlertState | null, checks: { seconds: number; obs: SchemaObservation }[]) {
  let current = alert;
  const decisions = [];
  for (const c of checks) {
    const d = decideAlert({ alert: current, reading: read(c.obs), now: at(c.seconds), timings });
    decisions.push(d);
    if (d.kind === "open") current = openAlert(d.evidence, { openedAt: at(c.seconds).toISOString() });
    if (d.kind === "update" && current) current = applyChange(current, d.change);
  }
  return { alert: current, decisions };
}

describe("reading a condition", () => {
  it("failures: true at minFailures recent rows, false below", () => {
    const o = observation({ failures: failures(3) });
    expect(readCondition("failures", o, clean, { minFailures: 3 }, timings).truth).toBe(true);
    expect(readCondition("failures", o, clean, { minFailures: 4 }, timings).truth).toBe(false);
    const e = readCondition("failures", o, clean, { minFailures: 3 }, timings).evidence;
    expect(e).toMatchObject({
      condition: "failures",
      recent: 3,
      dominant: "transport",
      minFailures: 3,
      windowSeconds: 900,
    });
  });

  it("failures: unknown when unreadable, and when Meilisearch was not counted and the count is below", () => {
    expect(read(observation({ failures: null })).truth).toBeNull();
    expect(read(observation({ failures: null })).evidence).toBeNull();
    expect(read(observation({ failures: failures(0, { scope: "queue" }) })).truth).toBeNull();
    // Oban's plane alone reaching the threshold proves it.
    expect(read(observation({ failures: failures(2, { scope: "queue" }) })).truth).toBe(true);
  });

  it("drift: differing dimensions; no contract is false, an unreadable index unknown", () => {
    expect(read(observation({ drift: { differing: ["filterable_attributes"] } }), "drift")).toEqual({
      truth: true,
      evidence: { condition: "drift", differing: ["filterable_attributes"] },
    });
    expect(read(observation({ drift: { differing: [] } }), "drift").truth).toBe(false);
    expect(read(observation({ drift: null }), "drift").truth).toBe(false);
    const down = observation({ drift: null, problems: [{ backend: "meilisearch", message: "down" }] });
    expect(read(down, "drift").truth).toBeNull();
  });

  it("unreadable: true from the unreadableAfter-th consecutive failed check", () => {
    const bad = observation({ problems: [{ backend: "postgres", message: "Postgres did not answer" }] });
    let streak = nextStreak(null, bad);
    expect(streak).toEqual({ failedChecks: 1, since: bad.checkedAt });
    expect(readCondition("unreadable", bad, streak, sub, timings).truth).toBe(false);
    streak = nextStreak(streak, observation({ problems: bad.problems }, 30));
    expect(streak).toEqual({ failedChecks: 2, since: bad.checkedAt });
    expect(readCondition("unreadable", bad, streak, sub, timings).truth).toBe(false);
    streak = nextStreak(streak, bad);
    const third = readCondition("unreadable", bad, streak, sub, timings);
    expect(third.truth).toBe(true);
    expect(third.evidence).toEqual({
      condition: "unreadable",
      problems: bad.problems,
      failedChecks: 3,
      since: bad.checkedAt,
    });
    // A clean check resets the streak.
    expect(nextStreak(streak, observation())).toEqual({ failedChecks: 0, since: null });
  });

  it("stuck: pending older than stuckAfter; off without stuckAfter; unknown when Postgres is unreadable", () => {
    const old = observation({ stuck: { pending: 4, oldestPendingAt: at(-600).toISOString() } });
    expect(read(old, "stuck")).toEqual({
      truth: true,
      evidence: {
        condition: "stuck",
        pending: 4,
        oldestPendingAt: at(-600).toISOString(),
        stuckAfterSeconds: 600,
      },
    });
    const young = observation({ stuck: { pending: 4, oldestPendingAt: at(-599).toISOString() } });
    expect(read(young, "stuck").truth).toBe(false);
    expect(read(observation({ stuck: { pending: 0, oldestPendingAt: null } }), "stuck").truth).toBe(false);
    expect(readCondition("stuck", old, clean, sub, { ...timings, stuckAfter: null }).truth).toBe(false);
    const down = observation({ stuck: null, problems: [{ backend: "postgres", message: "down" }] });
    expect(read(down, "stuck").truth).toBeNull();
    expect(read(observation({ stuck: null }), "stuck").truth).toBe(false);
  });

  it("the dominant class is the most frequent, ties in canonical order", () => {
    expect(dominantClass({})).toBeNull();
    expect(dominantClass({ validation: 2, transport: 2 })).toBe("transport");
    expect(dominantClass({ validation: 3, transport: 2, unknown: 3 })).toBe("validation");
  });
});

describe("deciding an alert", () => {
  it("opens when the condition becomes true, and does nothing while it is not", () => {
    expect(decideAlert({ alert: null, reading: read(observation()), now: T0, timings })).toEqual({
      kind: "none",
    });
    expect(
      decideAlert({ alert: null, reading: read(observation({ failures: null })), now: T0, timings }),
    ).toEqual({ kind: "none" });
    const d = decideAlert({
      alert: null,
      reading: read(observation({ failures: failures(2) })),
      now: T0,
      timings,
    });
    expect(d).toMatchObject({ kind: "open", recentBaseline: 2, evidence: { recent: 2 } });
  });

  it("stays open while true, refreshing the evidence with no timeline line for small changes", () => {
    const a = openAlert(failuresEvidence(observation({ failures: failures(4) })));
    const d = decideAlert({
      alert: a,
      reading: read(observation({ failures: failures(5) }, 30)),
      now: at(30),
      timings,
    });
    expect(d.kind).toBe("update");
    if (d.kind !== "update") return;
    expect(d.change.evidence).toMatchObject({ recent: 5 });
    expect(d.change.timeline).toBeUndefined();
    expect(d.change.clearingSince).toBeUndefined();
  });

  it("clears, then resolves after the hold-down with one resolution event", () => {
    const a = openAlert(failuresEvidence(observation({ failures: failures(4) })));
    const { alert, decisions } = run(a, [
      { seconds: 60, obs: observation({}, 60) },
      { seconds: 200, obs: observation({}, 200) },
      { seconds: 359, obs: observation({}, 359) },
      { seconds: 360, obs: observation({}, 360) },
    ]);
    expect(decisions[0]).toMatchObject({ kind: "update", change: { clearingSince: at(60).toISOString() } });
    expect(decisions[2]).toMatchObject({ kind: "update" });
    expect(alert?.status).toBe("resolved");
    expect(alert?.resolvedAt).toBe(at(360).toISOString());
    expect(alert?.timeline.map((e) => e.kind)).toEqual(["clearing", "resolved"]);
    expect(alert?.timeline[1]).toEqual({ kind: "resolved", at: at(360).toISOString(), durationSeconds: 360 });
    // The card keeps what it showed while true.
    expect(alert?.evidence).toMatchObject({ recent: 4 });
  });

  it("flapping back within the hold-down keeps the SAME alert and says it came back", () => {
    const a = openAlert(failuresEvidence(observation({ failures: failures(4) })));
    const { alert, decisions } = run(a, [
      { seconds: 60, obs: observation({}, 60) },
      { seconds: 300, obs: observation({ failures: failures(3) }, 300) },
      { seconds: 400, obs: observation({}, 400) },
      { seconds: 650, obs: observation({}, 650) },
    ]);
    expect(decisions.every((d) => d.kind === "update")).toBe(true);
    expect(alert?.status).toBe("open");
    expect(alert?.clearingSince).toBe(at(400).toISOString());
    expect(alert?.timeline.map((e) => e.kind)).toEqual(["clearing", "reopened", "clearing"]);
    const resolved = run(alert, [{ seconds: 700, obs: observation({}, 700) }]).alert;
    expect(resolved?.status).toBe("resolved");
  });

  it("after resolution a new occurrence opens a new alert", () => {
    const a = openAlert(failuresEvidence(observation({ failures: failures(4) })), { status: "resolved" });
    const d = decideAlert({
      alert: a,
      reading: read(observation({ failures: failures(1) })),
      now: at(900),
      timings,
    });
    expect(d.kind).toBe("open");
  });

  it("an unknown reading keeps the truth: no clearing, no resolution, no evidence change", () => {
    const a = openAlert(failuresEvidence(observation({ failures: failures(4) })));
    const unknown = observation({ failures: null, problems: [{ backend: "postgres", message: "down" }] });
    expect(decideAlert({ alert: a, reading: read(unknown), now: at(30), timings })).toEqual({ kind: "none" });
    const clearing = { ...a, clearingSince: at(10).toISOString() };
    // Even past the hold-down: unknown is not false.
    expect(decideAlert({ alert: clearing, reading: read(unknown), now: at(1000), timings })).toEqual({
      kind: "none",
    });
  });

  it("while clearing, failures refresh their replays so the resolved card can tell them", () => {
    const a = openAlert(failuresEvidence(observation({ failures: failures(4) })), {
      clearingSince: at(0).toISOString(),
    });
    const replayed = observation({
      failures: failures(0, { replays: { total: 4, resolved: 4, verified: 3 } }),
    });
    const d = decideAlert({ alert: a, reading: read(replayed), now: at(60), timings });
    expect(d).toMatchObject({
      kind: "update",
      change: { evidence: { recent: 4, replays: { total: 4, resolved: 4, verified: 3 } } },
    });
    if (d.kind !== "update") return;
    expect(d.change.timeline?.map((e) => e.kind)).toEqual(["retry_confirmed", "replays_resolved"]);
  });

  it("a snooze until a time expires by itself; a snoozed alert still resolves and resolving ends the snooze", () => {
    const e = failuresEvidence(observation({ failures: failures(4) }));
    const snoozed = openAlert(e, { snoozedUntil: at(100).toISOString(), snoozedBy: "U1" });
    expect(isSnoozed(snoozed, at(99))).toBe(true);
    expect(isSnoozed(snoozed, at(100))).toBe(false);
    const before = decideAlert({
      alert: snoozed,
      reading: read(observation({ failures: failures(4) })),
      now: at(99),
      timings,
    });
    expect(before.kind === "update" && "snoozedUntil" in before.change).toBe(false);
    const unknown = observation({ failures: null });
    const after = decideAlert({ alert: snoozed, reading: read(unknown), now: at(100), timings });
    expect(after).toEqual({ kind: "update", change: { snoozedUntil: null, snoozedBy: null } });
    const untilResolved = openAlert(e, {
      snoozedUntilResolved: true,
      snoozedBy: "U1",
      clearingSince: at(0).toISOString(),
    });
    expect(isSnoozed(untilResolved, at(1_000_000))).toBe(true);
    const d = decideAlert({ alert: untilResolved, reading: read(observation()), now: at(300), timings });
    expect(d).toMatchObject({
      kind: "update",
      change: { status: "resolved", snoozedUntilResolved: false, snoozedBy: null },
    });
  });
});

describe("timeline events", () => {
  const ev = (
    recent: number,
    byClass: Record<string, number> = { transport: recent },
    replays = { total: 0, resolved: 0, verified: 0 },
  ) => failuresEvidence(observation({ failures: failures(recent, { recentByClass: byClass, replays }) }));
  const kinds = (r: { events: TimelineEvent[] }) => r.events.map((e) => e.kind);
  const iso = T0.toISOString();

  it("a new class appears", () => {
    const r = evidenceEvents(ev(2), ev(3, { transport: 2, validation: 1 }), 2, iso, true);
    expect(r.events).toEqual([{ kind: "new_class", at: iso, reasonClass: "validation", count: 1 }]);
  });

  it("the count at least doubles since the baseline, which then moves", () => {
    expect(kinds(evidenceEvents(ev(5), ev(9), 5, iso, true))).toEqual([]);
    const r = evidenceEvents(ev(9), ev(10), 5, iso, true);
    expect(r.events).toEqual([{ kind: "doubled", at: iso, from: 5, to: 10 }]);
    expect(r.baseline).toBe(10);
    expect(kinds(evidenceEvents(ev(10), ev(19), 10, iso, true))).toEqual([]);
  });

  it("a retry confirmed and replays resolved", () => {
    const r = evidenceEvents(ev(3), ev(3, undefined, { total: 2, resolved: 1, verified: 1 }), 3, iso, true);
    expect(r.events).toEqual([
      { kind: "retry_confirmed", at: iso, replays: 2 },
      { kind: "replays_resolved", at: iso, resolved: 1, verified: 1 },
    ]);
  });

  it("drift dimensions change", () => {
    const a: AlertEvidence = { condition: "drift", differing: ["filterable_attributes"] };
    const b: AlertEvidence = {
      condition: "drift",
      differing: ["filterable_attributes", "sortable_attributes"],
    };
    expect(kinds(evidenceEvents(a, b, null, iso, true))).toEqual(["drift_changed"]);
    expect(
      kinds(
        evidenceEvents(
          b,
          { condition: "drift", differing: ["sortable_attributes", "filterable_attributes"] },
          null,
          iso,
          true,
        ),
      ),
    ).toEqual([]);
  });

  it("the queue keeps the newest TIMELINE_QUEUE_MAX events", () => {
    const many = Array.from(
      { length: TIMELINE_QUEUE_MAX + 5 },
      (_, i) => ({ kind: "reopened", at: `${i}` }) as TimelineEvent,
    );
    const q = queueEvents([], many);
    expect(q).toHaveLength(TIMELINE_QUEUE_MAX);
    expect(q[0]?.at).toBe("5");
  });

  it("one message per timelineEvery, none while snoozed, at most TIMELINE_MAX_POSTS, the last says so", () => {
    const e = ev(3);
    const queued = [{ kind: "reopened", at: iso } as TimelineEvent];
    const a = openAlert(e, { timeline: queued });
    expect(timelineDue(openAlert(e), at(0), timings)).toEqual({ due: false });
    expect(timelineDue(a, at(0), timings)).toEqual({ due: true, last: false });
    const posted = { ...a, timelinePostedAt: at(0).toISOString(), timelinePosts: 1 };
    expect(timelineDue(posted, at(119), timings)).toEqual({ due: false });
    expect(timelineDue(posted, at(120), timings)).toEqual({ due: true, last: false });
    expect(timelineDue({ ...posted, snoozedUntil: at(500).toISOString() }, at(200), timings)).toEqual({
      due: false,
    });
    expect(timelineDue({ ...posted, snoozedUntil: at(500).toISOString() }, at(500), timings).due).toBe(true);
    expect(timelineDue({ ...posted, snoozedUntilResolved: true }, at(200), timings)).toEqual({ due: false });
    expect(timelineDue({ ...posted, timelinePosts: TIMELINE_MAX_POSTS - 1 }, at(200), timings)).toEqual({
      due: true,
      last: true,
    });
    expect(timelineDue({ ...posted, timelinePosts: TIMELINE_MAX_POSTS }, at(200), timings)).toEqual({
      due: false,
    });
    // The resolution line goes out whatever the rate, the cap or a snooze.
    const resolving = {
      ...posted,
      timelinePosts: TIMELINE_MAX_POSTS,
      snoozedUntilResolved: true,
      timeline: [{ kind: "resolved", at: iso, durationSeconds: 60 } as TimelineEvent],
    };
    expect(timelineDue(resolving, at(1), timings)).toEqual({ due: true, last: false });
  });

  it("past the cap, only the resolution line still queues", () => {
    const capped = openAlert(ev(2), {
      timelinePosts: TIMELINE_MAX_POSTS,
      clearingSince: at(0).toISOString(),
    });
    const came = decideAlert({
      alert: capped,
      reading: read(observation({ failures: failures(9) })),
      now: at(30),
      timings,
    });
    expect(came.kind === "update" && came.change.timeline).toBeUndefined();
    const resolved = decideAlert({ alert: capped, reading: read(observation()), now: at(300), timings });
    expect(resolved.kind === "update" && resolved.change.timeline?.map((e) => e.kind)).toEqual(["resolved"]);
  });

  it("no timeline event when the alert opens; decisions queue what they find", () => {
    const a = openAlert(ev(2), { timeline: [{ kind: "acknowledged", at: iso, userId: "U1" }] });
    const d = decideAlert({
      alert: a,
      reading: read(observation({ failures: failures(4, { recentByClass: { transport: 3, unknown: 1 } }) })),
      now: at(30),
      timings,
    });
    expect(d.kind === "update" && d.change.timeline?.map((e) => e.kind)).toEqual([
      "acknowledged",
      "new_class",
      "doubled",
    ]);
  });
});

describe("content hash", () => {
  const a = openAlert(failuresEvidence(observation({ failures: failures(4) })));

  it("is stable: key order, when it was checked and the mention do not change it", () => {
    const reordered = JSON.parse(stableJson(a)) as AlertState;
    expect(contentHash(reordered)).toBe(contentHash(a));
    expect(contentHash({ ...a, checkedAt: at(999).toISOString() })).toBe(contentHash(a));
    expect(contentHash({ ...a, mention: null })).toBe(contentHash(a));
    expect(contentHash({ ...a, timeline: [{ kind: "reopened", at: "x" }] })).toBe(contentHash(a));
    expect(stableJson({ b: 1, a: [{ d: 2, c: 3 }] })).toBe('{"a":[{"c":3,"d":2}],"b":1}');
  });

  it("changes with everything the card shows", () => {
    const h = contentHash(a);
    for (const changed of [
      { ...a, evidence: failuresEvidence(observation({ failures: failures(5) })) },
      { ...a, acknowledgedBy: "U1", acknowledgedAt: T0.toISOString() },
      { ...a, snoozedUntil: at(60).toISOString(), snoozedBy: "U1" },
      { ...a, snoozedUntilResolved: true },
      { ...a, clearingSince: at(1).toISOString() },
      { ...a, status: "resolved" as const, resolvedAt: at(1).toISOString() },
    ]) {
      expect(contentHash(changed)).not.toBe(h);
    }
  });

  it("the card model carries the mention only for the first post", () => {
    expect(cardModel(a, { mention: true }).mention).toBe("S0ONCALL");
    expect(cardModel(a, { mention: false }).mention).toBeNull();
  });
});

describe("subscriptions on a schema", () => {
  const s = (key: string, extra: Partial<AlertSubscription>): AlertSubscription => ({
    key,
    source: "config",
    channel: "C1",
    schemas: null,
    on: ["failures"],
    minFailures: 1,
    mention: null,
    createdBy: null,
    createdAt: null,
    ...extra,
  });

  it("one watch per channel and condition: the lowest threshold, the first mention", () => {
    const w = watchesFor(
      [
        s("config:0", { minFailures: 5, on: ["failures", "drift"] }),
        s("watch:1", { source: "watch", minFailures: 2, mention: "S1", schemas: ["MyApp.Blog.Post"] }),
        s("config:1", { channel: "C2", schemas: ["Other"] }),
      ],
      "MyApp.Blog.Post",
    );
    expect(w).toEqual([
      { channel: "C1", condition: "failures", minFailures: 2, mention: "S1", keys: ["config:0", "watch:1"] },
      { channel: "C1", condition: "drift", minFailures: 5, mention: null, keys: ["config:0"] },
    ]);
  });
});
