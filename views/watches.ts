// `/scrypath watch | unwatch | watches`: the answers, and the list of a channel's alert
// subscriptions with where each came from (the configuration file, or who watched it and when).
import type { AlertCondition, AlertSubscription } from "../src/core/alertTypes.ts";
import type { SubscriptionChange, UnwatchResult, WatchResult } from "../src/operator/index.ts";
import { CONDITION_TITLES } from "./alert.ts";
import {
  code,
  context,
  escapeMrkdwn,
  finalizeMessage,
  header,
  packLines,
  plural,
  section,
  slackDate,
} from "./common.ts";
import { userRef } from "./confirm.ts";
import type { SlackMessage, ViewContext } from "./types.ts";

/** The alert card's condition titles, in the list's lower case: one name per condition everywhere. */
const conditionLabel = (c: AlertCondition) => CONDITION_TITLES[c].toLowerCase();

const CHANNEL_ID = /^[CGD][A-Z0-9]+$/;
const USERGROUP_ID = /^S[A-Z0-9]+$/;

/** `<#C…>` for a channel id (a link, never a ping); anything else as code. */
export function channelRef(id: string): string {
  return CHANNEL_ID.test(id) ? `<#${id}>` : code(id);
}

/**
 * A user group as code (`S0123ABCD`), never as `<!subteam^…>`: a listing or an answer shared in the
 * channel must not ping the group; only an alert that opens does.
 */
function groupRef(id: string | null): string {
  return id && USERGROUP_ID.test(id) ? `user group ${code(id)}` : "nobody";
}

function schemaLabel(schemas: string[] | null): string {
  if (schemas === null) return "*all schemas*";
  return schemas.map((s) => `*${code(s)}*`).join(", ");
}

/** "terminal failures (at least 3), contract drift, unreadable". */
export function conditionsText(on: readonly AlertCondition[], minFailures: number): string {
  return on
    .map((c) =>
      c === "failures" && minFailures > 1
        ? `${conditionLabel(c)} (at least ${minFailures})`
        : conditionLabel(c),
    )
    .join(", ");
}

/** "configuration file" or "watched by <@U…> on <date>" (and who changed it last). */
export function sourceText(s: AlertSubscription): string {
  if (s.source === "config") return "_configuration file_ (`alerts.subscriptions`, changed in code review)";
  const made = `watched by ${userRef(s.createdBy)}${s.createdAt ? ` on ${slackDate(new Date(s.createdAt))}` : ""}`;
  const changed =
    s.updatedBy && s.updatedAt
      ? `, changed by ${userRef(s.updatedBy)} on ${slackDate(new Date(s.updatedAt))}`
      : "";
  return made + changed;
}

function subscriptionLine(
  s: AlertSubscription,
  withChannel: boolean,
  configured: readonly string[] | null,
): string {
  const gone = configured && s.schemas ? s.schemas.filter((m) => !configured.includes(m)) : [];
  return [
    `• ${withChannel ? `${channelRef(s.channel)} ` : ""}${schemaLabel(s.schemas)}: ${escapeMrkdwn(conditionsText(s.on, s.minFailures))}`,
    gone.length > 0
      ? `:warning: no longer in the configuration, so no alerts: ${code(`/scrypath unwatch ${gone[0]}`)} removes it`
      : null,
    s.mention ? `mentions ${groupRef(s.mention)} when an alert opens` : null,
    sourceText(s),
  ]
    .filter(Boolean)
    .join(" · ");
}

/** The subscriptions of one channel (`channel`), or of every channel (null, `--all`). */
export function watchesView(
  subscriptions: readonly AlertSubscription[],
  _ctx: ViewContext,
  opts: {
    channel: string | null;
    /** The configured schema modules: a subscription to another one is marked as silent. */
    configured?: readonly string[];
  },
): SlackMessage {
  const where = opts.channel ? channelRef(opts.channel) : "every channel";
  if (subscriptions.length === 0) {
    const none = opts.channel ? "This channel hears no alerts yet." : "No channel hears alerts yet.";
    return finalizeMessage(none, [
      section(
        `:no_bell: ${none} \`/scrypath watch posts\` subscribes ${opts.channel ? "it" : "a channel"} to a schema's alerts (terminal failures, contract drift, unreadable); \`/scrypath watch all\` to every schema's.`,
      ),
    ]);
  }
  const yaml = subscriptions.filter((s) => s.source === "config").length;
  const lines = subscriptions.map((s) => subscriptionLine(s, opts.channel === null, opts.configured ?? null));
  return finalizeMessage(
    `Alert subscriptions of ${opts.channel ? `<#${opts.channel}>` : "every channel"}: ${plural(subscriptions.length, "subscription")}`,
    [
      header(`:bell: Alert subscriptions (${plural(subscriptions.length, "subscription")})`),
      section(`Where alerts go: ${where}.`),
      ...packLines(lines, { maxBlocks: 40, more: (left) => `_… ${left} more not shown_` }),
      context([
        `${plural(yaml, "entry", "entries")} from the configuration file, ${plural(subscriptions.length - yaml, "made", "made")} with \`/scrypath watch\`. ${code("/scrypath unwatch <schema|all>")} removes one made here.`,
      ]),
    ],
  );
}

function changeText(c: SubscriptionChange): string {
  const show = (v: SubscriptionChange["from"]): string => {
    if (c.field === "conditions") return escapeMrkdwn(conditionsText((v as AlertCondition[]) ?? [], 1));
    if (c.field === "mention") return groupRef(v as string | null);
    return escapeMrkdwn(String(v));
  };
  const label = { conditions: "conditions", minFailures: "minimum failures", mention: "mention" }[c.field];
  return `${label} ${show(c.from)} → ${show(c.to)}`;
}

/** The answer to `/scrypath watch`: what this channel now hears (and what changed). */
export function watchResultView(result: WatchResult, _ctx: ViewContext): SlackMessage {
  const s = result.subscription;
  const what = schemaLabel(s.schemas);
  const conditions = escapeMrkdwn(conditionsText(s.on, s.minFailures));
  const mention = s.mention ? ` An alert that opens mentions ${groupRef(s.mention)}.` : "";
  const next = "`/scrypath watches` lists this channel's subscriptions.";
  if (result.outcome === "unchanged") {
    return finalizeMessage("This channel already watches that with these settings; nothing changed.", [
      section(
        `:bell: This channel already hears alerts about ${what} (${conditions}); nothing changed.${mention}`,
      ),
      context([next]),
    ]);
  }
  if (result.outcome === "updated") {
    const changes = result.changes.map(changeText).join("; ");
    return finalizeMessage("Updated this channel's alert subscription.", [
      section(`:bell: Updated this channel's alerts about ${what}: ${changes}.`),
      section(`It now hears ${conditions}.${mention}`),
      context([next]),
    ]);
  }
  return finalizeMessage("This channel now hears alerts about that schema.", [
    section(`:bell: This channel now hears alerts about ${what}: ${conditions}.${mention}`),
    context([
      `${next} ${code(`/scrypath unwatch ${s.schemas === null ? "all" : (s.schemas[0] ?? "")}`)} stops them.`,
    ]),
  ]);
}

/** The answer to `/scrypath unwatch`. */
export function unwatchResultView(result: UnwatchResult, _ctx: ViewContext): SlackMessage {
  const what = schemaLabel(result.removed.schemas);
  const still =
    result.stillConfigured.length > 0
      ? " It still hears them from the configuration file (`alerts.subscriptions`): that entry is kept there, change it in code review."
      : "";
  return finalizeMessage("This channel no longer hears those alerts.", [
    section(
      `:no_bell: This channel no longer hears alerts about ${what} (${sourceText(result.removed)}).${still}`,
    ),
  ]);
}

/** Why `/scrypath watch` stored nothing: the bot cannot post in this channel, or could not tell. */
export function channelRefusedView(standing: {
  reason: "bot_not_in_channel" | "channel_archived" | "channel_unchecked";
  detail: string;
}): SlackMessage {
  switch (standing.reason) {
    case "channel_archived":
      return finalizeMessage("I can't post in this channel: it is archived. Nothing was stored.", [
        section(
          ":no_entry: *I can't post in this channel: it is archived.* Watch from a channel that is in use. Nothing was stored.",
        ),
      ]);
    case "channel_unchecked":
      return finalizeMessage("I could not check whether I can post in this channel. Nothing was stored.", [
        section(
          `:warning: *I could not check whether I can post in this channel* (${escapeMrkdwn(standing.detail)}), so alerts might never arrive here; try again in a minute. Nothing was stored.`,
        ),
      ]);
    default:
      return finalizeMessage(
        "I can't post in this channel: invite me with /invite @scrypath first. Nothing was stored.",
        [
          section(
            ":no_entry: *I can't post in this channel: invite me with `/invite @scrypath` first*, then watch again. Nothing was stored.",
          ),
        ],
      );
  }
}
