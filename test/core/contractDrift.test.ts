import { describe, expect, it } from "vitest";
import {
  compareContract,
  differingCount,
  dimensionSummary,
  reportToJson,
  setDimension,
} from "../../src/core/contractDrift.ts";
import type { SchemaContract } from "../../src/core/types.ts";

/** GET /indexes/{uid}/settings on a fresh Meilisearch 1.21 index. */
const DEFAULT_121 = {
  displayedAttributes: ["*"],
  searchableAttributes: ["*"],
  filterableAttributes: [],
  sortableAttributes: [],
  rankingRules: ["words", "typo", "proximity", "attribute", "sort", "exactness"],
  stopWords: [],
  nonSeparatorTokens: [],
  separatorTokens: [],
  dictionary: [],
  synonyms: {},
  distinctAttribute: null,
  proximityPrecision: "byWord",
  typoTolerance: {
    enabled: true,
    minWordSizeForTypos: { oneTypo: 5, twoTypos: 9 },
    disableOnWords: [],
    disableOnAttributes: [],
    disableOnNumbers: false,
  },
  faceting: { maxValuesPerFacet: 100, sortFacetValuesBy: { "*": "alpha" } },
  pagination: { maxTotalHits: 1000 },
  embedders: {},
  searchCutoffMs: null,
  localizedAttributes: null,
  facetSearch: true,
  prefixSearch: "indexingTime",
};

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

const compare = (c: SchemaContract, applied: Record<string, unknown>) =>
  compareContract({ schema: "MyApp.Post", index: "scrypath_post", contract: c, applied });

describe("compareContract on a default index", () => {
  it("a fields-only schema is parity on a fresh 1.21 index", () => {
    const report = compare(contract(), DEFAULT_121);
    expect(differingCount(report)).toBe(0);
    for (const dim of Object.values(report.dimensions)) expect(dim).toEqual({ match: true, details: [] });
    expect(report.schema).toBe("Elixir.MyApp.Post");
    expect(report.index).toBe("scrypath_post");
  });

  it("also parity when the faceting object is absent from the body", () => {
    const { faceting: _f, ...noFaceting } = DEFAULT_121;
    expect(differingCount(compare(contract(), noFaceting))).toBe(0);
  });

  it("declared filterables drift on filterable_attributes and settings on a fresh index", () => {
    const report = compare(contract({ filterable: ["status", "tenant_id"] }), DEFAULT_121);
    expect(report.dimensions.filterable_attributes).toEqual({
      match: false,
      details: [{ only_declared: "status" }, { only_declared: "tenant_id" }],
    });
    expect(report.dimensions.settings).toEqual({
      match: false,
      details: [{ key: "filterableAttributes", declared: ["status", "tenant_id"], applied: [] }],
    });
    expect(differingCount(report)).toBe(2);
  });
});

describe("fields", () => {
  it("compares declared searchableAttributes when present", () => {
    const c = contract({ settings: { searchable_attributes: ["title"] } });
    expect(compare(c, { ...DEFAULT_121, searchableAttributes: ["title"] }).dimensions.fields.match).toBe(
      true,
    );
    expect(compare(c, DEFAULT_121).dimensions.fields).toEqual({
      match: false,
      details: [{ only_declared: "title" }, { only_applied: "*" }],
    });
  });

  it("compares fields against an explicit applied restriction", () => {
    const report = compare(contract(), { ...DEFAULT_121, searchableAttributes: ["title", "sku"] });
    expect(report.dimensions.fields).toEqual({
      match: false,
      details: [{ only_declared: "body" }, { only_applied: "sku" }],
    });
  });

  it("set comparison ignores order", () => {
    const report = compare(contract(), { ...DEFAULT_121, searchableAttributes: ["body", "title"] });
    expect(report.dimensions.fields.match).toBe(true);
  });
});

describe("filterable and sortable", () => {
  it("reads names from plain and granular applied entries", () => {
    const c = contract({ filterable: ["status", "category"] });
    const applied = {
      ...DEFAULT_121,
      filterableAttributes: [{ attributePatterns: ["category"] }, "status", { attribute: "x" }],
    };
    expect(compare(c, applied).dimensions.filterable_attributes).toEqual({
      match: false,
      details: [{ only_applied: "x" }],
    });
  });

  it("sortable is a plain set comparison", () => {
    const c = contract({ sortable: ["inserted_at"] });
    expect(compare(c, DEFAULT_121).dimensions.sortable_attributes).toEqual({
      match: false,
      details: [{ only_declared: "inserted_at" }],
    });
    expect(
      compare(c, { ...DEFAULT_121, sortableAttributes: ["inserted_at"] }).dimensions.sortable_attributes
        .match,
    ).toBe(true);
  });
});

describe("settings dimension vs exact applied form", () => {
  // Upstream compares declared wire keys by exact equality (see compareContract's comment).
  const c = contract({ filterable: ["status"] });

  it("matches when applied holds exactly what Scrypath would PATCH", () => {
    const report = compare(c, { ...DEFAULT_121, filterableAttributes: ["status"] });
    expect(report.dimensions.settings.match).toBe(true);
    expect(report.dimensions.filterable_attributes.match).toBe(true);
  });

  it("drifts on settings (not on filterable) when the applied entry is granular", () => {
    const report = compare(c, { ...DEFAULT_121, filterableAttributes: [GRANULAR("status")] });
    expect(report.dimensions.filterable_attributes.match).toBe(true);
    expect(report.dimensions.settings).toEqual({
      match: false,
      details: [{ key: "filterableAttributes", declared: ["status"], applied: [GRANULAR("status")] }],
    });
  });

  it("facets resolve to granular entries, so a Scrypath-applied faceted index is parity", () => {
    const faceted = contract({
      filterable: ["status", "brand"],
      faceting: { attributes: ["brand"], maxValuesPerFacet: 100, sortFacetValuesBy: {} },
    });
    const applied = { ...DEFAULT_121, filterableAttributes: ["status", GRANULAR("brand")] };
    expect(differingCount(compare(faceted, applied))).toBe(0);
  });

  it("reports not_present for keys missing from applied", () => {
    const report = compare(contract({ settings: { stop_words: ["the"] } }), { searchableAttributes: ["*"] });
    expect(report.dimensions.settings.details).toEqual([
      { key: "stopWords", declared: ["the"], applied: "not_present" },
    ]);
  });
});

describe("faceting", () => {
  const faceted = (over: Partial<NonNullable<SchemaContract["faceting"]>> = {}) =>
    contract({
      filterable: ["brand", "color", "tenant_id"],
      faceting: { attributes: ["color", "brand"], maxValuesPerFacet: 100, sortFacetValuesBy: {}, ...over },
    });
  const applied = (
    faceting: unknown,
    filterable: unknown[] = [GRANULAR("brand"), GRANULAR("color"), "tenant_id"],
  ) => ({
    ...DEFAULT_121,
    filterableAttributes: filterable,
    faceting,
  });

  it("membership comes from applied filterables; extra filterables are ignored", () => {
    const report = compare(
      faceted(),
      applied({ maxValuesPerFacet: 100, sortFacetValuesBy: { "*": "alpha" } }),
    );
    expect(report.dimensions.faceting).toEqual({ match: true, details: [] });
  });

  it("detects a missing facet attribute with one declared/applied detail", () => {
    const report = compare(faceted(), applied(DEFAULT_121.faceting, ["brand", "tenant_id"]));
    expect(report.dimensions.faceting).toEqual({
      match: false,
      details: [
        {
          declared: {
            attributes: ["brand", "color"],
            maxValuesPerFacet: 100,
            sortFacetValuesBy: { "*": "alpha" },
          },
          applied: { attributes: ["brand"], maxValuesPerFacet: 100, sortFacetValuesBy: { "*": "alpha" } },
        },
      ],
    });
  });

  it("compares maxValuesPerFacet and sortFacetValuesBy (with * defaulting to alpha)", () => {
    expect(
      compare(faceted({ maxValuesPerFacet: 20 }), applied(DEFAULT_121.faceting)).dimensions.faceting.match,
    ).toBe(false);
    expect(
      compare(
        faceted({ sortFacetValuesBy: { brand: "count" } }),
        applied({ sortFacetValuesBy: { brand: "count" } }),
      ).dimensions.faceting.match,
    ).toBe(true);
    expect(
      compare(faceted({ sortFacetValuesBy: { "*": "count" } }), applied(DEFAULT_121.faceting)).dimensions
        .faceting.match,
    ).toBe(false);
  });

  it("an explicit null maxValuesPerFacet does not default", () => {
    expect(compare(faceted(), applied({ maxValuesPerFacet: null })).dimensions.faceting.match).toBe(false);
  });

  it("a schema without faceting matches a non-default applied faceting only if defaults", () => {
    expect(compare(contract(), applied({ maxValuesPerFacet: 10 }, [])).dimensions.faceting.match).toBe(false);
  });
});

describe("setDimension", () => {
  it("lists only_declared then only_applied, each sorted", () => {
    expect(setDimension(["z", "a", "m"], ["m", "y", "b"]).details).toEqual([
      { only_declared: "a" },
      { only_declared: "z" },
      { only_applied: "b" },
      { only_applied: "y" },
    ]);
  });

  it("caps at 50 entries plus a truncated marker", () => {
    const declared = Array.from({ length: 60 }, (_, i) => `f${String(i).padStart(2, "0")}`);
    const dim = setDimension(declared, []);
    expect(dim.details).toHaveLength(51);
    expect(dim.details[49]).toEqual({ only_declared: "f49" });
    expect(dim.details[50]).toEqual({ truncated: true });
    expect(setDimension(declared.slice(0, 50), []).details).toHaveLength(50);
  });
});

describe("reportToJson", () => {
  it("orders keys and dimensions as upstream", () => {
    const report = compare(contract({ filterable: ["tenant_id"], settings: { stop_words: ["a"] } }), {
      searchableAttributes: ["*"],
    });
    const json = reportToJson(report);
    expect(Object.keys(json)).toEqual(["version", "schema", "index", "dimensions"]);
    expect(Object.keys(json.dimensions)).toEqual([
      "fields",
      "filterable_attributes",
      "sortable_attributes",
      "faceting",
      "settings",
    ]);
    const text = JSON.stringify(json);
    expect(text).toContain('"schema":"Elixir.MyApp.Post"');
    expect(text).toContain(
      '"filterable_attributes":{"match":false,"details":[{"only_declared":"tenant_id"}]}',
    );
    expect(text).toContain('{"key":"stopWords","declared":["a"],"applied":"not_present"}');
  });
});

describe("dimensionSummary", () => {
  it("covers the four summary shapes", () => {
    expect(dimensionSummary({ match: false, details: [] })).toBe("mismatch (see --json)");
    expect(
      dimensionSummary({
        match: false,
        details: [{ key: "stopWords", declared: [], applied: "not_present" }],
      }),
    ).toBe('settings detail key="stopWords"');
    expect(dimensionSummary({ match: false, details: [{ declared: {}, applied: {} }] })).toBe(
      "mismatch [:applied, :declared]",
    );
    expect(
      dimensionSummary({
        match: false,
        details: [
          { only_declared: "tenant_id" },
          { only_applied: "x" },
          { only_applied: "y" },
          { only_applied: "z" },
        ],
      }),
    ).toBe('{:only_declared, "tenant_id"}, {:only_applied, "x"}, {:only_applied, "y"}');
    expect(dimensionSummary({ match: false, details: [{ only_applied: "a" }, { truncated: true }] })).toBe(
      '{:only_applied, "a"}, {:truncated, true}',
    );
  });
});
