// The alert card's controls. Acknowledge (anyone in a channel where the bot answers) and Snooze
// (operators only, deny by default as src/slack/access.ts decides) are acknowledged first, then
// recorded on the alert through the operator (who and when, a timeline line, an audit entry), and
// the card is re-rendered at once through the alert runner. What cannot be done gets one
// ephemeral sentence for the clicker; the card is never edited by the listener itself.
import type { App, BlockAction, SlackActionMiddlewareArgs } from "@slack/bolt";
import { channelDenied } from "../../../commands/index.ts";
import { accessRefusalView } from "../../../views/confirm.ts";
import { usageView } from "../../../views/help.ts";
import { ALERT_ACTIONS, type SlackMessage, SNOOZE_CHOICES, type SnoozeChoice } from "../../../views/types.ts";
import { ACCESS_MESSAGES, type AccessDecision } from "../../core/access.ts";
import type { AlertControlResult } from "../../operator/index.ts";
import { acknowledge } from "./ack.ts";
import { type ListenerDeps, tracked } from "./deps.ts";

export type AlertClickArgs = Pick<
  SlackActionMiddlewareArgs<BlockAction>,
  "ack" | "body" | "action" | "respond"
>;

/** The card controls handled here (the catch-all listener leaves them alone). */
export const ALERT_CONTROL_IDS: readonly string[] = [ALERT_ACTIONS.acknowledge, ALERT_ACTIONS.snooze];

/** A Snooze option's value: `<alert id>:<choice>`; null when it is not one. */
export function parseSnooze(value: string | undefined): { id: number; choice: SnoozeChoice } | null {
  const match = /^(\d{1,15}):([a-z0-9]+)$/.exec(value ?? "");
  if (!match || !Object.hasOwn(SNOOZE_CHOICES, match[2] as string)) return null;
  return { id: Number(match[1]), choice: match[2] as SnoozeChoice };
}

/** An Acknowledge button's value: the alert id; null when it is not one. */
export function parseAlertId(value: string | undefined): number | null {
  return /^\d{1,15}$/.test(value ?? "") ? Number(value) : null;
}

function refusal(title: string, detail: string): SlackMessage {
  return usageView(title, detail, null);
}

/** What the clicker is told when the click changed nothing; null when it did. */
function unchanged(result: AlertControlResult, what: string): SlackMessage | null {
  if (result.ok) return null;
  return result.reason === "resolved"
    ? refusal(`Nothing to ${what}`, "This alert is already resolved; a new occurrence opens a new card.")
    : refusal(`Nothing to ${what}`, "This alert is no longer in the bot's records.");
}

function controlClick(deps: ListenerDeps, kind: "acknowledge" | "snooze") {
  return async ({ ack, body, action, respond }: AlertClickArgs): Promise<void> => {
    const channelId = body.channel?.id ?? (body.container?.channel_id as string | undefined) ?? "";
    const messageTs = body.message?.ts ?? (body.container?.message_ts as string | undefined) ?? null;
    const userId = body.user.id;
    const fields = { action: action.action_id, user: userId, channel: channelId };
    await acknowledge(() => ack(), deps.logger, fields);
    const tell = (message: SlackMessage) =>
      respond({ response_type: "ephemeral", replace_original: false, ...message }).catch((error: unknown) =>
        deps.logger.warn("could not answer an alert click", { ...fields, error }),
      );
    const { operator, now } = deps.commands;
    const work = async () => {
      const denied = channelDenied("alert", { userId, channelId }, deps.commands);
      if (denied) return void (await tell(denied.message));
      const context = { channel: channelId, message_ts: messageTs, via: "alert card" };
      let result: AlertControlResult;
      if (kind === "acknowledge") {
        const id = parseAlertId("value" in action ? (action.value as string | undefined) : undefined);
        if (id === null)
          return void (await tell(refusal("Nothing acknowledged", "This button is not an alert's.")));
        result = await operator.alertCards.acknowledge({ id, userId, at: now(), context });
      } else {
        const selected =
          "selected_option" in action
            ? (action.selected_option as { value?: string } | null)?.value
            : undefined;
        const snooze = parseSnooze(selected);
        if (!snooze)
          return void (await tell(refusal("Nothing snoozed", "That is not one of the snooze choices.")));
        const decision: AccessDecision = deps.commands.operatorRole
          ? await deps.commands.operatorRole(userId)
          : { allowed: false, reason: "not_an_operator", message: ACCESS_MESSAGES.not_an_operator };
        if (!decision.allowed) {
          deps.logger.info("alert snooze refused", { ...fields, reason: decision.reason });
          const message =
            decision.reason === "not_an_operator"
              ? `Snoozing an alert is for operators in this workspace; ${decision.message}`
              : decision.message;
          return void (await tell(
            accessRefusalView(message, "operator", decision.reason, decision.usergroups),
          ));
        }
        result = await operator.alertCards.snooze({
          id: snooze.id,
          userId,
          at: now(),
          seconds: SNOOZE_CHOICES[snooze.choice],
          context,
        });
      }
      const told = unchanged(result, kind === "acknowledge" ? "acknowledge" : "snooze");
      if (told) return void (await tell(told));
      if (result.ok) await deps.alerts?.refresh(result.alert.id);
    };
    await tracked(
      deps,
      work().catch(async (error: unknown) => {
        deps.logger.error("alert click failed", { ...fields, error });
        const backend = operator.backendError(error);
        await tell(
          refusal(
            kind === "acknowledge" ? "Not acknowledged" : "Not snoozed",
            backend
              ? `${backend.message}; try again in a minute.`
              : "The bot could not record it; try again in a minute.",
          ),
        );
      }),
    );
  };
}

export function register(app: App, deps: ListenerDeps): void {
  app.action<BlockAction>(ALERT_ACTIONS.acknowledge, controlClick(deps, "acknowledge"));
  app.action<BlockAction>(ALERT_ACTIONS.snooze, controlClick(deps, "snooze"));
}
