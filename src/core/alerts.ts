// The live-alert decisions, pure: from one check of a schema (a SchemaObservation) and an alert as
// it stands, what the alert becomes. The runner (src/alerts/runner.ts) reads and writes; this only
// decides. Where the issue is silent, the rules follow what on-call tools do (Grafana OnCall,
// PagerDuty):
//
// - Truth. Each condition is true, false or UNKNOWN for a check. A part that could not be read
//   (null in the observation, with a problem naming its backend) is unknown, and unknown keeps the
//   alert as it is: a failures alert does not resolve because Postgres is down (the unreadable
//   alert speaks for that). Failures counted on Oban's plane only (Meilisearch unreadable, scope
//   "queue") prove the condition true when they reach the threshold, never false.
// - Open: a true condition with no open alert opens one (one card per channel, schema, condition).
// - Hold-down: a false condition starts clearing (the card says "cleared at…"); true again before
//   `resolveAfter` seconds cancels it on the SAME card ("came back" in the thread); false for
//   `resolveAfter` resolves it (status resolved, one thread line). After that a new occurrence
//   opens a NEW card. A snoozed alert still resolves, and resolving ends any snooze.
// - Evidence: refreshed from every check where the condition is true. While clearing, the card
//   keeps what it showed while true, except the failures' replay progress and totals (so the
//   resolved card can say "31 rows replayed and verified").
// - Timeline (the card's thread): a new reason class, the recent count at least doubling since the
//   open (or since the last doubling told), a retry confirmed (more replays), replays resolved,
//   cleared, came back, drift dimensions changed, acknowledged, snoozed, resolved. Events queue
//   (at most TIMELINE_QUEUE_MAX, the newest kept) and go out as ONE message at most every
//   `timelineEvery` seconds per alert, at most TIMELINE_MAX_POSTS messages per incident (the last
//   one says the card alone carries later changes). Nothing goes to the thread while snoozed
//   (events still queue). The resolution line goes out whatever the rate, the cap or a snooze.
// - Snooze: until a time (it expires by itself: the card is edited when it does) or until resolved.
// - The card's content hash covers everything the card shows except when it was last checked and
//   the open mention: a check that changes nothing the card shows edits nothing.
import { createHash } from "node:crypto";
import type {
  AlertCardModel,
  AlertCondition,
  AlertEvidence,
  AlertSubscription,
  FailuresObservation,
  SchemaObservation,
  TimelineEvent,
} from "./alertTypes.ts";
import { REASON_CLASSES, type ReasonClass } from "./types.ts";

/** Timeline messages per incident at most; the last one says the card alone carries later changes. */
export const TIMELINE_MAX_POSTS = 12;
/** Events waiting for the rate limit at most (the newest are kept). */
export const TIMELINE_QUEUE_MAX = 50;

/** The alerts: settings the decisions use, in seconds (Config["alerts"] fits). */
export interface AlertTimings {
  resolveAfter: number;
  unreadableAfter: number;
  window: number;
  stuckAfter: number | null;
  timelineEvery: number;
}

/** Consecutive checks of a schema with a read problem, and since when (the first of them). */
export interface UnreadableStreak {
  failedChecks: number;
  since: string | null;
}

/** The streak after a check: one more with problems, reset by a clean check. */
export function nextStreak(
  previous: UnreadableStreak | null,
  observation: SchemaObservation,
): UnreadableStreak {
  if (observation.problems.length === 0) return { failedChecks: 0, since: null };
  return {
    failedChecks: (previous?.failedChecks ?? 0) + 1,
    since: previous?.since ?? observation.checkedAt,
  };
}

/** True, false, or null when this check could not tell. */
export type Truth = boolean | null;

const hasProblem = (o: SchemaObservation, backend: "postgres" | "meilisearch") =>
  o.problems.some((p) => p.backend === backend);

/** The recent rows' most frequent class (ties: REASON_CLASSES order). */
export function dominantClass(byClass: Partial<Record<ReasonClass, number>>): ReasonClass | null {
  let best: ReasonClass | null = null;
  for (const c of REASON_CLASSES) {
    const n = byClass[c] ?? 0;
    if (n > 0 && (best === null || n > (byClass[best] ?? 0))) best = c;
  }
  return best;
}

/** What a condition says for a check, and the evidence when it is true (or false and known). */
export interface ConditionReading {
  truth: Truth;
  /** The evidence this check shows; null when the condition could not be read. */
  evidence: AlertEvidence | null;
}

function failuresEvidence(f: FailuresObservation, minFailures: number, timings: AlertTimings): AlertEvidence {
  return {
    condition: "failures",
    recent: f.recent,
    recentByClass: { ...f.recentByClass },
    dominant: dominantClass(f.recentByClass),
    terminal: f.terminal,
    needTriage: f.needTriage,
    newest: f.newest,
    replays: { ...f.replays },
    windowSeconds: timings.window,
    minFailures,
    scope: f.scope,
  };
}

/** Reads one condition from a check (with the schema's streak after that check). */
export function readCondition(
  condition: AlertCondition,
  observation: SchemaObservation,
  streak: UnreadableStreak,
  subscription: Pick<AlertSubscription, "minFailures">,
  timings: AlertTimings,
): ConditionReading {
  switch (condition) {
    case "failures": {
      const f = observation.failures;
      if (!f) return { truth: null, evidence: null };
      const evidence = failuresEvidence(f, subscription.minFailures, timings);
      if (f.recent >= subscription.minFailures) return { truth: true, evidence };
      // Meilisearch's failed tasks were not counted: below the threshold proves nothing.
      return { truth: f.scope === "queue" ? null : false, evidence };
    }
    case "drift": {
      const d = observation.drift;
      if (!d) {
        // No contract declared (false), or the live index could not be read (unknown).
        return hasProblem(observation, "meilisearch")
          ? { truth: null, evidence: null }
          : { truth: false, evidence: null };
      }
      const evidence: AlertEvidence = { condition: "drift", differing: [...d.differing] };
      return { truth: d.differing.length > 0, evidence };
    }
    case "unreadable": {
      const on = streak.failedChecks >= timings.unreadableAfter;
      return {
        truth: on,
        evidence: on
          ? {
              condition: "unreadable",
              problems: observation.problems.map((p) => ({ ...p })),
              failedChecks: streak.failedChecks,
              since: streak.since ?? observation.checkedAt,
            }
          : null,
      };
    }
    case "stuck": {
      if (timings.stuckAfter === null) return { truth: false, evidence: null };
      const s = observation.stuck;
      if (!s) {
        return hasProblem(observation, "postgres")
          ? { truth: null, evidence: null }
          : { truth: false, evidence: null };
      }
      const age = s.oldestPendingAt
        ? Date.parse(observation.checkedAt) - Date.parse(s.oldestPendingAt)
        : Number.NEGATIVE_INFINITY;
      const on = s.oldestPendingAt !== null && age >= timings.stuckAfter * 1000;
      return {
        truth: on,
        evidence: on
          ? {
              condition: "stuck",
              pending: s.pending,
              oldestPendingAt: s.oldestPendingAt as string,
              stuckAfterSeconds: timings.stuckAfter,
            }
          : null,
      };
    }
  }
}

/** An alert as the decisions see it (src/state/alerts.ts stores these fields). */
export interface AlertState {
  id: number;
  channel: string;
  schema: string;
  alias: string | null;
  index: string | null;
  condition: AlertCondition;
  status: "open" | "resolved";
  openedAt: string;
  clearingSince: string | null;
  resolvedAt: string | null;
  checkedAt: string;
  evidence: AlertEvidence;
  mention: string | null;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  snoozedUntil: string | null;
  snoozedUntilResolved: boolean;
  snoozedBy: string | null;
  /** The recent count the next "doubled" line compares with (the open's, or the last told). */
  recentBaseline: number | null;
  /** Timeline events waiting for the rate limit, oldest first. */
  timeline: TimelineEvent[];
  timelinePostedAt: string | null;
  timelinePosts: number;
}

/** The fields a check changes (a patch over AlertState). */
export type AlertChange = Partial<
  Pick<
    AlertState,
    | "status"
    | "clearingSince"
    | "resolvedAt"
    | "checkedAt"
    | "evidence"
    | "snoozedUntil"
    | "snoozedUntilResolved"
    | "snoozedBy"
    | "recentBaseline"
    | "timeline"
  >
>;

export type AlertDecision =
  /** Nothing to store (no open alert and the condition is not true, or nothing changed). */
  | { kind: "none" }
  /** Open a new alert (a new card) with this evidence. */
  | {
      kind: "open";
      evidence: AlertEvidence;
      recentBaseline: number | null;
    }
  /** Store this change on the open alert. */
  | { kind: "update"; change: AlertChange };

/** Whether a snooze holds at `now`. */
export function isSnoozed(
  alert: Pick<AlertState, "snoozedUntil" | "snoozedUntilResolved">,
  now: Date,
): boolean {
  if (alert.snoozedUntilResolved) return true;
  return alert.snoozedUntil !== null && Date.parse(alert.snoozedUntil) > now.getTime();
}

/** Appends events to a queue, keeping at most TIMELINE_QUEUE_MAX (the newest). */
export function queueEvents(
  queue: readonly TimelineEvent[],
  events: readonly TimelineEvent[],
): TimelineEvent[] {
  const all = [...queue, ...events];
  return all.length > TIMELINE_QUEUE_MAX ? all.slice(all.length - TIMELINE_QUEUE_MAX) : all;
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join("\u0000") === [...b].sort().join("\u0000");

/**
 * The notable changes between two evidences of one alert. `baseline` is the recent count the
 * "doubled" line compares with; returns the events and the baseline after them.
 */
export function evidenceEvents(
  before: AlertEvidence,
  after: AlertEvidence,
  baseline: number | null,
  at: string,
  truth: boolean,
): { events: TimelineEvent[]; baseline: number | null } {
  const events: TimelineEvent[] = [];
  if (before.condition === "failures" && after.condition === "failures") {
    let next = baseline;
    if (truth) {
      for (const c of REASON_CLASSES) {
        const n = after.recentByClass[c] ?? 0;
        if (n > 0 && (before.recentByClass[c] ?? 0) === 0) {
          events.push({ kind: "new_class", at, reasonClass: c, count: n });
        }
      }
      const from = baseline ?? before.recent;
      if (from > 0 && after.recent >= 2 * from) {
        events.push({ kind: "doubled", at, from, to: after.recent });
        next = after.recent;
      }
    }
    if (after.replays.total > before.replays.total) {
      events.push({ kind: "retry_confirmed", at, replays: after.replays.total });
    }
    if (after.replays.resolved > before.replays.resolved) {
      events.push({
        kind: "replays_resolved",
        at,
        resolved: after.replays.resolved,
        verified: after.replays.verified,
      });
    }
    return { events, baseline: next };
  }
  if (before.condition === "drift" && after.condition === "drift" && truth) {
    if (!sameSet(before.differing, after.differing)) {
      events.push({ kind: "drift_changed", at, differing: [...after.differing] });
    }
  }
  return { events, baseline };
}

/** While clearing, the card keeps the evidence it had while true; failures refresh their replays. */
function clearingEvidence(kept: AlertEvidence, fresh: AlertEvidence | null): AlertEvidence {
  if (kept.condition === "failures" && fresh?.condition === "failures") {
    return { ...kept, replays: fresh.replays, terminal: fresh.terminal, needTriage: fresh.needTriage };
  }
  return kept;
}

/**
 * What one check does to one (channel, schema, condition): `alert` is its open alert, if any.
 * `reading` is the condition as this check read it; `now` is when the check ran.
 */
export function decideAlert(input: {
  alert: AlertState | null;
  reading: ConditionReading;
  now: Date;
  timings: AlertTimings;
}): AlertDecision {
  const { alert, reading, now, timings } = input;
  const at = now.toISOString();
  if (alert?.status !== "open") {
    if (reading.truth !== true || !reading.evidence) return { kind: "none" };
    const baseline = reading.evidence.condition === "failures" ? reading.evidence.recent : null;
    return { kind: "open", evidence: reading.evidence, recentBaseline: baseline };
  }
  const change: AlertChange = {};
  const events: TimelineEvent[] = [];
  // A snooze until a time ends by itself; the card is edited to say so.
  if (
    alert.snoozedUntil !== null &&
    !alert.snoozedUntilResolved &&
    Date.parse(alert.snoozedUntil) <= now.getTime()
  ) {
    change.snoozedUntil = null;
    change.snoozedBy = null;
  }
  if (reading.truth === true && reading.evidence) {
    const found = evidenceEvents(alert.evidence, reading.evidence, alert.recentBaseline, at, true);
    if (alert.clearingSince !== null) {
      change.clearingSince = null;
      events.push({ kind: "reopened", at });
    }
    events.push(...found.events);
    change.evidence = reading.evidence;
    change.checkedAt = at;
    if (found.baseline !== alert.recentBaseline) change.recentBaseline = found.baseline;
  } else if (reading.truth === false) {
    const evidence = clearingEvidence(alert.evidence, reading.evidence);
    const found = evidenceEvents(alert.evidence, evidence, alert.recentBaseline, at, false);
    events.push(...found.events);
    change.evidence = evidence;
    change.checkedAt = at;
    if (alert.clearingSince === null) {
      change.clearingSince = at;
      events.push({ kind: "clearing", at });
    } else if (now.getTime() - Date.parse(alert.clearingSince) >= timings.resolveAfter * 1000) {
      change.status = "resolved";
      change.resolvedAt = at;
      // Resolving ends any snooze: the resolution line goes to the thread.
      change.snoozedUntil = null;
      change.snoozedUntilResolved = false;
      change.snoozedBy = null;
      events.push({
        kind: "resolved",
        at,
        durationSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(alert.openedAt)) / 1000)),
      });
    }
  } else {
    // Unknown: the alert stays as it is (only a snooze expiry above applies).
    if (Object.keys(change).length === 0) return { kind: "none" };
    return { kind: "update", change };
  }
  // Past the cap the card alone carries changes: only the resolution line still queues.
  const told =
    alert.timelinePosts >= TIMELINE_MAX_POSTS ? events.filter((e) => e.kind === "resolved") : events;
  if (told.length > 0) change.timeline = queueEvents(alert.timeline, told);
  return { kind: "update", change };
}

/** The alert with a change applied. */
export function applyChange(alert: AlertState, change: AlertChange): AlertState {
  return { ...alert, ...change };
}

/** Whether the queued timeline goes out now, and whether it is the last allowed message. */
export type TimelineDue = { due: false } | { due: true; last: boolean };

/**
 * The rate limit: one message per `timelineEvery`, at most TIMELINE_MAX_POSTS per incident, none
 * while snoozed; the resolution line goes out whatever those say (once).
 */
export function timelineDue(
  alert: Pick<
    AlertState,
    "timeline" | "timelinePostedAt" | "timelinePosts" | "snoozedUntil" | "snoozedUntilResolved" | "status"
  >,
  now: Date,
  timings: Pick<AlertTimings, "timelineEvery">,
): TimelineDue {
  if (alert.timeline.length === 0) return { due: false };
  if (alert.status === "resolved" || alert.timeline.some((e) => e.kind === "resolved")) {
    return { due: true, last: false };
  }
  if (alert.timelinePosts >= TIMELINE_MAX_POSTS) return { due: false };
  if (isSnoozed(alert, now)) return { due: false };
  if (
    alert.timelinePostedAt !== null &&
    now.getTime() - Date.parse(alert.timelinePostedAt) < timings.timelineEvery * 1000
  ) {
    return { due: false };
  }
  return { due: true, last: alert.timelinePosts + 1 >= TIMELINE_MAX_POSTS };
}

/** The card's model; `mention` only for the first post. */
export function cardModel(alert: AlertState, options: { mention: boolean }): AlertCardModel {
  return {
    id: alert.id,
    condition: alert.condition,
    schema: alert.schema,
    alias: alert.alias,
    index: alert.index,
    status: alert.status,
    openedAt: alert.openedAt,
    clearingSince: alert.clearingSince,
    resolvedAt: alert.resolvedAt,
    evidence: alert.evidence,
    checkedAt: alert.checkedAt,
    acknowledgedBy: alert.acknowledgedBy,
    acknowledgedAt: alert.acknowledgedAt,
    snoozedUntil: alert.snoozedUntil,
    snoozedUntilResolved: alert.snoozedUntilResolved,
    snoozedBy: alert.snoozedBy,
    mention: options.mention ? alert.mention : null,
  };
}

/** JSON with sorted keys: the same value always gives the same text. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * What the card shows, hashed: not when it was last checked, not the open mention (nor the id, so
 * the hash is known before the row is inserted; it is only ever compared with the same alert's).
 */
export function contentHash(alert: Omit<AlertState, "id">): string {
  const {
    checkedAt: _checked,
    mention: _mention,
    id: _id,
    ...shown
  } = cardModel({ ...alert, id: 0 }, { mention: false });
  return createHash("sha256").update(stableJson(shown)).digest("hex").slice(0, 32);
}

/** Which subscriptions ask for which (channel, condition) on a schema, merged per channel. */
export interface Watch {
  channel: string;
  condition: AlertCondition;
  /** The lowest threshold of the subscriptions asking. */
  minFailures: number;
  mention: string | null;
  /** The subscriptions asking (keys). */
  keys: string[];
}

/** Whether a subscription covers a schema (null schemas: every configured one). */
export function covers(sub: Pick<AlertSubscription, "schemas">, schema: string): boolean {
  return sub.schemas === null || sub.schemas.includes(schema);
}

/**
 * The (channel, condition) pairs watched on a schema. Two subscriptions of one channel (a YAML one
 * and a watch) make one card: the lower threshold, the first mention.
 */
export function watchesFor(subscriptions: readonly AlertSubscription[], schema: string): Watch[] {
  const byKey = new Map<string, Watch>();
  for (const sub of subscriptions) {
    if (!covers(sub, schema)) continue;
    for (const condition of sub.on) {
      const key = `${sub.channel}\u0000${condition}`;
      const found = byKey.get(key);
      if (found) {
        found.minFailures = Math.min(found.minFailures, sub.minFailures);
        found.mention ??= sub.mention;
        found.keys.push(sub.key);
      } else {
        byKey.set(key, {
          channel: sub.channel,
          condition,
          minFailures: sub.minFailures,
          mention: sub.mention,
          keys: [sub.key],
        });
      }
    }
  }
  return [...byKey.values()];
}
