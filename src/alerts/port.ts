// The chat port of live alerts: what the alert runner needs of Slack, defined here and implemented
// at wiring time by src/slack (the bot's no-retry WebClient, as for digests). Posting and history
// reads are the digest port's; alerts also edit their card in place (chat.update).
import type { KnownBlock } from "@slack/types";
import type { ChatClient, PostClient } from "../digest/port.ts";

export type { HistoryMessage, MessageEvent, PostMessageArgs, Sleep } from "../digest/port.ts";

export interface UpdateArgs {
  channel: string;
  ts: string;
  text: string;
  blocks: KnownBlock[];
}

/**
 * What the alert runner uses: chat.postMessage (each call sent once: a lost answer may mean it
 * posted), chat.update (idempotent), and history reads to find a card whose post was never
 * recorded. 429s must come back to the runner, which waits Retry-After itself.
 */
export interface AlertChatClient extends ChatClient {
  chat: PostClient["chat"] & {
    update(args: UpdateArgs): Promise<{ ok?: boolean; ts?: string; error?: string }>;
  };
}
