// `/scrypath …`: ack at once with an empty body, then let commands/ do everything else. A mutation
// verb comes back as a request (posted as a confirmation card) or a modal to open.
import type { App, SlackCommandMiddlewareArgs } from "@slack/bolt";
import { runSlashCommand } from "../../../commands/index.ts";
import { clip } from "../../../commands/parse.ts";
import { answer } from "../answer.ts";
import { commandLabel } from "../labels.ts";
import { acknowledge } from "./ack.ts";
import { type ListenerDeps, tracked } from "./deps.ts";

/**
 * `/scrypath`, and suffixed copies such as `/scrypath-staging` for a second deployment
 * installed in the same workspace.
 */
export const COMMAND_PATTERN = /^\/scrypath(?:[-_][a-z0-9]+)*$/;

const SLACK_ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">" };

/**
 * Slack escapes what a person typed (`&`, `<`, `>`) before the app sees it. The text is read as
 * typed, once, so the views' own escaping is the only one (else `<!channel>` echoes as `&lt;…`).
 */
export function typedText(text: string): string {
  return text.replace(/&(?:amp|lt|gt);/g, (entity) => SLACK_ENTITIES[entity] ?? entity);
}

export type CommandArgs = Pick<SlackCommandMiddlewareArgs, "command" | "ack" | "respond">;

export function scrypathCommand(deps: ListenerDeps) {
  return async ({ command, ack, respond }: CommandArgs): Promise<void> => {
    const text = typedText(command.text ?? "");
    const fields = {
      command: command.command,
      text: clip(text, 200),
      user: command.user_id,
      channel: command.channel_id,
    };
    await acknowledge(() => ack(), deps.logger, fields);
    const invocation = { userId: command.user_id, channelId: command.channel_id };
    // A slash command cannot be in a thread: its card goes in the channel.
    const origin = {
      userId: command.user_id,
      teamId: command.team_id ?? null,
      channelId: command.channel_id,
      threadTs: null,
    };
    const run = async () => {
      const result = await runSlashCommand(text, invocation, deps.commands);
      if (result.modal) return deps.mutations.hotApply.open(result.modal, command.trigger_id, origin);
      if (result.confirmation) {
        return deps.mutations.confirmations.request(result.confirmation, origin, result.verb);
      }
      return result;
    };
    await tracked(
      deps,
      answer(deps, respond, {
        delivery: "command",
        label: commandLabel(text),
        userId: command.user_id,
        fields,
        run,
      }),
    );
  };
}

export function register(app: App, deps: ListenerDeps): void {
  app.command(COMMAND_PATTERN, scrypathCommand(deps));
}
