// Mix-task-compatible output (spec §8): the same labels, order and line shapes as
// `mix scrypath.status | failed | reconcile | index.contract_drift | settings.diff`.
// Pure functions from operator results to lines of text.

import { dimensionSummary } from "../core/contractDrift.ts";
import { redactValue } from "../core/redact.ts";
import type { ContractDriftReport, ReasonClassCounts, Status, SyncState } from "../core/types.ts";
import { CONTRACT_DIMENSIONS, REASON_CLASSES } from "../core/types.ts";
import type { FailedWorkResult, ReconcileReport, SettingsDiff } from "../operator/index.ts";

/** ISO-8601 UTC, whole seconds unless the timestamp has a fraction (`2026-04-16T22:00:00Z`). */
export function isoTimestamp(date: Date): string {
  return date.toISOString().replace(".000Z", "Z");
}

/** A state's time at the source's precision (microseconds, as upstream prints), else from `at`. */
export function stateTimestamp(state: SyncState): string | null {
  return state.atIso ?? (state.at ? isoTimestamp(state.at) : null);
}

/** `none` or `<source>:<id> (<state>)` with ` at <timestamp>` when known (§8.1). */
export function formatState(state: SyncState | null): string {
  if (!state) return "none";
  const at = stateTimestamp(state);
  return `${state.source}:${state.id} (${state.state})${at ? ` at ${at}` : ""}`;
}

export function formatStatus(status: Status): string[] {
  return [
    `Schema: ${status.schema}`,
    `Mode: ${status.mode}`,
    `Index: ${status.index}`,
    `Backend pending: ${status.backend.pending.total}`,
    `Backend failed: ${status.backend.failed.total}`,
    `Backend last succeeded: ${formatState(status.backend.lastSucceeded)}`,
    `Queue observed: ${status.queue.observed ? "yes" : "no"}`,
    `Queue pending: ${status.queue.pending.total}`,
    `Queue retrying: ${status.queue.retrying.total}`,
    `Queue failed: ${status.queue.failed.total}`,
    `Queue last succeeded: ${formatState(status.queue.lastSucceeded)}`,
  ];
}

/** `  transport=<n>, validation=<n>, backend_rejected=<n>, queue_exhausted=<n>, unknown=<n>` */
export function formatCountsLine(counts: ReasonClassCounts): string {
  return `  ${REASON_CLASSES.map((c) => `${c}=${counts.byClass[c]}`).join(", ")}`;
}

export function formatFailed(result: FailedWorkResult, options: { classSummary: boolean }): string[] {
  const lines = [`Schema: ${result.schema}`, `Failed work: ${result.counts.total}`];
  if (options.classSummary && result.counts.total > 0) {
    lines.push("Failed work by class:", formatCountsLine(result.counts));
  }
  for (const row of result.entries) {
    lines.push(
      `- id=${row.id} source=${row.source} state=${row.state} operation=${row.operation} ` +
        `retryable=${row.retryable ? "yes" : "no"} reason_class=${row.reasonClass ?? "unknown"} ` +
        `reason=${row.reason || "n/a"}`,
    );
  }
  return lines;
}

/** `retry(ids=1001,1002)`, then `backfill`, then `reindex` (§8.4). */
export function formatActions(report: Pick<ReconcileReport, "actions">): string {
  const retryIds = report.actions.filter((a) => a.kind === "retry").map((a) => a.reference?.jobId);
  const parts = [
    ...(retryIds.length > 0 ? [`retry(ids=${retryIds.join(",")})`] : []),
    ...report.actions.filter((a) => a.kind === "backfill").map(() => "backfill"),
    ...report.actions.filter((a) => a.kind === "reindex").map(() => "reindex"),
  ];
  return parts.length > 0 ? parts.join(", ") : "none";
}

export function formatReconcile(report: ReconcileReport): string[] {
  return [
    `Schema: ${report.schema}`,
    `Mode: ${report.mode}`,
    `Index: ${report.index}`,
    `Drift signals: ${report.driftSignals.length > 0 ? report.driftSignals.join(", ") : "none"}`,
    `Failed work count: ${report.failedWorkCounts.total}`,
    // Always printed, even when zero (§8.4).
    "Failed work by class:",
    formatCountsLine(report.failedWorkCounts),
    `Recommended actions: ${formatActions(report)}`,
    `Reindex live index: ${report.reindex.liveIndex}`,
    `Reindex target index: ${report.reindex.targetIndex}`,
    `Reindex task state: ${report.reindex.taskState}`,
    `Reindex cutover: ${report.reindex.cutover}`,
  ];
}

export const CONTRACT_DRIFT_FOOTER = [
  "Re-run with --json for the full machine-readable report.",
  "For declared-vs-applied Meilisearch settings keys only, see mix scrypath.settings.diff.",
  "For operational sync posture and managed reindex flows, see Scrypath.reconcile_sync/2 and Scrypath.reindex/2.",
];

export function formatContractDrift(report: ContractDriftReport, module: string): string[] {
  const differing = CONTRACT_DIMENSIONS.filter((d) => !report.dimensions[d].match);
  if (differing.length === 0) return [`Index contract OK for ${module} (index=${report.index})`];
  return [
    `INDEX CONTRACT DRIFT for ${module} (index=${report.index})`,
    ...differing.map((d) => `  ! ${d}: ${dimensionSummary(report.dimensions[d])}`),
    "",
    ...CONTRACT_DRIFT_FOOTER,
  ];
}

/** Values in settings output are printed as JSON (upstream prints Elixir terms). */
function value(v: unknown): string {
  return JSON.stringify(redactValue(v));
}

export function formatSettingsDiff(diff: SettingsDiff): string[] {
  if (diff.status === "parity") return [`No drift detected for ${diff.schema} (index=${diff.index})`];
  const lines = [`DRIFT for ${diff.schema} (index=${diff.index})`];
  for (const d of diff.drift) {
    lines.push("", `  ! ${d.key}`, `    declared: ${value(d.declared)}`, `    applied:  ${value(d.applied)}`);
  }
  lines.push(
    "",
    `Set settings: %{...} on the schema OR run \`mix scrypath.reindex ${diff.schema}\` to re-apply.`,
  );
  return lines;
}
