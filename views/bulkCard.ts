// The bulk-retry parts of a confirmation card (issue 16): the blast radius of the ids stored with
// the request (counts by class and state, oldest and newest failure, five samples with their last
// errors, what was left out and why), the progress line while it runs, and the counts per outcome
// once it ran. Counts only: a card built from 1,000 ids never lists them.

import type { BulkRetryResult } from "../src/operator/bulkRetry.ts";
import type { BulkPreview } from "../src/operator/requests.ts";
import { code, count, escapeMrkdwn, excerpt, plural, slackDate, truncate } from "./common.ts";
import { commandLabel } from "./errors.ts";
import { CLASS_HINTS } from "./failed.ts";

/** One sample row's last error on the card, at most. */
export const BULK_SAMPLE_ERROR = 160;
/** The samples' section, at most (Slack allows 3,000). */
const SAMPLE_SECTION_MAX = 2_800;
/** One field, at most (Slack allows 2,000). */
const FIELD_MAX = 500;

const words = (reason: string) => reason.replaceAll("_", " ");

/** An Oban state in the triage vocabulary: `retryable` is retrying; the rest is terminal. */
const obanStateWord = (state: string) => (state === "retryable" ? "retrying" : "terminal");

const dateOf = (iso: string | null, none = "unknown") => (iso ? slackDate(new Date(iso)) : none);

/** "4 already replayed, 2 not retryable", largest first (plain text: escape it for mrkdwn). */
export function reasonCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([reason, n]) => `${count(n)} ${words(reason)}`)
    .join(", ");
}

const field = (label: string, value: string) => truncate(`*${label}*\n${value}`, FIELD_MAX);

/** The card's fields for a bulk request: where, which filter, how many, by class and state, when. */
export function bulkFields(
  preview: { schema: string | null; index: string | null },
  bulk: BulkPreview,
): string[] {
  const f = bulk.filter;
  const since = f.since ? `failed since ${dateOf(f.since)}` : "any time";
  const byState = Object.entries(bulk.byState)
    .sort(([, x], [, y]) => y - x)
    .map(([state, n]) => `${obanStateWord(state)} (${code(state)}): ${count(n)}`)
    .join("\n");
  const byClass = Object.entries(bulk.byClass)
    .map(([cls, n]) => `${code(cls)}: ${count(n)}`)
    .join("\n");
  return [
    ...(preview.schema !== null ? [field("Schema", code(preview.schema))] : []),
    ...(preview.index !== null ? [field("Index", code(preview.index))] : []),
    field("Queue", code(bulk.queue)),
    field("Filter", `class ${code(f.reasonClass)} · state ${escapeMrkdwn(f.state)} · ${since}`),
    field("Jobs", `${count(bulk.total)} (limit ${count(bulk.limit)})`),
    field("By state", byState || "none"),
    field("By class", byClass || "none"),
    field("Failures", `oldest ${dateOf(bulk.oldestFailure)}\nnewest ${dateOf(bulk.newestFailure)}`),
  ];
}

/** What the class usually means and the first move, as `/scrypath failed` says it under its rollup. */
export function bulkClassHint(bulk: BulkPreview): string {
  return `*Reason class ${code(bulk.filter.reasonClass)}:* ${escapeMrkdwn(CLASS_HINTS[bulk.filter.reasonClass])}`;
}

/** Five of the rows, newest first, each with its last error (redacted, escaped, bounded). */
export function bulkSampleText(bulk: BulkPreview): string | null {
  if (bulk.sample.length === 0) return null;
  const rows = bulk.sample.map((s) => {
    const state = s.state === "retrying" ? "retrying" : "terminal";
    const head = `${code(`oban:${s.id}`)} · ${state} · ${code(s.reasonClass)} · failed ${dateOf(s.failedAt)}`;
    return s.reason ? `${head}\n> ${excerpt(s.reason, BULK_SAMPLE_ERROR)}` : head;
  });
  const head = `*Sample: ${count(bulk.sample.length)} of ${count(bulk.total)}, newest jobs first*`;
  return truncate([head, ...rows].join("\n"), SAMPLE_SECTION_MAX);
}

/** "6 matching rows were left out: 4 already replayed, 2 not retryable", or null. */
export function bulkExcludedText(bulk: BulkPreview): string | null {
  const left = Object.values(bulk.excluded).reduce((a, b) => a + b, 0);
  if (left === 0) return null;
  return `${plural(left, "matching row was", "matching rows were")} left out: ${escapeMrkdwn(reasonCounts(bulk.excluded))} (a single retry would refuse them).`;
}

/** "400 of 812 · 3 skipped": a running bulk retry's progress. */
export function progressText(p: { done: number; total: number; skipped: number }): string {
  return `${count(p.done)} of ${count(p.total)}${p.skipped > 0 ? ` · ${count(p.skipped)} skipped` : ""}`;
}

/**
 * A bulk retry's outcome as card lines (plain text: the card redacts, escapes and bounds them):
 * counts per outcome, never ids; a batch that failed says how many were not attempted and why.
 */
export function bulkOutcome(
  r: BulkRetryResult,
  schema: string | null,
): { ok: boolean; headline: string; lines: string[] } {
  const replayed = r.replayed.length;
  const skipped = Object.values(r.skipped).reduce((a, b) => a + b, 0);
  const total = replayed + skipped + r.notAttempted;
  const skippedLine =
    skipped > 0
      ? `Skipped: ${count(skipped)} (${reasonCounts(r.skipped)}): no longer failed, or replayed meanwhile.`
      : null;
  // The workflow follows every replay it made in this card's thread (views/replayGroup.ts).
  const searchable =
    replayed > 0
      ? "Accepted is not searchable: the workers still have to run. The thread follows the new jobs and checks a sample of their documents in the index."
      : `Nothing was replayed; check \`${commandLabel("failed", schema)}\`.`;
  if (r.error === null) {
    return {
      ok: true,
      headline: `Bulk retry accepted · ${count(replayed)} of ${count(total)} replayed as new jobs${skipped > 0 ? `, ${count(skipped)} skipped` : ""}`,
      lines: [
        `Replayed: ${count(replayed)} (one new Oban job each, available now; the failed jobs stay as they are).`,
        ...(skippedLine ? [skippedLine] : []),
        searchable,
      ],
    };
  }
  return {
    ok: false,
    headline: `Bulk retry stopped · ${count(replayed)} of ${count(total)} replayed, ${count(r.notAttempted)} not attempted`,
    lines: [
      `Replayed: ${count(replayed)} (whole batches only were committed).`,
      ...(skippedLine ? [skippedLine] : []),
      r.error.code === "shutting_down"
        ? `Not attempted: ${count(r.notAttempted)}: ${r.error.message}.`
        : `Not attempted: ${count(r.notAttempted)}, because a batch failed: ${r.error.message}.`,
      "Ask again for the rest: rows already replayed are left out.",
      searchable,
    ],
  };
}
