// Index naming (spec §7): `<prefix>_<underscored last module segment>`, target `<live>__reindex`.

const isUpper = (c: string | undefined): boolean => c !== undefined && c >= "A" && c <= "Z";
const lower = (c: string): string => (isUpper(c) ? c.toLowerCase() : c);

/**
 * Elixir's `Macro.underscore/1` for ASCII module names: `SearchablePost` → `searchable_post`,
 * `HTTPLog` → `http_log`, `V2Thing` → `v2_thing`, `Foo.Bar` → `foo/bar`.
 * A port of the clause order of the Elixir implementation, so edge cases match it byte for byte.
 */
export function underscore(name: string): string {
  const s = name.startsWith("Elixir.") ? name.slice("Elixir.".length) : name;
  if (s === "") return "";
  return lower(s.charAt(0)) + underscoreRest(s, 1, s.charAt(0));
}

function underscoreRest(s: string, start: number, initialPrev: string): string {
  let out = "";
  let prev = initialPrev;
  let i = start;
  while (i < s.length) {
    const h = s.charAt(i);
    const t = i + 1 < s.length ? s.charAt(i + 1) : undefined;
    // Clause 1: an uppercase letter followed by a "lowercase-ish" char opens a new word.
    if (isUpper(h) && t !== undefined && !isUpper(t) && t !== "." && t !== "_") {
      out += `_${lower(h)}${t}`;
      prev = t;
      i += 2;
      continue;
    }
    // Clause 2: an uppercase letter after a non-uppercase char (not `_`) opens a new word.
    if (isUpper(h) && !isUpper(prev) && prev !== "_") {
      out += `_${lower(h)}`;
      prev = h;
      i += 1;
      continue;
    }
    if (h === ".") {
      return `${out}/${underscore(s.slice(i + 1))}`;
    }
    out += lower(h);
    prev = h;
    i += 1;
  }
  return out;
}

/** Removes a leading `Elixir.` (job args and JSON carry it, CLI text does not). */
export function stripElixir(module: string): string {
  return module.startsWith("Elixir.") ? module.slice("Elixir.".length) : module;
}

/** Adds the `Elixir.` prefix that Oban job args and contract-drift JSON use. */
export function elixirModule(module: string): string {
  return module.startsWith("Elixir.") ? module : `Elixir.${module}`;
}

/** `MyApp.Blog.Post` → `Post`. */
export function lastSegment(module: string): string {
  const parts = stripElixir(module).split(".");
  return parts[parts.length - 1] ?? "";
}

const present = (s: string | null | undefined): s is string => typeof s === "string" && s !== "";

/** Live index uid; prefix precedence runtime → schema → "scrypath" (empty strings count as absent). */
export function liveIndexName(input: {
  module: string;
  runtimePrefix?: string | null;
  schemaPrefix?: string | null;
}): string {
  const prefix = present(input.runtimePrefix)
    ? input.runtimePrefix
    : present(input.schemaPrefix)
      ? input.schemaPrefix
      : "scrypath";
  return `${prefix}_${underscore(lastSegment(input.module))}`;
}

/** Rebuild target uid: the override, else `<live>__reindex` (double underscore). */
export function targetIndexName(live: string, override?: string | null): string {
  return present(override) ? override : `${live}__reindex`;
}
