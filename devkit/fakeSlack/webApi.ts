// The Web API methods the bot calls (what its WebClient reaches when SLACK_API_URL points at the
// fake): chat.*, views.*, conversations.*, users.info, usergroups.users.list, auth.test and
// apps.connections.open, answered from the conversation store as Slack would answer them. In strict
// mode Slack's rules apply: unknown channels, messages, views and triggers are errors, triggers
// expire and are single-use, and block counts are limited.

import type { Triggers } from "./interactions.ts";
import type { ConversationStore } from "./store.ts";
import { compareTs } from "./store.ts";
import {
  type BotIdentity,
  type SlackChannel,
  type SlackUser,
  type StoredMessage,
  type StoredView,
  type Team,
  TRIGGER_TTL_MS,
} from "./types.ts";
import { isObject, str } from "./values.ts";

/** The workspace the fake plays (the FakeSlack itself: tests change `usergroups` and `socketUrl`). */
export interface Workspace {
  readonly strict: boolean;
  readonly team: Team;
  readonly bot: BotIdentity;
  readonly users: Map<string, SlackUser>;
  readonly channels: Map<string, SlackChannel>;
  /** Members returned by usergroups.users.list, per user group id. */
  readonly usergroups: Map<string, string[]>;
  /** What `apps.connections.open` returns (the Socket Mode WebSocket URL). */
  readonly socketUrl: string | null;
}

export type Answer = Record<string, unknown>;
export const fail = (error: string, extra: Answer = {}): Answer => ({ ok: false, error, ...extra });

const MAX_BLOCKS = { message: 50, modal: 100 };
/** conversations.history / replies: default and largest page (Slack: 100 and 999 for internal apps). */
const HISTORY_LIMIT = { default: 100, max: 999 };

export class WebApi {
  /** The messages chat.postMessage posted (answered ok), with the ts the fake gave them, in order. */
  readonly posted: { ts: string; body: Record<string, unknown> }[] = [];
  /** Successful chat.update calls, in order. */
  readonly updates: Record<string, unknown>[] = [];

  constructor(
    private readonly workspace: Workspace,
    private readonly store: ConversationStore,
    private readonly triggers: Triggers,
  ) {}

  answer(method: string, body: Record<string, unknown>): Answer {
    switch (method) {
      case "auth.test":
        return {
          ok: true,
          url: `https://${this.workspace.team.domain}.slack.com/`,
          team: this.workspace.team.name,
          user: this.workspace.bot.name,
          team_id: this.workspace.team.id,
          user_id: this.workspace.bot.userId,
          bot_id: this.workspace.bot.botId,
        };
      case "chat.postMessage":
        return this.chatPostMessage(body);
      case "chat.update":
        return this.chatUpdate(body);
      case "chat.postEphemeral":
        return this.chatPostEphemeral(body);
      case "chat.delete":
        return this.chatDelete(body);
      case "chat.getPermalink": {
        const ts = str(body.message_ts) ?? "";
        return {
          ok: true,
          channel: body.channel,
          permalink: `https://${this.workspace.team.domain}.slack.com/archives/${str(body.channel)}/p${ts.replace(".", "")}`,
        };
      }
      case "views.open":
        return this.viewsOpen(body, false);
      case "views.push":
        return this.viewsOpen(body, true);
      case "views.update":
        return this.viewsUpdate(body);
      case "usergroups.users.list":
        return { ok: true, users: this.workspace.usergroups.get(String(body.usergroup)) ?? [] };
      case "users.info": {
        const user = this.workspace.users.get(String(body.user));
        return user ? { ok: true, user: slackUser(user, this.workspace.team.id) } : fail("user_not_found");
      }
      case "conversations.info":
        return this.conversationsInfo(body);
      case "conversations.history":
        return this.conversationsHistory(body);
      case "conversations.replies":
        return this.conversationsReplies(body);
      case "apps.connections.open":
        return this.workspace.socketUrl ? { ok: true, url: this.workspace.socketUrl } : fail("invalid_auth");
      default:
        return fail("unknown_method");
    }
  }

  /**
   * A channel as the bot sees it: whether it is a member, archived, private. A private channel the
   * bot is not in is "channel_not_found", as Slack answers. Strict: unknown channels are not found;
   * lenient: any channel the fake was not told about is a public one the bot is in.
   */
  private conversationsInfo(body: Record<string, unknown>): Answer {
    const id = str(body.channel);
    if (!id) return fail("channel_not_found");
    const known = this.workspace.channels.get(id);
    if (!known && this.workspace.strict) return fail("channel_not_found");
    const channel = known ?? { id, name: id.toLowerCase() };
    const member = channel.isMember ?? true;
    const priv = channel.isPrivate ?? id.startsWith("G");
    if (priv && !member) return fail("channel_not_found");
    return {
      ok: true,
      channel: {
        id: channel.id,
        name: channel.name,
        is_channel: !priv,
        is_group: priv,
        is_private: priv,
        is_archived: channel.isArchived ?? false,
        is_member: member,
      },
    };
  }

  /** Strict: the channel must exist; lenient: any channel works. */
  private knownChannel(channel: string | undefined): boolean {
    return channel !== undefined && (!this.workspace.strict || this.workspace.channels.has(channel));
  }

  private chatPostMessage(body: Record<string, unknown>): Answer {
    const channel = str(body.channel);
    if (!channel) return fail("channel_not_found");
    const text = str(body.text) ?? "";
    const blocks = Array.isArray(body.blocks) ? body.blocks : [];
    if (this.workspace.strict) {
      if (!this.knownChannel(channel)) return fail("channel_not_found");
      if (text === "" && blocks.length === 0) return fail("no_text");
      if (blocks.length > MAX_BLOCKS.message) return fail("invalid_blocks");
    }
    const metadata = messageMetadata(body.metadata);
    if (metadata === "invalid") return fail("invalid_metadata_format");
    const message = this.store.addMessage({
      channel,
      user: this.workspace.bot.userId,
      botId: this.workspace.bot.botId,
      text,
      blocks,
      threadTs: str(body.thread_ts) ?? null,
      via: null,
      metadata,
    });
    this.posted.push({ ts: message.ts, body });
    return {
      ok: true,
      channel,
      ts: message.ts,
      message: {
        type: "message",
        user: this.workspace.bot.userId,
        bot_id: this.workspace.bot.botId,
        text,
        ts: message.ts,
        ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      },
    };
  }

  /** Channel messages (no thread replies), newest first, between `oldest` and `latest`. */
  private conversationsHistory(body: Record<string, unknown>): Answer {
    const channel = str(body.channel);
    if (!channel || !this.knownChannel(channel)) return fail("channel_not_found");
    const inRange = timeRange(body);
    const all = this.store
      .listMessages(channel)
      .filter((m) => m.threadTs === null && inRange(m.ts))
      .reverse();
    return this.page(all, body, (m, cursor) => compareTs(m.ts, cursor) < 0);
  }

  /** A thread: its parent, then the replies oldest first (those between `oldest` and `latest`). */
  private conversationsReplies(body: Record<string, unknown>): Answer {
    const channel = str(body.channel);
    if (!channel || !this.knownChannel(channel)) return fail("channel_not_found");
    let parent = this.store.message(channel, str(body.ts) ?? "");
    if (parent?.threadTs) parent = this.store.message(channel, parent.threadTs);
    if (!parent) return fail("thread_not_found");
    const inRange = timeRange(body);
    const replies = this.store.listMessages(channel).filter((m) => m.threadTs === parent.ts && inRange(m.ts));
    return this.page([parent, ...replies], body, (m, cursor) => compareTs(m.ts, cursor) > 0);
  }

  /** One page of `items` (already in order) after the cursor, as Slack answers history reads. */
  private page(
    items: StoredMessage[],
    body: Record<string, unknown>,
    afterCursor: (m: StoredMessage, cursorTs: string) => boolean,
  ): Answer {
    const cursor = str(body.cursor);
    let rest = items;
    if (cursor) {
      const decoded = Buffer.from(cursor, "base64").toString("utf8");
      const match = /^next_ts:(\d+\.\d+)$/.exec(decoded);
      if (!match) return fail("invalid_cursor");
      rest = items.filter((m) => afterCursor(m, match[1] as string));
    }
    const asked = Number(body.limit ?? HISTORY_LIMIT.default);
    const limit = Math.min(
      HISTORY_LIMIT.max,
      Number.isFinite(asked) && asked > 0 ? Math.floor(asked) : HISTORY_LIMIT.default,
    );
    const chunk = rest.slice(0, limit);
    const hasMore = rest.length > chunk.length;
    const last = chunk.at(-1);
    const withMetadata = flag(body.include_all_metadata);
    return {
      ok: true,
      messages: chunk.map((m) => this.historyMessage(m, withMetadata)),
      has_more: hasMore,
      pin_count: 0,
      response_metadata: {
        next_cursor: hasMore && last ? Buffer.from(`next_ts:${last.ts}`).toString("base64") : "",
      },
    };
  }

  private historyMessage(m: StoredMessage, withMetadata: boolean): Answer {
    return {
      type: "message",
      user: m.user,
      ...(m.botId ? { bot_id: m.botId } : {}),
      text: m.text,
      blocks: m.blocks,
      ts: m.ts,
      ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
      ...(m.replyCount > 0
        ? { thread_ts: m.ts, reply_count: m.replyCount, latest_reply: m.latestReply }
        : {}),
      ...(m.edited ? { edited: { user: m.user, ts: m.edited } } : {}),
      ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
    };
  }

  private chatUpdate(body: Record<string, unknown>): Answer {
    const channel = str(body.channel) ?? "";
    const ts = str(body.ts) ?? "";
    const stored = this.store.message(channel, ts);
    if (this.workspace.strict) {
      if (!this.knownChannel(channel)) return fail("channel_not_found");
      if (!stored) return fail("message_not_found");
      if (stored.user !== this.workspace.bot.userId) return fail("cant_update_message");
      if (Array.isArray(body.blocks) && body.blocks.length > MAX_BLOCKS.message)
        return fail("invalid_blocks");
    }
    this.updates.push(body);
    if (stored) {
      this.store.editMessage(stored, {
        text: str(body.text) ?? stored.text,
        // Slack keeps the blocks when an update leaves them out.
        blocks: Array.isArray(body.blocks) ? body.blocks : stored.blocks,
      });
    }
    return { ok: true, channel: body.channel, ts: body.ts, text: body.text };
  }

  private chatPostEphemeral(body: Record<string, unknown>): Answer {
    const channel = str(body.channel);
    const user = str(body.user);
    if (!channel || !this.knownChannel(channel)) return fail("channel_not_found");
    if (!user || (this.workspace.strict && this.workspace.users.size > 0 && !this.workspace.users.has(user)))
      return fail("user_not_found");
    const message = this.store.addEphemeral({
      channel,
      user,
      from: this.workspace.bot.userId,
      text: str(body.text) ?? "",
      blocks: Array.isArray(body.blocks) ? body.blocks : [],
      threadTs: str(body.thread_ts) ?? null,
    });
    return { ok: true, message_ts: message.ts };
  }

  private chatDelete(body: Record<string, unknown>): Answer {
    const channel = str(body.channel) ?? "";
    const ts = str(body.ts) ?? "";
    if (!this.store.message(channel, ts))
      return this.workspace.strict ? fail("message_not_found") : { ok: true };
    this.store.deleteMessage(channel, ts);
    return { ok: true, channel, ts };
  }

  private viewsOpen(body: Record<string, unknown>, push: boolean): Answer {
    const triggerId = str(body.trigger_id);
    const view = isObject(body.view) ? body.view : null;
    if (!triggerId) return fail("invalid_arguments");
    if (!view) return fail("invalid_arguments");
    const trigger = this.triggers.get(triggerId);
    if (this.workspace.strict) {
      if (!trigger) return fail("invalid_trigger_id");
      if (trigger.used) return fail("trigger_exchanged");
      if (Date.now() - trigger.issuedAt > TRIGGER_TTL_MS) return fail("trigger_expired");
      if (!Array.isArray(view.blocks) || view.blocks.length > MAX_BLOCKS.modal) return fail("invalid_blocks");
      if (push && this.store.listViews(trigger.user).length === 0) return fail("not_found");
    }
    if (trigger) trigger.used = true;
    const user = trigger?.user ?? "";
    if (!push) for (const v of this.store.listViews(user)) this.store.closeView(v.id, true);
    const stored = this.store.openView(user, view);
    return { ok: true, view: viewPayload(stored, this.workspace.team.id, this.workspace.bot.botId) };
  }

  private viewsUpdate(body: Record<string, unknown>): Answer {
    const view = isObject(body.view) ? body.view : null;
    if (!view) return fail("invalid_arguments");
    const id = str(body.view_id);
    const external = str(body.external_id);
    const stored = id
      ? this.store.view(id)
      : external !== undefined
        ? this.store.viewByExternalId(external)
        : undefined;
    if (!stored) {
      return this.workspace.strict
        ? fail("not_found")
        : { ok: true, view: { id: id ?? "V0UNKNOWN", type: "modal" } };
    }
    const hash = str(body.hash);
    if (hash !== undefined && hash !== stored.hash) return fail("hash_conflict");
    if (this.workspace.strict && (!Array.isArray(view.blocks) || view.blocks.length > MAX_BLOCKS.modal)) {
      return fail("invalid_blocks");
    }
    const updated = this.store.replaceView(stored.id, view) as StoredView;
    return { ok: true, view: viewPayload(updated, this.workspace.team.id, this.workspace.bot.botId) };
  }
}

/** The view object Slack returns from views.* and puts in view_submission payloads. */
export function viewPayload(
  stored: StoredView,
  teamId: string,
  botId: string,
  values: Record<string, unknown> = {},
): Record<string, unknown> {
  const v = stored.view;
  return {
    id: stored.id,
    team_id: teamId,
    type: v.type ?? "modal",
    blocks: v.blocks ?? [],
    private_metadata: v.private_metadata ?? "",
    callback_id: v.callback_id ?? "",
    state: { values },
    hash: stored.hash,
    title: v.title ?? null,
    clear_on_close: v.clear_on_close ?? false,
    notify_on_close: v.notify_on_close ?? false,
    close: v.close ?? null,
    submit: v.submit ?? null,
    previous_view_id: stored.previousViewId,
    root_view_id: stored.rootViewId,
    app_id: "A0SCRYPATH",
    external_id: stored.externalId,
    app_installed_team_id: teamId,
    bot_id: botId,
  };
}

function slackUser(user: SlackUser, teamId: string): Record<string, unknown> {
  return {
    id: user.id,
    team_id: teamId,
    name: user.name,
    real_name: user.realName,
    tz: user.tz ?? "Europe/Berlin",
    is_bot: false,
    profile: { real_name: user.realName, display_name: user.name, title: user.title ?? "" },
  };
}

/** A form or JSON boolean ("true", "1", true). */
function flag(value: unknown): boolean {
  return value === true || value === "true" || value === "1" || value === 1;
}

/** `oldest` / `latest` (exclusive unless `inclusive`), as Slack reads them. */
function timeRange(body: Record<string, unknown>): (ts: string) => boolean {
  const oldest = str(String(body.oldest ?? "")) ?? "0";
  const latest = str(String(body.latest ?? ""));
  const inclusive = flag(body.inclusive);
  return (ts) => {
    const o = compareTs(ts, oldest);
    if (inclusive ? o < 0 : o <= 0) return false;
    if (latest === undefined) return true;
    const l = compareTs(ts, latest);
    return inclusive ? l <= 0 : l < 0;
  };
}

/** chat.postMessage `metadata`: an event type and an object payload; null when absent. */
function messageMetadata(value: unknown): StoredMessage["metadata"] | "invalid" {
  if (value === undefined || value === null || value === "") return null;
  if (!isObject(value) || typeof value.event_type !== "string" || !isObject(value.event_payload)) {
    return "invalid";
  }
  return { event_type: value.event_type, event_payload: value.event_payload };
}
