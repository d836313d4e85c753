// The digest model: what a digest says (a JSON snapshot of posture, failed work, drift and
// contract per schema), what changed since the previous one, the hash of what a reader would
// notice, whether it reads as degraded, and whether it speaks at a slot. Pure: the runner
// (src/digest) builds and stores snapshots, the views render them; both take the model from here.
import { createHash } from "node:crypto";
import type { Posture, PostureInput } from "./posture.ts";
import { emptyCounts } from "./rollup.ts";
import type { TriageTally } from "./tally.ts";
import {
  type ContractDimensionName,
  type DriftSignal,
  REASON_CLASSES,
  type ReasonClass,
  type ReasonClassCounts,
  type ReindexVisibility,
  type SyncMode,
} from "./types.ts";

export const SNAPSHOT_VERSION = 1;
/** Pending and retrying work is neutral (§9.2): it neither degrades posture nor counts as a change. */
export const NEUTRAL_SIGNALS: readonly DriftSignal[] = ["pending_backend_work", "pending_queue_work"];

export type Check = "sync" | "contract";

/** A part of a schema that could not be read: which check, which backend, one sentence. */
export interface DigestProblem {
  check: Check;
  backend: "postgres" | "meilisearch" | null;
  code: string;
  message: string;
}

/** The reason_class rollup (§3.4) of a schema's failed work, and which planes it covers. */
export interface FailedCounts extends ReasonClassCounts {
  /** "queue": only the Oban plane could be read (Meilisearch could not), so backend rows are missing. */
  scope: "all" | "queue";
}

/** The triage tally (src/core/tally.ts) as stored JSON: the next retry time as an ISO string. */
export type StoredTally = Omit<TriageTally, "retrying"> & {
  retrying: { total: number; nextAt: string | null };
};

export function storedTally(t: TriageTally): StoredTally {
  return { ...t, retrying: { total: t.retrying.total, nextAt: t.retrying.nextAt?.toISOString() ?? null } };
}

export function tallyOfStored(t: StoredTally): TriageTally {
  return {
    ...t,
    retrying: { total: t.retrying.total, nextAt: t.retrying.nextAt ? new Date(t.retrying.nextAt) : null },
  };
}

/** What reconcile read of one schema: both planes, signals, the reindex target. */
export interface SyncFacts {
  /** The tally every Slack surface counts with; absent in snapshots stored before it existed. */
  triage?: StoredTally;
  /** Terminal failures per plane: what posture counts (§9.2). */
  terminal: { backend: number; queue: number };
  pending: { backend: number; queue: number; retrying: number };
  signals: DriftSignal[];
  reindex: { target: string; state: ReindexVisibility["taskState"]; cutover: ReindexVisibility["cutover"] };
  summary: string;
}

export interface SchemaDigest {
  /** Module name without `Elixir.`. */
  schema: string;
  alias: string | null;
  mode: SyncMode;
  /** Live index, when the schema resolved. */
  index: string | null;
  /** Null when no failed-work count could be read. */
  failed: FailedCounts | null;
  /** Null when reconcile could not be read. */
  sync: SyncFacts | null;
  /** Null when the schema declares no contract; `differing` null when it could not be read. */
  contract: { differing: ContractDimensionName[] | null } | null;
  problems: DigestProblem[];
}

/** One digest's content: plain JSON, stored with its slot so later digests can say what changed. */
export interface DigestSnapshot {
  version: typeof SNAPSHOT_VERSION;
  digest: string;
  /** ISO time the reads started (the clock's, never the slot's: a slot run early or late says so). */
  checkedAt: string;
  /** Run by hand ("Run digest now"), not by its schedule. */
  onDemand?: true;
  posture: Posture;
  schemas: SchemaDigest[];
}

/** What posture (§9.2) counts of a schema: its terminal failures, or that it could not be read. */
export function postureInput(s: SchemaDigest): PostureInput {
  return s.sync
    ? {
        schema: s.schema,
        ok: true,
        backendFailed: s.sync.terminal.backend,
        queueFailed: s.sync.terminal.queue,
        resolved: s.sync.triage ? s.sync.triage.terminal.total - s.sync.triage.needsTriage : 0,
      }
    : { schema: s.schema, ok: false, error: s.problems[0]?.message ?? "not read" };
}

/** Schemas with at least one part that could not be checked. */
export function uncheckedSchemas(snapshot: DigestSnapshot): SchemaDigest[] {
  return snapshot.schemas.filter((s) => s.problems.length > 0);
}

// ── What matters, and what changed ──────────────────────────────────────────────────────────

const significantSignals = (signals: readonly DriftSignal[]) =>
  signals.filter((s) => !NEUTRAL_SIGNALS.includes(s));

/**
 * The content a reader would notice, without timestamps, messages or neutral (pending) work:
 * posture state, and per schema (sorted, so reordering the configuration changes nothing) the
 * failed counts by class, terminal counts, signals, reindex state, differing contract dimensions,
 * and which checks could not be read.
 */
function significant(snapshot: DigestSnapshot) {
  const schemas = [...snapshot.schemas].sort((a, b) =>
    a.schema < b.schema ? -1 : a.schema > b.schema ? 1 : 0,
  );
  return {
    version: snapshot.version,
    posture: snapshot.posture.state,
    schemas: schemas.map((s) => ({
      schema: s.schema,
      failed: s.failed ? [s.failed.scope, ...REASON_CLASSES.map((c) => s.failed?.byClass[c] ?? 0)] : null,
      terminal: s.sync ? [s.sync.terminal.backend, s.sync.terminal.queue] : null,
      // Closure is news: a replay that resolves a failure changes the digest.
      triage: s.sync?.triage ? [s.sync.triage.needsTriage, s.sync.triage.resolved] : null,
      signals: s.sync ? significantSignals(s.sync.signals) : null,
      reindex: s.sync ? [s.sync.reindex.state, s.sync.reindex.cutover] : null,
      contract: s.contract ? s.contract.differing : "none",
      problems: s.problems.map((p) => [p.check, p.backend, p.code]),
    })),
  };
}

/** sha256 over the significant content: equal hashes mean nothing a reader would notice changed. */
export function digestHash(snapshot: DigestSnapshot): string {
  return createHash("sha256")
    .update(JSON.stringify(significant(snapshot)))
    .digest("hex");
}

export interface CountChange<T> {
  what: T;
  from: number;
  to: number;
}

/** What changed for one schema since the previous digest; only schemas with a change are listed. */
export interface SchemaChange {
  schema: string;
  alias: string | null;
  /** Not in the previous digest (compared with an empty, healthy schema). */
  added: boolean;
  /** Failed-work counts by class that went up or down. */
  failures: CountChange<ReasonClass>[];
  terminal: { from: number; to: number } | null;
  /** Terminal failures that need triage (not resolved by replay), when both digests counted them. */
  needsTriage: { from: number; to: number } | null;
  signalsRaised: DriftSignal[];
  signalsCleared: DriftSignal[];
  reindex: { from: ReindexVisibility["taskState"]; to: ReindexVisibility["taskState"] } | null;
  driftStarted: ContractDimensionName[];
  driftResolved: ContractDimensionName[];
  /** Checks that could be read before and cannot now. */
  unreadable: DigestProblem[];
  /** Checks that could not be read before and can now. */
  readableAgain: Check[];
}

export interface DigestDiff {
  /** No previous digest of this name: everything is current state, nothing is "new". */
  first: boolean;
  /** `checkedAt` of the previous snapshot. */
  since: string | null;
  posture: { from: Posture["state"]; to: Posture["state"] } | null;
  schemas: SchemaChange[];
  /** Schemas the previous digest covered and this one does not. */
  removed: string[];
}

const BASELINE: Omit<SchemaDigest, "schema" | "alias" | "mode" | "index"> = {
  failed: { ...emptyCounts(), scope: "all" },
  sync: {
    terminal: { backend: 0, queue: 0 },
    pending: { backend: 0, queue: 0, retrying: 0 },
    signals: [],
    reindex: { target: "", state: "idle", cutover: "not_started" },
    summary: "",
  },
  contract: null,
  problems: [],
};

function schemaChange(before: SchemaDigest | undefined, now: SchemaDigest): SchemaChange | null {
  const prev: SchemaDigest = before ?? { ...now, ...BASELINE };
  const change: SchemaChange = {
    schema: now.schema,
    alias: now.alias,
    added: before === undefined,
    failures: [],
    terminal: null,
    needsTriage: null,
    signalsRaised: [],
    signalsCleared: [],
    reindex: null,
    driftStarted: [],
    driftResolved: [],
    unreadable: [],
    readableAgain: [],
  };
  // Counts are only compared when both digests read them the same way.
  if (prev.failed && now.failed && prev.failed.scope === now.failed.scope) {
    for (const cls of REASON_CLASSES) {
      const from = prev.failed.byClass[cls];
      const to = now.failed.byClass[cls];
      if (from !== to) change.failures.push({ what: cls, from, to });
    }
  }
  if (prev.sync && now.sync) {
    const [a, b] = [prev.sync, now.sync];
    const from = a.terminal.backend + a.terminal.queue;
    const to = b.terminal.backend + b.terminal.queue;
    if (from !== to) change.terminal = { from, to };
    const [na, nb] = [a.triage?.needsTriage, b.triage?.needsTriage];
    if (na !== undefined && nb !== undefined && na !== nb) change.needsTriage = { from: na, to: nb };
    const [sa, sb] = [significantSignals(a.signals), significantSignals(b.signals)];
    change.signalsRaised = sb.filter((s) => !sa.includes(s));
    change.signalsCleared = sa.filter((s) => !sb.includes(s));
    if (a.reindex.state !== b.reindex.state) change.reindex = { from: a.reindex.state, to: b.reindex.state };
  }
  const differingBefore = prev.contract ? prev.contract.differing : [];
  const differingNow = now.contract ? now.contract.differing : [];
  if (differingBefore && differingNow) {
    change.driftStarted = differingNow.filter((d) => !differingBefore.includes(d));
    change.driftResolved = differingBefore.filter((d) => !differingNow.includes(d));
  }
  const checksBefore = new Set(prev.problems.map((p) => p.check));
  const checksNow = new Set(now.problems.map((p) => p.check));
  change.unreadable = now.problems.filter((p) => !checksBefore.has(p.check));
  change.readableAgain = [...checksBefore].filter((c) => !checksNow.has(c));

  const changed =
    change.added ||
    change.failures.length > 0 ||
    change.terminal !== null ||
    change.needsTriage !== null ||
    change.signalsRaised.length + change.signalsCleared.length > 0 ||
    change.reindex !== null ||
    change.driftStarted.length + change.driftResolved.length > 0 ||
    change.unreadable.length + change.readableAgain.length > 0;
  return changed ? change : null;
}

/** What changed since `previous` (null: the first digest of this name). */
export function diffDigest(previous: DigestSnapshot | null, current: DigestSnapshot): DigestDiff {
  if (!previous) return { first: true, since: null, posture: null, schemas: [], removed: [] };
  const before = new Map(previous.schemas.map((s) => [s.schema, s]));
  const covered = new Set(current.schemas.map((s) => s.schema));
  return {
    first: false,
    since: previous.checkedAt,
    posture:
      previous.posture.state === current.posture.state
        ? null
        : { from: previous.posture.state, to: current.posture.state },
    schemas: current.schemas.flatMap((s) => schemaChange(before.get(s.schema), s) ?? []),
    removed: previous.schemas.filter((s) => !covered.has(s.schema)).map((s) => s.schema),
  };
}

/** Whether the snapshot reads as a stored one of this version (older or foreign content is ignored). */
export function isSnapshot(value: unknown): value is DigestSnapshot {
  const v = value as Partial<DigestSnapshot> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    v.version === SNAPSHOT_VERSION &&
    Array.isArray(v.schemas) &&
    !!v.posture
  );
}

// ── Whether a digest speaks at a slot (spec §9.8: speak only when it matters) ───────────────

/** When a digest speaks: at every slot, only when degraded, or only when something changed. */
export type DigestWhen = "always" | "degraded" | "changed";

export interface Decision {
  post: boolean;
  /** Why, in a few words (logged, stored with a skipped slot, shown by preview). */
  reason: string;
}

/** A digest reads as degraded when posture is not ok or any part of any schema could not be checked. */
export function isDegraded(snapshot: DigestSnapshot): boolean {
  return snapshot.posture.state !== "ok" || uncheckedSchemas(snapshot).length > 0;
}

/**
 * - `always`: every slot.
 * - `degraded`: only when the digest reads as degraded.
 * - `changed`: only when the significant content differs from the previous digest of that name
 *   (posted or skipped); the first digest always posts.
 */
export function shouldPost(
  when: DigestWhen,
  snapshot: DigestSnapshot,
  previous: { contentHash: string | null } | null,
): Decision {
  switch (when) {
    case "always":
      return { post: true, reason: "posts at every slot" };
    case "degraded":
      return isDegraded(snapshot)
        ? { post: true, reason: "degraded" }
        : { post: false, reason: "posture ok and every check read" };
    case "changed": {
      if (!previous) return { post: true, reason: "first digest" };
      return digestHash(snapshot) === previous.contentHash
        ? { post: false, reason: "unchanged since the previous digest" }
        : { post: true, reason: "changed since the previous digest" };
    }
  }
}

// ── `/scrypath digest list` ─────────────────────────────────────────────────────────────────

/** What happened at a digest's newest slot (its stored snapshot left out). */
export interface DigestSlotSummary {
  slotAt: Date;
  status: "claimed" | "posted" | "skipped" | "failed" | "unconfirmed" | "superseded";
  late: boolean;
  reason: string | null;
}

/** One configured digest as `/scrypath digest list` shows it. */
export interface DigestListEntry {
  name: string;
  channel: string;
  cron: string;
  timezone: string;
  when: DigestWhen;
  schemas: string[] | null;
  nextRun: Date | null;
  /** The newest slot and what happened to it. */
  lastSlot: DigestSlotSummary | null;
}
