// Settings normalization, wire translation, resolve, drift and hot-apply validation (spec §2.6).
import { deepEqual, isPlainObject } from "./deepEqual.ts";
import { underscore } from "./naming.ts";
import type { SchemaContract, SettingsDetail } from "./types.ts";

/** Canonical (snake_case) settings keys Scrypath models, with their Meilisearch wire names. */
export const CANONICAL_TO_WIRE = {
  synonyms: "synonyms",
  typo_tolerance: "typoTolerance",
  ranking_rules: "rankingRules",
  distinct_attribute: "distinctAttribute",
  stop_words: "stopWords",
  searchable_attributes: "searchableAttributes",
  sortable_attributes: "sortableAttributes",
  filterable_attributes: "filterableAttributes",
  displayed_attributes: "displayedAttributes",
} as const;
export type RecognizedSettingKey = keyof typeof CANONICAL_TO_WIRE;
export const RECOGNIZED_SETTING_KEYS = Object.keys(CANONICAL_TO_WIRE) as RecognizedSettingKey[];

export const HOT_APPLY_KEYS = ["synonyms", "stop_words", "typo_tolerance"] as const;

/** Scrypath-only keys that steer translation/validation and never go on the wire. */
export function isMetaSettingKey(key: string): boolean {
  return key === "one_way" || key === "ranking_rules_strict" || key.endsWith("_strict?");
}

const isRecognized = (key: string): key is RecognizedSettingKey => Object.hasOwn(CANONICAL_TO_WIRE, key);

/** Canonical name for a user-supplied key (snake or camelCase), or null when Scrypath does not model it. */
export function canonicalSettingKey(key: string): string | null {
  if (isMetaSettingKey(key)) return key;
  const snake = underscore(key);
  return isRecognized(snake) ? snake : null;
}

/**
 * Splits settings into recognized keys (canonical snake_case, plus meta keys as given) and
 * unrecognized keys (kept exactly as given). When a key is given in both spellings, the later wins.
 */
export function normalizeSettings(input: Record<string, unknown>): {
  recognized: Record<string, unknown>;
  unrecognized: Record<string, unknown>;
} {
  const recognized: Record<string, unknown> = {};
  const unrecognized: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const canonical = canonicalSettingKey(key);
    if (canonical === null) unrecognized[key] = value;
    else recognized[canonical] = value;
  }
  return { recognized, unrecognized };
}

/** `attribute_patterns` → `attributePatterns` (Macro.camelize with a lower-case first letter). */
export function camelizeKey(key: string): string {
  return key.replace(/(?<=[A-Za-z0-9])_+([A-Za-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function camelizeDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelizeDeep);
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [camelizeKey(k), camelizeDeep(v)]));
  }
  return value;
}

/**
 * Scrypath's list-of-groups synonym sugar: `[["nyc","new york"]]` → each term maps to the others;
 * one-way maps the first term to the rest. Terms seen in several groups accumulate (duplicates kept,
 * as upstream's `Map.update`). A map is already Meilisearch-native and passes through.
 */
export function expandSynonyms(groups: unknown, oneWay = false): unknown {
  if (!Array.isArray(groups)) return groups;
  const out = new Map<string, string[]>();
  const add = (term: string, rest: string[]) => out.set(term, [...(out.get(term) ?? []), ...rest]);
  for (const group of groups) {
    if (!Array.isArray(group) || group.length === 0) continue;
    const terms = group.map((t) => String(t));
    if (oneWay) {
      const [head, ...rest] = terms;
      if (head !== undefined) add(head, rest);
      continue;
    }
    for (const term of terms) {
      const others = [...terms];
      others.splice(others.indexOf(term), 1); // removes the first occurrence only, like `--`
      add(term, others);
    }
  }
  return Object.fromEntries(out);
}

/** Canonical settings → Meilisearch wire form (camelCase keys, synonyms expanded, meta keys stripped). */
export function toWire(settings: Record<string, unknown>): Record<string, unknown> {
  const { recognized, unrecognized } = normalizeSettings(settings);
  const oneWay = recognized.one_way === true;
  const wire: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(recognized)) {
    if (!isRecognized(key)) continue; // meta key
    wire[CANONICAL_TO_WIRE[key]] = key === "synonyms" ? expandSynonyms(value, oneWay) : camelizeDeep(value);
  }
  // Unrecognized keys pass through unchanged (forward compatibility with newer Meilisearch settings).
  return { ...wire, ...unrecognized };
}

/** Names a filterable entry covers: a string, or an object's `attributePatterns` / `attribute`. */
export function filterableEntryNames(entry: unknown): string[] {
  if (typeof entry === "string") return [entry];
  if (!isPlainObject(entry)) return [];
  const patterns = entry.attributePatterns ?? entry.attribute_patterns;
  if (Array.isArray(patterns)) return patterns.filter((p): p is string => typeof p === "string");
  return typeof entry.attribute === "string" ? [entry.attribute] : [];
}

/** The granular filterable entry a facet attribute becomes (canonical snake_case form). */
export function facetFilterableEntry(name: string): Record<string, unknown> {
  return {
    attribute_patterns: [name],
    features: { facet_search: true, filter: { equality: true, comparison: true } },
  };
}

/**
 * Declared settings as `Settings.resolve/2` builds them: schema settings, then declared filterables
 * not already covered appended, then facet attributes as granular entries (bare strings for facet
 * attributes are upgraded; explicit object entries win). Canonical snake_case keys.
 */
export function resolveDeclaredSettings(contract: SchemaContract): Record<string, unknown> {
  const { recognized, unrecognized } = normalizeSettings(contract.settings);
  const settings: Record<string, unknown> = { ...unrecognized, ...recognized };
  const list = (): unknown[] =>
    Array.isArray(settings.filterable_attributes) ? [...settings.filterable_attributes] : [];

  if (contract.filterable.length > 0) {
    const existing = list();
    const covered = new Set(existing.flatMap(filterableEntryNames));
    settings.filterable_attributes = [...existing, ...contract.filterable.filter((f) => !covered.has(f))];
  }

  const facets = contract.faceting?.attributes ?? [];
  if (facets.length > 0) {
    const facetNames = new Set(facets);
    const covered = new Set<string>();
    const converted = list().map((entry) => {
      if (typeof entry === "string") {
        if (!facetNames.has(entry)) return entry;
        covered.add(entry);
        return facetFilterableEntry(entry);
      }
      // Only the first pattern of an object entry counts as covering a facet (as upstream).
      const name = filterableEntryNames(entry)[0];
      if (name !== undefined && facetNames.has(name)) covered.add(name);
      return entry;
    });
    settings.filterable_attributes = [
      ...converted,
      ...facets.filter((f) => !covered.has(f)).map(facetFilterableEntry),
    ];
  }
  return settings;
}

/**
 * `compute_drift`: for each declared wire key only, exact (deep) equality with the applied value.
 * Extra applied keys are ignored; a missing key reads as applied "not_present".
 */
export function computeSettingsDrift(
  declaredWire: Record<string, unknown>,
  applied: Record<string, unknown>,
): SettingsDetail[] {
  const details: SettingsDetail[] = [];
  for (const [key, declared] of Object.entries(declaredWire)) {
    if (!Object.hasOwn(applied, key)) details.push({ key, declared, applied: "not_present" });
    else if (!deepEqual(declared, applied[key])) details.push({ key, declared, applied: applied[key] });
  }
  return details;
}

export type HotApplyValidation =
  | { ok: true; settings: Record<string, unknown> }
  | { ok: false; reason: "invalid_settings_payload" }
  | { ok: false; reason: "unsupported_hot_apply_keys"; keys: string[] }
  | { ok: false; reason: "empty_hot_apply_payload" };

/**
 * Hot-apply steps 2–4: a map is required; any key outside synonyms/stop_words/typo_tolerance
 * (meta and unrecognized keys included) is rejected before any HTTP; nil values are dropped and an
 * empty result is rejected. Rejected keys are reported as the user spelled them.
 */
export function validateHotApplyPayload(payload: unknown): HotApplyValidation {
  if (!isPlainObject(payload)) return { ok: false, reason: "invalid_settings_payload" };
  const allowed: readonly string[] = HOT_APPLY_KEYS;
  const bad = Object.keys(payload).filter((key) => {
    const canonical = canonicalSettingKey(key);
    return canonical === null || !allowed.includes(canonical);
  });
  if (bad.length > 0) {
    return { ok: false, reason: "unsupported_hot_apply_keys", keys: [...new Set(bad)].sort() };
  }
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(normalizeSettings(payload).recognized)) {
    if (value !== null && value !== undefined) settings[key] = value;
  }
  if (Object.keys(settings).length === 0) return { ok: false, reason: "empty_hot_apply_payload" };
  return { ok: true, settings };
}
