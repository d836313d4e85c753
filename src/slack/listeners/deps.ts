// What every listener needs: the command layer's dependencies, the answer machinery, and the
// mutation side (confirmation cards, the hot-apply modal).
import type { CommandDeps } from "../../../commands/types.ts";
import type { AnswerDeps } from "../answer.ts";
import type { Chat } from "../chat.ts";
import type { Confirmations } from "../confirmations.ts";
import type { HotApplyForm } from "../hotApplyForm.ts";

export interface Mutations {
  confirmations: Confirmations;
  hotApply: HotApplyForm;
}

/** The alert runner as the card's controls use it: re-render a card at once. */
export interface AlertRefresh {
  refresh(alertId: number): Promise<void>;
}

export interface ListenerDeps extends AnswerDeps {
  commands: CommandDeps;
  mutations: Mutations;
  /** Live alerts (Acknowledge and Snooze re-render the card through it). */
  alerts?: AlertRefresh;
  /** The bot's own posts (answers in an alert card's thread); absent: those answers go to the clicker only. */
  chat?: Pick<Chat, "post">;
  /** Registers work still running after the ack, so a graceful stop can wait for it. */
  track?: (work: Promise<unknown>) => void;
}

/** Runs `work`, registered with `track` when given. */
export function tracked(deps: ListenerDeps, work: Promise<void>): Promise<void> {
  deps.track?.(work);
  return work;
}
