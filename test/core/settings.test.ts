import { describe, expect, it } from "vitest";
import {
  camelizeKey,
  computeSettingsDrift,
  expandSynonyms,
  HOT_APPLY_KEYS,
  normalizeSettings,
  resolveDeclaredSettings,
  toWire,
  validateHotApplyPayload,
} from "../../src/core/settings.ts";
import type { SchemaContract } from "../../src/core/types.ts";

const contract = (over: Partial<SchemaContract> = {}): SchemaContract => ({
  fields: ["title", "body"],
  filterable: [],
  sortable: [],
  faceting: null,
  settings: {},
  ...over,
});

const GRANULAR = (name: string) => ({
  attributePatterns: [name],
  features: { facetSearch: true, filter: { equality: true, comparison: true } },
});

describe("normalizeSettings", () => {
  it("accepts snake and camel case for recognized keys", () => {
    const { recognized, unrecognized } = normalizeSettings({
      stopWords: ["a"],
      typo_tolerance: { enabled: false },
      rankingRules: ["words"],
      distinctAttribute: "sku",
      searchableAttributes: ["title"],
      sortable_attributes: ["at"],
      filterableAttributes: ["status"],
      displayed_attributes: ["*"],
      synonyms: {},
      faceting: { maxValuesPerFacet: 10 },
      proximity_precision: "byWord",
    });
    expect(Object.keys(recognized).sort()).toEqual([
      "displayed_attributes",
      "distinct_attribute",
      "filterable_attributes",
      "ranking_rules",
      "searchable_attributes",
      "sortable_attributes",
      "stop_words",
      "synonyms",
      "typo_tolerance",
    ]);
    expect(recognized.stop_words).toEqual(["a"]);
    expect(unrecognized).toEqual({ faceting: { maxValuesPerFacet: 10 }, proximity_precision: "byWord" });
  });

  it("keeps meta keys out of the unrecognized bucket", () => {
    const { recognized, unrecognized } = normalizeSettings({
      "ranking_rules_strict?": false,
      ranking_rules_strict: false,
      "custom_strict?": true,
      one_way: true,
    });
    expect(unrecognized).toEqual({});
    expect(Object.keys(recognized).sort()).toEqual([
      "custom_strict?",
      "one_way",
      "ranking_rules_strict",
      "ranking_rules_strict?",
    ]);
  });
});

describe("camelizeKey", () => {
  it.each([
    ["attribute_patterns", "attributePatterns"],
    ["min_word_size_for_typos", "minWordSizeForTypos"],
    ["one_typo", "oneTypo"],
    ["alreadyCamel", "alreadyCamel"],
    ["hello_10", "hello10"],
    ["*", "*"],
  ])("%s → %s", (input, expected) => {
    expect(camelizeKey(input)).toBe(expected);
  });
});

describe("expandSynonyms", () => {
  it("expands groups bidirectionally", () => {
    expect(expandSynonyms([["nyc", "new york", "big apple"]])).toEqual({
      nyc: ["new york", "big apple"],
      "new york": ["nyc", "big apple"],
      "big apple": ["nyc", "new york"],
    });
  });
  it("one-way maps the first term to the rest", () => {
    expect(expandSynonyms([["phone", "iphone", "android"]], true)).toEqual({ phone: ["iphone", "android"] });
  });
  it("accumulates terms across groups and skips empty groups", () => {
    expect(expandSynonyms([["a", "b"], [], ["a", "c"]])).toEqual({ a: ["b", "c"], b: ["a"], c: ["a"] });
  });
  it("stringifies terms and passes maps through", () => {
    expect(expandSynonyms([[1, "one"]])).toEqual({ "1": ["one"], one: ["1"] });
    const native = { nyc: ["new york"] };
    expect(expandSynonyms(native)).toBe(native);
  });
});

describe("toWire", () => {
  it("translates keys, camelizes nested keys and strips meta keys", () => {
    expect(
      toWire({
        stop_words: ["the"],
        typo_tolerance: { enabled: true, min_word_size_for_typos: { one_typo: 4, two_typos: 8 } },
        ranking_rules: ["words", "typo"],
        "ranking_rules_strict?": false,
        distinct_attribute: null,
        filterable_attributes: ["status", { attribute_patterns: ["cat"], features: { facet_search: true } }],
      }),
    ).toEqual({
      stopWords: ["the"],
      typoTolerance: { enabled: true, minWordSizeForTypos: { oneTypo: 4, twoTypos: 8 } },
      rankingRules: ["words", "typo"],
      distinctAttribute: null,
      filterableAttributes: ["status", { attributePatterns: ["cat"], features: { facetSearch: true } }],
    });
  });

  it("passes unrecognized keys through unchanged (no camelizing)", () => {
    expect(toWire({ proximity_precision: "byAttribute", faceting: { max_values_per_facet: 5 } })).toEqual({
      proximity_precision: "byAttribute",
      faceting: { max_values_per_facet: 5 },
    });
  });

  it("expands synonym groups, honouring one_way, and never camelizes synonym terms", () => {
    expect(toWire({ synonyms: [["new_york", "nyc"]] })).toEqual({
      synonyms: { new_york: ["nyc"], nyc: ["new_york"] },
    });
    expect(toWire({ synonyms: [["a", "b", "c"]], one_way: true })).toEqual({ synonyms: { a: ["b", "c"] } });
    expect(toWire({ synonyms: { new_york: ["nyc"] } })).toEqual({ synonyms: { new_york: ["nyc"] } });
  });

  it("accepts camelCase input", () => {
    expect(toWire({ stopWords: ["a"], typoTolerance: { disableOnWords: ["x"] } })).toEqual({
      stopWords: ["a"],
      typoTolerance: { disableOnWords: ["x"] },
    });
  });
});

describe("resolveDeclaredSettings", () => {
  it("is empty for a schema that declares nothing", () => {
    expect(resolveDeclaredSettings(contract())).toEqual({});
    expect(toWire(resolveDeclaredSettings(contract()))).toEqual({});
  });

  it("appends declared filterables not already covered", () => {
    const out = resolveDeclaredSettings(
      contract({
        filterable: ["status", "tenant_id", "category"],
        settings: { filterableAttributes: ["tenant_id", { attributePatterns: ["category"] }] },
      }),
    );
    expect(out.filterable_attributes).toEqual(["tenant_id", { attributePatterns: ["category"] }, "status"]);
    expect(out.filterableAttributes).toBeUndefined();
  });

  it("turns facet attributes into granular entries; explicit objects win", () => {
    const out = resolveDeclaredSettings(
      contract({
        filterable: ["status", "category", "brand"],
        faceting: {
          attributes: ["category", "brand", "color"],
          maxValuesPerFacet: 100,
          sortFacetValuesBy: {},
        },
        settings: {
          filterable_attributes: [{ attribute_patterns: ["brand"], features: { facet_search: false } }],
        },
      }),
    );
    expect(toWire(out).filterableAttributes).toEqual([
      { attributePatterns: ["brand"], features: { facetSearch: false } },
      "status",
      GRANULAR("category"),
      GRANULAR("color"),
    ]);
  });

  it("keeps other settings and unrecognized keys", () => {
    const out = resolveDeclaredSettings(
      contract({
        settings: { stopWords: ["a"], proximityPrecision: "byWord", "ranking_rules_strict?": false },
      }),
    );
    expect(out).toEqual({ stop_words: ["a"], proximityPrecision: "byWord", "ranking_rules_strict?": false });
    expect(toWire(out)).toEqual({ stopWords: ["a"], proximityPrecision: "byWord" });
  });
});

describe("computeSettingsDrift", () => {
  it("compares declared keys only, exactly", () => {
    const declared = {
      stopWords: ["a", "b"],
      typoTolerance: { enabled: true, disableOnWords: [] },
      rankingRules: ["words", "typo"],
      distinctAttribute: null,
    };
    const applied = {
      stopWords: ["b", "a"],
      typoTolerance: { disableOnWords: [], enabled: true },
      distinctAttribute: null,
      displayedAttributes: ["*"],
    };
    expect(computeSettingsDrift(declared, applied)).toEqual([
      { key: "stopWords", declared: ["a", "b"], applied: ["b", "a"] },
      { key: "rankingRules", declared: ["words", "typo"], applied: "not_present" },
    ]);
  });

  it("a partial nested declaration drifts against the full applied object", () => {
    const d = computeSettingsDrift(
      { typoTolerance: { enabled: true } },
      { typoTolerance: { enabled: true, disableOnNumbers: false } },
    );
    expect(d).toHaveLength(1);
  });

  it("empty declared → no drift", () => {
    expect(computeSettingsDrift({}, { stopWords: ["x"] })).toEqual([]);
  });
});

describe("validateHotApplyPayload", () => {
  it("exposes the allow-list", () => {
    expect(HOT_APPLY_KEYS).toEqual(["synonyms", "stop_words", "typo_tolerance"]);
  });

  it.each([null, [], "x", 5, undefined])("non-map %j is invalid_settings_payload", (p) => {
    expect(validateHotApplyPayload(p)).toEqual({ ok: false, reason: "invalid_settings_payload" });
  });

  it("rejects keys outside the allow-list, sorted unique as given", () => {
    expect(
      validateHotApplyPayload({
        synonyms: {},
        rankingRules: ["words"],
        zeta: 1,
        faceting: {},
        one_way: true,
      }),
    ).toEqual({
      ok: false,
      reason: "unsupported_hot_apply_keys",
      keys: ["faceting", "one_way", "rankingRules", "zeta"],
    });
  });

  it("checks unsupported keys before emptiness", () => {
    expect(validateHotApplyPayload({ rankingRules: null })).toMatchObject({
      reason: "unsupported_hot_apply_keys",
    });
  });

  it("drops nil values and rejects an empty payload", () => {
    expect(validateHotApplyPayload({})).toEqual({ ok: false, reason: "empty_hot_apply_payload" });
    expect(validateHotApplyPayload({ synonyms: null, stopWords: undefined })).toEqual({
      ok: false,
      reason: "empty_hot_apply_payload",
    });
  });

  it("returns canonical settings", () => {
    expect(
      validateHotApplyPayload({ stopWords: ["the"], typoTolerance: { enabled: false }, synonyms: null }),
    ).toEqual({
      ok: true,
      settings: { stop_words: ["the"], typo_tolerance: { enabled: false } },
    });
    expect(validateHotApplyPayload({ stop_words: [] })).toEqual({ ok: true, settings: { stop_words: [] } });
  });
});
