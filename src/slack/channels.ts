// Whether the bot can post in a channel, asked of Slack at subscribe time (`/scrypath watch`): the
// bot's own membership and the channel's archived flag from conversations.info. A private channel
// the bot is not in reads as channel_not_found, as Slack answers it. A lookup that fails or does
// not answer within a few seconds says so: the command refuses rather than guess.
import type { ChannelCheck, ChannelStanding } from "../../commands/types.ts";
import type { Logger } from "../log.ts";
import { SlackCallError } from "../slackErrors.ts";
import { withTimeout } from "../timeout.ts";
import type { Chat } from "./chat.ts";

/** A watch waits at most this long for Slack's answer (the command answers within 15 s). */
export const CHANNEL_LOOKUP_TIMEOUT_MS = 5_000;

interface ConversationInfo {
  channel?: { is_member?: boolean; is_archived?: boolean; is_im?: boolean; is_mpim?: boolean };
}

export function createChannelCheck(deps: {
  chat: Pick<Chat, "call">;
  logger: Logger;
  timeoutMs?: number;
}): ChannelCheck {
  const timeoutMs = deps.timeoutMs ?? CHANNEL_LOOKUP_TIMEOUT_MS;
  return {
    async standing(channelId: string): Promise<ChannelStanding> {
      try {
        const call = deps.chat.call<ConversationInfo>(
          "conversations.info",
          { channel: channelId },
          { maxAttempts: 2 },
        );
        const info = await withTimeout(call, timeoutMs, () => {
          throw new SlackCallError("conversations.info", "timeout");
        });
        const channel = info.channel ?? {};
        if (channel.is_archived) {
          return { postable: false, reason: "channel_archived", detail: "the channel is archived" };
        }
        if (channel.is_im || channel.is_mpim) {
          return {
            postable: false,
            reason: "bot_not_in_channel",
            detail: "alerts go to channels, not direct messages",
          };
        }
        if (channel.is_member !== true) {
          return { postable: false, reason: "bot_not_in_channel", detail: "the bot is not a member" };
        }
        return { postable: true };
      } catch (error) {
        const reason = error instanceof SlackCallError ? error.reason : "unexpected";
        if (reason === "channel_not_found") {
          return {
            postable: false,
            reason: "bot_not_in_channel",
            detail: "Slack does not show the bot this channel (a private channel it was not invited to)",
          };
        }
        deps.logger.warn("could not check whether the bot can post in a channel", {
          channel: channelId,
          reason,
          error,
        });
        return {
          postable: false,
          reason: "channel_unchecked",
          detail:
            reason === "missing_scope"
              ? "the Slack app lacks the channels:read and groups:read scopes (see manifest.yml)"
              : `Slack did not answer conversations.info (${reason})`,
        };
      }
    },
  };
}
