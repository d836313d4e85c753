// The card poster: the Slack side of the confirmation workflow's cards. It renders the operator's
// card model with views/confirm.ts and posts or edits it (chat.ts retries rate limits and 5xx); a
// card that cannot be edited or linked is logged, never thrown at the workflow.
import {
  type CardOutcome,
  type CardState,
  confirmationCard,
  outcomeOf,
  refusalOutcome,
} from "../../views/confirm.ts";
import type { SlackMessage, ViewContext } from "../../views/types.ts";
import type { Logger } from "../log.ts";
import type { Card, CardPort, Ending } from "../operator/confirmations/index.ts";
import type { Chat } from "./chat.ts";

/** How an execution ended, as card lines. */
export function endingOutcome(ending: Ending): CardOutcome {
  return ending.kind === "executed"
    ? outcomeOf(ending.result)
    : refusalOutcome(ending.reason, ending.message, ending.nothingChanged);
}

/** The card's message for the operator's card model. */
export function renderCard(card: Card, ctx: ViewContext): SlackMessage {
  const { ending, ...rest } = card.state;
  const state: CardState = ending ? { ...rest, outcome: endingOutcome(ending) } : rest;
  return confirmationCard(card.id, card.preview, state, ctx);
}

export function createCardPoster(deps: {
  chat: Chat;
  logger: Logger;
  viewContext: () => ViewContext;
}): CardPort {
  const { chat, logger } = deps;
  return {
    async post(card) {
      try {
        const ts = await chat.post(card.channelId, renderCard(card, deps.viewContext()), {
          threadTs: card.threadTs,
        });
        return { ok: true, ts };
      } catch (error) {
        return { ok: false, reason: (error as { reason?: string }).reason ?? "slack_error" };
      }
    },
    async show(card) {
      if (!card.messageTs) return;
      try {
        await chat.update(card.channelId, card.messageTs, renderCard(card, deps.viewContext()));
      } catch (error) {
        logger.error("could not update a confirmation card", {
          confirmationId: card.id,
          status: card.state.status,
          error,
        });
      }
    },
    async permalink(card) {
      if (!card.messageTs) return null;
      try {
        const found = await chat.call<{ permalink?: string }>(
          "chat.getPermalink",
          { channel: card.channelId, message_ts: card.messageTs },
          { maxAttempts: 2 },
        );
        return typeof found.permalink === "string" ? found.permalink : null;
      } catch (error) {
        logger.warn("could not link a pending request's card", { confirmationId: card.id, error });
        return null;
      }
    },
  };
}
