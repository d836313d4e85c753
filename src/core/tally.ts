// The triage tally: the one vocabulary every Slack surface speaks (DESIGN.md "One vocabulary").
//   terminal  Oban `discarded`/`cancelled` jobs and Meilisearch `failed` document tasks: they will
//             not self-heal.
//   retrying  Oban `retryable` jobs: Oban tries them again by itself, next at `nextRetryAt`.
//   pending   queued or processing work (Meilisearch enqueued/processing, Oban available,
//             scheduled, executing, suspended).
//   replayed  failed rows the bot replayed, by the state of the newest replay: pending, completed,
//             verified (completed, and its documents were observed in the index by a follower),
//             failed, gone.
//   resolved  failed rows whose newest replay completed or was verified: closure, counted apart.
// Needs triage: terminal rows not resolved. Retrying rows not resolved are Oban's to finish.
// Pure: the operator feeds it the counts its reads already aggregate in SQL.

/**
 * The state of a bot replay: from its Oban job (`gone`: the replay job was pruned), and `verified`
 * once a follower observed its documents in the index.
 */
export type ReplayOutcome = "pending" | "completed" | "verified" | "failed" | "gone";

export const REPLAY_OUTCOMES: readonly ReplayOutcome[] = [
  "pending",
  "completed",
  "verified",
  "failed",
  "gone",
];

/**
 * What following a replay to the end established (src/operator/verify.ts), stored on its replay
 * link: `verified` (the job completed and every expected document was observed in the index),
 * `queue_only_completed` (the job completed, the documents were not observed in time), `failed`
 * (the job was discarded or cancelled), `timed_out` (the job had not finished when following
 * stopped), `unknown` (the job could not be found).
 */
export type ReplayVerdict = "unknown" | "timed_out" | "failed" | "queue_only_completed" | "verified";

/**
 * Verdicts from weakest to strongest. Several replicas may follow one replay and see different
 * ends; the strongest recorded verdict stands (evidence in the index beats a completed job, a
 * definite Oban end beats running out of time), and of two equal verdicts the first.
 */
export const REPLAY_VERDICTS: readonly ReplayVerdict[] = [
  "unknown",
  "timed_out",
  "failed",
  "queue_only_completed",
  "verified",
];

export function isReplayVerdict(value: unknown): value is ReplayVerdict {
  return REPLAY_VERDICTS.includes(value as ReplayVerdict);
}

/** The outcome from the replay job's Oban state alone. */
export function replayOutcome(obanState: string | null): ReplayOutcome {
  if (obanState === null) return "gone";
  if (obanState === "completed") return "completed";
  if (obanState === "discarded" || obanState === "cancelled") return "failed";
  return "pending";
}

/**
 * The outcome from the Oban state and the recorded verdict. `verified` needs both: a completed job
 * (or one pruned since: Oban prunes only finished jobs) and a `verified` verdict. A pruned job's
 * recorded end still tells how it ended (completed, failed) instead of `gone`.
 */
export function replayOutcomeOf(
  obanState: string | null,
  verdict: ReplayVerdict | null = null,
): ReplayOutcome {
  const fromOban = replayOutcome(obanState);
  if (verdict === "verified" && (fromOban === "completed" || fromOban === "gone")) return "verified";
  if (fromOban === "gone" && verdict === "queue_only_completed") return "completed";
  if (fromOban === "gone" && verdict === "failed") return "failed";
  return fromOban;
}

/** A replay that completed or was verified resolves its failed row: closure. */
export function resolvesRow(outcome: ReplayOutcome): boolean {
  return outcome === "completed" || outcome === "verified";
}

/** Failed rows (queue) that the bot replayed, counted by the row's plane and the replay's Oban state. */
export interface ReplayCell {
  /** The failed row's own state: discarded/cancelled (terminal) or retryable (retrying). */
  row: "terminal" | "retrying";
  /** The newest replay job's Oban state; null when that job is gone. */
  replayState: string | null;
  /** The newest replay's recorded verdict; null (or absent) when nobody followed it to the end. */
  verification?: ReplayVerdict | null;
  count: number;
}

export interface TallyInput {
  /** Meilisearch document tasks on the live index; null when Meilisearch was not read. */
  backend: { failed: number; pending: number } | null;
  /** Oban jobs of the schema; null when the schema has no queue or PostgreSQL was not read. */
  queue: {
    terminal: number;
    retrying: number;
    pending: number;
    /** Earliest `scheduled_at` among retrying jobs. */
    nextRetryAt: Date | null;
  } | null;
  /** Replays of the queue's failed rows; empty when none (or the bot's tables do not exist). */
  replays: readonly ReplayCell[];
}

export interface TriageTally {
  terminal: { backend: number; queue: number; total: number };
  /** Retrying rows not resolved by a replay, and when Oban tries next. */
  retrying: { total: number; nextAt: Date | null };
  pending: { backend: number; queue: number; total: number };
  /** Failed rows with a bot replay, by the replay's outcome. */
  replayed: Record<ReplayOutcome, number> & { total: number };
  /** Failed rows (terminal or retrying) whose replay completed or was verified. */
  resolved: number;
  /** Every failed row the failed-work list holds: terminal + retrying (resolved ones included). */
  rows: number;
  /** Terminal rows no replay resolved: what still needs a person. */
  needsTriage: number;
  /** Which planes the figures cover: a plane not read is unknown, not zero. */
  read: { backend: boolean; queue: boolean };
}

export function triageTally(input: TallyInput): TriageTally {
  const backend = input.backend ?? { failed: 0, pending: 0 };
  const queue = input.queue ?? { terminal: 0, retrying: 0, pending: 0, nextRetryAt: null };
  const replayed = { pending: 0, completed: 0, verified: 0, failed: 0, gone: 0, total: 0 };
  let resolvedTerminal = 0;
  let resolvedRetrying = 0;
  if (input.queue) {
    for (const cell of input.replays) {
      const outcome = replayOutcomeOf(cell.replayState, cell.verification ?? null);
      replayed[outcome] += cell.count;
      replayed.total += cell.count;
      if (resolvesRow(outcome)) {
        if (cell.row === "terminal") resolvedTerminal += cell.count;
        else resolvedRetrying += cell.count;
      }
    }
  }
  const terminal = { backend: backend.failed, queue: queue.terminal, total: backend.failed + queue.terminal };
  const retryingLeft = Math.max(0, queue.retrying - resolvedRetrying);
  return {
    terminal,
    retrying: { total: retryingLeft, nextAt: retryingLeft > 0 ? queue.nextRetryAt : null },
    pending: { backend: backend.pending, queue: queue.pending, total: backend.pending + queue.pending },
    replayed,
    resolved: resolvedTerminal + resolvedRetrying,
    rows: terminal.total + queue.retrying,
    needsTriage: Math.max(0, terminal.total - resolvedTerminal),
    read: { backend: input.backend !== null, queue: input.queue !== null },
  };
}

/** Several schemas' tallies added up (the overview and digest totals). */
export function addTallies(tallies: readonly TriageTally[]): TriageTally {
  const out = triageTally({ backend: { failed: 0, pending: 0 }, queue: null, replays: [] });
  out.read = { backend: true, queue: true };
  for (const t of tallies) {
    out.terminal.backend += t.terminal.backend;
    out.terminal.queue += t.terminal.queue;
    out.terminal.total += t.terminal.total;
    out.retrying.total += t.retrying.total;
    if (t.retrying.nextAt && (!out.retrying.nextAt || t.retrying.nextAt < out.retrying.nextAt)) {
      out.retrying.nextAt = t.retrying.nextAt;
    }
    out.pending.backend += t.pending.backend;
    out.pending.queue += t.pending.queue;
    out.pending.total += t.pending.total;
    // A digest snapshot stored before `verified` existed has no count for it.
    for (const k of REPLAY_OUTCOMES) out.replayed[k] += t.replayed[k] ?? 0;
    out.replayed.total += t.replayed.total;
    out.resolved += t.resolved;
    out.rows += t.rows;
    out.needsTriage += t.needsTriage;
    out.read.backend &&= t.read.backend;
    out.read.queue &&= t.read.queue;
  }
  return out;
}
