import { describe, expect, it } from "vitest";
import { driftView, NOT_FRESHNESS } from "../../views/drift.ts";
import { ACTIONS } from "../../views/types.ts";
import {
  buttons,
  driftReport,
  expectSafe,
  HOSTILE,
  INDEX,
  SCHEMA,
  SECRET,
  viewContext,
  visibleText,
} from "./fixtures.ts";

/** What Meilisearch reports for an index set up exactly as the fixture schema declares. */
const parity = {
  searchableAttributes: ["title", "body"],
  // Scrypath PATCHes facet attributes in the granular form; the settings dimension wants that exact list.
  filterableAttributes: [
    {
      attributePatterns: ["status"],
      features: { facetSearch: true, filter: { equality: true, comparison: true } },
    },
    "tenant_id",
  ],
  sortableAttributes: ["published_at"],
  faceting: { maxValuesPerFacet: 100, sortFacetValuesBy: { "*": "alpha" } },
  synonyms: { tv: ["television"] },
};

describe("driftView", () => {
  it("says OK with every dimension matching, and what the check does not cover", () => {
    const report = driftReport(parity);
    const m = driftView(report, viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":white_check_mark: Index contract OK");
    for (const dim of ["fields", "filterable_attributes", "sortable_attributes", "faceting", "settings"]) {
      expect(text).toContain(`:white_check_mark: *${dim}* — matches`);
    }
    expect(text).toContain("does not check document freshness");
    expect(text).toContain(NOT_FRESHNESS);
    expect(text).toContain(`\`${SCHEMA}\` · index \`${INDEX}\``);
    expect(m.text).toBe(`${SCHEMA}: Index contract OK`);
    const [reconcile] = buttons(m);
    expect(reconcile?.action_id).toBe(ACTIONS.openReconcile);
    expect(JSON.parse(reconcile?.value ?? "")).toEqual({ schema: SCHEMA });
  });

  it("counts N of 5 and details each differing dimension, escaped", () => {
    const report = driftReport({
      ...parity,
      searchableAttributes: ["title", HOSTILE],
      filterableAttributes: ["status", "<!channel>"],
      sortableAttributes: [],
      faceting: { maxValuesPerFacet: 10 },
      synonyms: { tv: [`${HOSTILE}`] },
    });
    const m = driftView(report, viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":warning: Index contract: 5 of 5 differ");
    expect(m.text).toContain("(fields, filterable_attributes, sortable_attributes, faceting, settings)");
    expect(text).toContain(":x: *fields* — differs\n• only declared (schema, not on the index): `body`");
    expect(text).toContain("• only applied (on the index, not declared): `&lt;!channel&gt; &lt;@U123&gt;");
    expect(text).toContain("• only declared (schema, not on the index): `tenant_id`");
    expect(text).toContain("• only applied (on the index, not declared): `&lt;!channel&gt;`");
    expect(text).toContain(
      ":x: *sortable_attributes* — differs\n• only declared (schema, not on the index): `published_at`",
    );
    expect(text).toMatch(
      /\*faceting\* — differs\n• declared `\{.*"maxValuesPerFacet":100.*\}`\n• applied `\{.*"maxValuesPerFacet":10,/,
    );
    expect(text).toMatch(
      /• `synonyms`: declared `\{"tv":\["television"\]\}` · applied `\{"tv":\["&lt;!channel&gt;/,
    );
  });

  it("says a setting is not set rather than printing a sentinel", () => {
    const { synonyms: _omit, ...rest } = parity;
    const m = driftView(driftReport(rest), viewContext());
    expectSafe(m);
    expect(visibleText(m)).toContain('• `synonyms`: declared `{"tv":["television"]}` · applied _not set_');
  });

  it("cuts huge values and long name lists, notes the 50-entry cap, and redacts secrets", () => {
    const many = Array.from({ length: 60 }, (_, i) => `extra_field_${i}_${"n".repeat(30)}`);
    const report = driftReport({
      ...parity,
      searchableAttributes: ["title", "body", ...many],
      synonyms: { tv: ["x".repeat(10_000)] },
    });
    // A settings detail whose values carry a credential (e.g. an embedder's apiKey).
    report.dimensions.settings.details.push({
      key: "embedders",
      declared: { default: { source: "openAi", apiKey: SECRET } },
      applied: "not_present",
    });
    const m = driftView(report, viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain("the list stops at 50 differences");
    expect(text).toMatch(/`extra_field_0_n+`, .*… \([\d,]+ more characters\)/);
    const synonyms = text.split("\n").find((l) => l.startsWith("• `synonyms`")) ?? "";
    expect(synonyms.length).toBeLessThan(700);
    expect(text).toContain('"apiKey":"[REDACTED]"');
    for (const b of m.blocks) {
      if (b.type === "section") expect(b.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
    }
  });

  it("lists at most ten settings keys and says how many more", () => {
    const report = driftReport(parity);
    report.dimensions.settings = {
      match: false,
      details: Array.from({ length: 14 }, (_, i) => ({ key: `key${i}`, declared: i, applied: i + 1 })),
    };
    const m = driftView(report, viewContext());
    expectSafe(m);
    const text = visibleText(m);
    expect(text).toContain(":warning: Index contract: 1 of 5 differ");
    expect(text).toContain("• `key9`: declared `9` · applied `10`");
    expect(text).not.toContain("`key10`");
    expect(text).toContain("… 4 more keys");
  });
});
