// After the ack: run the command, post a "still working" note if it is slow, then post the
// answer through response_url. Every body sets response_type and replace_original explicitly.
// Nothing here throws: failed posts are logged and counted, bugs become one sentence with a
// request id (the stack goes to the log).
import { randomBytes } from "node:crypto";
import type { RespondArguments, RespondFn } from "@slack/bolt";
import type { CommandResult } from "../../commands/index.ts";
import { context, finalizeMessage, LIMITS, section } from "../../views/common.ts";
import { backendErrorView, sharedContext, workingView } from "../../views/errors.ts";
import type { SlackMessage } from "../../views/types.ts";
import { isOperatorError, type OperatorError } from "../errors.ts";
import type { Fields, Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { OUTCOMES, reasonLabel, verbLabel } from "../metrics.ts";
import { withTimeout } from "../timeout.ts";

/**
 * How the answer is posted:
 * - "command": a slash command; the answer replaces the working note (or is shared in the channel);
 * - "replace": a button on an ephemeral message that the answer replaces (page buttons);
 * - "new": a button whose answer is a new ephemeral message (open buttons, buttons on shared messages).
 */
export type Delivery = "command" | "replace" | "new";

export interface AnswerDeps {
  logger: Logger;
  metrics: Metrics;
  /** After this long without an answer, post the "still working" note. */
  workingAfterMs: number;
  /** Verbs used as metric labels; anything else is "other". */
  verbs: readonly string[];
  requestId?: () => string;
  /**
   * A backend failure that escaped the command layer (a raw pg or Meilisearch error) as the
   * OperatorError a bounded read would give, or null for a bug. OperatorErrors naming a backend
   * are always answered with their sentence, never as a bug.
   */
  backendError?: (error: unknown) => OperatorError | null;
}

export interface AnswerRequest {
  delivery: Delivery;
  /** For the working note: `/scrypath <verb> [schema]`. */
  label: { verb: string; schema?: string | null };
  userId: string;
  /** Added to the log lines (command, user, channel, action…). */
  fields: Fields;
  run: () => Promise<CommandResult>;
  /** Post the "still working" note when the answer is slow (default true). */
  workingNote?: boolean;
}

/** A result that was delivered elsewhere (a card in the channel, a modal): nothing more is posted. */
export function silentResult(verb: string, schema: string | null): CommandResult {
  return {
    message: { text: "Answered elsewhere", blocks: [] },
    silent: true,
    share: false,
    verb,
    schema,
    outcome: "ok",
  };
}

export function newRequestId(): string {
  return `r${randomBytes(6).toString("hex")}`;
}

/** The only text a user sees for a bug: what happened, the request id, what to do. */
export function unexpectedErrorMessage(requestId: string): SlackMessage {
  const sentence = (id: string) =>
    `Something went wrong on the bot's side (request id ${id}); nothing was changed, so try again, ` +
    "and if it keeps happening give the request id to whoever runs scrypath-bot.";
  return finalizeMessage(sentence(requestId), [section(`:warning: ${sentence(`\`${requestId}\``)}`)]);
}

/** The same message with "Requested by <@U…>" at the bottom, within the 50-block limit. */
export function withRequester(message: SlackMessage, userId: string): SlackMessage {
  return finalizeMessage(message.text, [
    ...message.blocks.slice(0, LIMITS.blocks - 1),
    context([sharedContext(userId)]),
  ]);
}

type Settled = { ok: true; result: CommandResult } | { ok: false; error: unknown };

/** The honest answer to a backend failure: which backend, what happened, what to check. */
function backendFailure(deps: AnswerDeps, request: AnswerRequest, error: unknown): CommandResult | null {
  const mapped = isOperatorError(error) && error.backend ? error : (deps.backendError?.(error) ?? null);
  if (!mapped?.backend) return null;
  const { verb, schema } = request.label;
  return {
    message: backendErrorView(mapped, { verb, ...(schema ? { schema } : {}) }),
    share: false,
    verb,
    schema: schema ?? null,
    outcome: "backend_error",
    backend: mapped.backend,
    reason: mapped.message,
  };
}

/** Resolves with the work's outcome, or with null after `ms` if it is still running. */
function within(work: Promise<Settled>, ms: number): Promise<Settled | null> {
  return withTimeout(work, ms, () => null);
}

export async function answer(deps: AnswerDeps, respond: RespondFn, request: AnswerRequest): Promise<void> {
  const requestId = (deps.requestId ?? newRequestId)();
  const log = deps.logger.child({ requestId, ...request.fields });
  const started = performance.now();

  const post = async (what: string, body: RespondArguments): Promise<boolean> => {
    try {
      await respond(body);
      return true;
    } catch (error) {
      const status = (error as { statusCode?: unknown }).statusCode;
      const reason =
        typeof status === "number"
          ? `http_${status}`
          : (error as Error)?.name === "TimeoutError"
            ? "timeout"
            : "network";
      if (status === 429) deps.metrics.slackRateLimited.inc({ method: "response_url" });
      deps.metrics.slackApiErrors.inc({ method: "response_url", reason: reasonLabel(reason) });
      log.warn(`could not post the ${what} to response_url`, { reason, error });
      return false;
    }
  };

  // Start the work at once; the working note only races it.
  const work: Promise<Settled> = (async () => {
    try {
      return { ok: true as const, result: await request.run() };
    } catch (error) {
      const result = backendFailure(deps, request, error);
      if (result) {
        log.warn("backend failure outside the command layer", { error });
        return { ok: true as const, result };
      }
      return { ok: false as const, error };
    }
  })();

  let settled = request.workingNote === false ? await work : await within(work, deps.workingAfterMs);
  let working = false;
  if (settled === null) {
    const note = workingView(request.label.verb, request.label.schema ?? null);
    working = await post("working note", {
      ...note,
      response_type: "ephemeral",
      replace_original: request.delivery === "replace",
    });
    deps.metrics.workingNotes.inc({ verb: verbLabel(request.label.verb, deps.verbs) });
    settled = await work;
  }

  const outcome = settled.ok ? settled.result.outcome : "error";
  const verb = settled.ok ? settled.result.verb : request.label.verb;
  let delivered: boolean;
  if (settled.ok) {
    delivered = await deliver(settled.result, request, working, post);
  } else {
    log.error("unexpected error while answering", { error: settled.error });
    deps.metrics.unexpectedErrors.inc({ where: request.delivery === "command" ? "command" : "action" });
    // Replace only our own working note: a failed page click keeps the list it was clicked on.
    delivered = await post("error message", {
      ...unexpectedErrorMessage(requestId),
      response_type: "ephemeral",
      replace_original: working && request.delivery !== "new",
    });
  }

  const seconds = (performance.now() - started) / 1000;
  const labels = {
    verb: verbLabel(verb, deps.verbs),
    outcome: (OUTCOMES as readonly string[]).includes(outcome) ? outcome : "error",
  };
  deps.metrics.commands.inc(labels);
  deps.metrics.commandSeconds.observe(labels, seconds);
  if (settled.ok && settled.result.outcome === "backend_error") {
    deps.metrics.backendErrors.inc({ backend: settled.result.backend ?? "unknown" });
  }
  log.info("answered", {
    verb,
    schema: settled.ok ? settled.result.schema : null,
    outcome,
    ...(settled.ok && settled.result.backend ? { backend: settled.result.backend } : {}),
    ...(settled.ok && settled.result.reason ? { reason: settled.result.reason } : {}),
    shared: settled.ok && settled.result.share && request.delivery === "command",
    workingNote: working,
    delivered,
    durationMs: Math.round(seconds * 1000),
  });
}

async function deliver(
  result: CommandResult,
  request: AnswerRequest,
  working: boolean,
  post: (what: string, body: RespondArguments) => Promise<boolean>,
): Promise<boolean> {
  const { message } = result;
  if (result.silent) {
    // The answer went elsewhere (a card in the channel, a modal): only our own note goes.
    return working && request.delivery !== "new"
      ? post("working note removal", { delete_original: true })
      : true;
  }
  if (request.delivery === "command" && result.share) {
    // An ephemeral note cannot become an in-channel message: remove it, then post for everyone.
    if (working) await post("working note removal", { delete_original: true });
    return post("shared answer", {
      ...withRequester(message, request.userId),
      response_type: "in_channel",
      replace_original: false,
    });
  }
  return post("answer", {
    ...message,
    response_type: "ephemeral",
    replace_original: request.delivery === "replace" || (request.delivery === "command" && working),
  });
}
