// The chat port: what a digest needs of Slack, defined here and implemented at wiring time by
// src/slack (the bot's Web API client). The digest never imports Slack code: it posts, and reads
// history only to find a post whose answer never came back.
import type { KnownBlock } from "@slack/types";

/** Slack message metadata (an app event attached to the message, returned by history reads). */
export interface MessageEvent {
  event_type: string;
  event_payload: Record<string, string | number | boolean>;
}

export interface PostMessageArgs {
  channel: string;
  text: string;
  blocks: KnownBlock[];
  thread_ts?: string;
  metadata?: MessageEvent;
  unfurl_links: boolean;
  unfurl_media: boolean;
}

/** A message as conversations.history / conversations.replies return it (what digests read of it). */
export interface HistoryMessage {
  ts?: string;
  thread_ts?: string;
  bot_id?: string;
  metadata?: { event_type?: string; event_payload?: Record<string, unknown> };
}

export interface HistoryPage {
  ok?: boolean;
  error?: string;
  messages?: HistoryMessage[];
  has_more?: boolean;
  response_metadata?: { next_cursor?: string };
}

export interface HistoryArgs {
  channel: string;
  oldest?: string;
  limit?: number;
  cursor?: string;
  include_all_metadata?: boolean;
}

/**
 * Posting: the one Web API method digests use. Its implementation must send each call once (no
 * retries behind the poster's back: a lost answer may mean it posted) and hand 429s back (the
 * poster waits Retry-After itself, per channel). Errors are @slack/web-api's (read by
 * src/slackErrors.ts). src/slack wires in the bot's no-retry WebClient, which fits as it is.
 */
export interface PostClient {
  chat: { postMessage(args: PostMessageArgs): Promise<{ ok?: boolean; ts?: string; error?: string }> };
}

/**
 * What the digest runner uses: posting, and reading history only to find a post whose answer never
 * came back (needs channels:history / groups:history). Without `conversations` such a post cannot be
 * confirmed and the slot is left 'unconfirmed' instead of posting it again.
 */
export interface ChatClient extends PostClient {
  conversations?: {
    history(args: HistoryArgs): Promise<HistoryPage>;
    replies(args: HistoryArgs & { ts: string }): Promise<HistoryPage>;
  };
}

export type Sleep = (ms: number) => Promise<void>;
