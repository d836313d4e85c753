// `npm start`: load the configuration, open the operator, start the Slack app (HTTP or Socket
// Mode), and stop gracefully on SIGINT/SIGTERM.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { loadConfig } from "./config.ts";
import { createLogger, type Logger, parseLevel } from "./log.ts";
import { openOperator } from "./operator/index.ts";
import { createSlackApp, EVENTS_PATH } from "./slack/app.ts";
import { hasSlackCredentials, SLACK_ENV_HELP, SlackSetupError, slackSettings } from "./slack/settings.ts";

export interface MainIo {
  env: NodeJS.ProcessEnv;
  stderr: (text: string) => void;
  logger?: Logger;
}

function fail(io: MainIo, message: string): number {
  io.stderr(`scrypath-bot: ${message}\n`);
  return 1;
}

/** Starts the bot; resolves with an exit code when start-up fails, or with `stop` when it runs. */
export async function main(
  argv: string[],
  io: MainIo,
): Promise<{ code: number } | { stop: () => Promise<void>; logger: Logger }> {
  let values: { config?: string | undefined };
  try {
    ({ values } = parseArgs({ args: argv, options: { config: { type: "string" } }, strict: true }));
  } catch (error) {
    return { code: fail(io, `${(error as Error).message}; usage: npm start -- [--config FILE]`) };
  }
  if (!hasSlackCredentials(io.env)) {
    return { code: fail(io, `no Slack credentials in the environment. ${SLACK_ENV_HELP}`) };
  }
  let settings: ReturnType<typeof slackSettings>;
  let config: ReturnType<typeof loadConfig>;
  try {
    settings = slackSettings(io.env);
    config = loadConfig(values.config, io.env);
  } catch (error) {
    return { code: fail(io, (error as Error).message) };
  }

  const logger =
    io.logger ??
    createLogger({
      level: parseLevel(io.env.LOG_LEVEL),
      secrets: [settings.botToken, settings.signingSecret, settings.appToken, config.meilisearch.apiKey],
    });
  const operator = openOperator(config);
  let bot: ReturnType<typeof createSlackApp>;
  let port: number | null;
  try {
    bot = createSlackApp({ config, operator, env: io.env, logger });
    ({ port } = await bot.start());
  } catch (error) {
    await operator.close().catch(() => {});
    logger.error("start-up failed", { error });
    return { code: fail(io, error instanceof SlackSetupError ? error.message : (error as Error).message) };
  }

  const where =
    settings.mode === "http"
      ? `http://${settings.host ?? "0.0.0.0"}:${port}${EVENTS_PATH}`
      : `Socket Mode (health on port ${port})`;
  logger.info(`scrypath-bot listening on ${where}`, {
    mode: settings.mode,
    port,
    routes: ["/healthz", "/readyz", "/metrics"],
    schemas: config.schemas.length,
  });

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      logger.info("stopping");
      await bot.stop().catch((error: unknown) => logger.error("stop failed", { error }));
      await operator
        .close()
        .catch((error: unknown) => logger.error("closing the database pool failed", { error }));
      logger.info("stopped");
    })();
    return stopping;
  };
  return { stop, logger };
}

async function runFromShell(): Promise<void> {
  const io: MainIo = { env: process.env, stderr: (text) => process.stderr.write(text) };
  const started = await main(process.argv.slice(2), io);
  if ("code" in started) {
    process.exitCode = started.code;
    return;
  }
  const { logger } = started;
  // A bug that escaped every handler is logged; the answer already failed, the bot keeps serving.
  process.on("unhandledRejection", (reason) => logger.error("unhandled rejection", { error: reason }));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) process.exit(1);
    logger.info("signal received", { signal });
    started.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runFromShell();
}
