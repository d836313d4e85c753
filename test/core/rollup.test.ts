import { describe, expect, it } from "vitest";
import {
  addCounts,
  countReasonClasses,
  countsFromMap,
  countsToJson,
  dominantClass,
  emptyCounts,
} from "../../src/core/rollup.ts";
import type { ReasonClass } from "../../src/core/types.ts";

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

  it("countsFromMap folds unknown keys into unknown", () => {
    const c = countsFromMap({ transport: 2, weird: 3, unknown: 1, validation: undefined });
    expect(c.total).toBe(6);
    expect(c.byClass).toEqual({
      transport: 2,
      validation: 0,
      backend_rejected: 0,
      queue_exhausted: 0,
      unknown: 4,
    });
  });

  it("dominantClass takes the max and breaks ties by canonical order", () => {
    expect(dominantClass(emptyCounts())).toBeNull();
    expect(dominantClass(countsFromMap({ unknown: 3, validation: 2 }))).toBe("unknown");
    expect(dominantClass(countsFromMap({ unknown: 2, validation: 2 }))).toBe("validation");
    expect(dominantClass(countsFromMap({ queue_exhausted: 1, backend_rejected: 1 }))).toBe(
      "backend_rejected",
    );
    expect(dominantClass(countsFromMap({ transport: 1, unknown: 1 }))).toBe("transport");
  });

  it("countsToJson orders keys as upstream", () => {
    const json = countsToJson(countsFromMap({ unknown: 1, transport: 2 }));
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
