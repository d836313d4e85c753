// How a settings PATCH (a hot-apply or its revert) reaches Meilisearch, and what the bot knows
// about its outcome afterwards.
import { deepEqual, isPlainObject } from "../core/deepEqual.ts";

/**
 * Whether the live value still carries what a change applied. Meilisearch merges partial
 * objects (typoTolerance: {enabled: false} reads back with every other field), so objects
 * compare by the applied fields only. Every list a hot-apply can set (stop words, synonym
 * groups, typo-tolerance word and attribute lists) is a set that Meilisearch reads back
 * sorted, so lists compare without regard to order: `["the", "a"]` reads back `["a", "the"]`.
 */
export function carriesChange(current: unknown, applied: unknown): boolean {
  if (isPlainObject(applied) && isPlainObject(current)) {
    return Object.entries(applied).every(([k, v]) => carriesChange(current[k], v));
  }
  if (Array.isArray(applied) && Array.isArray(current)) {
    const key = (items: unknown[]) => [...new Set(items.map((i) => JSON.stringify(i)))].sort();
    return deepEqual(key(current), key(applied));
  }
  return deepEqual(current, applied);
}
