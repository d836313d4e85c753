// The fake Slack's vocabulary: what it records (calls, response_url posts), the workspace it plays
// (team, bot, users, channels), the conversation it keeps (messages, ephemerals, modals) and the
// changes it announces, plus Slack's limits it enforces in strict mode.
export interface ApiCall {
  method: string;
  body: Record<string, unknown>;
  token: string | null;
}

export interface ResponsePost {
  id: string;
  /** The JSON body the bot posted (text, blocks, response_type, replace_original…). */
  body: Record<string, unknown>;
  /** Status the fake answered with. */
  status: number;
}

export type Failure = { status: 429; retryAfter: number } | { status: number; error?: string };

export interface SlackUser {
  id: string;
  name: string;
  realName: string;
  /** Shown by the sandbox next to the name ("operator", "not an operator"). */
  title?: string;
  tz?: string;
}

export interface SlackChannel {
  id: string;
  name: string;
  /** Whether the bot is a member (default true); a private channel it is not in reads as not found. */
  isMember?: boolean;
  isArchived?: boolean;
  isPrivate?: boolean;
}

export interface BotIdentity {
  userId: string;
  botId: string;
  name: string;
}

export interface Team {
  id: string;
  domain: string;
  name: string;
}

/** A message in a channel or a thread. */
export interface StoredMessage {
  channel: string;
  ts: string;
  /** The parent's ts for a thread reply; null for a message in the channel. */
  threadTs: string | null;
  /** Author: the bot's user id or a person's. */
  user: string;
  botId: string | null;
  text: string;
  blocks: unknown[];
  /** ts of the last edit (chat.update, replace_original), or null. */
  edited: string | null;
  /** Message metadata the app attached (chat.postMessage `metadata`), if any. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> } | null;
  /** Parents only: replies so far and the newest reply's ts. */
  replyCount: number;
  latestReply: string | null;
  /** A shared answer to a slash command: who ran which command. */
  via: { user: string; command: string } | null;
}

/** A message only `user` sees (chat.postEphemeral, response_url answers). */
export interface EphemeralMessage {
  id: string;
  channel: string;
  /** The only person who sees it. */
  user: string;
  ts: string;
  threadTs: string | null;
  /** Who it is from: the bot's user id, or USLACKBOT for Slack's own notes. */
  from: string;
  text: string;
  blocks: unknown[];
  edited: string | null;
}

/** An open modal, as views.open / views.update / views.push left it. */
export interface StoredView {
  id: string;
  hash: string;
  user: string;
  /** The view as the app sent it (type, title, blocks, submit, close, callback_id, private_metadata…). */
  view: Record<string, unknown>;
  rootViewId: string;
  previousViewId: string | null;
  externalId: string;
  /** Position in the user's stack of modals (0 = the root). */
  depth: number;
}

/** The conversation without its modals, for the sandbox's --data-dir (modals do not survive a restart). */
export interface ConversationSnapshot {
  version: 1;
  messages: StoredMessage[];
  ephemerals: EphemeralMessage[];
}

export type SlackChange =
  | { type: "message"; message: StoredMessage }
  | { type: "message_deleted"; channel: string; ts: string }
  | { type: "ephemeral"; message: EphemeralMessage }
  | { type: "ephemeral_deleted"; id: string; user: string }
  | { type: "view"; view: StoredView }
  | { type: "view_closed"; id: string; user: string };

/** What a button or message a response_url belongs to points at. */
export type MessageRef = { kind: "message"; channel: string; ts: string } | { kind: "ephemeral"; id: string };

export interface ResponseUrlContext {
  channel: string;
  /** Whoever invoked it: ephemeral answers go to them. */
  user: string;
  /** The message holding the clicked button; null for a slash command. */
  source: MessageRef | null;
  /** Thread of the source message, where new answers appear. */
  threadTs: string | null;
  /** The slash command text, shown above an in-channel answer. */
  command?: string;
}

export const SLACKBOT = "USLACKBOT";
/** Slack's limits: a trigger_id lives 3 s; a response_url serves 5 posts within 30 minutes. */
export const TRIGGER_TTL_MS = 3_000;
export const RESPONSE_URL_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60_000;

/** Where a simulated crash happens around a call: before it reaches Slack, or after Slack did it. */
export type CrashPoint = "before" | "after";
