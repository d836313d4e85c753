// The triage tally in words (DESIGN.md "One vocabulary"): every surface that shows failed work
// counts it with these phrases, so the same moment reads the same everywhere.
import {
  REPLAY_OUTCOMES,
  type ReplayOutcome,
  replayOutcomeOf,
  resolvesRow,
  type TriageTally,
} from "../src/core/tally.ts";
import type { FailedWork, ReplayRef } from "../src/core/types.ts";
import { count, escapeMrkdwn, plural, slackDate } from "./common.ts";

const OUTCOME_WORDS: Record<ReplayOutcome, string> = {
  pending: "pending",
  completed: "completed",
  verified: "verified",
  failed: "failed",
  gone: "pruned from oban_jobs",
};

/** "Oban tries again <date>", or null when nothing is retrying. */
export function nextRetry(t: TriageTally): string | null {
  return t.retrying.nextAt ? `Oban tries again ${slackDate(t.retrying.nextAt)}` : null;
}

/**
 * "13 rows · 3 resolved by replay (2 verified) · 2 retrying · 8 need triage": every failed row,
 * split into what a replay resolved (and of that, what was verified in the index), what Oban
 * retries by itself and what still needs a person. Parts that are zero are left out, except
 * "need triage".
 */
export function tallyLine(t: TriageTally): string {
  const parts = [plural(t.rows, "failed row")];
  if (t.resolved > 0) {
    const verified = t.replayed.verified > 0 ? ` (${count(t.replayed.verified)} verified)` : "";
    parts.push(`${count(t.resolved)} resolved by replay${verified}`);
  }
  if (t.retrying.total > 0) parts.push(`${count(t.retrying.total)} retrying`);
  parts.push(`${count(t.needsTriage)} ${t.needsTriage === 1 ? "needs" : "need"} triage`);
  return parts.join(" · ");
}

/** "replayed by the bot 4: 1 pending, 1 completed, 2 verified", or null when the bot replayed none of these rows. */
export function replayedLine(t: TriageTally): string | null {
  if (t.replayed.total === 0) return null;
  const parts = REPLAY_OUTCOMES.filter((k) => t.replayed[k] > 0).map(
    (k) => `${count(t.replayed[k])} ${OUTCOME_WORDS[k]}`,
  );
  return `replayed by the bot ${count(t.replayed.total)}: ${parts.join(", ")}`;
}

/** The headline: what still needs a person, said plainly when nothing does. */
export function needsHeadline(t: TriageTally, scope = ""): string {
  if (t.needsTriage > 0) {
    return `${plural(t.needsTriage, "terminal failure")}${scope} ${t.needsTriage === 1 ? "needs" : "need"} triage`;
  }
  if (t.rows === 0) return "No failed sync work";
  return "Nothing needs a person";
}

/** "4 pending (queued or processing: Meilisearch 1, Oban 3)", or null when nothing is pending. */
export function pendingLine(t: TriageTally): string | null {
  if (t.pending.total === 0) return null;
  return `${count(t.pending.total)} pending (queued or processing: Meilisearch ${count(t.pending.backend)}, Oban ${count(t.pending.queue)})`;
}

/** "terminal 10 (backend 2, queue 8) · retrying 3 · pending 4": the plane split, labelled. */
export function vocabularyLine(t: TriageTally): string {
  const terminal = `terminal ${count(t.terminal.total)}${
    t.terminal.total > 0 ? ` (Meilisearch ${count(t.terminal.backend)}, Oban ${count(t.terminal.queue)})` : ""
  }`;
  return [terminal, `retrying ${count(t.retrying.total)}`, `pending ${count(t.pending.total)}`].join(" · ");
}

/** When failed rows remain but none needs a person, the plain sentence that says so; else null. */
export function nobodyNeeded(t: TriageTally): string | null {
  if (t.needsTriage > 0 || t.rows === 0) return null;
  const why = [
    t.resolved > 0 ? "replays resolved the terminal failures" : null,
    t.retrying.total > 0 ? "Oban retries the rest by itself" : null,
  ].filter(Boolean);
  return `Nothing here needs a person: ${why.join(", and ")}.`;
}

/**
 * What `/scrypath failed <schema>` prints under its headline: the tally line (bold when
 * `emphasise`), the plain "nothing needs a person", when Oban tries again, and the replays.
 */
export function tallyLines(t: TriageTally, opts: { emphasise?: boolean } = {}): string[] {
  const line = tallyLine(t);
  return [opts.emphasise ? `*${line}*` : line, nobodyNeeded(t), nextRetry(t), replayedLine(t)].filter(
    (l): l is string => l !== null,
  );
}

// ── One failed row ──────────────────────────────────────────────────────────────────────────

/** The vocabulary's word for a row: terminal (will not self-heal) or retrying (Oban tries again). */
export function rowStateWord(state: FailedWork["state"]): "terminal" | "retrying" {
  return state === "retrying" ? "retrying" : "terminal";
}

/** "retrying · Oban tries again <date> (attempt 4 of 8): not terminal", for a `retrying` row. */
export function retryingRowLine(
  row: Pick<FailedWork, "state" | "retryAt" | "attempt" | "maxAttempts">,
): string | null {
  if (row.state !== "retrying") return null;
  return `:hourglass_flowing_sand: retrying · Oban tries again ${row.retryAt ? slackDate(row.retryAt) : "by itself"}${
    row.attempt !== null && row.maxAttempts !== null
      ? ` (attempt ${row.attempt + 1} of ${row.maxAttempts})`
      : ""
  }: not terminal`;
}

/**
 * "replayed as #25 · verified · resolved": a completed or verified replay closes the row. The
 * replay's Oban state, or "verified" once a follower observed its documents in the index; `when`
 * is appended.
 */
export function replayLine(r: ReplayRef, when: string | null = null): string {
  const outcome = replayOutcomeOf(r.state, r.verification ?? null);
  const state =
    outcome === "verified"
      ? "verified"
      : r.state
        ? escapeMrkdwn(r.state)
        : outcome === "gone"
          ? "no longer in oban_jobs"
          : `${outcome}, no longer in oban_jobs`;
  const tail = when ? ` ${when}` : "";
  return resolvesRow(outcome)
    ? `:white_check_mark: replayed as #${r.jobId} · ${state} · *resolved*${tail}`
    : `:repeat: replayed as #${r.jobId} · ${state}${tail}`;
}
