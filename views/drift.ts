// `/scrypath drift <schema>`: the index contract, dimension by dimension (spec §6, §9.3).
import { differingCount, driftFix, settingsDetailsOnce } from "../src/core/contractDrift.ts";
import { redactValue } from "../src/core/redact.ts";
import {
  CONTRACT_DIMENSIONS,
  type ContractDimension,
  type ContractDimensionName,
  type ContractDriftReport,
} from "../src/core/types.ts";
import {
  actions,
  button,
  code,
  context,
  count,
  escapeMrkdwn,
  finalizeMessage,
  footer,
  header,
  openValue,
  section,
  truncate,
} from "./common.ts";
import { sharedContext } from "./errors.ts";
import { ACTIONS, type SlackMessage, type ViewContext } from "./types.ts";

export const NOT_FRESHNESS =
  "The contract check compares declared and applied index settings; it does not check document freshness (the reconcile report does).";

/** Characters of one compact JSON value before it is cut. */
export const JSON_EXCERPT = 300;
/** Settings keys listed per dimension before "N more". */
export const SETTINGS_SHOWN = 10;
/** Characters of one list of names before it is cut. */
export const NAMES_EXCERPT = 1200;

/** `Elixir.MyApp.Post` → `MyApp.Post`, as the CLI prints it. */
export function moduleName(schema: string): string {
  return schema.replace(/^Elixir\./, "");
}

/** Long strings cut before redaction (slow on long text); the excerpt is cut shorter anyway. */
function shrink(value: unknown, maxString: number, depth = 0): unknown {
  if (typeof value === "string") return value.length > maxString ? value.slice(0, maxString) : value;
  if (depth > 20 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.slice(0, maxString).map((v) => shrink(v, maxString, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shrink(v, maxString, depth + 1)]));
}

/** Compact JSON of a value, secrets redacted, cut, in a code span. */
export function jsonExcerpt(value: unknown, max = JSON_EXCERPT): string {
  if (value === "not_present") return "_not set_";
  let json: string;
  try {
    json = JSON.stringify(redactValue(shrink(value, max + 1))) ?? String(value);
  } catch {
    json = String(value);
  }
  return code(truncate(json, max, () => "…"));
}

function names(list: string[]): string {
  return truncate(list.map(code).join(", "), NAMES_EXCERPT, (cut) => `… (${count(cut)} more characters)`);
}

function setDetails(dim: ContractDimension): string[] {
  const declared: string[] = [];
  const applied: string[] = [];
  let capped = false;
  for (const d of dim.details as unknown as Array<Record<string, unknown>>) {
    if (typeof d.only_declared === "string") declared.push(d.only_declared);
    else if (typeof d.only_applied === "string") applied.push(d.only_applied);
    else if (d.truncated === true) capped = true;
  }
  const out: string[] = [];
  if (declared.length > 0) out.push(`• only declared (schema, not on the index): ${names(declared)}`);
  if (applied.length > 0) out.push(`• only applied (on the index, not declared): ${names(applied)}`);
  if (capped) out.push("• _the list stops at 50 differences_");
  return out;
}

function settingsDetails(report: ContractDriftReport): string[] {
  const rows = settingsDetailsOnce(report) as unknown as Array<Record<string, unknown>>;
  if (rows.length === 0) return ["• _only the differences listed above_"];
  const out = rows
    .slice(0, SETTINGS_SHOWN)
    .map((d) =>
      typeof d.key === "string"
        ? `• ${code(d.key)}: declared ${jsonExcerpt(d.declared)} · applied ${jsonExcerpt(d.applied)}`
        : `• ${jsonExcerpt(d)}`,
    );
  if (rows.length > SETTINGS_SHOWN) out.push(`• _… ${count(rows.length - SETTINGS_SHOWN)} more keys_`);
  return out;
}

function facetingDetails(dim: ContractDimension): string[] {
  return (dim.details as unknown as Array<Record<string, unknown>>).flatMap((d) =>
    "declared" in d || "applied" in d
      ? [`• declared ${jsonExcerpt(d.declared, 600)}`, `• applied ${jsonExcerpt(d.applied, 600)}`]
      : [`• ${jsonExcerpt(d)}`],
  );
}

function dimensionText(report: ContractDriftReport, name: ContractDimensionName): string {
  const dim = report.dimensions[name];
  if (dim.match) return `:white_check_mark: *${name}* — matches`;
  const details =
    name === "settings"
      ? settingsDetails(report)
      : name === "faceting"
        ? facetingDetails(dim)
        : setDetails(dim);
  const body = details.length > 0 ? details.join("\n") : "• _no details reported_";
  return `:x: *${name}* — differs\n${body}`;
}

/** At most SETTINGS_SHOWN names in code spans, then how many more. */
function keyList(keys: string[]): string {
  const shown = keys.slice(0, SETTINGS_SHOWN).map(code).join(", ");
  return keys.length > SETTINGS_SHOWN ? `${shown} and ${count(keys.length - SETTINGS_SHOWN)} more` : shown;
}

/** What would fix the drift: a hot-apply for synonyms, stop words and typo tolerance, else a reindex. */
function fixText(report: ContractDriftReport, schema: string): string | null {
  const fix = driftFix(report);
  const lines: string[] = [];
  if (fix.hotApply.length > 0) {
    lines.push(
      `• ${keyList(fix.hotApply)} can change on the live index: ${code(`/scrypath settings hot-apply ${schema}`)}`,
    );
  }
  if (fix.reindex.length > 0) {
    lines.push(
      `• ${keyList(fix.reindex)} need${fix.reindex.length === 1 ? "s" : ""} a reindex (a new index built with the declared settings, then swapped in): ${code(`/scrypath reconcile ${schema} --action reindex`)}`,
    );
  }
  return lines.length > 0 ? `*Suggested fix*\n${lines.join("\n")}` : null;
}

export function driftView(report: ContractDriftReport, ctx: ViewContext): SlackMessage {
  const n = differingCount(report);
  const total = CONTRACT_DIMENSIONS.length;
  const title = n === 0 ? "Index contract OK" : `Index contract: ${n} of ${total} differ`;
  const schema = moduleName(report.schema);
  const fix = n > 0 ? fixText(report, schema) : null;
  const blocks = [
    header(`${n === 0 ? ":white_check_mark:" : ":warning:"} ${title}`),
    context([`${code(schema)} · index ${code(report.index)}`]),
    ...CONTRACT_DIMENSIONS.map((name) => section(dimensionText(report, name))),
    fix ? section(fix) : null,
    actions(
      [button({ text: "Reconcile report", actionId: ACTIONS.openReconcile, value: openValue({ schema }) })],
      { blockId: "scrypath.drift.actions" },
    ),
    footer([NOT_FRESHNESS, ctx.sharedBy ? sharedContext(ctx.sharedBy) : null]),
  ];
  const differing = CONTRACT_DIMENSIONS.filter((d) => !report.dimensions[d].match);
  const text = `${escapeMrkdwn(schema)}: ${title}${n > 0 ? ` (${differing.join(", ")})` : ""}`;
  return finalizeMessage(text, blocks);
}
