// What a digest says: a JSON snapshot of the schemas it covers (posture verdict §9.2, failed work
// by class, drift signals and reindex state, contract drift), read through the operator with
// bounded concurrency. A schema whose data cannot be read says so, with the backend and one
// sentence: silence must never look like health. Also what changed since the previous snapshot,
// and a hash over the content that matters, so an unchanged digest can stay quiet.
import { createHash } from "node:crypto";
import type { Config, DigestConfig } from "../config.ts";
import { type Posture, type PostureInput, posture } from "../core/posture.ts";
import { emptyCounts } from "../core/rollup.ts";
import type { TriageTally } from "../core/tally.ts";
import {
  CONTRACT_DIMENSIONS,
  type ContractDimensionName,
  type DriftSignal,
  REASON_CLASSES,
  type ReasonClass,
  type ReasonClassCounts,
  type ReindexVisibility,
  type SyncMode,
} from "../core/types.ts";
import { isOperatorError } from "../errors.ts";
import { timedOut } from "../operator/bounded.ts";
import type { Operator, ReconcileReport } from "../operator/index.ts";
import { mapLimited, POSTURE_TIMEOUT_MS } from "../operator/posture.ts";
import { withTimeout } from "../timeout.ts";

export const SNAPSHOT_VERSION = 1;
/** Schemas read at the same time; each read runs its own backend calls in parallel. */
export const DIGEST_CONCURRENCY = 4;
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

export interface BuildOptions {
  concurrency?: number;
  /** Per read; a read that takes longer is reported as not checked. */
  timeoutMs?: number;
}

function problemOf(check: Check, error: unknown): DigestProblem {
  if (isOperatorError(error)) {
    return { check, backend: error.backend, code: error.code, message: error.message };
  }
  return {
    check,
    backend: null,
    code: "error",
    message: error instanceof Error ? error.message : String(error),
  };
}

function syncFacts(report: ReconcileReport): SyncFacts {
  const { status, reindex, tally } = report;
  return {
    triage: storedTally(tally),
    terminal: { backend: tally.terminal.backend, queue: tally.terminal.queue },
    pending: {
      backend: status.backend.pending.total,
      queue: status.queue.pending.total,
      retrying: status.queue.retrying.total,
    },
    signals: report.driftSignals,
    reindex: { target: reindex.targetIndex, state: reindex.taskState, cutover: reindex.cutover },
    summary: report.summary,
  };
}

function failedFrom(counts: ReasonClassCounts, scope: FailedCounts["scope"]): FailedCounts {
  return { version: counts.version, total: counts.total, byClass: { ...counts.byClass }, scope };
}

async function readSchema(
  operator: Operator,
  config: Config,
  module: string,
  timeoutMs: number,
): Promise<SchemaDigest> {
  const schemaConfig = config.schemas.find((s) => s.module === module);
  const timed = <T>(work: () => Promise<T>, what: string) =>
    withTimeout(Promise.resolve().then(work), timeoutMs, () => {
      throw timedOut(`${what} of ${module}`, timeoutMs);
    });
  const [sync, contract] = await Promise.allSettled([
    timed(() => operator.reconcileSync(module), "the reconcile report"),
    schemaConfig?.contract ? timed(() => operator.indexContractDrift(module), "the contract check") : null,
  ]);
  const problems: DigestProblem[] = [];
  const digest: SchemaDigest = {
    schema: module,
    alias: schemaConfig?.alias ?? null,
    mode: schemaConfig?.syncMode ?? "inline",
    index: null,
    failed: null,
    sync: null,
    contract: null,
    problems,
  };
  if (sync.status === "fulfilled") {
    digest.index = sync.value.index;
    digest.sync = syncFacts(sync.value);
    digest.failed = failedFrom(sync.value.failedWorkCounts, "all");
  } else {
    const problem = problemOf("sync", sync.reason);
    problems.push(problem);
    // Meilisearch down: the queue plane in Postgres still says how much failed there.
    if (digest.mode === "oban" && problem.backend === "meilisearch") {
      try {
        const queue = await timed(
          () => operator.failedSyncWork(module, { source: "oban", limit: 1 }),
          "the failed queue jobs",
        );
        digest.index = queue.index;
        digest.failed = failedFrom(queue.counts, "queue");
      } catch {
        // Nothing more can be said than the problem already recorded.
      }
    }
  }
  if (schemaConfig?.contract) {
    if (contract.status === "fulfilled" && contract.value) {
      const dims = contract.value.dimensions;
      digest.contract = { differing: CONTRACT_DIMENSIONS.filter((name) => !dims[name].match) };
    } else {
      digest.contract = { differing: null };
      if (contract.status === "rejected") problems.push(problemOf("contract", contract.reason));
    }
  }
  return digest;
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

/** The modules a digest covers, in configuration order. */
function digestSchemas(digest: Pick<DigestConfig, "schemas">, config: Pick<Config, "schemas">): string[] {
  return digest.schemas ?? config.schemas.map((s) => s.module);
}

/** Reads every schema of `digest` (at most `concurrency` at a time) into a snapshot. Never throws for a backend. */
export async function buildDigest(
  operator: Operator,
  digest: Pick<DigestConfig, "name" | "schemas">,
  config: Config,
  now: Date,
  options: BuildOptions = {},
): Promise<DigestSnapshot> {
  const modules = digestSchemas(digest, config);
  const timeoutMs = options.timeoutMs ?? POSTURE_TIMEOUT_MS;
  const schemas = await mapLimited(modules, options.concurrency ?? DIGEST_CONCURRENCY, (module) =>
    readSchema(operator, config, module, timeoutMs),
  );
  return {
    version: SNAPSHOT_VERSION,
    digest: digest.name,
    checkedAt: now.toISOString(),
    posture: posture(schemas.map(postureInput)),
    schemas,
  };
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
