import { describe, expect, it } from "vitest";
import { settingsChanges } from "../../src/core/settingsDiff.ts";

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
