import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatContractDrift, formatSettingsDiff } from "../../src/cli/format.ts";
import { contractDriftJson, settingsDiffJson } from "../../src/cli/json.ts";
import { resolveDeclaredSettings, toWire } from "../../src/core/settings.ts";
import type { ContractDriftReport } from "../../src/core/types.ts";
import { CONTRACT_DIMENSIONS } from "../../src/core/types.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { type TestDeployment, testDeployment } from "../support/operator.ts";
import { POST } from "../support/posts.ts";

const PLAIN = "MyApp.Blog.Comment";

const differing = (r: ContractDriftReport) => CONTRACT_DIMENSIONS.filter((d) => !r.dimensions[d].match);

describe("indexContractDrift against a real Meilisearch index", () => {
  let d: TestDeployment;
  let live: string;

  beforeAll(async () => {
    d = await testDeployment([
      {
        module: POST,
        alias: "posts",
        contract: {
          fields: ["title", "body"],
          filterable: ["status", "author"],
          sortable: ["inserted_at"],
          faceting: { attributes: ["status"], maxValuesPerFacet: 50 },
          settings: { synonyms: { car: ["automobile"] }, stop_words: ["the"] },
        },
      },
      { module: PLAIN, contract: { fields: ["body"] } },
    ]);
    live = `${d.indexPrefix}_post`;
  });
  afterAll(() => d?.close());

  it("compares a fresh index with Meilisearch defaults as parity for a schema that declares only fields", async () => {
    await d.meili.createIndex(`${d.indexPrefix}_comment`).waitTask();
    const r = await d.operator.indexContractDrift(PLAIN);
    expect(differing(r)).toEqual([]);
    expect(formatContractDrift(r, PLAIN)).toEqual([
      `Index contract OK for ${PLAIN} (index=${d.indexPrefix}_comment)`,
    ]);
    expect(contractDriftJson(r)).toEqual({
      version: 1,
      schema: `Elixir.${PLAIN}`,
      index: `${d.indexPrefix}_comment`,
      dimensions: Object.fromEntries(CONTRACT_DIMENSIONS.map((n) => [n, { match: true, details: [] }])),
    });
    expect(Object.keys(contractDriftJson(r).dimensions)).toEqual([...CONTRACT_DIMENSIONS]);
  });

  it("is parity once the index carries what Scrypath would apply", async () => {
    const contract = d.config.schemas[0]?.contract;
    if (!contract) throw new Error("contract missing");
    const wire = toWire(resolveDeclaredSettings(contract));
    await d.meili
      .index(live)
      .updateSettings({ ...wire, sortableAttributes: ["inserted_at"], faceting: { maxValuesPerFacet: 50 } })
      .waitTask();
    const r = await d.operator.indexContractDrift("posts");
    expect(differing(r)).toEqual([]);
    const diff = await d.operator.settingsDiff("posts");
    expect(diff.status).toBe("parity");
    expect(formatSettingsDiff(diff)).toEqual([`No drift detected for ${POST} (index=${live})`]);
    expect(settingsDiffJson(diff)).toEqual({
      schema: POST,
      index: live,
      status: "parity",
      declared: {},
      applied: {},
      drift: [],
    });
  });

  it("reports each drifted dimension with upstream's summaries and details", async () => {
    await d.meili
      .index(live)
      .updateSettings({
        searchableAttributes: ["title"],
        filterableAttributes: ["status", "tenant_id"],
        sortableAttributes: [],
        faceting: { maxValuesPerFacet: 10 },
        synonyms: {},
      })
      .waitTask();
    const r = await d.operator.indexContractDrift("posts");
    expect(differing(r)).toEqual([...CONTRACT_DIMENSIONS]);
    expect(r.dimensions.fields.details).toEqual([{ only_declared: "body" }]);
    expect(r.dimensions.filterable_attributes.details).toEqual([
      { only_declared: "author" },
      { only_applied: "tenant_id" },
    ]);
    expect(r.dimensions.sortable_attributes.details).toEqual([{ only_declared: "inserted_at" }]);
    expect(r.dimensions.faceting.details).toHaveLength(1);
    expect(r.dimensions.settings.details.map((x) => (x as { key: string }).key).sort()).toEqual([
      "filterableAttributes",
      "synonyms",
    ]);
    expect(formatContractDrift(r, POST)).toEqual([
      `INDEX CONTRACT DRIFT for ${POST} (index=${live})`,
      '  ! fields: {:only_declared, "body"}',
      '  ! filterable_attributes: {:only_declared, "author"}, {:only_applied, "tenant_id"}',
      '  ! sortable_attributes: {:only_declared, "inserted_at"}',
      "  ! faceting: mismatch [:applied, :declared]",
      expect.stringMatching(/^ {2}! settings: settings detail key="(filterableAttributes|synonyms)"$/),
      "",
      "Re-run with --json for the full machine-readable report.",
      "For declared-vs-applied Meilisearch settings keys only, see mix scrypath.settings.diff.",
      "For operational sync posture and managed reindex flows, see Scrypath.reconcile_sync/2 and Scrypath.reindex/2.",
    ]);
    const json = contractDriftJson(r);
    expect(json.dimensions.fields).toEqual({ match: false, details: [{ only_declared: "body" }] });

    const diff = await d.operator.settingsDiff("posts");
    expect(diff.status).toBe("drift");
    const lines = formatSettingsDiff(diff);
    expect(lines[0]).toBe(`DRIFT for ${POST} (index=${live})`);
    expect(lines).toContain("  ! synonyms");
    expect(lines).toContain('    declared: {"car":["automobile"]}');
    expect(lines).toContain("    applied:  {}");
    expect(lines.at(-1)).toBe(
      `Set settings: %{...} on the schema OR run \`mix scrypath.reindex ${POST}\` to re-apply.`,
    );
    expect(Object.keys(settingsDiffJson(diff))).toEqual([
      "schema",
      "index",
      "status",
      "declared",
      "applied",
      "drift",
    ]);
  });

  it("reads the live settings", async () => {
    const read = await d.operator.settingsRead("posts");
    expect(read.settings.searchableAttributes).toEqual(["title"]);
  });

  it("answers index not found for a missing live index", async () => {
    const other = await import("../../src/operator/index.ts");
    const { parseConfig } = await import("../../src/config.ts");
    const op = other.createOperator({
      config: parseConfig(
        { ...d.raw, schemas: [{ module: "MyApp.Missing", contract: { fields: ["x"] } }] },
        {},
      ),
      db: operatorContext(d.operator).db,
      meili: operatorContext(d.operator).meili,
    });
    await expect(op.indexContractDrift("MyApp.Missing")).rejects.toMatchObject({ code: "index_not_found" });
    await expect(op.settingsRead("MyApp.Missing")).rejects.toThrow(/^index not found/);
  });
});
