// reason_class_counts rollup (spec §3.4): dense, zero-filled, canonical order.
import { type FailedRollupCell, REASON_CLASSES, type ReasonClass, type ReasonClassCounts } from "./types.ts";

const isReasonClass = (v: unknown): v is ReasonClass =>
  typeof v === "string" && (REASON_CLASSES as readonly string[]).includes(v);

export function emptyCounts(): ReasonClassCounts {
  return {
    version: 1,
    total: 0,
    byClass: { transport: 0, validation: 0, backend_rejected: 0, queue_exhausted: 0, unknown: 0 },
  };
}

/** `total` is the number of rows; a nil or unrecognized class counts as `unknown`. */
export function countReasonClasses(
  rows: ReadonlyArray<{ reasonClass: ReasonClass | null | undefined }>,
): ReasonClassCounts {
  const counts = emptyCounts();
  for (const row of rows) {
    const cls = isReasonClass(row.reasonClass) ? row.reasonClass : "unknown";
    counts.byClass[cls] += 1;
  }
  counts.total = rows.length;
  return counts;
}

export function addCounts(a: ReasonClassCounts, b: ReasonClassCounts): ReasonClassCounts {
  const out = emptyCounts();
  for (const cls of REASON_CLASSES) out.byClass[cls] = a.byClass[cls] + b.byClass[cls];
  out.total = a.total + b.total;
  return out;
}

/**
 * Class counts of SQL rollup cells: all rows, or only one class, or only replayable rows (which
 * needs cells counted with `replayable`).
 */
export function countsFromCells(
  cells: readonly FailedRollupCell[],
  filter: { reasonClass?: ReasonClass; retryableOnly?: boolean } = {},
): ReasonClassCounts {
  const out = emptyCounts();
  for (const cell of cells) {
    if (filter.reasonClass && cell.reasonClass !== filter.reasonClass) continue;
    if (filter.retryableOnly && cell.replayable === null) {
      throw new Error("replayable rows were not counted in this rollup");
    }
    const n = filter.retryableOnly ? (cell.replayable ?? 0) : cell.count;
    out.byClass[isReasonClass(cell.reasonClass) ? cell.reasonClass : "unknown"] += n;
    out.total += n;
  }
  return out;
}

/** Rows per Oban state in rollup cells. */
export function countsByState(cells: readonly FailedRollupCell[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const cell of cells) out[cell.state] = (out[cell.state] ?? 0) + cell.count;
  return out;
}

/** Class with the highest count; ties go to the earlier class in canonical order; null when empty. */
export function dominantClass(counts: ReasonClassCounts): ReasonClass | null {
  let best: ReasonClass | null = null;
  for (const cls of REASON_CLASSES) {
    const n = counts.byClass[cls];
    if (n > 0 && (best === null || n > counts.byClass[best])) best = cls;
  }
  return best;
}

/** Upstream's ordered JSON: `version`, `total`, `by_class` (keys in canonical order). */
export function countsToJson(counts: ReasonClassCounts): {
  version: 1;
  total: number;
  by_class: Record<ReasonClass, number>;
} {
  const byClass = {} as Record<ReasonClass, number>;
  for (const cls of REASON_CLASSES) byClass[cls] = counts.byClass[cls];
  return { version: 1, total: counts.total, by_class: byClass };
}
