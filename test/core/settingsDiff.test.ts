import { describe, expect, it } from "vitest";
import { describeChanges, liveValuesMoved, settingsChanges } from "../../src/core/settingsDiff.ts";

const LIVE = {
  stopWords: ["an", "of"],
  synonyms: { nyc: ["new york"], tv: ["television"] },
  typoTolerance: {
    enabled: true,
    minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 },
    disableOnWords: [],
    disableOnAttributes: [],
  },
};

describe("settingsChanges: live → requested, per key", () => {
  it("stop words added and removed, whatever the order", () => {
    expect(settingsChanges(LIVE, { stopWords: ["the", "of", "a"] })).toEqual([
      { key: "stopWords", added: ["a", "the"], removed: ["an"], changed: [] },
    ]);
    expect(settingsChanges(LIVE, { stopWords: ["of", "an"] })).toEqual([]);
  });

  it("synonyms added, removed and changed", () => {
    expect(settingsChanges(LIVE, { synonyms: { tv: ["television", "telly"], car: ["auto"] } })).toEqual([
      {
        key: "synonyms",
        added: ["car → auto"],
        removed: ["nyc → new york"],
        changed: [{ what: "tv", live: "television", requested: "television, telly" }],
      },
    ]);
  });

  it("typo tolerance: only the fields given, compared with the live ones (Meilisearch merges)", () => {
    expect(
      settingsChanges(LIVE, {
        typoTolerance: { enabled: true, minWordSizeForTypos: { oneTypo: 4 }, disableOnWords: ["sku"] },
      }),
    ).toEqual([
      {
        key: "typoTolerance",
        added: [],
        removed: [],
        changed: [
          { what: "disableOnWords", live: "none", requested: "sku" },
          { what: "minWordSizeForTypos.oneTypo", live: "5", requested: "4" },
        ],
      },
    ]);
  });

  it("nothing changes: an empty list, also over several keys", () => {
    expect(settingsChanges(LIVE, { ...LIVE, typoTolerance: { enabled: true } })).toEqual([]);
  });

  it("a null value resets the key to Meilisearch's default", () => {
    expect(settingsChanges(LIVE, { stopWords: null })).toEqual([
      {
        key: "stopWords",
        added: [],
        removed: [],
        changed: [{ what: "stopWords", live: "an, of", requested: "Meilisearch's default" }],
      },
    ]);
  });
});

describe("liveValuesMoved", () => {
  const typo = {
    enabled: true,
    minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 },
    disableOnWords: ["b", "a"],
    disableOnAttributes: [],
  };
  const read = { stopWords: ["a", "the"], synonyms: { tv: ["television", "telly"] }, typoTolerance: typo };

  it("is empty for the same values, whatever the key order (jsonb) or list order", () => {
    const again = {
      typoTolerance: {
        disableOnAttributes: [],
        disableOnWords: ["a", "b"],
        minWordSizeForTypos: { twoTypos: 9, oneTypo: 5 },
        enabled: true,
      },
      synonyms: { tv: ["telly", "television"] },
      stopWords: ["the", "a"],
    };
    expect(liveValuesMoved(read, again, ["stopWords", "synonyms", "typoTolerance"])).toEqual([]);
  });

  it("names each moved key of the card, as a request from the card's values to the live ones would", () => {
    const now = {
      ...read,
      stopWords: ["a", "of"],
      typoTolerance: { ...typo, minWordSizeForTypos: { oneTypo: 3, twoTypos: 9 } },
      rankingRules: ["words"],
    };
    const moved = liveValuesMoved(read, now, ["stopWords", "synonyms", "typoTolerance"]);
    expect(moved).toEqual([
      { key: "stopWords", added: ["of"], removed: ["the"], changed: [] },
      {
        key: "typoTolerance",
        added: [],
        removed: [],
        changed: [{ what: "minWordSizeForTypos.oneTypo", live: "5", requested: "3" }],
      },
    ]);
    expect(describeChanges(moved)).toBe(
      "stopWords: added `of`, removed `the`; typoTolerance: `minWordSizeForTypos.oneTypo`: `5` → `3`",
    );
    // Only the card's keys count: a key it does not touch may move.
    expect(liveValuesMoved(read, now, ["synonyms"])).toEqual([]);
  });

  it("says a key Meilisearch no longer reports moved, and bounds long lists", () => {
    const gone = liveValuesMoved(read, {}, ["synonyms"]);
    expect(gone).toEqual([
      {
        key: "synonyms",
        added: [],
        removed: [],
        changed: [{ what: "synonyms", live: '{"tv":["television","telly"]}', requested: "not set" }],
      },
    ]);
    expect(describeChanges(gone)).toBe('synonyms: `{"tv":["television","telly"]}` → `not set`');
    const many = liveValuesMoved({ stopWords: [] }, { stopWords: ["a", "b", "c", "d", "e", "f", "g"] }, [
      "stopWords",
    ]);
    expect(describeChanges(many)).toBe("stopWords: added `a`, `b`, `c`, `d`, `e` and 2 more");
  });
});
