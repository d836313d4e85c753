// "Failed work" and "Reconcile" on an alert card: ack, run the same read as the open buttons
// (commands/open.ts), and post the answer IN THE CARD'S THREAD for the whole channel, so the
// incident's story is one thread: the Retry buttons of that answer then put their confirmation
// cards (and the replay follow-ups) in the same thread (listeners/confirmations.ts). What is not an
// answer for the channel (a refusal, an invalid button, a backend failure) goes to the clicker
// only, and so does the answer when the thread post fails.
import type { App, BlockAction, SlackActionMiddlewareArgs } from "@slack/bolt";
import { runOpenAction } from "../../../commands/open.ts";
import { ACTIONS, ALERT_ACTIONS } from "../../../views/types.ts";
import { answer, silentResult, withRequester } from "../answer.ts";
import { actionLabel } from "../labels.ts";
import { acknowledge } from "./ack.ts";
import { type ListenerDeps, tracked } from "./deps.ts";

/** The open button each alert-card button stands for. */
const OPEN_BY_ALERT: Record<string, string> = {
  [ALERT_ACTIONS.failed]: ACTIONS.openFailed,
  [ALERT_ACTIONS.reconcile]: ACTIONS.openReconcile,
};

type ActionArgs = Pick<SlackActionMiddlewareArgs<BlockAction>, "ack" | "body" | "action" | "respond">;

/** Every action_id handled here (the catch-all listener leaves them alone). */
export const ALERT_THREAD_ACTION_IDS: readonly string[] = Object.keys(OPEN_BY_ALERT);

export function alertThreadAction(deps: ListenerDeps) {
  return async ({ ack, body, action, respond }: ActionArgs): Promise<void> => {
    const openId = OPEN_BY_ALERT[action.action_id] ?? action.action_id;
    const value = "value" in action && typeof action.value === "string" ? action.value : undefined;
    const channelId = body.channel?.id ?? (body.container?.channel_id as string | undefined) ?? "";
    const fields = { action: action.action_id, user: body.user.id, channel: channelId };
    await acknowledge(() => ack(), deps.logger, fields);
    // The card's thread: the card itself, or the thread it is in.
    const inChannel = body.container?.is_ephemeral !== true && body.message !== undefined;
    const cardTs = body.message?.ts ?? (body.container?.message_ts as string | undefined) ?? null;
    const threadTs = inChannel ? ((body.message?.thread_ts as string | undefined) ?? cardTs) : null;
    const run = async () => {
      const result = await runOpenAction(openId, value, { userId: body.user.id, channelId }, deps.commands);
      if (result.outcome !== "ok" || !threadTs || !deps.chat) return result;
      try {
        await deps.chat.post(channelId, withRequester(result.message, body.user.id), { threadTs });
        return silentResult(result.verb, result.schema);
      } catch (error) {
        deps.logger.warn("could not post the answer in the alert's thread; answering the clicker only", {
          ...fields,
          threadTs,
          error,
        });
        return result;
      }
    };
    await tracked(
      deps,
      answer(deps, respond, {
        delivery: "new",
        label: actionLabel(openId, value),
        userId: body.user.id,
        fields,
        run,
      }),
    );
  };
}

export function register(app: App, deps: ListenerDeps): void {
  for (const id of ALERT_THREAD_ACTION_IDS) app.action<BlockAction>(id, alertThreadAction(deps));
}
