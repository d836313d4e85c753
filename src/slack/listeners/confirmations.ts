// Buttons of the mutation side. Request buttons ("Retry…" on failed rows, "Retry all N <class>…"
// on the failed view's class rollup, the reconcile report's action buttons) only ask: they post a confirmation card, in the thread of the message they are on
// when that message is in the channel. Confirm and Cancel on a card decide it. Every click is
// acknowledged first; answers to the clicker are ephemeral, the card itself is edited in place.
import type { App, BlockAction, SlackActionMiddlewareArgs } from "@slack/bolt";
import { channelDenied } from "../../../commands/index.ts";
import { CONFIRM_ACTIONS } from "../../../views/confirm.ts";
import { REQUEST_ACTIONS } from "../../../views/types.ts";
import type { Origin } from "../../operator/confirmations/index.ts";
import type { MutationRequest } from "../../operator/requests.ts";
import { answer } from "../answer.ts";
import { acknowledge } from "./ack.ts";
import { type ListenerDeps, tracked } from "./deps.ts";

export type ClickArgs = Pick<SlackActionMiddlewareArgs<BlockAction>, "ack" | "body" | "action" | "respond">;

/** Every action_id handled here (the catch-all listener leaves them alone). */
export const MUTATION_ACTION_IDS: readonly string[] = [
  CONFIRM_ACTIONS.confirm,
  CONFIRM_ACTIONS.cancel,
  REQUEST_ACTIONS.retry,
  REQUEST_ACTIONS.bulkRetry,
  REQUEST_ACTIONS.action,
];

function buttonValue(action: ClickArgs["action"]): string | undefined {
  return "value" in action && typeof action.value === "string" ? action.value : undefined;
}

function where(body: BlockAction) {
  return {
    channelId: body.channel?.id ?? (body.container?.channel_id as string | undefined) ?? null,
    teamId: body.team?.id ?? body.user.team_id ?? null,
    messageTs: body.message?.ts ?? (body.container?.message_ts as string | undefined) ?? null,
  };
}

/**
 * A request button's value → the request it asks for. The value is never trusted: whatever it
 * holds, the confirmation flow validates the request again (and audits what it refuses).
 */
export function requestFromValue(actionId: string, value: string | undefined): unknown {
  let v: Record<string, unknown>;
  try {
    const parsed = JSON.parse(value ?? "") as unknown;
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return null;
    v = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  if (actionId === REQUEST_ACTIONS.retry) return { kind: "retry", schema: v.schema, target: v.target };
  if (actionId === REQUEST_ACTIONS.bulkRetry) {
    // The ids are the workflow's to resolve at request time; the button names only the filter.
    return { kind: "bulk_retry", schema: v.schema, reasonClass: v.reasonClass, state: v.state ?? "terminal" };
  }
  return { kind: "action", schema: v.schema, action: v.action, id: v.id, targetIndex: v.targetIndex };
}

export function requestButton(deps: ListenerDeps) {
  return async ({ ack, body, action, respond }: ClickArgs): Promise<void> => {
    const actionId = action.action_id;
    const { channelId, teamId, messageTs } = where(body);
    const fields = { action: actionId, user: body.user.id, channel: channelId };
    await acknowledge(() => ack(), deps.logger, fields);
    const verb =
      actionId === REQUEST_ACTIONS.retry || actionId === REQUEST_ACTIONS.bulkRetry ? "retry" : "reconcile";
    // An ephemeral message has no thread; a message in the channel gets the card in its thread.
    const inChannel = body.container?.is_ephemeral !== true && body.message !== undefined;
    const thread = inChannel ? ((body.message?.thread_ts as string | undefined) ?? messageTs) : null;
    const origin: Origin = { userId: body.user.id, teamId, channelId: channelId ?? "", threadTs: thread };
    const run = async () => {
      const denied = channelDenied(verb, { userId: body.user.id, channelId: channelId ?? "" }, deps.commands);
      if (denied) return denied;
      const request = requestFromValue(actionId, buttonValue(action)) as MutationRequest;
      return deps.mutations.confirmations.request(request, origin, verb);
    };
    await tracked(
      deps,
      answer(deps, respond, { delivery: "new", label: { verb }, userId: body.user.id, fields, run }),
    );
  };
}

export function decisionButton(deps: ListenerDeps, decision: "confirm" | "cancel") {
  return async ({ ack, body, action, respond }: ClickArgs): Promise<void> => {
    const { channelId, teamId, messageTs } = where(body);
    const fields = { action: action.action_id, user: body.user.id, channel: channelId };
    await acknowledge(() => ack(), deps.logger, fields);
    const click = {
      decision,
      value: buttonValue(action),
      userId: body.user.id,
      teamId,
      channelId,
      messageTs,
    };
    await tracked(
      deps,
      answer(deps, respond, {
        delivery: "new",
        label: { verb: decision },
        userId: body.user.id,
        fields,
        // The card shows "Running…" itself; a working note would only add noise.
        workingNote: false,
        run: () => deps.mutations.confirmations.decide(click),
      }),
    );
  };
}

export function register(app: App, deps: ListenerDeps): void {
  app.action<BlockAction>(CONFIRM_ACTIONS.confirm, decisionButton(deps, "confirm"));
  app.action<BlockAction>(CONFIRM_ACTIONS.cancel, decisionButton(deps, "cancel"));
  app.action<BlockAction>(REQUEST_ACTIONS.retry, requestButton(deps));
  app.action<BlockAction>(REQUEST_ACTIONS.bulkRetry, requestButton(deps));
  app.action<BlockAction>(REQUEST_ACTIONS.action, requestButton(deps));
}
