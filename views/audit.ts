// `/scrypath audit [schema] [--limit N]`: the newest audit entries, one compact line each — when,
// who, what, on which schema, how it ended and on which ids — packed into as few sections as fit.
import type { AuditLogEntry } from "../src/operator/auditLog.ts";
import {
  code,
  context,
  count,
  escapeMrkdwn,
  excerpt,
  finalizeMessage,
  header,
  packLines,
  plural,
  section,
  slackDate,
} from "./common.ts";
import { userRef } from "./confirm.ts";
import type { SlackMessage, ViewContext } from "./types.ts";

/** Sections the entries may use, and characters overall (200 entries fit). */
export const AUDIT_SECTIONS = 40;
export const AUDIT_MAX_CHARS = 40_000;

/** Upstream's gated-action names (§9.4) → the verbs operators type. */
const SHORT_ACTIONS: Record<string, string> = {
  "scrypath.ops.failed_work_retry": "retry",
  "scrypath.ops.reindex": "reindex",
  "scrypath.ops.backfill": "backfill",
  "scrypath.ops.swap_live": "swap",
  "scrypath.ops.hot_apply": "hot_apply",
  "scrypath.ops.delete_documents": "delete_documents",
  "scrypath.ops.playbook_delete": "playbook_delete",
  "scrypath.alerts.watch": "watch",
  "scrypath.alerts.unwatch": "unwatch",
};

const OUTCOME_EMOJI: Record<string, string> = {
  accepted: ":inbox_tray:",
  started: ":hourglass_flowing_sand:",
  succeeded: ":white_check_mark:",
  verified: ":white_check_mark:",
  done: ":white_check_mark:",
  refused: ":no_entry:",
  watched: ":bell:",
  updated: ":bell:",
  unchanged: ":bell:",
  unwatched: ":no_bell:",
  failed: ":x:",
  cancelled: ":no_entry_sign:",
  expired: ":hourglass:",
  unconfirmed: ":grey_question:",
  requested: ":raised_hand:",
};

const scalar = (v: unknown): v is string | number | boolean =>
  typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/** "retry", "swap", "revert" (a hot-apply entry that reverts a change), or the action's last part. */
export function shortAction(row: Pick<AuditLogEntry, "action" | "target">): string {
  const short = SHORT_ACTIONS[row.action];
  if (short === "hot_apply" && row.target?.revert_of !== undefined) return "revert";
  return short ?? row.action.replace(/^scrypath\.(ops\.)?/, "");
}

/** Target keys rendered on their own; anything else shows as `key=value` (at most three). */
const KNOWN_TARGET_KEYS = new Set([
  "source",
  "id",
  "new_job_id",
  "live_index",
  "target_index",
  "keys",
  "revert_of",
  "channel",
  "schema",
  "conditions",
  "min_failures",
  "mention",
  "bulk",
  "count",
]);

/** A bulk retry's filter and size: "bulk: class `transport` · terminal · since … · 812 jobs". */
function bulkPart(t: Record<string, unknown>): string | null {
  const bulk = t.bulk;
  if (!bulk || typeof bulk !== "object" || Array.isArray(bulk)) return null;
  const b = bulk as Record<string, unknown>;
  const since = typeof b.since === "string" && !Number.isNaN(Date.parse(b.since)) ? b.since : null;
  return [
    `bulk: class ${code(String(b.reasonClass ?? "?").slice(0, 40))}`,
    scalar(b.state) ? escapeMrkdwn(String(b.state).slice(0, 20)) : null,
    since ? `since ${slackDate(new Date(since))}` : null,
    typeof t.count === "number" ? plural(t.count, "job") : null,
  ]
    .filter(Boolean)
    .join(" · ");
}

const CHANNEL_ID = /^[CGD][A-Z0-9]+$/;

/** A watch's channel (a link, never a ping), what it listens for, its threshold and mention. */
function watchParts(t: Record<string, unknown>, schema: string | null): string[] {
  const parts: string[] = [];
  if (typeof t.channel === "string") {
    parts.push(CHANNEL_ID.test(t.channel) ? `<#${t.channel}>` : code(t.channel));
  }
  if (t.schema === "all") parts.push("all schemas");
  else if (typeof t.schema === "string" && schema === null)
    parts.push(`schema ${code(t.schema.slice(0, 100))}`);
  if (Array.isArray(t.conditions) && t.conditions.length > 0) {
    parts.push(escapeMrkdwn(t.conditions.map(String).join(", ")));
  }
  if (typeof t.min_failures === "number" && t.min_failures > 1) parts.push(`min ${t.min_failures}`);
  if (typeof t.mention === "string") parts.push(`mention ${code(t.mention)}`);
  return parts;
}

/** The ids an entry acted on: `oban:601 → job 1234`, `prod_posts ⇄ prod_posts__reindex`, keys, change, task. */
export function targetIds(
  row: Pick<AuditLogEntry, "target" | "details"> & { schema?: string | null },
): string {
  const t = row.target ?? {};
  const d = row.details ?? {};
  const parts: string[] = [];
  if (scalar(t.id)) parts.push(code(`${scalar(t.source) ? t.source : "oban"}:${t.id}`));
  if (scalar(t.new_job_id)) parts.push(`→ job ${escapeMrkdwn(String(t.new_job_id))}`);
  if (d.bulk === true) parts.push("(bulk)");
  const bulk = bulkPart(t);
  if (bulk) parts.push(bulk);
  if (scalar(t.live_index) && scalar(t.target_index)) {
    parts.push(`${code(String(t.live_index))} ⇄ ${code(String(t.target_index))}`);
  } else if (scalar(t.target_index)) parts.push(`→ ${code(String(t.target_index))}`);
  if (Array.isArray(t.keys) && t.keys.length > 0) parts.push(escapeMrkdwn(t.keys.map(String).join(", ")));
  if (scalar(t.revert_of)) parts.push(`revert of change ${escapeMrkdwn(String(t.revert_of))}`);
  if (scalar(d.change_id)) parts.push(`change ${escapeMrkdwn(String(d.change_id))}`);
  if (scalar(d.task_uid)) parts.push(`task ${escapeMrkdwn(String(d.task_uid))}`);
  parts.push(...watchParts(t, row.schema ?? null));
  const other = Object.entries(t)
    .filter(([k, v]) => !KNOWN_TARGET_KEYS.has(k) && scalar(v))
    .slice(0, 3)
    .map(([k, v]) => `${escapeMrkdwn(k.slice(0, 40))}=${excerpt(String(v), 60)}`);
  return [...parts, ...other].join(" ");
}

/** A reason name (`already_replayed`) as code; free text (an error message) as a short excerpt. */
function reasonText(reason: string | null): string {
  if (!reason) return "";
  return /^[a-z][a-z0-9_]{0,60}$/.test(reason) ? ` ${code(reason)}` : ` — ${excerpt(reason, 80)}`;
}

/** One compact line: time · who · what · schema · outcome (reason) · ids. */
export function auditLine(row: AuditLogEntry): string {
  const emoji = OUTCOME_EMOJI[row.outcome] ?? ":small_blue_diamond:";
  const ids = targetIds(row);
  return [
    slackDate(row.at),
    userRef(row.actor),
    `*${escapeMrkdwn(shortAction(row))}*`,
    row.schema ? code(row.schema) : "no schema",
    `${emoji} ${escapeMrkdwn(row.outcome)}${reasonText(row.reason)}`,
    ids === "" ? null : ids,
  ]
    .filter(Boolean)
    .join(" · ");
}

export function auditView(
  rows: AuditLogEntry[],
  _ctx: ViewContext,
  opts: { schema?: string | null; limit: number },
): SlackMessage {
  const limit = Math.max(1, Math.floor(opts.limit) || 1);
  // Newest first whatever order the rows came in (ties: the later id first).
  const sorted = [...rows].sort((a, b) => b.at.getTime() - a.at.getTime() || b.id - a.id).slice(0, limit);
  const scope = opts.schema ? ` for ${code(opts.schema)}` : "";
  const blocks =
    sorted.length === 0
      ? [
          header(":scroll: Audit log"),
          section(`No audit entries${scope}.`),
          context(["Every mutation requested from Slack or the CLI — and every refusal — is recorded here."]),
        ]
      : [
          header(":scroll: Audit log"),
          context([
            `${plural(sorted.length, "entry", "entries")}${scope} · newest first · limit ${count(limit)}`,
          ]),
          ...packLines(sorted.map(auditLine), {
            maxBlocks: AUDIT_SECTIONS,
            maxChars: AUDIT_MAX_CHARS,
            more: (left) =>
              `_… ${plural(left, "older entry", "older entries")} not shown — name a schema to narrow the list._`,
          }),
        ];
  const forSchema = opts.schema ? ` for ${escapeMrkdwn(opts.schema)}` : "";
  const text =
    sorted.length === 0
      ? `Audit log${forSchema}: No audit entries.`
      : `Audit log${forSchema}: ${plural(sorted.length, "entry", "entries")}, newest first`;
  return finalizeMessage(text, blocks, { overflowHint: "name a schema to narrow the list" });
}
