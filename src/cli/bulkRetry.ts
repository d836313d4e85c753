// `scrypath-bot retry <Schema> --class C [--since 2h] [--state terminal|retrying|all]`: the blast
// radius of a resolved bulk retry as a terminal prompt, its progress on stderr, and one stdout
// line per outcome group in the style of a single retry's mix lines. Pure text: the operator
// resolved and executed.
import type { BulkProgress, BulkRetryPlan, BulkRetryResult } from "../operator/index.ts";
import { isoTimestamp } from "./format.ts";
import type { MutationOutcome } from "./mutations.ts";
import type { RequestText } from "./requestText.ts";

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const words = (reason: string) => reason.replaceAll("_", " ");
const counts = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, n]) => `${n} ${words(k)}`)
    .join(", ");

/** What the prompt states before a bulk retry: how many, which, what was left out, what happens. */
export function bulkRetryText(plan: BulkRetryPlan): RequestText {
  const n = plan.ids.length;
  const f = plan.filter;
  const what = `retry ${plural(n, "failed job")} of class ${f.reasonClass} in ${plan.schema}`;
  const about = `About to ${what} (state ${f.state}${f.since ? `, failed since ${isoTimestamp(f.since)}` : ""}).`;
  // The blast radius is said first (stderr), with --yes too; the question repeats the headline.
  const notes = [
    about,
    `By class: ${counts(plan.byClass)}; by state: ${counts(plan.byState)}.`,
    `Oldest failure: ${plan.oldestFailure ? isoTimestamp(plan.oldestFailure) : "unknown"}; newest: ${plan.newestFailure ? isoTimestamp(plan.newestFailure) : "unknown"}.`,
    `Sample (${plan.sample.length} of ${n}):`,
    ...plan.sample.map((s) => `  ${s.id} ${s.state} ${s.operation}: ${s.lastError ?? "no error recorded"}`),
    Object.keys(plan.excluded).length > 0
      ? `Excluded: ${counts(plan.excluded)} (a single retry would refuse them).`
      : "Excluded: none.",
    `What will happen: ${plural(n, "new Oban job")} in queue ${plan.queue}, available now; the failed jobs stay as they are.`,
  ];
  if ((plan.byState.retryable ?? 0) > 0) {
    notes.push(
      `${plural(plan.byState.retryable ?? 0, "row is", "rows are")} retryable: Oban would also retry them by itself; a replay now runs the same work twice.`,
    );
  }
  return { what, notes, lines: [about] };
}

export function progressLine(p: BulkProgress): string {
  return `Retried ${p.done} of ${p.total}${p.skipped > 0 ? ` · ${p.skipped} skipped` : ""}`;
}

/** One line per outcome group; exit 1 when a batch failed (whole batches only were committed). */
export function bulkRetryOutcome(
  plan: BulkRetryPlan,
  result: BulkRetryResult,
): { outcome: MutationOutcome; failed: boolean } {
  const lines = [
    `Retried failed work of class ${plan.filter.reasonClass} (${plural(plan.ids.length, "job")})`,
    `Replayed: ${result.replayed.length}`,
    ...Object.entries(result.skipped).map(([reason, n]) => `Skipped: ${n} (${words(reason)})`),
  ];
  const notes: string[] = [];
  if (result.failedBatches > 0) {
    lines.push(`Not attempted: ${result.notAttempted} (a batch failed)`);
    notes.push(
      `${result.error?.message ?? "a batch failed"}. Whole batches only were committed: ${result.replayed.length} replayed; run the same command again to retry the rest.`,
    );
  }
  lines.push("Mode: oban", `Reference: ${plan.index}`);
  return {
    failed: result.failedBatches > 0,
    outcome: {
      lines,
      notes,
      json: {
        schema: plan.schema,
        filter: { ...plan.filter, since: plan.filter.since?.toISOString() ?? null },
        resolved: plan.ids.length,
        excluded: plan.excluded,
        replayed: result.replayed.map((r) => ({ id: r.id, job_id: r.jobId })),
        skipped: result.skipped,
        batches: result.batches,
        failed_batches: result.failedBatches,
        not_attempted: result.notAttempted,
        mode: "oban",
        index: plan.index,
      },
    },
  };
}
