// While the bot drains after SIGTERM, new work is not taken: a slash command is answered at once with
// a short "restarting" sentence, a click or a modal is acknowledged and told the same (nothing runs,
// so a Confirm leaves its request pending for another replica). Work already taken finishes.
import type { AllMiddlewareArgs, AnyMiddlewareArgs, Middleware } from "@slack/bolt";
import type { Logger } from "../log.ts";

export const RESTARTING_TEXT =
  "scrypath-bot is restarting, so nothing was done; try again in a minute (another replica will answer).";

const RESTARTING = {
  text: RESTARTING_TEXT,
  blocks: [{ type: "section", text: { type: "mrkdwn", text: RESTARTING_TEXT } }],
};

type Args = AnyMiddlewareArgs &
  AllMiddlewareArgs & {
    ack?: (answer?: unknown) => Promise<void>;
    respond?: (message: Record<string, unknown>) => Promise<unknown>;
  };

/** Global middleware: passes everything on until `draining()` says otherwise. */
export function refuseWhileDraining(draining: () => boolean, logger: Logger): Middleware<AnyMiddlewareArgs> {
  return async (raw) => {
    const args = raw as Args;
    if (!draining()) {
      await args.next();
      return;
    }
    const body = args.body as { type?: string; command?: string };
    logger.info("refused new work while draining", { type: body.type ?? "slash_command" });
    if (typeof body.command === "string") {
      await args.ack?.({ response_type: "ephemeral", ...RESTARTING });
      return;
    }
    await args.ack?.();
    if (body.type === "block_actions") {
      await args
        .respond?.({ response_type: "ephemeral", replace_original: false, ...RESTARTING })
        .catch((error: unknown) => logger.warn("could not tell a click the bot is restarting", { error }));
    }
  };
}
