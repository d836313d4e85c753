// Search-replay playbook v1 validation (spec §9.7, ScrypathOps `Playbook.V1`). Strict: unknown keys
// at fixed levels are rejected, never clamped; transport/secret keys are banned anywhere. Reason
// names are upstream's (`unknown_top_level_keys`, `unknown_page_keys`, `invalid_page_size`,
// `page_size_out_of_range`, …; scrypath_ops/lib/scrypath_ops/playbook/v1.ex).
import { isPlainObject } from "./deepEqual.ts";

export type PlaybookValidation = { ok: true } | { ok: false; reason: string; detail?: string };

export const DEFAULT_MAX_SCHEMAS = 10;
export const DEFAULT_MAX_PAGE_SIZE = 50;

const SEARCH_OPT_KEYS = ["facets", "facet_filter", "filter", "sort", "page", "per_query"];
const SHARED_ONLY_KEYS = [
  "federation_limit",
  "federation_offset",
  "federation_timeout",
  "hydration_timeout",
  "max_schemas",
  "global_schemas",
  "otp_app",
];
const PER_QUERY_KEYS = ["ranking_score_threshold", "show_ranking_score", "show_ranking_score_details"];
export const BANNED_PLAYBOOK_KEYS = [
  "meilisearch_api_key",
  "req_options",
  "meilisearch_url",
  "meilisearch_client",
];
const TOP_KEYS: Record<string, string[]> = {
  search: ["playbook_format", "mode", "schema", "q", "opts", "title", "description", "tags"],
  search_many: ["playbook_format", "mode", "entries", "opts", "title", "description", "tags"],
};

type OptsContext = "search" | "search_many_shared" | "search_many_entry";

const fail = (reason: string, detail?: string): PlaybookValidation =>
  detail === undefined ? { ok: false, reason } : { ok: false, reason, detail };
const encoder = new TextEncoder();
const bytes = (s: string): number => encoder.encode(s).length;
const describe = (v: unknown): string => (v === undefined ? "missing" : JSON.stringify(v));

/** First banned key found by a depth-first scan, with its path (e.g. `opts.page`). */
function findBannedKey(value: unknown, path: string[] = []): { key: string; path: string } | null {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = findBannedKey(v, [...path, `[${i}]`]);
      if (found) return found;
    }
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (BANNED_PLAYBOOK_KEYS.includes(k)) return { key: k, path: path.join(".") };
      const found = findBannedKey(v, [...path, k]);
      if (found) return found;
    }
  }
  return null;
}

function validateMetadata(data: Record<string, unknown>): PlaybookValidation {
  const { title, description, tags } = data;
  if (title != null) {
    if (typeof title !== "string") return fail("invalid_metadata", "title must be a string");
    if (bytes(title) > 200) return fail("invalid_metadata", `title is ${bytes(title)} bytes (max 200)`);
  }
  if (description != null) {
    if (typeof description !== "string") return fail("invalid_metadata", "description must be a string");
    if (bytes(description) > 2000) {
      return fail("invalid_metadata", `description is ${bytes(description)} bytes (max 2000)`);
    }
  }
  if (tags != null) {
    if (!Array.isArray(tags)) return fail("invalid_metadata", "tags must be a list of strings");
    if (tags.length > 20) return fail("invalid_metadata", `${tags.length} tags (max 20)`);
    for (const [i, tag] of tags.entries()) {
      if (typeof tag !== "string") return fail("invalid_metadata", `tag ${i} must be a string`);
      if (tag === "") return fail("invalid_metadata", `tag ${i} is empty`);
      if (bytes(tag) > 64) return fail("invalid_metadata", `tag ${i} is ${bytes(tag)} bytes (max 64)`);
    }
  }
  return { ok: true };
}

function validateFederationInt(opts: Record<string, unknown>, key: string, min: number): PlaybookValidation {
  const v = opts[key];
  if (v == null) return { ok: true };
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    return fail("invalid_federation_field", `${key}=${describe(v)} (must be an integer ≥ ${min})`);
  }
  return { ok: true };
}

function validateOpts(opts: unknown, ctx: OptsContext, maxPageSize: number): PlaybookValidation {
  if (opts === undefined || opts === null) return fail("missing_opts");
  if (!isPlainObject(opts)) return fail("invalid_opts", describe(opts));
  const allowed = [
    ...SEARCH_OPT_KEYS,
    ...(ctx === "search_many_shared" ? SHARED_ONLY_KEYS : []),
    ...(ctx === "search_many_entry" ? ["federation_weight"] : []),
  ];
  const unknown = Object.keys(opts).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) return fail("unknown_opt_keys", unknown.join(", "));

  const { page, per_query: perQuery } = opts;
  if (page != null) {
    if (!isPlainObject(page)) return fail("invalid_page", describe(page));
    const badPageKeys = Object.keys(page).filter((k) => k !== "number" && k !== "size");
    if (badPageKeys.length > 0) return fail("unknown_page_keys", badPageKeys.join(", "));
  }
  if (perQuery != null) {
    if (!isPlainObject(perQuery)) return fail("invalid_per_query", describe(perQuery));
    const bad = Object.keys(perQuery).filter((k) => !PER_QUERY_KEYS.includes(k));
    if (bad.length > 0) return fail("unknown_per_query_keys", bad.join(", "));
  }
  if (ctx === "search_many_shared") {
    const gs = opts.global_schemas;
    if (gs != null && !(Array.isArray(gs) && gs.every((s) => typeof s === "string"))) {
      return fail("invalid_global_schemas", describe(gs));
    }
    for (const [key, min] of [
      ["federation_limit", 1],
      ["federation_offset", 0],
      ["federation_timeout", 1],
      ["hydration_timeout", 1],
      ["max_schemas", 1],
    ] as const) {
      const r = validateFederationInt(opts, key, min);
      if (!r.ok) return r;
    }
    const otp = opts.otp_app;
    if (otp != null && (typeof otp !== "string" || otp === "")) return fail("invalid_otp_app", describe(otp));
  }
  if (ctx === "search_many_entry") {
    const w = opts.federation_weight;
    if (w != null && (typeof w !== "number" || !Number.isFinite(w))) {
      return fail("invalid_federation_weight", describe(w));
    }
  }
  if (isPlainObject(page) && page.size != null) {
    const size = page.size;
    if (typeof size !== "number" || !Number.isInteger(size)) return fail("invalid_page_size", describe(size));
    if (size < 1 || size > maxPageSize) {
      return fail("page_size_out_of_range", `size ${size} is outside 1..${maxPageSize}`);
    }
  }
  return { ok: true };
}

export function validatePlaybook(
  value: unknown,
  opts: { maxSchemas?: number; maxPageSize?: number } = {},
): PlaybookValidation {
  const maxSchemas = opts.maxSchemas ?? DEFAULT_MAX_SCHEMAS;
  const maxPageSize = opts.maxPageSize ?? DEFAULT_MAX_PAGE_SIZE;
  if (!isPlainObject(value)) return fail("not_a_map");

  const banned = findBannedKey(value);
  if (banned) return fail("banned_key", banned.path === "" ? banned.key : `${banned.key} at ${banned.path}`);
  if (value.playbook_format !== 1) return fail("invalid_playbook_format", describe(value.playbook_format));
  const mode = value.mode;
  if (mode !== "search" && mode !== "search_many") return fail("invalid_mode", describe(mode));
  const extras = Object.keys(value).filter((k) => !(TOP_KEYS[mode] ?? []).includes(k));
  if (extras.length > 0) return fail("unknown_top_level_keys", extras.sort().join(", "));
  const meta = validateMetadata(value);
  if (!meta.ok) return meta;

  if (mode === "search") {
    for (const key of ["schema", "q"]) {
      if (typeof value[key] !== "string")
        return fail("invalid_string_field", `${key}=${describe(value[key])}`);
    }
    return validateOpts(value.opts, "search", maxPageSize);
  }

  const entries = value.entries;
  if (!Array.isArray(entries)) return fail("invalid_entries", describe(entries));
  if (entries.length > maxSchemas)
    return fail("too_many_entries", `${entries.length} entries (max ${maxSchemas})`);
  for (const [i, entry] of entries.entries()) {
    if (
      !Array.isArray(entry) ||
      entry.length !== 3 ||
      typeof entry[0] !== "string" ||
      typeof entry[1] !== "string" ||
      !isPlainObject(entry[2])
    ) {
      return fail("invalid_entry", `entry ${i} must be [schema, q, opts]`);
    }
    const r = validateOpts(entry[2], "search_many_entry", maxPageSize);
    if (!r.ok) return r;
  }
  return validateOpts(value.opts, "search_many_shared", maxPageSize);
}
