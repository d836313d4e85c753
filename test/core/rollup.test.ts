import { describe, expect, it } from "vitest";
import {
  addCounts,
  countReasonClasses,
  countsByState,
  countsFromCells,
  countsToJson,
  dominantClass,
  emptyCounts,
} from "../../src/core/rollup.ts";
import type { FailedRollupCell, ReasonClass } from "../../src/core/types.ts";

/** Counts with the given number of rows per class. */
const counts = (byClass: Partial<Record<ReasonClass, number>>) =>
  countReasonClasses(
    Object.entries(byClass).flatMap(([reasonClass, n]) =>
      Array.from({ length: n ?? 0 }, () => ({ reasonClass: reasonClass as ReasonClass })),
    ),
  );

describe("rollup", () => {
  it("emptyCounts is dense and zero", () => {
    expect(emptyCounts()).toEqual({
      version: 1,
      total: 0,
      byClass: { transport: 0, validation: 0, backend_rejected: 0, queue_exhausted: 0, unknown: 0 },
    });
    expect(emptyCounts()).not.toBe(emptyCounts());
  });

  it("counts rows, folding nil and unrecognized into unknown", () => {
    const rows = [
      { reasonClass: "transport" as ReasonClass },
      { reasonClass: "transport" as ReasonClass },
      { reasonClass: "validation" as ReasonClass },
      { reasonClass: null },
      { reasonClass: undefined },
      { reasonClass: "bogus" as ReasonClass },
    ];
    const c = countReasonClasses(rows);
    expect(c.total).toBe(6);
    expect(c.byClass).toEqual({
      transport: 2,
      validation: 1,
      backend_rejected: 0,
      queue_exhausted: 0,
      unknown: 3,
    });
  });

  it("adds counts", () => {
    const a = countReasonClasses([{ reasonClass: "transport" }]);
    const b = countReasonClasses([{ reasonClass: "transport" }, { reasonClass: "queue_exhausted" }]);
    const s = addCounts(a, b);
    expect(s.total).toBe(3);
    expect(s.byClass.transport).toBe(2);
    expect(s.byClass.queue_exhausted).toBe(1);
  });

  describe("rollup cells", () => {
    const cell = (
      state: string,
      reasonClass: string,
      count: number,
      replayable: number | null = null,
    ): FailedRollupCell => ({ state, reasonClass: reasonClass as ReasonClass, count, replayable });
    const cells = [
      cell("retryable", "transport", 4, 3),
      cell("discarded", "transport", 2, 2),
      cell("discarded", "queue_exhausted", 5, 0),
      cell("cancelled", "weird", 1, 1),
    ];

    it("counts every row by class, folding unrecognized classes into unknown", () => {
      const c = countsFromCells(cells);
      expect(c.total).toBe(12);
      expect(c.byClass).toEqual({
        transport: 6,
        validation: 0,
        backend_rejected: 0,
        queue_exhausted: 5,
        unknown: 1,
      });
    });

    it("counts one class, or only replayable rows", () => {
      expect(countsFromCells(cells, { reasonClass: "transport" }).byClass).toEqual({
        transport: 6,
        validation: 0,
        backend_rejected: 0,
        queue_exhausted: 0,
        unknown: 0,
      });
      const replayable = countsFromCells(cells, { retryableOnly: true });
      expect(replayable.total).toBe(6);
      expect(replayable.byClass.transport).toBe(5);
      expect(countsFromCells(cells, { retryableOnly: true, reasonClass: "queue_exhausted" }).total).toBe(0);
    });

    it("refuses a replayable count from cells counted without it", () => {
      expect(() => countsFromCells([cell("retryable", "unknown", 1)], { retryableOnly: true })).toThrow(
        /replayable/,
      );
      expect(countsFromCells([cell("retryable", "unknown", 1)]).total).toBe(1);
    });

    it("totals rows per state", () => {
      expect(countsByState(cells)).toEqual({ retryable: 4, discarded: 7, cancelled: 1 });
      expect(countsByState([])).toEqual({});
    });
  });

  it("dominantClass takes the max and breaks ties by canonical order", () => {
    expect(dominantClass(emptyCounts())).toBeNull();
    expect(dominantClass(counts({ unknown: 3, validation: 2 }))).toBe("unknown");
    expect(dominantClass(counts({ unknown: 2, validation: 2 }))).toBe("validation");
    expect(dominantClass(counts({ queue_exhausted: 1, backend_rejected: 1 }))).toBe("backend_rejected");
    expect(dominantClass(counts({ transport: 1, unknown: 1 }))).toBe("transport");
  });

  it("countsToJson orders keys as upstream", () => {
    const json = countsToJson(counts({ unknown: 1, transport: 2 }));
    expect(Object.keys(json)).toEqual(["version", "total", "by_class"]);
    expect(Object.keys(json.by_class)).toEqual([
      "transport",
      "validation",
      "backend_rejected",
      "queue_exhausted",
      "unknown",
    ]);
    expect(JSON.stringify(json)).toBe(
      '{"version":1,"total":3,"by_class":{"transport":2,"validation":0,"backend_rejected":0,"queue_exhausted":0,"unknown":1}}',
    );
  });
});
