// `/scrypath help [verb]` and the ephemeral answer to a wrong call.
import { code, context, escapeMrkdwn, finalizeMessage, header, packLines, section } from "./common.ts";
import type { SlackMessage } from "./types.ts";

export interface HelpVerb {
  name: string;
  usage: string;
  summary: string;
  mutates?: boolean;
  /** Operators only and audited, without a confirmation: it changes what the bot says, not production. */
  audited?: boolean;
}

export const MUTATES_NOTE = "changes state: needs an operator's confirmation";
export const AUDITED_NOTE = "operators only, recorded in the audit log";

/** Prose from the caller: escaped, but channel links (`<#C0123>`, never a ping) stay links. */
function prose(text: string): string {
  return escapeMrkdwn(text).replace(/&lt;#([CG][A-Z0-9]+)&gt;/g, "<#$1>");
}

/** A usage string in a code span when it is a command, as prose otherwise. */
function usageText(usage: string): string {
  return usage.trim().startsWith("/") ? code(usage.trim()) : prose(usage);
}

function verbLine(v: HelpVerb): string {
  const mark = v.mutates ? ` :lock: _${MUTATES_NOTE}_` : v.audited ? ` :bell: _${AUDITED_NOTE}_` : "";
  return `• ${code(v.usage)} — ${escapeMrkdwn(v.summary)}${mark}`;
}

function oneVerb(v: HelpVerb): SlackMessage {
  const blocks = [
    section(
      `*${code(`/scrypath ${v.name}`)}* — ${escapeMrkdwn(v.summary)}\nUsage: ${code(v.usage)}${
        v.mutates
          ? `\n:lock: This verb ${MUTATES_NOTE}.`
          : v.audited
            ? `\n:bell: This verb is ${AUDITED_NOTE}.`
            : ""
      }`,
    ),
    context(["`/scrypath help` lists every verb."]),
  ];
  return finalizeMessage(`Usage: ${escapeMrkdwn(v.usage)}`, blocks);
}

export function helpView(verbs: readonly HelpVerb[], verb?: string | null): SlackMessage {
  const wanted = verb ? verbs.find((v) => v.name === verb) : undefined;
  if (wanted) return oneVerb(wanted);
  const reads = verbs.filter((v) => !v.mutates && !v.audited);
  const alerts = verbs.filter((v) => !v.mutates && v.audited);
  const writes = verbs.filter((v) => v.mutates);
  const more = (left: number) => `_… ${left} more not shown_`;
  const blocks = [
    header(":mag: Scrypath bot — commands"),
    verb ? context([`No verb named ${code(verb)}; here is the full list.`]) : null,
    reads.length > 0 ? section("*Read-only* — answers only you see unless you add `--share`") : null,
    ...packLines(reads.map(verbLine), { maxBlocks: 4, more }),
    alerts.length > 0
      ? section("*Alerts in this channel* — operators only, no confirmation, recorded in the audit log")
      : null,
    ...packLines(alerts.map(verbLine), { maxBlocks: 2, more }),
    writes.length > 0 ? section(`*Changes state* — ${MUTATES_NOTE}, recorded in the audit log`) : null,
    ...packLines(writes.map(verbLine), { maxBlocks: 4, more }),
    context([
      "Start with `/scrypath status`, then `failed`, then `reconcile` — retry a concrete id, or a whole class with `--class` (capped, previewed, confirmed once).",
    ]),
  ];
  const text = `Scrypath bot commands: ${verbs.map((v) => escapeMrkdwn(v.name)).join(", ") || "none"}`;
  return finalizeMessage(text, blocks);
}

/**
 * The ephemeral answer to a wrong call: what was wrong (one sentence), "Did you mean …?" when
 * there is a likely fix, and the verb's usage.
 */
export function usageView(message: string, usage: string, suggestion?: string | null): SlackMessage {
  const sentence = prose(message.trim() || "that did not work");
  const lines = [
    `:warning: ${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}`,
    suggestion ? `Did you mean ${code(suggestion)}?` : null,
    `Usage: ${usageText(usage)}`,
  ].filter(Boolean);
  return finalizeMessage(`${sentence}${suggestion ? ` — did you mean ${escapeMrkdwn(suggestion)}?` : ""}`, [
    section(lines.join("\n")),
  ]);
}
