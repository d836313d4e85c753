// What the confirmation prompt says before a mutation: the facts a Slack confirmation card shows
// (views/confirm.ts), as plain text for a terminal. Pure: the operator read the preview.
import type { KeyChange } from "../core/settingsDiff.ts";
import type { RequestPreview, SettingsPreview } from "../operator/requests.ts";
import { isoTimestamp } from "./format.ts";

/** Items listed per list (stop words, synonyms, fields) before "and N more". */
export const PROMPT_ITEMS_SHOWN = 20;

export interface RequestText {
  /** "retry failed work oban:601 in MyApp.Blog.Post": what the command does, in a few words. */
  what: string;
  /** Said before anything is asked (stderr), e.g. that Oban retries the row by itself. */
  notes: string[];
  /** The prompt: the "About to …" line first, then the details (last error, settings per key). */
  lines: string[];
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** A row in Oban's `retryable` state, before a replay of it is confirmed (as the Slack card says). */
export function retryingNote(r: NonNullable<RequestPreview["retrying"]>): string {
  const at = r.at ? ` at ${isoTimestamp(new Date(r.at))}` : "";
  return `Oban will retry this by itself${at} (attempt ${r.attempt} of ${r.maxAttempts}); a replay now runs the same work twice.`;
}

function facts(preview: RequestPreview): string[] {
  const out: string[] = [];
  if (preview.index !== null && !preview.title.includes(preview.index)) out.push(`index ${preview.index}`);
  if (preview.operation !== null) out.push(`operation ${preview.operation}`);
  if (preview.documentCount !== null) out.push(plural(preview.documentCount, "document"));
  else if (preview.target?.startsWith("oban:")) out.push("document count not recorded in the job");
  if (preview.reasonClass !== null) out.push(`reason class ${preview.reasonClass}`);
  return out;
}

function itemList(label: string, items: readonly string[]): string {
  const shown = items.slice(0, PROMPT_ITEMS_SHOWN).join(", ");
  const more = items.length - PROMPT_ITEMS_SHOWN;
  return `    ${label} (${items.length}): ${shown}${more > 0 ? ` and ${more} more` : ""}`;
}

function keyChangeLines(c: KeyChange, revert: boolean): string[] {
  const lines = [`  ${c.key}:`];
  if (c.added.length > 0) lines.push(itemList(revert ? "put back" : "added", c.added));
  if (c.removed.length > 0) lines.push(itemList(revert ? "taken out" : "removed", c.removed));
  for (const f of c.changed.slice(0, PROMPT_ITEMS_SHOWN))
    lines.push(`    ${f.what}: ${f.live} → ${f.requested}`);
  const more = c.changed.length - PROMPT_ITEMS_SHOWN;
  if (more > 0) lines.push(`    … and ${plural(more, "more change")}`);
  return lines;
}

/** Per key, the live value and the requested one (or, for a revert, what it restores). */
function settingsLines(s: SettingsPreview): string[] {
  const revert = s.kind === "revert";
  const head = revert
    ? `What the revert restores (live now → restored, read ${isoTimestamp(new Date(s.readAt))})${s.changedBy ? `; it undoes a change applied by ${s.changedBy}` : ""}:`
    : `What changes on the live index (live → requested, read ${isoTimestamp(new Date(s.readAt))}):`;
  if (s.changes.length === 0) return [head, "  nothing: the live values are the restored ones already"];
  return [head, ...s.changes.flatMap((c) => keyChangeLines(c, revert))];
}

/** The prompt for a previewed request: what it acts on and exactly what it changes. */
export function requestText(preview: RequestPreview, extra: string[] = []): RequestText {
  const title = `${preview.title.charAt(0).toLowerCase()}${preview.title.slice(1)}`;
  const inSchema = preview.schema && !preview.title.includes(preview.schema) ? ` in ${preview.schema}` : "";
  const what = `${title}${inSchema}`;
  const about = facts(preview);
  return {
    what,
    notes: preview.retrying ? [retryingNote(preview.retrying)] : [],
    lines: [
      `About to ${what}${about.length > 0 ? ` (${about.join(", ")})` : ""}. ${preview.effect}`,
      ...(preview.lastError ? [`Last error: ${preview.lastError}`] : []),
      ...(preview.settings ? settingsLines(preview.settings) : []),
      ...extra,
    ],
  };
}
