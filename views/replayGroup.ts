// The thread reply that follows a bulk retry's new jobs as a group (issue 16), edited in place:
// "812 replays · 640 completed · 160 pending · 12 failed (transport 10, unknown 2) · verified 5 of 5
// sampled documents", until every job finished (completed, failed with their classes and a hint,
// or gone from the table) or following timed out. Only sampled documents observed in the index
// count as verified; a group never claims every document is searchable.
import { REASON_CLASSES } from "../src/core/types.ts";
import type { ReplayGroupObservation, ReplayGroupState } from "../src/operator/replayGroup.ts";
import { code, context, count, finalizeMessage, plural, section, slackDate } from "./common.ts";
import { commandLabel } from "./errors.ts";
import type { SlackMessage, ViewContext } from "./types.ts";

export interface ReplayGroupReplyOptions {
  final: boolean;
  elapsedMs: number;
  /** The schema module, for the `/scrypath failed <schema> --class C` hint. */
  schema?: string | null;
  /** The index documents are sampled in, when the observation did not name one yet. */
  index?: string | null;
}

const LABELS: Record<ReplayGroupState, string> = {
  following: "following",
  completed: "completed",
  failed: "finished with failures",
  unknown: "finished, outcome partly unknown",
  timed_out: "timed out",
};

const EMOJI: Record<ReplayGroupState, string> = {
  following: ":hourglass_flowing_sand:",
  completed: ":white_check_mark:",
  failed: ":x:",
  unknown: ":grey_question:",
  timed_out: ":stopwatch:",
};

function seconds(ms: number): string {
  return count(Math.max(0, Math.round(ms / 1000)));
}

/** The failed jobs' classes in canonical order: "transport 10, unknown 2". */
function classList(o: ReplayGroupObservation): string {
  return REASON_CLASSES.filter((c) => (o.failedByClass[c] ?? 0) > 0)
    .map((c) => `${c} ${count(o.failedByClass[c] ?? 0)}`)
    .join(", ");
}

/** "812 replays · 640 completed · 160 pending (3 retrying) · 12 failed (transport 10, unknown 2) · …" */
export function groupFigures(o: ReplayGroupObservation): string {
  const parts = [plural(o.total, "replay"), `${count(o.completed)} completed`];
  if (o.pending > 0 || o.state === "following" || o.state === "timed_out")
    parts.push(`${count(o.pending)} pending${o.retrying > 0 ? ` (${count(o.retrying)} retrying)` : ""}`);
  if (o.failed > 0) parts.push(`${count(o.failed)} failed (${classList(o)})`);
  if (o.pruned > 0) parts.push(`${count(o.pruned)} pruned`);
  parts.push(`verified ${count(o.sample.verified)} of ${count(o.sample.sampled)} sampled documents`);
  return parts.join(" · ");
}

function sampleSentence(o: ReplayGroupObservation, where: string): string {
  if (o.completed === 0) return "No replay completed yet, so no document was sampled.";
  if (o.sample.sampled === 0)
    return `The completed jobs carried no documents the bot can look up, so search${where} to check.`;
  return `${count(o.sample.verified)} of ${count(o.sample.sampled)} sampled documents verified${where}; the other completed replays were not checked one by one.`;
}

function stateSentences(o: ReplayGroupObservation, opts: ReplayGroupReplyOptions, where: string): string[] {
  const failedCmd = (reasonClass: string) =>
    code(`${commandLabel("failed", opts.schema ?? "<schema>")} --class ${reasonClass}`);
  const failedLines =
    o.failed > 0
      ? [
          `${plural(o.failed, "replay")} failed (${classList(o)}): nothing from ${o.failed === 1 ? "it" : "them"} is searchable. To see them, run ${REASON_CLASSES.filter(
            (c) => (o.failedByClass[c] ?? 0) > 0,
          )
            .map(failedCmd)
            .join(", ")}.`,
        ]
      : [];
  const prunedLine =
    o.pruned > 0
      ? [
          `${plural(o.pruned, "replay job")} ${o.pruned === 1 ? "is" : "are"} no longer in ${code("oban_jobs")} (pruned, or deleted), so ${o.pruned === 1 ? "its" : "their"} outcome is unknown.`,
        ]
      : [];
  switch (o.state) {
    case "following":
      return [
        o.pending > 0
          ? `${count(o.pending)} still pending: accepted is not searchable, only sampled documents observed${where} count as verified.`
          : `Every replay finished; waiting to observe the sampled documents${where}.`,
        ...failedLines,
        ...prunedLine,
      ];
    case "completed":
      return o.sample.sampled > 0
        ? [
            `Completed, ${count(o.sample.verified)} of ${count(o.sample.sampled)} sampled documents verified${where}.`,
          ]
        : [
            `Completed in the queue; the jobs carried no documents the bot can look up, so search${where} to check.`,
          ];
    case "failed":
      return [...failedLines, ...prunedLine, sampleSentence(o, where)];
    case "unknown":
      return [...prunedLine, sampleSentence(o, where)];
    case "timed_out":
      return [
        o.pending > 0
          ? `${count(o.pending)} still pending after ${seconds(opts.elapsedMs)} s; accepted is not searchable.`
          : `Stopped following after ${seconds(opts.elapsedMs)} s with every replay finished, but not every sampled document was observed.`,
        ...failedLines,
        ...prunedLine,
        sampleSentence(o, where),
      ];
  }
}

/** The group's thread reply; pure, bounded (a handful of blocks whatever the group's size), escaped. */
export function replayGroupReply(
  o: ReplayGroupObservation,
  ctx: ViewContext,
  opts: ReplayGroupReplyOptions,
): SlackMessage {
  const index = o.index ?? opts.index ?? null;
  const where = index ? ` in ${code(index)}` : " in the index";
  const figures = groupFigures(o);
  const following = opts.final
    ? `Stopped following after ${seconds(opts.elapsedMs)} s · checked ${slackDate(ctx.now)}`
    : `Following… ${seconds(opts.elapsedMs)} s so far; this reply updates in place · checked ${slackDate(ctx.now)}`;
  const blocks = [
    section(`${EMOJI[o.state]} *Bulk retry: ${LABELS[o.state]}*\n${figures}`),
    section(stateSentences(o, opts, where).join("\n")),
    o.state !== "completed"
      ? context(["Accepted is not searchable: only documents observed in the index count as verified."])
      : null,
    context([following]),
  ];
  const text =
    o.state === "completed"
      ? `Bulk retry completed: ${figures}`
      : `Bulk retry ${LABELS[o.state]}: ${figures} (accepted is not searchable)`;
  return finalizeMessage(text, blocks);
}
