// The Slack side of the confirmation workflow (src/operator/confirmations/): it gives the workflow
// its ports (the card poster, the operator role, replay followers, the metric) and turns the
// workflow's typed answers into what the requester or clicker alone sees. No state, no SQL here.
import { type CommandResult, operatorErrorResult } from "../../commands/index.ts";
import type { CommandDeps } from "../../commands/types.ts";
import { accessRefusalView, alreadyDecidedView, alreadyRequestedView } from "../../views/confirm.ts";
import { backendErrorView } from "../../views/errors.ts";
import { usageView } from "../../views/help.ts";
import type { ViewContext } from "../../views/types.ts";
import { isOperatorError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type {
  AccessDenial,
  Click,
  ClickAnswer,
  ConfirmationWorkflow,
  Origin,
  RequestAnswer,
} from "../operator/confirmations/index.ts";
import type { Operator } from "../operator/index.ts";
import type { MutationRequest } from "../operator/requests.ts";
import { type Access, OPERATOR_ROLE } from "./access.ts";
import { silentResult } from "./answer.ts";
import { createCardPoster } from "./cards.ts";
import type { Chat } from "./chat.ts";
import type { Followers } from "./follow.ts";
import { createSweeper } from "./sweeper.ts";

export interface ConfirmationDeps {
  operator: Operator;
  commands: CommandDeps;
  chat: Chat;
  access: Access;
  followers: Followers;
  logger: Logger;
  metrics: Metrics;
  viewContext: () => ViewContext;
}

export interface Confirmations {
  /**
   * May `origin.userId` ask for `request`? Null when yes; otherwise the refusal the requester sees
   * (already audited and counted).
   */
  authorize(request: MutationRequest, origin: Origin, verb: string): Promise<CommandResult | null>;
  /** Check, preview, store and post the card; the result is what the requester alone sees. */
  request(request: MutationRequest, origin: Origin, verb: string): Promise<CommandResult>;
  /** A Confirm or Cancel click; the result is the clicker's ephemeral answer (silent when none). */
  decide(click: Click): Promise<CommandResult>;
  /**
   * Expire every pending request whose time is up, close every interrupted execution as failed,
   * and update their cards; returns how many.
   */
  sweep(): Promise<number>;
  startSweeper(intervalMs?: number): void;
  stopSweeper(): void;
  /** A shutdown whose drain ran out: close the requests still executing here as interrupted. */
  interruptRunning(): Promise<number>;
  /** A shutdown began: a bulk retry stops after its current batch (its card says how far it got). */
  windDown(): void;
}

/** An answer for the requester or clicker alone. */
const answerOf = (
  verb: string,
  message: CommandResult["message"],
  outcome: CommandResult["outcome"] = "ok",
  schema: string | null = null,
): CommandResult => ({ message, share: false, verb, schema, outcome });

const deniedResult = (verb: string, denial: AccessDenial): CommandResult =>
  answerOf(
    verb,
    accessRefusalView(denial.message, OPERATOR_ROLE, denial.reason, denial.usergroups),
    "denied",
  );

export function createConfirmations(deps: ConfirmationDeps): Confirmations {
  const { logger, metrics } = deps;
  // Made at the first request, click or sweep: assembling the app touches no backend.
  let made: ConfirmationWorkflow | null = null;
  const workflow = (): ConfirmationWorkflow => {
    made ??= deps.operator.confirmationWorkflow({
      cards: createCardPoster({ chat: deps.chat, logger, viewContext: deps.viewContext }),
      access: deps.access,
      followReplay: (replay) => void deps.followers.follow(replay),
      followReplayGroup: (group) => void deps.followers.followGroup(group),
      count: (kind, outcome) => metrics.confirmations.inc({ kind, outcome }),
      logger,
      ttlSeconds: deps.commands.config.access.confirmationTtl,
    });
    return made;
  };
  const sweeper = createSweeper(async () => workflow().expireDue(), logger);

  const requestResult = (answer: RequestAnswer, verb: string): CommandResult => {
    switch (answer.kind) {
      case "invalid_request":
        return answerOf(
          verb,
          usageView("this request is not valid", "Run the command again, e.g. `/scrypath help`.", null),
          "usage",
        );
      case "denied":
        return deniedResult(verb, answer.denial);
      case "refused":
        return operatorErrorResult(answer.error, { verb, schema: answer.schema }, deps.commands);
      case "already_requested":
        return answerOf(
          verb,
          alreadyRequestedView(answer.pending, answer.title, answer.permalink),
          "ok",
          answer.schema,
        );
      case "card_not_posted": {
        const reason = answer.slackError;
        const hint =
          reason === "not_in_channel" || reason === "channel_not_found"
            ? "; invite the bot to this channel (`/invite @scrypath`) and ask again"
            : "; nothing was requested, so ask again";
        return answerOf(
          verb,
          backendErrorView(
            {
              message: `Slack refused the confirmation card (${reason})${hint}`,
              backend: null,
              code: "slack",
            },
            { verb, ...(answer.schema ? { schema: answer.schema } : {}) },
          ),
          "error",
        );
      }
      case "posted":
        return silentResult(verb, answer.schema);
    }
  };

  const clickResult = (answer: ClickAnswer, click: Click): CommandResult => {
    switch (answer.kind) {
      case "foreign":
        return answerOf(
          click.decision,
          usageView(
            "this button does not belong to a request the bot can act on here, so nothing was done",
            "Ask again with the command, e.g. `/scrypath retry <schema> <id>`.",
            null,
          ),
          "denied",
        );
      case "already_decided":
        return answerOf(click.decision, alreadyDecidedView(answer.confirmation), "ok", answer.schema);
      case "denied":
        return deniedResult(click.decision, answer.denial);
      case "taken":
        return silentResult(click.decision, answer.schema);
    }
  };

  /** A backend that fails outside the execution (the state tables, Slack) is one sentence, not a bug. */
  const guarded = async (verb: string, work: () => Promise<CommandResult>): Promise<CommandResult> => {
    try {
      return await work();
    } catch (error) {
      if (!isOperatorError(error)) throw error;
      logger.warn("a confirmation step failed", { code: error.code, error });
      return operatorErrorResult(error, { verb, schema: null }, deps.commands);
    }
  };

  return {
    async authorize(request, origin, verb) {
      const denial = await workflow().authorize(request, origin);
      return denial ? deniedResult(verb, denial) : null;
    },
    request: (request, origin, verb) =>
      guarded(verb, async () => requestResult(await workflow().request(request, origin), verb)),
    decide: (click) =>
      guarded(click.decision, async () => clickResult(await workflow().decide(click), click)),
    sweep: () => sweeper.sweep(),
    startSweeper: (intervalMs) => sweeper.start(intervalMs),
    stopSweeper: () => sweeper.stop(),
    interruptRunning: () => (made ? made.interruptRunning() : Promise.resolve(0)),
    windDown: () => made?.windDown(),
  };
}
