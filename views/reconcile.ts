// `/scrypath reconcile <schema>`: the report-first view (spec §5): summary, signals, failed-work
// rollup, recommended actions in order, reindex visibility, and the contract drift count.
import type { Button } from "@slack/types";
import { differingCount } from "../src/core/contractDrift.ts";
import { reconcileSummary, SIGNAL_LABELS } from "../src/core/reconcile.ts";
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
import { nextRetry, nobodyNeeded, replayedLine, tallyLine } from "./tally.ts";
import {
  ACTIONS,
  type ActionRequestValue,
  REQUEST_ACTIONS,
  type SlackMessage,
  type ViewContext,
} from "./types.ts";

/** Retry ids listed inline before "and N more". */
export const RETRY_IDS_SHOWN = 8;
/** One "Retry…" button per retry id only up to this many; more are retried from the failed list. */
export const RETRY_BUTTONS_MAX = 3;

/**
 * The summary without failed rows that no longer need a person (resolved by replay, or retrying:
 * Oban's to finish): Slack's headline counts what still needs triage.
 */
function slackSignals(report: ReconcileReport): DriftSignal[] {
  return report.tally.needsTriage > 0
    ? report.driftSignals
    : report.driftSignals.filter((s) => s !== "failed_sync_work");
}

function headline(report: ReconcileReport): string {
  if (report.tally.needsTriage > 0 || !report.driftSignals.includes("failed_sync_work"))
    return report.summary;
  const signals = slackSignals(report);
  if (report.reindex.taskState === "failed") return reconcileSummary(signals, report.reindex);
  return signals.length === 0
    ? "Nothing needs a person"
    : `Nothing needs a person · ${reconcileSummary(signals, report.reindex)}`;
}

function headlineEmoji(report: ReconcileReport): string {
  const s = slackSignals(report);
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
      return tallyLine(report.tally);
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

/** A button that only asks for a confirmation card (one per block: they share an action_id). */
function requestButton(text: string, value: ActionRequestValue): Button {
  return button({ text, actionId: REQUEST_ACTIONS.action, value: JSON.stringify(value) });
}

interface ActionRow {
  text: string;
  accessory?: Button;
}

/**
 * The recommended actions in order, one row each, with the button that requests it. Retries get
 * one button per job id only when there are few; a long list is retried from the failed view.
 */
function actionRows(report: ReconcileReport): ActionRow[] {
  const retries = report.actions.filter((a) => a.kind === "retry");
  const rows: ActionRow[] = [];
  let n = 0;
  const next = (): number => {
    n += 1;
    return n;
  };
  if (retries.length > 0) {
    const ids = retries.map((a) => String(a.reference?.jobId ?? "?"));
    const shown = ids.slice(0, RETRY_IDS_SHOWN);
    const total = Math.max(report.retryableTotal, ids.length);
    const more = total - shown.length;
    const text = `${next()}. ${code(`retry(ids=${shown.join(",")}${more > 0 ? ",…" : ""})`)}${
      more > 0 ? ` and ${count(more)} more` : ""
    } — ${ACTION_MEANING.retry}`;
    const jobIds = retries.map((a) => a.reference?.jobId).filter((id) => typeof id === "number");
    const few = total <= RETRY_BUTTONS_MAX && jobIds.length === total;
    const value = (id: number): ActionRequestValue => ({
      schema: report.schema,
      action: "retry",
      id: `oban:${id}`,
    });
    if (few && jobIds.length === 1 && jobIds[0] !== undefined) {
      rows.push({ text, accessory: requestButton("Retry…", value(jobIds[0])) });
    } else {
      rows.push({ text });
      if (few) {
        for (const id of jobIds) {
          const row = report.failedWork.find((f) => f.source === "oban" && f.id === id);
          const about = row ? ` · ${row.operation} · ${row.reasonClass}` : "";
          rows.push({
            text: `↳ ${code(`oban:${id}`)}${about}`,
            accessory: requestButton("Retry…", value(id)),
          });
        }
      }
    }
  }
  for (const a of report.actions) {
    if (a.kind === "backfill") {
      rows.push({
        text: `${next()}. ${code("backfill")} — ${ACTION_MEANING.backfill(a)}`,
        accessory: requestButton("Backfill…", { schema: report.schema, action: "backfill" }),
      });
    }
    if (a.kind === "reindex") {
      rows.push({
        text: `${next()}. ${code("reindex")} — ${ACTION_MEANING.reindex(a)}`,
        accessory: requestButton("Reindex…", {
          schema: report.schema,
          action: "reindex",
          targetIndex: a.index,
        }),
      });
    }
  }
  return rows;
}

/**
 * Cutover is never a recommendation, but it is offered once the target index has task history
 * and no swap is already pending; every promotion rule is re-checked when it is confirmed.
 */
function swapRow(report: ReconcileReport): ActionRow | null {
  const r = report.reindex;
  if (!r.observed || r.cutover === "pending" || r.targetIndex === r.liveIndex) return null;
  // What this report already shows would block promotion (§9.5); the confirmation re-checks all.
  const pending =
    report.status.backend.pending.total +
    report.status.queue.pending.total +
    report.status.queue.retrying.total;
  const blockers = [
    r.taskState === "pending" ? "a target-index task is still running" : null,
    r.taskState === "failed" ? "the last target-index task failed" : null,
    report.failedWorkCounts.total > 0 ? plural(report.failedWorkCounts.total, "failed row") : null,
    pending > 0 ? `${count(pending)} pending queue or backend items` : null,
  ].filter(Boolean);
  const now = blockers.length > 0 ? `\n_Would be refused right now: ${blockers.join(", ")}._` : "";
  return {
    text: `*Cutover:* ${code("swap")} — make ${code(r.targetIndex)} live in one step (swapped with ${code(
      r.liveIndex,
    )}); refused at confirmation unless every promotion rule holds${now}`,
    accessory: requestButton("Swap…", { schema: report.schema, action: "swap", targetIndex: r.targetIndex }),
  };
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
  const t = report.tally;
  const failedText =
    counts.total === 0
      ? "*Failed work:* none"
      : [
          `*Failed work:* ${tallyLine(t)} — ${classLine(counts)}${dominant ? ` (mostly ${dominant})` : ""}`,
          nobodyNeeded(t),
          nextRetry(t),
          replayedLine(t),
        ]
          .filter(Boolean)
          .join("\n");

  const rows = actionRows(report);
  const swap = swapRow(report);
  const reindexKept =
    report.actions.some((a) => a.kind === "reindex") && report.reindex.cutover === "completed"
      ? "_A completed swap is still in task history, so reindex stays recommended: check the cutover before running it._"
      : null;
  const actionBlocks =
    rows.length === 0
      ? [section("*Recommended actions:* none")]
      : rows.map((row, i) =>
          section(i === 0 ? `*Recommended actions*\n${row.text}` : row.text, {
            ...(row.accessory ? { accessory: row.accessory } : {}),
          }),
        );

  const value = openValue({ schema: report.schema });
  const buttons: Button[] = [
    button({
      text: "Failed work",
      actionId: ACTIONS.openFailed,
      value,
      ...(t.needsTriage > 0 ? { style: "primary" as const } : {}),
    }),
    button({ text: "Contract drift", actionId: ACTIONS.openDrift, value }),
  ];
  const contract = contractLine(report);

  const blocks = [
    header(`${headlineEmoji(report)} ${headline(report)}`),
    context([`${code(report.schema)} · mode *${report.mode}* · index ${code(report.index)}`]),
    section(`${signalText}\n${failedText}`),
    ...actionBlocks,
    reindexKept ? context([reindexKept]) : null,
    swap ? section(swap.text, { ...(swap.accessory ? { accessory: swap.accessory } : {}) }) : null,
    rows.length > 0 || swap
      ? context([
          "Recommendations only: a button posts a confirmation card stating the blast radius; nothing runs until an operator confirms it there.",
        ])
      : null,
    divider(),
    fields(reindexFields(report.reindex), { text: "*Reindex visibility*" }),
    contract ? section(contract) : null,
    actions(buttons, { blockId: "scrypath.reconcile.actions" }),
    footer([ACCEPTED_NOT_SEARCHABLE, ctx.sharedBy ? sharedContext(ctx.sharedBy) : null]),
  ];
  const text = `${escapeMrkdwn(report.schema)}: ${escapeMrkdwn(headline(report))}${
    counts.total > 0 ? ` (${tallyLine(t)})` : ""
  }`;
  return finalizeMessage(text, blocks);
}
