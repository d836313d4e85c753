// `scrypath-bot serve`: the production bot as this process, until SIGTERM/SIGINT (src/main.ts). Its
// modules (Bolt, the HTTP receiver) load only here, so the one-shot commands start without them.
import { SERVE } from "./commands.ts";

export function serveUsage(envHelp: string): string {
  return [
    `Usage: scrypath-bot ${SERVE.usage}`,
    SERVE.summary,
    "",
    "  --config FILE   configuration file (default: $SCRYPATH_BOT_CONFIG, else ./scrypath-bot.yml)",
    "  --port N        the Slack HTTP port (wins over PORT)",
    "",
    `Environment: ${envHelp}`,
    "Without Slack credentials it exits 1 naming the missing variables (the sandbox is `npm start` in a checkout).",
  ].join("\n");
}

/** Runs `serve ARGV…` as the process: it keeps running while the bot serves, exit code set on failure. */
export async function serveFromShell(argv: string[]): Promise<void> {
  if (argv.includes("--help") || argv.includes("-h")) {
    const { SLACK_ENV_HELP } = await import("../slack/settings.ts");
    process.stdout.write(`${serveUsage(SLACK_ENV_HELP)}\n`);
    return;
  }
  const { main, runFromShell } = await import("../main.ts");
  await runFromShell(main, argv);
}
