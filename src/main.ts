// The production entry (`scrypath-bot serve`; `npm run serve` in a checkout): load the
// configuration, open the operator, start the Slack app (HTTP or Socket Mode) and its admin server, and stop gracefully on SIGINT/SIGTERM: drain
// (readiness 503, new work told the bot is restarting, work in flight finished within
// SHUTDOWN_DRAIN_SECONDS, what still executes closed as interrupted), close the pools, exit 0.
// Without Slack credentials it exits 1 naming the missing variables; the newcomer's sandbox is
// `npm start` (devkit/start.ts).
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { errorLines, loadConfig } from "./config.ts";
import { type DeployEnv, deployEnv } from "./deployEnv.ts";
import { createLogger, type Logger } from "./log.ts";
import { openOperator } from "./operator/index.ts";
import { configuredSecrets } from "./secrets.ts";
import { createSlackApp, EVENTS_PATH } from "./slack/app.ts";
import { SlackSetupError, slackSettings } from "./slack/settings.ts";
import { withTimeout } from "./timeout.ts";

export interface MainIo {
  env: NodeJS.ProcessEnv;
  stderr: (text: string) => void;
  /** Where an entry prints progress for a person (the sandbox: its address; default: stderr). */
  stdout?: (text: string) => void;
  logger?: Logger;
  /** True once Ctrl-C (SIGINT/SIGTERM) was pressed: a start-up that fails then was interrupted. */
  interrupted?: () => boolean;
}

/** What an entry point resolves with: an exit code when start-up fails, or `stop` when it runs. */
export type Started = { code: number } | { stop: () => Promise<void>; logger: Logger };

export const USAGE = "usage: npm start -- [--config FILE] [--port N] [--data-dir DIR]";
export const SERVE_USAGE = "usage: scrypath-bot serve [--config FILE] [--port N]";

/** The command-line options of `npm start` / `npm run serve` (`--data-dir` is the sandbox's). */
export const START_OPTIONS = {
  config: { type: "string" },
  port: { type: "string" },
  "data-dir": { type: "string" },
} as const;

export function fail(io: MainIo, message: string): number {
  io.stderr(`scrypath-bot: ${message}\n`);
  return 1;
}

/** Closing the pools after the drain waits at most this (a query still running is cut by the exit). */
const POOL_CLOSE_MS = 3_000;

/** Starts the bot; resolves with an exit code when start-up fails, or with `stop` when it runs. */
export async function main(argv: string[], io: MainIo): Promise<Started> {
  let values: { config?: string | undefined; port?: string | undefined; "data-dir"?: string | undefined };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: START_OPTIONS,
      strict: true,
    }));
  } catch (error) {
    return { code: fail(io, `${(error as Error).message}; ${SERVE_USAGE}`) };
  }
  if (values["data-dir"] !== undefined) {
    return {
      code: fail(
        io,
        "--data-dir is for the sandbox, which runs only without Slack credentials; unset them to try it",
      ),
    };
  }
  let settings: ReturnType<typeof slackSettings>;
  let config: ReturnType<typeof loadConfig>;
  let deploy: DeployEnv;
  // `--port` wins over PORT, as the sandbox reads it.
  const env = values.port !== undefined ? { ...io.env, PORT: values.port } : io.env;
  try {
    deploy = deployEnv(env);
    settings = slackSettings(env);
    config = loadConfig(values.config, env);
  } catch (error) {
    return { code: fail(io, errorLines(error, "").join("\n")) };
  }

  const logger =
    io.logger ??
    createLogger({
      level: deploy.logLevel,
      secrets: [settings.botToken, settings.signingSecret, settings.appToken, ...configuredSecrets(config)],
    });
  // DATABASE_POOL_SIZE wins over `database.poolSize`.
  const operator = openOperator(config, deploy.poolSize !== null ? { poolSize: deploy.poolSize } : {});
  let bot: ReturnType<typeof createSlackApp>;
  let port: number | null;
  let adminPort: number;
  try {
    bot = createSlackApp({
      config,
      operator,
      env,
      logger,
      adminPort: deploy.adminPort,
      drainMs: deploy.drainMs,
    });
    ({ port, adminPort } = await bot.start());
  } catch (error) {
    await operator.close().catch(() => {});
    logger.error("start-up failed", { error });
    return { code: fail(io, error instanceof SlackSetupError ? error.message : (error as Error).message) };
  }

  const where =
    settings.mode === "http" ? `http://${settings.host ?? "0.0.0.0"}:${port}${EVENTS_PATH}` : "Socket Mode";
  logger.info(`scrypath-bot listening on ${where}; /healthz, /readyz and /metrics on port ${adminPort}`, {
    mode: settings.mode,
    port,
    adminPort,
    routes: ["/healthz", "/readyz", "/metrics"],
    schemas: config.schemas.length,
  });

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      logger.info("stopping: draining", { drainMs: deploy.drainMs });
      const { drained } = await bot.stop().catch((error: unknown) => {
        logger.error("stop failed", { error });
        return { drained: false };
      });
      // A query cut short by the drain would keep the pool open: its close is bounded too.
      const closed = await withTimeout(
        operator.close().then(
          () => true,
          (error: unknown) => {
            logger.error("closing the database pool failed", { error });
            return false;
          },
        ),
        POOL_CLOSE_MS,
        () => false,
      );
      logger.info("stopped", { drained, poolClosed: closed });
    })();
    return stopping;
  };
  return { stop, logger };
}

/**
 * A second signal this soon after the first is the same Ctrl-C delivered again (the terminal signals
 * the whole process group, and npm and tsx pass it on): only a later one forces the exit.
 */
const REPEATED_SIGNAL_MS = 1_500;

/** Runs an entry point (`main` here, devkit/start.ts for `npm start`) as the process, until a signal. */
export async function runFromShell(
  entry: (argv: string[], io: MainIo) => Promise<Started>,
  argv: string[] = process.argv.slice(2),
): Promise<void> {
  // Signals are ours from the start: a Ctrl-C while the sandbox starts stops it once it has started
  // (the default action would kill the process and leave its servers' temporary directories behind).
  let signalled: NodeJS.Signals | null = null;
  const io: MainIo = {
    env: process.env,
    stderr: (text) => process.stderr.write(text),
    stdout: (text) => process.stdout.write(text),
    interrupted: () => signalled !== null,
  };
  let stop: (() => Promise<void>) | null = null;
  let logger: Logger | null = null;
  let firstSignalAt: number | null = null;
  const stopNow = (signal: NodeJS.Signals, running: () => Promise<void>) => {
    logger?.info("signal received", { signal });
    running().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt !== null) {
      if (Date.now() - firstSignalAt < REPEATED_SIGNAL_MS) return;
      // Asked twice: give up waiting (the exit hooks still stop embedded servers, remove temp dirs).
      process.exit(1);
    }
    firstSignalAt = Date.now();
    signalled = signal;
    if (stop) stopNow(signal, stop);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  const started = await entry(argv, io);
  if ("code" in started) {
    process.exitCode = started.code;
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    return;
  }
  ({ stop, logger } = started);
  // A bug that escaped every handler is logged; the answer already failed, the bot keeps serving.
  process.on("unhandledRejection", (reason) =>
    started.logger.error("unhandled rejection", { error: reason }),
  );
  if (signalled) stopNow(signalled, started.stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runFromShell(main);
}
