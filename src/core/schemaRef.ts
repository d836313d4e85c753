// Resolving what a user typed (`Post`, `MyApp.Blog.Post`, `Elixir.MyApp.Blog.Post`, an alias, or
// `post`) to one configured schema.
import { lastSegment, stripElixir, underscore } from "./naming.ts";

export type SchemaRefResult<T> =
  | { ok: true; schema: T }
  | { ok: false; reason: "unknown" | "ambiguous"; candidates: string[] };

/**
 * Exact matches win: the module name (with or without `Elixir.`) or the alias. Otherwise the
 * underscored last segment (`post`) or the bare last segment (`Post`). More than one distinct
 * schema at the winning level is ambiguous; nothing is unknown (candidates = all configured modules).
 * With `ignoreCase`, a ref that matches nothing as typed is tried again with case folded
 * (`POSTS`, `myapp.blog.post`), the way verbs are matched; a match as typed always wins.
 */
export function resolveSchemaRef<T extends { module: string; alias?: string | null }>(
  ref: string,
  schemas: readonly T[],
  options: { ignoreCase?: boolean } = {},
): SchemaRefResult<T> {
  const found = resolveWith(ref, schemas, (x) => x);
  if (found.ok || found.reason === "ambiguous" || !options.ignoreCase) return found;
  const folded = resolveWith(ref, schemas, (x) => x.toLowerCase());
  return folded.ok || folded.reason === "ambiguous" ? folded : found;
}

function resolveWith<T extends { module: string; alias?: string | null }>(
  ref: string,
  schemas: readonly T[],
  fold: (text: string) => string,
): SchemaRefResult<T> {
  const wanted = fold(ref.trim());
  const bare = fold(stripElixir(ref.trim()));
  const exact = unique(
    schemas.filter(
      (s) => fold(stripElixir(s.module)) === bare || (s.alias != null && fold(s.alias) === wanted),
    ),
  );
  if (exact.length === 1 && exact[0] !== undefined) return { ok: true, schema: exact[0] };
  if (exact.length > 1)
    return { ok: false, reason: "ambiguous", candidates: exact.map((s) => stripElixir(s.module)) };

  const short = unique(
    schemas.filter((s) => {
      const last = lastSegment(s.module);
      return fold(underscore(last)) === wanted || fold(last) === bare;
    }),
  );
  if (short.length === 1 && short[0] !== undefined) return { ok: true, schema: short[0] };
  if (short.length > 1)
    return { ok: false, reason: "ambiguous", candidates: short.map((s) => stripElixir(s.module)) };
  return { ok: false, reason: "unknown", candidates: schemas.map((s) => stripElixir(s.module)) };
}

/** The same schema object (or module) listed twice is one match, not an ambiguity. */
function unique<T extends { module: string }>(xs: T[]): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => {
    const key = stripElixir(x.module);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * Closest option for a "did you mean" hint: case-insensitive edit distance ≤ 2 (smallest wins,
 * first on ties), else the first option that starts with the input (or vice versa); null otherwise.
 */
export function didYouMean(input: string, options: readonly string[]): string | null {
  const needle = input.trim().toLowerCase();
  if (needle === "") return null;
  let best: { option: string; distance: number } | null = null;
  for (const option of options) {
    const distance = levenshtein(needle, option.toLowerCase());
    if (distance <= 2 && (best === null || distance < best.distance)) best = { option, distance };
  }
  if (best) return best.option;
  return (
    options.find((o) => o.toLowerCase().startsWith(needle)) ??
    options.find((o) => needle.startsWith(o.toLowerCase())) ??
    null
  );
}
