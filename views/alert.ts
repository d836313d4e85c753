// The live alert's card (one message per channel, schema and condition, edited in place as the
// incident evolves and edited to Resolved when it clears) and its thread timeline. Pure: the engine
// (src/alerts) decides what to post and when; this file only says it, in the one vocabulary
// (terminal, retrying, pending, replayed, resolved, verified), escaped and redacted.
import type { Button, StaticSelect } from "@slack/types";
import type {
  AlertCardModel,
  AlertCondition,
  AlertEvidence,
  NewestFailure,
  TimelineEvent,
} from "../src/core/alertTypes.ts";
import { REASON_CLASSES, type ReasonClass } from "../src/core/types.ts";
import {
  actions,
  button,
  code,
  context,
  count,
  escapeMrkdwn,
  excerpt,
  finalizeMessage,
  LIMITS,
  openValue,
  packLines,
  plural,
  section,
  slackDate,
  staticSelect,
  utcStamp,
  when,
} from "./common.ts";
import { userRef } from "./confirm.ts";
import { usergroupMention } from "./digest.ts";
import { BACKEND_LABELS, errorSentence } from "./errors.ts";
import { CLASS_HINTS } from "./failed.ts";
import {
  ALERT_ACTIONS,
  type SlackMessage,
  SNOOZE_CHOICES,
  type SnoozeChoice,
  type ViewContext,
} from "./types.ts";

/** Characters of the newest error shown on the card. */
export const ALERT_ERROR_EXCERPT = 300;
/** Sections of one timeline message, and its characters, before "and N more changes". */
export const TIMELINE_SECTIONS = 3;
export const TIMELINE_CHARS = 8000;

export const CONDITION_TITLES: Record<AlertCondition, string> = {
  failures: "Terminal failures",
  drift: "Contract drift",
  unreadable: "Unreadable backend",
  stuck: "Stuck queue",
};

const SNOOZE_LABELS: Record<SnoozeChoice, string> = {
  "1h": "1 h",
  "4h": "4 h",
  "24h": "24 h",
  resolved: "until resolved",
};

const SOURCE_LABELS: Record<NewestFailure["source"], string> = {
  oban: "Oban job",
  meilisearch: "Meilisearch task",
};

/** "42 min", "2 h 5 min", "3 d 4 h"; under a minute, "less than a minute". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 60) return "less than a minute";
  const min = Math.floor(seconds / 60);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${count(d)} d` : `${count(d)} d ${h % 24} h`;
}

const date = (iso: string) => new Date(iso);
const seconds = (from: string, to: string) => (date(to).getTime() - date(from).getTime()) / 1000;

/** A time of day as a date token (`09:14` in each reader's zone), for timeline lines. */
function timeOfDay(iso: string): string {
  const d = date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  const unix = Math.floor(d.getTime() / 1000);
  return `<!date^${unix}^{time}|${escapeMrkdwn(utcStamp(d).slice(11))}>`;
}

/** The name people type (alias, else module) for fallbacks. */
const refOf = (m: AlertCardModel) => m.alias ?? m.schema;

/** "`posts` (MyApp.Blog.Post) · index `posts_live`". */
function schemaLabel(m: AlertCardModel): string {
  const name = m.alias ? `${code(m.alias)} (${escapeMrkdwn(m.schema)})` : code(m.schema);
  return m.index ? `${name} · index ${code(m.index)}` : name;
}

/** Counts by class, most first (ties in the canonical class order): "transport 8 · validation 4". */
function classCounts(byClass: Partial<Record<ReasonClass, number>>): string {
  return REASON_CLASSES.filter((c) => (byClass[c] ?? 0) > 0)
    .map((c, i) => ({ c, i, n: byClass[c] ?? 0 }))
    .sort((a, b) => b.n - a.n || a.i - b.i)
    .map(({ c, n }) => `${code(c)} ${count(n)}`)
    .join(" · ");
}

/** "3 replayed · 2 resolved (1 verified)", or null when the bot replayed none. */
function replaysLine(r: { total: number; resolved: number; verified: number }): string | null {
  if (r.total === 0) return null;
  const verified = r.verified > 0 ? ` (${count(r.verified)} verified)` : "";
  return `${count(r.total)} replayed · ${count(r.resolved)} resolved${verified}`;
}

function mentionOf(m: AlertCardModel): string | null {
  if (!m.mention) return null;
  // Accept the id or an already formed `<!subteam^S…>`; anything else mentions nobody.
  const id = /^<!subteam\^([A-Z0-9]+)(?:\|[^>]*)?>$/.exec(m.mention)?.[1] ?? m.mention;
  return usergroupMention(id);
}

// ── Evidence ────────────────────────────────────────────────────────────────────────────────

type Ev<C extends AlertCondition> = Extract<AlertEvidence, { condition: C }>;

function failuresLines(e: Ev<"failures">, m: AlertCardModel): string[] {
  const window = duration(e.windowSeconds);
  const lines = [
    `*${plural(e.recent, "new terminal failure")}* in the last ${window} (≥ ${count(e.minFailures)} opens this alert) · ${count(e.terminal)} terminal in total, ${count(e.needTriage)} ${e.needTriage === 1 ? "needs" : "need"} triage`,
  ];
  const classes = classCounts(e.recentByClass);
  if (classes !== "") lines.push(`*By class:* ${classes}`);
  if (e.dominant) lines.push(`*Dominant:* ${code(e.dominant)} — ${CLASS_HINTS[e.dominant]}`);
  if (e.newest) {
    const n = e.newest;
    const text = n.error ? excerpt(n.error, ALERT_ERROR_EXCERPT) : "";
    lines.push(
      `*Newest error* (${code(n.reasonClass)}, ${SOURCE_LABELS[n.source]}, ${slackDate(date(n.at))}):\n> ${text === "" ? "_no error text_" : text}`,
    );
  }
  // A resolved card says what the replays did in its resolution line.
  const replays = m.status === "open" ? replaysLine(e.replays) : null;
  if (replays) lines.push(`*Replays:* ${replays}`);
  if (e.scope === "queue") {
    lines.push(
      ":warning: Meilisearch could not be read: backend failures are not counted; these numbers cover Oban jobs only.",
    );
  }
  if (m.status === "open") lines.push(`See ${code(`/scrypath failed ${refOf(m)}`)} for the rows.`);
  return lines;
}

function driftLines(e: Ev<"drift">, m: AlertCardModel): string[] {
  const where = m.index ? `The live index ${code(m.index)}` : "The live index";
  const differing =
    e.differing.length > 0
      ? `${where} no longer matches the declared contract: ${e.differing.length} of 5 dimensions differ — ${e.differing.map(code).join(", ")}.`
      : `${where} matches the declared contract.`;
  return [differing, `See ${code(`/scrypath drift ${refOf(m)}`)} for each dimension.`];
}

function unreadableLines(e: Ev<"unreadable">, m: AlertCardModel): string[] {
  const lines = e.problems.map(
    (p) =>
      `• *${BACKEND_LABELS[p.backend] ?? escapeMrkdwn(p.backend)}* could not be read: ${errorSentence(p.message, 400)}`,
  );
  lines.push(`${plural(e.failedChecks, "consecutive check")} failed since ${slackDate(date(e.since))}.`);
  if (m.status === "open") {
    lines.push(
      `The numbers for ${code(refOf(m))} are *unknown, not zero*: failed work, drift and pending work on an unread backend cannot be seen until it answers.`,
    );
  }
  return lines;
}

function stuckLines(e: Ev<"stuck">, m: AlertCardModel): string[] {
  return [
    `*${count(e.pending)} pending*, the oldest waiting since ${slackDate(date(e.oldestPendingAt))} (more than ${duration(e.stuckAfterSeconds)}).`,
    `See ${code(`/scrypath status ${refOf(m)}`)} for the queues.`,
  ];
}

function evidenceLines(m: AlertCardModel): string[] {
  const e = m.evidence;
  switch (e.condition) {
    case "failures":
      return failuresLines(e, m);
    case "drift":
      return driftLines(e, m);
    case "unreadable":
      return unreadableLines(e, m);
    case "stuck":
      return stuckLines(e, m);
  }
}

// ── State ───────────────────────────────────────────────────────────────────────────────────

/** Open since, clearing, who is looking, snooze. */
function openStateLines(m: AlertCardModel, ctx: ViewContext): string[] {
  const lines = [`Open since ${when(date(m.openedAt), ctx.now)}`];
  if (m.clearingSince) {
    lines.push(
      `:hourglass_flowing_sand: Cleared at ${slackDate(date(m.clearingSince))}; resolves after the hold-down unless it comes back.`,
    );
  }
  if (m.acknowledgedBy) {
    const since = m.acknowledgedAt ? ` (since ${slackDate(date(m.acknowledgedAt))})` : "";
    lines.push(`:eyes: ${userRef(m.acknowledgedBy)} is looking${since}`);
  }
  const snoozeActive =
    m.snoozedUntilResolved || (m.snoozedUntil !== null && date(m.snoozedUntil).getTime() > ctx.now.getTime());
  if (snoozeActive) {
    const until = m.snoozedUntilResolved
      ? "until resolved"
      : `until ${slackDate(date(m.snoozedUntil ?? ""))}`;
    lines.push(
      `:zzz: Snoozed by ${userRef(m.snoozedBy)} ${until}: the thread stays quiet; the card still updates and resolves.`,
    );
  }
  return lines;
}

/** "Resolved at … after 42 min", what the replays did, and what "resolved" does not claim. */
function resolvedLines(m: AlertCardModel): string[] {
  const at = m.resolvedAt ?? m.checkedAt;
  const lines = [`*Resolved* at ${slackDate(date(at))} after ${duration(seconds(m.openedAt, at))}.`];
  const e = m.evidence;
  if (e.condition === "failures") {
    if (e.replays.total > 0) {
      const verified = e.replays.verified > 0 ? ` (${count(e.replays.verified)} verified)` : "";
      lines.push(
        `${plural(e.replays.total, "row")} replayed · ${count(e.replays.resolved)} resolved${verified}.`,
      );
    }
    lines.push(
      `_Resolved means ${
        e.minFailures === 1
          ? "no new terminal failure was"
          : `fewer than ${count(e.minFailures)} new terminal failures were`
      } counted in the window for the whole hold-down, not that every row was replayed${
        e.needTriage > 0
          ? `: ${count(e.needTriage)} terminal ${e.needTriage === 1 ? "row still needs" : "rows still need"} triage (${code(`/scrypath failed ${refOf(m)}`)})`
          : ""
      }._`,
    );
  } else if (e.condition === "drift") {
    lines.push("_The live index matched the declared contract for the whole hold-down._");
  } else if (e.condition === "unreadable") {
    lines.push("_Every backend answered again for the whole hold-down._");
  } else {
    lines.push(`_No pending work was older than ${duration(e.stuckAfterSeconds)} for the whole hold-down._`);
  }
  return lines;
}

function cardActions(m: AlertCardModel): Array<Button | StaticSelect> {
  const value = openValue({ schema: m.schema });
  const failed = button({ text: "Failed work", actionId: ALERT_ACTIONS.failed, value });
  if (m.status === "resolved") {
    return m.evidence.condition === "failures" && m.evidence.needTriage > 0 ? [failed] : [];
  }
  const out: Array<Button | StaticSelect> = [
    failed,
    button({ text: "Reconcile", actionId: ALERT_ACTIONS.reconcile, value }),
  ];
  if (!m.acknowledgedBy) {
    out.push(
      button({
        text: "Acknowledge",
        actionId: ALERT_ACTIONS.acknowledge,
        value: String(m.id),
        style: "primary",
      }),
    );
  }
  out.push(
    staticSelect({
      placeholder: "Snooze…",
      actionId: ALERT_ACTIONS.snooze,
      options: (Object.keys(SNOOZE_CHOICES) as SnoozeChoice[]).map((k) => ({
        text: SNOOZE_LABELS[k],
        value: `${m.id}:${k}`,
      })),
    }),
  );
  return out;
}

/** The plain-words detail for notifications: "12 new in the last 15 min (mostly transport)". */
function summary(m: AlertCardModel, ctx: ViewContext): string {
  const e = m.evidence;
  switch (e.condition) {
    case "failures":
      return `${count(e.recent)} new in the last ${duration(e.windowSeconds)}${e.dominant ? ` (mostly ${e.dominant})` : ""}`;
    case "drift":
      return e.differing.length > 0
        ? `${e.differing.join(", ")} ${e.differing.length === 1 ? "differs" : "differ"} from the declared contract`
        : "no dimension differs now";
    case "unreadable": {
      const who = e.problems.map((p) => BACKEND_LABELS[p.backend]).join(" and ") || "a backend";
      return `${who} could not be read for ${plural(e.failedChecks, "check")} in a row`;
    }
    case "stuck":
      return `${count(e.pending)} pending, the oldest waiting ${duration(seconds(e.oldestPendingAt, ctx.now.toISOString()))}`;
  }
}

// ── Messages ────────────────────────────────────────────────────────────────────────────────

/** The card, open or resolved. Mentions model.mention (<!subteam^ID>) only when it is set (the engine sets it only for the first post). */
export function alertCard(model: AlertCardModel, ctx: ViewContext): SlackMessage {
  const m = model;
  const resolved = m.status === "resolved";
  const mention = resolved ? null : mentionOf(m);
  const headline = resolved
    ? `:white_check_mark: *Resolved* · ${CONDITION_TITLES[m.condition]} · ${schemaLabel(m)}`
    : `:rotating_light: *${CONDITION_TITLES[m.condition]}* · ${schemaLabel(m)}`;
  const evidence = evidenceLines(m);
  const buttons = cardActions(m);
  const blocks = [
    section([mention, headline].filter(Boolean).join(" "), { blockId: `alert:${m.id}:head` }),
    resolved ? section(resolvedLines(m).join("\n"), { blockId: `alert:${m.id}:resolved` }) : null,
    section(resolved ? `_Last seen before it cleared:_\n${evidence.join("\n")}` : evidence.join("\n"), {
      blockId: `alert:${m.id}:evidence`,
    }),
    resolved ? null : section(openStateLines(m, ctx).join("\n"), { blockId: `alert:${m.id}:state` }),
    buttons.length > 0 ? actions(buttons, { blockId: `alert:${m.id}:actions` }) : null,
    context([`Alert ${count(m.id)} · checked ${slackDate(date(m.checkedAt))}`], {
      blockId: `alert:${m.id}:checked`,
    }),
  ];
  const on = `${CONDITION_TITLES[m.condition]} on ${refOf(m)}`;
  const text = resolved
    ? escapeMrkdwn(
        `Resolved: ${on.charAt(0).toLowerCase()}${on.slice(1)} after ${duration(seconds(m.openedAt, m.resolvedAt ?? m.checkedAt))}`,
      )
    : [mention, escapeMrkdwn(`${on}: ${summary(m, ctx)}`)].filter(Boolean).join(" ");
  return finalizeMessage(text, blocks);
}

/** One timeline line's words, without its time. */
export function timelineWords(e: TimelineEvent): string {
  switch (e.kind) {
    case "new_class":
      return `new class ${code(e.reasonClass)} (${count(e.count)})`;
    case "doubled":
      return `count doubled: ${count(e.from)} → ${count(e.to)}`;
    case "retry_confirmed":
      return `a retry was confirmed: ${plural(e.replays, "replay")}`;
    case "replays_resolved":
      return `replays resolved: ${count(e.resolved)}${e.verified > 0 ? ` (${count(e.verified)} verified)` : ""}`;
    case "reopened":
      return "came back before the hold-down ended";
    case "clearing":
      return "cleared; resolves after the hold-down unless it comes back";
    case "drift_changed":
      return e.differing.length > 0
        ? `contract now differs in ${e.differing.map(code).join(", ")}`
        : "contract matches again";
    case "acknowledged":
      return `acknowledged by ${userRef(e.userId)}`;
    case "snoozed":
      return `snoozed by ${userRef(e.userId)} ${e.until ? `until ${slackDate(date(e.until))}` : "until resolved"}`;
    case "resolved":
      return `resolved after ${duration(e.durationSeconds)}`;
  }
}

/** One thread message grouping the timeline events not yet posted (oldest first). */
export function alertTimeline(
  model: AlertCardModel,
  events: TimelineEvent[],
  _ctx: ViewContext,
): SlackMessage {
  const sorted = events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => date(a.e.at).getTime() - date(b.e.at).getTime() || a.i - b.i)
    .map(({ e }) => e);
  const lines = sorted.map((e) => `• ${timeOfDay(e.at)} ${timelineWords(e)}`);
  const title = `${CONDITION_TITLES[model.condition]} on ${refOf(model)}`;
  const blocks = [
    ...(lines.length > 0
      ? packLines(lines, {
          maxBlocks: TIMELINE_SECTIONS,
          maxChars: Math.min(TIMELINE_CHARS, TIMELINE_SECTIONS * LIMITS.sectionText),
          more: (left) => `_… and ${plural(left, "more change")}; the card shows the current state._`,
        })
      : [section("_No changes since the last update._")]),
  ];
  const first = sorted[0];
  const text =
    first === undefined
      ? `${title}: no changes`
      : `${title}: ${timelineWords(first)}${sorted.length > 1 ? ` and ${plural(sorted.length - 1, "more change")}` : ""}`;
  return finalizeMessage(escapeFallbackWords(text, title), blocks);
}

/** The title is data (escape it); the words are already mrkdwn. */
function escapeFallbackWords(text: string, title: string): string {
  return `${escapeMrkdwn(title)}${text.slice(title.length)}`;
}
