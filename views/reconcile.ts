// `/scrypath reconcile <schema>`: the report-first view (spec §5): summary, signals, failed-work
// rollup, recommended actions in order, reindex visibility, and the contract drift count.
import type { Button } from "@slack/types";
import { differingCount } from "../src/core/contractDrift.ts";
import { SIGNAL_LABELS } from "../src/core/reconcile.ts";
import { dominantClass } from "../src/core/rollup.ts";
import {
  CONTRACT_DIMENSIONS,
  type DriftSignal,
  REASON_CLASSES,
  type ReasonClassCounts,
  type RecoveryAction,
  type ReindexVisibility,
} from "../src/core/types.ts";
import type { ReconcileReport } from "../src/operator/index.ts";
import {
  actions,
  button,
  code,
  context,
  count,
  divider,
  escapeMrkdwn,
  fields,
  finalizeMessage,
  footer,
  header,
  openValue,
  plural,
  section,
} from "./common.ts";
import { sharedContext } from "./errors.ts";
import { ACCEPTED_NOT_SEARCHABLE } from "./status.ts";
import { ACTIONS, type SlackMessage, type ViewContext } from "./types.ts";

/** Retry ids listed inline before "and N more". */
export const RETRY_IDS_SHOWN = 8;

function headlineEmoji(report: ReconcileReport): string {
  const s = report.driftSignals;
  if (s.includes("failed_sync_work")) return ":red_circle:";
  if (s.includes("pending_backend_work") || s.includes("pending_queue_work"))
    return ":hourglass_flowing_sand:";
  if (s.includes("reindex_in_progress") || s.includes("reindex_cutover_pending")) {
    return ":arrows_counterclockwise:";
  }
  if (report.reindex.taskState === "failed") return ":x:";
  return ":large_green_circle:";
}

function signalDetail(signal: DriftSignal, report: ReconcileReport): string {
  const { status, reindex } = report;
  switch (signal) {
    case "pending_backend_work":
      return plural(status.backend.pending.total, "task");
    case "pending_queue_work":
      return `${count(status.queue.pending.total)} pending, ${count(status.queue.retrying.total)} retrying`;
    case "failed_sync_work":
      return plural(report.failedWorkCounts.total, "row");
    case "reindex_visibility_available":
      return `on ${code(reindex.targetIndex)}`;
    case "reindex_in_progress":
      return "a target-index task is enqueued or processing";
    case "reindex_cutover_pending":
      return "a swap task exists but has not succeeded (a failed swap reads as pending too)";
  }
}

/** "transport 600 · validation 200", non-zero classes in canonical order. */
export function classLine(counts: ReasonClassCounts): string {
  return REASON_CLASSES.filter((c) => counts.byClass[c] > 0)
    .map((c) => `${c} ${count(counts.byClass[c])}`)
    .join(" · ");
}

const ACTION_MEANING = {
  retry: "replay each listed failed queue job as a new Oban job",
  backfill: (a: RecoveryAction) => `re-send the schema's documents to the live index ${code(a.index)}`,
  reindex: (a: RecoveryAction) => `rebuild into ${code(a.index)}, then swap it live`,
};

function actionLines(report: ReconcileReport): string[] {
  const retries = report.actions.filter((a) => a.kind === "retry");
  const lines: string[] = [];
  if (retries.length > 0) {
    const ids = retries.map((a) => String(a.reference?.jobId ?? "?"));
    const shown = ids.slice(0, RETRY_IDS_SHOWN);
    const total = Math.max(report.retryableTotal, ids.length);
    const more = total - shown.length;
    lines.push(
      `${code(`retry(ids=${shown.join(",")}${more > 0 ? ",…" : ""})`)}${
        more > 0 ? ` and ${count(more)} more` : ""
      } — ${ACTION_MEANING.retry}`,
    );
  }
  for (const a of report.actions) {
    if (a.kind === "backfill") lines.push(`${code("backfill")} — ${ACTION_MEANING.backfill(a)}`);
    if (a.kind === "reindex") lines.push(`${code("reindex")} — ${ACTION_MEANING.reindex(a)}`);
  }
  return lines.map((l, i) => `${i + 1}. ${l}`);
}

function reindexFields(r: ReindexVisibility): string[] {
  const last = r.lastTask
    ? `#${r.lastTask.id} ${code(r.lastTask.type)} (${escapeMrkdwn(r.lastTask.state)})`
    : "none observed";
  return [
    `*Live index*\n${code(r.liveIndex)}`,
    `*Target index*\n${code(r.targetIndex)}`,
    `*Task state*\n${r.taskState}${r.observed ? "" : " (no task history)"}`,
    `*Cutover*\n${r.cutover.replace("_", " ")}`,
    `*Last task*\n${last}`,
  ];
}

function contractLine(report: ReconcileReport): string | null {
  const drift = report.indexContractDrift;
  if (!drift) return null;
  const n = differingCount(drift);
  if (n === 0)
    return `:white_check_mark: *Index contract:* OK — all ${CONTRACT_DIMENSIONS.length} dimensions match`;
  const names = CONTRACT_DIMENSIONS.filter((d) => !drift.dimensions[d].match).join(", ");
  return `:warning: *Index contract:* ${n} of ${CONTRACT_DIMENSIONS.length} differ (${names})`;
}

export function reconcileView(report: ReconcileReport, ctx: ViewContext): SlackMessage {
  const signals = report.driftSignals;
  const signalText =
    signals.length === 0
      ? "*Signals:* none"
      : `*Signals*\n${signals.map((s) => `• ${SIGNAL_LABELS[s]} — ${signalDetail(s, report)}`).join("\n")}`;

  const counts = report.failedWorkCounts;
  const dominant = dominantClass(counts);
  const failedText =
    counts.total === 0
      ? "*Failed work:* none"
      : `*Failed work:* ${count(counts.total)} — ${classLine(counts)}${dominant ? ` (mostly ${dominant})` : ""}`;

  const lines = actionLines(report);
  const reindexKept =
    report.actions.some((a) => a.kind === "reindex") && report.reindex.cutover === "completed"
      ? "\n_A completed swap is still in task history, so reindex stays recommended: check the cutover before running it._"
      : "";
  const actionsText =
    lines.length === 0
      ? "*Recommended actions:* none"
      : `*Recommended actions*\n${lines.join("\n")}${reindexKept}`;

  const value = openValue({ schema: report.schema });
  const buttons: Button[] = [
    button({
      text: "Failed work",
      actionId: ACTIONS.openFailed,
      value,
      ...(counts.total > 0 ? { style: "primary" as const } : {}),
    }),
    button({ text: "Contract drift", actionId: ACTIONS.openDrift, value }),
  ];
  const contract = contractLine(report);

  const blocks = [
    header(`${headlineEmoji(report)} ${report.summary}`),
    context([`${code(report.schema)} · mode *${report.mode}* · index ${code(report.index)}`]),
    section(`${signalText}\n${failedText}`),
    section(actionsText),
    lines.length > 0
      ? context(["Recommendations only: running one is a separate command that an operator confirms."])
      : null,
    divider(),
    fields(reindexFields(report.reindex), { text: "*Reindex visibility*" }),
    contract ? section(contract) : null,
    actions(buttons, { blockId: "scrypath.reconcile.actions" }),
    footer([ACCEPTED_NOT_SEARCHABLE, ctx.sharedBy ? sharedContext(ctx.sharedBy) : null]),
  ];
  const text = `${escapeMrkdwn(report.schema)}: ${escapeMrkdwn(report.summary)}${
    counts.total > 0 ? ` (${plural(counts.total, "failed row")})` : ""
  }`;
  return finalizeMessage(text, blocks);
}
