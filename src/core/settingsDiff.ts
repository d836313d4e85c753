// What a hot-apply (or its revert) changes on the live index, key by key, as a person reads it:
// stop words and synonyms added and removed, synonym lists changed, typo-tolerance fields changed.
// Meilisearch replaces stop words and synonyms whole and merges typo tolerance field by field, so a
// typo-tolerance change is compared only on the fields it gives. Pure: the caller reads the values.

/** Values as short display strings (the view escapes and bounds them). */
export interface FieldChange {
  /** The stop word, the synonym's word, or the typo-tolerance field path (`minWordSizeForTypos.oneTypo`). */
  what: string;
  live: string;
  requested: string;
}

export interface KeyChange {
  /** Meilisearch's spelling: `stopWords`, `synonyms`, `typoTolerance`. */
  key: string;
  /** Stop words added; synonyms added as `word → a, b`. */
  added: string[];
  removed: string[];
  changed: FieldChange[];
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map((s) => String(s)) : []);

const sameSet = (a: readonly string[], b: readonly string[]): boolean => {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
};

const show = (v: unknown): string => {
  if (v === undefined || v === null) return "not set";
  if (Array.isArray(v)) return v.length === 0 ? "none" : v.map((x) => String(x)).join(", ");
  return typeof v === "string" ? v : JSON.stringify(v);
};

function listChange(key: string, live: unknown, requested: unknown): KeyChange {
  const was = new Set(strings(live));
  const will = new Set(strings(requested));
  return {
    key,
    added: [...will].filter((w) => !was.has(w)).sort(),
    removed: [...was].filter((w) => !will.has(w)).sort(),
    changed: [],
  };
}

function synonymsChange(live: unknown, requested: unknown): KeyChange {
  const was = isObject(live) ? live : {};
  const will = isObject(requested) ? requested : {};
  const entry = (word: string, list: unknown) => `${word} → ${show(strings(list))}`;
  const change: KeyChange = { key: "synonyms", added: [], removed: [], changed: [] };
  for (const word of Object.keys(will).sort()) {
    if (!Object.hasOwn(was, word)) change.added.push(entry(word, will[word]));
    else if (!sameSet(strings(was[word]), strings(will[word]))) {
      change.changed.push({
        what: word,
        live: show(strings(was[word])),
        requested: show(strings(will[word])),
      });
    }
  }
  for (const word of Object.keys(was).sort()) {
    if (!Object.hasOwn(will, word)) change.removed.push(entry(word, was[word]));
  }
  return change;
}

/** Leaves of a typo-tolerance object: `{ minWordSizeForTypos: { oneTypo: 4 } }` → `minWordSizeForTypos.oneTypo`. */
function leaves(value: unknown, path: string[] = []): [string, unknown][] {
  if (isObject(value) && Object.keys(value).length > 0) {
    return Object.keys(value)
      .sort()
      .flatMap((k) => leaves(value[k], [...path, k]));
  }
  return [[path.join("."), value]];
}

function at(value: unknown, path: string): unknown {
  let node = value;
  for (const part of path === "" ? [] : path.split(".")) node = isObject(node) ? node[part] : undefined;
  return node;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return sameSet(strings(a), strings(b));
  return JSON.stringify(a) === JSON.stringify(b);
}

function typoChange(live: unknown, requested: unknown): KeyChange {
  const change: KeyChange = { key: "typoTolerance", added: [], removed: [], changed: [] };
  for (const [path, value] of leaves(requested)) {
    const was = at(live, path);
    if (!sameValue(was, value)) {
      change.changed.push({
        what: path === "" ? "typoTolerance" : path,
        live: show(was),
        requested: show(value),
      });
    }
  }
  return change;
}

/**
 * For each key of `requested` (Meilisearch wire form), what setting it on an index whose values are
 * `live` changes. Keys that change nothing are left out: an empty list means nothing would change.
 * A `null` requested value resets the key to Meilisearch's default.
 */
export function settingsChanges(
  live: Record<string, unknown>,
  requested: Record<string, unknown>,
): KeyChange[] {
  const out: KeyChange[] = [];
  for (const key of Object.keys(requested).sort()) {
    const value = requested[key];
    let change: KeyChange;
    if (value === null) {
      change = {
        key,
        added: [],
        removed: [],
        changed: [{ what: key, live: show(live[key]), requested: "Meilisearch's default" }],
      };
    } else if (key === "stopWords") change = listChange(key, live[key], value);
    else if (key === "synonyms") change = synonymsChange(live[key], value);
    else if (key === "typoTolerance") change = typoChange(live[key], value);
    else {
      change = sameValue(live[key], value)
        ? { key, added: [], removed: [], changed: [] }
        : {
            key,
            added: [],
            removed: [],
            changed: [{ what: key, live: show(live[key]), requested: show(value) }],
          };
    }
    if (change.added.length + change.removed.length + change.changed.length > 0) out.push(change);
  }
  return out;
}

/**
 * Two reads of one setting are the same: objects by key (whatever their order: a stored read went
 * through jsonb), lists as sets (Meilisearch reads them back sorted), the rest by value.
 */
function sameLive(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const key = (list: unknown[]) => [...new Set(list.map((x) => canonical(x)))].sort();
    const [ka, kb] = [key(a), key(b)];
    return ka.length === kb.length && ka.every((x, i) => x === kb[i]);
  }
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => sameLive(a[k], b[k]));
  }
  return canonical(a) === canonical(b);
}

/** JSON with object keys sorted, so two equal values read in different key orders match. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObject(v)) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v) ?? "undefined";
}

/**
 * How the live values of `keys` moved between two reads (`was`, as a card recorded them, and
 * `now`): empty when they are the same. Each moved key is described as a request from `was` to
 * `now` would be (items added and removed, fields changed).
 */
export function liveValuesMoved(
  was: Record<string, unknown>,
  now: Record<string, unknown>,
  keys: readonly string[],
): KeyChange[] {
  const out: KeyChange[] = [];
  for (const key of [...keys].sort()) {
    if (sameLive(was[key], now[key])) continue;
    const [described] =
      now[key] === undefined ? [] : settingsChanges({ [key]: was[key] }, { [key]: now[key] });
    out.push(
      described ?? {
        key,
        added: [],
        removed: [],
        changed: [{ what: key, live: show(was[key]), requested: show(now[key]) }],
      },
    );
  }
  return out;
}

/** At most this many items per key in a one-line description. */
const ITEMS_IN_LINE = 5;

const ticked = (text: string): string => `\`${text.replace(/`/g, "ˋ")}\``;

function items(list: readonly string[]): string {
  const shown = list.slice(0, ITEMS_IN_LINE).map(ticked).join(", ");
  return list.length > ITEMS_IN_LINE ? `${shown} and ${list.length - ITEMS_IN_LINE} more` : shown;
}

/**
 * "stopWords: added `the`, removed `an`; typoTolerance `minWordSizeForTypos.oneTypo`: `5` → `4`":
 * one line of plain text (values in code spans) for a refusal or a log, bounded per key.
 */
export function describeChanges(changes: readonly KeyChange[]): string {
  return changes
    .map((c) => {
      const parts = [
        c.added.length > 0 ? `added ${items(c.added)}` : null,
        c.removed.length > 0 ? `removed ${items(c.removed)}` : null,
        ...c.changed
          .slice(0, ITEMS_IN_LINE)
          .map(
            (f) =>
              `${f.what === c.key ? "" : `${ticked(f.what)}: `}${ticked(f.live)} → ${ticked(f.requested)}`,
          ),
        c.changed.length > ITEMS_IN_LINE ? `and ${c.changed.length - ITEMS_IN_LINE} more` : null,
      ].filter(Boolean);
      return `${c.key}: ${parts.join(", ")}`;
    })
    .join("; ");
}
