// Index contract drift (spec §6.2–§6.3, newest upstream comparison rules).
import { deepEqual, isPlainObject } from "./deepEqual.ts";
import { elixirModule } from "./naming.ts";
import {
  CANONICAL_TO_WIRE,
  computeSettingsDrift,
  filterableEntryNames,
  HOT_APPLY_KEYS,
  resolveDeclaredSettings,
  toWire,
} from "./settings.ts";
import {
  CONTRACT_DIMENSIONS,
  type ContractDimension,
  type ContractDimensionName,
  type ContractDriftReport,
  type DimensionDetail,
  type SchemaContract,
  type SetDetail,
  type SettingsDetail,
} from "./types.ts";

export const SET_DETAIL_CAP = 50;
export const DEFAULT_MAX_VALUES_PER_FACET = 100;

/** Elixir's `List.wrap/1` + `to_string/1` over an applied settings value. */
function wrapStrings(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((v) => String(v));
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

/** Set comparison: all only-declared (sorted), then only-applied (sorted); >50 entries are capped. */
export function setDimension(declared: Iterable<string>, applied: Iterable<string>): ContractDimension {
  const d = new Set(declared);
  const a = new Set(applied);
  const details: SetDetail[] = [
    ...sorted([...d].filter((x) => !a.has(x))).map((x): SetDetail => ({ only_declared: x })),
    ...sorted([...a].filter((x) => !d.has(x))).map((x): SetDetail => ({ only_applied: x })),
  ];
  if (details.length === 0) return { match: true, details: [] };
  return {
    match: false,
    details:
      details.length > SET_DETAIL_CAP ? [...details.slice(0, SET_DETAIL_CAP), { truncated: true }] : details,
  };
}

function normalizeFacetSort(sortBy: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isPlainObject(sortBy)) for (const [k, v] of Object.entries(sortBy)) out[k] = String(v);
  if (!Object.hasOwn(out, "*")) out["*"] = "alpha";
  return out;
}

/** The faceting object a schema declares; no faceting declares the Meilisearch defaults. */
export function declaredFaceting(contract: SchemaContract): Record<string, unknown> {
  const f = contract.faceting;
  return {
    attributes: sorted(f?.attributes ?? []),
    maxValuesPerFacet: f?.maxValuesPerFacet ?? DEFAULT_MAX_VALUES_PER_FACET,
    sortFacetValuesBy: normalizeFacetSort(f?.sortFacetValuesBy ?? {}),
  };
}

/**
 * The applied faceting object, built to be comparable: facet membership comes from applied
 * `filterableAttributes` restricted to declared facet attributes (other filterables, e.g. tenant
 * ids, need not be facets); a missing `maxValuesPerFacet` defaults to 100, but an explicit null stays.
 */
export function appliedFaceting(
  applied: Record<string, unknown>,
  declaredAttributes: readonly string[],
): Record<string, unknown> {
  const faceting = isPlainObject(applied.faceting) ? applied.faceting : {};
  const facetSet = new Set(declaredAttributes);
  const names = appliedFilterableNames(applied);
  return {
    attributes: sorted(new Set(names.filter((n) => facetSet.has(n)))),
    maxValuesPerFacet: Object.hasOwn(faceting, "maxValuesPerFacet")
      ? faceting.maxValuesPerFacet
      : DEFAULT_MAX_VALUES_PER_FACET,
    sortFacetValuesBy: normalizeFacetSort(faceting.sortFacetValuesBy ?? {}),
  };
}

function appliedFilterableNames(applied: Record<string, unknown>): string[] {
  const v = applied.filterableAttributes;
  const list = Array.isArray(v) ? v : v == null ? [] : [v];
  return list.flatMap(filterableEntryNames);
}

/**
 * Compares a schema's declared contract with one `GET /indexes/{uid}/settings` body.
 *
 * The `settings` dimension follows §6.2 literally: `compute_drift` over every declared wire key,
 * including the `filterableAttributes` that resolve builds from `filterable:` and facets. So a
 * schema with `filterable: [status]` matches only when the applied list is exactly what Scrypath
 * itself would PATCH (same entries, same order, plain vs granular form); an index configured by
 * hand with equivalent-but-different entries drifts on `settings` while `filterable_attributes`
 * (a set comparison of names) still matches. Upstream behaves the same way.
 */
export function compareContract(input: {
  schema: string;
  index: string;
  contract: SchemaContract;
  applied: Record<string, unknown>;
}): ContractDriftReport {
  const { contract, applied } = input;
  const declaredWire = toWire(resolveDeclaredSettings(contract));

  // fields: declared searchableAttributes win over `fields:`; the default ["*"] matches when
  // nothing restricts searchable attributes.
  const searchable = declaredWire.searchableAttributes;
  const declaredFields = Array.isArray(searchable) ? searchable.map((v) => String(v)) : contract.fields;
  const appliedFields = wrapStrings(applied.searchableAttributes);
  const fieldsDefault =
    !Array.isArray(searchable) && new Set(appliedFields).size === 1 && appliedFields[0] === "*";
  const fields = fieldsDefault ? { match: true, details: [] } : setDimension(declaredFields, appliedFields);

  const declaredFacets = declaredFaceting(contract);
  const appliedFacets = appliedFaceting(applied, declaredFacets.attributes as string[]);
  const faceting: ContractDimension = deepEqual(declaredFacets, appliedFacets)
    ? { match: true, details: [] }
    : { match: false, details: [{ declared: declaredFacets, applied: appliedFacets }] };

  const settingsDetails = computeSettingsDrift(declaredWire, applied);

  return {
    version: 1,
    schema: elixirModule(input.schema),
    index: input.index,
    dimensions: {
      fields,
      filterable_attributes: setDimension(contract.filterable, appliedFilterableNames(applied)),
      sortable_attributes: setDimension(contract.sortable, wrapStrings(applied.sortableAttributes)),
      faceting,
      settings: { match: settingsDetails.length === 0, details: settingsDetails },
    },
  };
}

/** §6.3 JSON with keys in upstream order; set details use the `{"only_declared": "x"}` encoding. */
export function reportToJson(report: ContractDriftReport): {
  version: 1;
  schema: string;
  index: string;
  dimensions: Record<ContractDimensionName, { match: boolean; details: DimensionDetail[] }>;
} {
  const dimensions = {} as Record<ContractDimensionName, { match: boolean; details: DimensionDetail[] }>;
  for (const name of CONTRACT_DIMENSIONS) {
    const dim = report.dimensions[name];
    dimensions[name] = { match: dim.match, details: dim.details };
  }
  return { version: 1, schema: report.schema, index: report.index, dimensions };
}

export function differingCount(report: ContractDriftReport): number {
  return CONTRACT_DIMENSIONS.filter((name) => !report.dimensions[name].match).length;
}

const SET_TAGS = ["only_declared", "only_applied", "truncated"] as const;

/** Elixir `inspect` of a set-detail tuple: `{:only_declared, "tenant_id"}`, `{:truncated, true}`. */
function inspectSetDetail(detail: Record<string, unknown>): string | null {
  const tag = SET_TAGS.find((t) => Object.hasOwn(detail, t));
  if (tag === undefined) return null;
  const v = detail[tag];
  return `{:${tag}, ${typeof v === "string" ? JSON.stringify(v) : String(v)}}`;
}

/** One-line summary for a mismatched dimension in `mix scrypath.index.contract_drift` (§8.5). */
export function dimensionSummary(dim: ContractDimension): string {
  const first = dim.details[0] as Record<string, unknown> | undefined;
  if (first === undefined) return "mismatch (see --json)";
  if (Object.hasOwn(first, "key")) return `settings detail key=${JSON.stringify(String(first.key))}`;
  if (inspectSetDetail(first) === null) {
    return `mismatch [${Object.keys(first)
      .sort()
      .map((k) => `:${k}`)
      .join(", ")}]`;
  }
  return dim.details
    .slice(0, 3)
    .map((d) => inspectSetDetail(d as Record<string, unknown>) ?? JSON.stringify(d))
    .join(", ");
}

/** The `settings` key that repeats what another dimension compares (the CLI lists both, as upstream). */
const SETTINGS_KEY_OF: Partial<Record<ContractDimensionName, string>> = {
  fields: "searchableAttributes",
  filterable_attributes: "filterableAttributes",
  sortable_attributes: "sortableAttributes",
  faceting: "faceting",
};

/** The wire names of the settings a hot-apply may change on the live index. */
export const HOT_APPLY_WIRE_KEYS: readonly string[] = HOT_APPLY_KEYS.map((k) => CANONICAL_TO_WIRE[k]);

/**
 * The `settings` details that are not already shown by another differing dimension (a filterable
 * difference is also a `filterableAttributes` settings key): each difference once.
 */
export function settingsDetailsOnce(report: ContractDriftReport): SettingsDetail[] {
  const shown = new Set(
    CONTRACT_DIMENSIONS.filter((d) => !report.dimensions[d].match).flatMap((d) => SETTINGS_KEY_OF[d] ?? []),
  );
  return (report.dimensions.settings.details as SettingsDetail[]).filter(
    (d) => typeof d.key !== "string" || !shown.has(d.key),
  );
}

export interface DriftFix {
  /** Differing settings a hot-apply can change on the live index (synonyms, stopWords, typoTolerance). */
  hotApply: string[];
  /** Differences only a reindex (a new index built with the declared settings) can fix. */
  reindex: string[];
}

/** What would bring the live index back to its contract, difference by difference. */
export function driftFix(report: ContractDriftReport): DriftFix {
  const hotApply: string[] = [];
  const reindex: string[] = [];
  for (const name of CONTRACT_DIMENSIONS) {
    if (name === "settings" || report.dimensions[name].match) continue;
    reindex.push(name);
  }
  for (const d of settingsDetailsOnce(report)) {
    const key = typeof d.key === "string" ? d.key : "settings";
    (HOT_APPLY_WIRE_KEYS.includes(key) ? hotApply : reindex).push(key);
  }
  return { hotApply, reindex };
}
