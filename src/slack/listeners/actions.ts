// Read-only buttons ("Failed work", "Reconcile report", "Contract drift", status, page buttons):
// ack, run commands/open.ts, answer through the click's response_url. Page buttons replace the
// ephemeral message they are on; the others post a new ephemeral message. Any other click (link
// buttons, buttons of a later release) is acknowledged so Slack never shows a timeout.
import type { App, BlockAction, SlackActionMiddlewareArgs } from "@slack/bolt";
import { OPEN_ACTION_IDS, runOpenAction } from "../../../commands/open.ts";
import { ACTIONS } from "../../../views/types.ts";
import type { Delivery } from "../answer.ts";
import { answer } from "../answer.ts";
import { actionLabel } from "../labels.ts";
import { acknowledge } from "./ack.ts";
import { ALERT_CONTROL_IDS } from "./alerts.ts";
import { ALERT_THREAD_ACTION_IDS } from "./alertThread.ts";
import { MUTATION_ACTION_IDS } from "./confirmations.ts";
import { type ListenerDeps, tracked } from "./deps.ts";

export type ActionArgs = Pick<SlackActionMiddlewareArgs<BlockAction>, "ack" | "body" | "action" | "respond">;

/** Page buttons edit the list in place, but only for the person paging: never a shared message. */
export function deliveryFor(actionId: string, body: BlockAction): Delivery {
  return actionId === ACTIONS.page && body.container?.is_ephemeral === true ? "replace" : "new";
}

export function openAction(deps: ListenerDeps) {
  return async ({ ack, body, action, respond }: ActionArgs): Promise<void> => {
    const actionId = action.action_id;
    const value = "value" in action && typeof action.value === "string" ? action.value : undefined;
    const channelId = body.channel?.id ?? (body.container?.channel_id as string | undefined) ?? "";
    const fields = { action: actionId, user: body.user.id, channel: channelId };
    await acknowledge(() => ack(), deps.logger, fields);
    const invocation = { userId: body.user.id, channelId };
    await tracked(
      deps,
      answer(deps, respond, {
        delivery: deliveryFor(actionId, body),
        label: actionLabel(actionId, value),
        userId: body.user.id,
        fields,
        run: () => runOpenAction(actionId, value, invocation, deps.commands),
      }),
    );
  };
}

export function ignoredAction(deps: ListenerDeps) {
  return async ({ ack, action, body }: Pick<SlackActionMiddlewareArgs, "ack" | "action" | "body">) => {
    const actionId = "action_id" in action ? action.action_id : undefined;
    await acknowledge(() => ack(), deps.logger, { action: actionId });
    deps.logger.debug("acknowledged a click that needs no answer", { action: actionId, user: body.user?.id });
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Matches every action_id except the handled buttons (Bolt runs every matching listener). */
export const OTHER_ACTIONS = new RegExp(
  `^(?!(?:${[...OPEN_ACTION_IDS, ...MUTATION_ACTION_IDS, ...ALERT_CONTROL_IDS, ...ALERT_THREAD_ACTION_IDS].map(escapeRegExp).join("|")})$)`,
);

export function register(app: App, deps: ListenerDeps): void {
  for (const id of OPEN_ACTION_IDS) app.action<BlockAction>(id, openAction(deps));
  app.action(OTHER_ACTIONS, ignoredAction(deps));
}
