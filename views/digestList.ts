// `/scrypath digest list` (each schedule, where it posts, its next run and what happened last) and
// the preview reply (a note saying nothing was posted and what the schedule would do, then the
// digest itself as views/digest.ts renders it).
import type { Decision, DigestListEntry } from "../src/core/digest.ts";
import {
  code,
  context,
  count,
  escapeMrkdwn,
  finalizeMessage,
  header,
  packLines,
  plural,
  section,
  slackDate,
} from "./common.ts";
import { errorSentence } from "./errors.ts";
import type { SlackMessage, ViewContext } from "./types.ts";

/** What the preview shows: the digest's decision now, and the messages it would post. */
export interface DigestPreviewProps {
  name: string;
  channel: string;
  decision: Decision;
  parent: SlackMessage;
  details: SlackMessage[];
}

/** When a digest speaks; worded so no word can be read as a schema name ("posts …" could). */
const WHEN_TEXT = {
  always: "at every slot",
  degraded: "when degraded",
  changed: "when something changed",
} as const;

function lastLine(entry: DigestListEntry): string {
  const last = entry.lastSlot;
  if (!last) return "no digest yet";
  const when = slackDate(last.slotAt);
  switch (last.status) {
    case "posted":
      return `posted for ${when}${last.late ? " (late)" : ""}`;
    case "skipped":
      return `stayed quiet at ${when}${last.reason ? ` (${escapeMrkdwn(last.reason)})` : ""}`;
    case "failed":
      return `:x: failed at ${when}${last.reason ? `: ${errorSentence(last.reason, 200)}` : ""}`;
    case "claimed":
      return `in progress for ${when}`;
    case "unconfirmed":
      return `:warning: may be incomplete for ${when}${last.reason ? `: ${errorSentence(last.reason, 300)}` : ""}`;
    case "superseded":
      return `not posted for ${when} (a later slot came first)`;
  }
}

/** `/scrypath digest list`: each digest, where it posts, when it runs next (in each reader's time zone). */
export function digestListView(entries: readonly DigestListEntry[], ctx: ViewContext): SlackMessage {
  if (entries.length === 0) {
    return finalizeMessage("No digests are configured.", [
      section(
        `No digests are configured. Add them under ${code("digests:")} in the bot configuration (name, channel, cron, timezone).`,
      ),
    ]);
  }
  const lines = entries.map((e) => {
    const channel = /^[CG][A-Z0-9]+$/.test(e.channel) ? `<#${e.channel}>` : code(e.channel);
    const schemas = e.schemas ? plural(e.schemas.length, "schema") : "all schemas";
    const next = e.nextRun ? slackDate(e.nextRun) : "not within a year";
    return (
      `*${escapeMrkdwn(e.name)}* → ${channel} · ${code(e.cron)} (${escapeMrkdwn(e.timezone)}) · ${schemas} · speaks ${WHEN_TEXT[e.when]}\n` +
      `Next: ${next} · Last: ${lastLine(e)}`
    );
  });
  return finalizeMessage(`${plural(entries.length, "scheduled digest")}`, [
    header(`Scheduled digests (${count(entries.length)})`),
    ...packLines(lines, {
      maxBlocks: 40,
      more: (left) => `_… and ${plural(left, "more digest")}_`,
    }),
    context([`Times show in your own time zone · listed ${slackDate(ctx.now)}`]),
  ]);
}

/** The preview: a note saying it was not posted and what the schedule would do, then the digest itself. */
export function digestPreviewView(preview: DigestPreviewProps, ctx: ViewContext): SlackMessage[] {
  const verdict = preview.decision.post
    ? `would *post* (${escapeMrkdwn(preview.decision.reason)})`
    : `would *stay quiet* (${escapeMrkdwn(preview.decision.reason)})`;
  const note = finalizeMessage(`Preview of digest ${preview.name} (not posted)`, [
    section(
      `:eyes: *Preview of digest ${code(preview.name)}* — nothing was posted to <#${preview.channel}>. ` +
        `Built now (${slackDate(ctx.now)}), this digest ${verdict}.`,
    ),
  ]);
  return [note, preview.parent, ...preview.details];
}
