// `npm start`: load the configuration, open the operator, start the Slack app (HTTP or Socket
// Mode), and stop gracefully on SIGINT/SIGTERM. Without Slack credentials in the environment it
// starts the sandbox instead (src/sandbox): the real bot against a demo deployment and a local,
// Slack-like page.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { Sandbox, SandboxOptions } from "../devkit/sandbox/index.ts";
import { errorLines, loadConfig } from "./config.ts";
import { createLogger, type Logger, parseLevel } from "./log.ts";
import { openOperator } from "./operator/index.ts";
import { configuredSecrets } from "./secrets.ts";
import { createSlackApp, EVENTS_PATH } from "./slack/app.ts";
import { hasSlackCredentials, SlackSetupError, slackSettings } from "./slack/settings.ts";

export interface MainIo {
  env: NodeJS.ProcessEnv;
  stderr: (text: string) => void;
  /** Where the sandbox prints its address and progress (default: stderr). */
  stdout?: (text: string) => void;
  logger?: Logger;
  /** Starts the sandbox (tests inject a stand-in; default src/sandbox). */
  startSandbox?: (options: SandboxOptions) => Promise<Pick<Sandbox, "url" | "stop">>;
  /** True once Ctrl-C (SIGINT/SIGTERM) was pressed: a start-up that fails then was interrupted. */
  interrupted?: () => boolean;
}

const USAGE = "usage: npm start -- [--config FILE] [--port N] [--data-dir DIR]";

/** `--port` / PORT: a port number, or null when neither is given. */
function portOption(value: string | undefined): number | null {
  if (value === undefined || value.trim() === "") return null;
  const port = Number(value);
  if (!/^[0-9]{1,5}$/.test(value.trim()) || port > 65_535) {
    throw new Error(`--port must be a port number between 0 and 65535, got "${value}"`);
  }
  return port;
}

async function runSandbox(
  values: { port?: string | undefined; "data-dir"?: string | undefined; config?: string | undefined },
  io: MainIo,
): Promise<{ code: number } | { stop: () => Promise<void>; logger: Logger }> {
  const out = io.stdout ?? io.stderr;
  let port: number | null;
  try {
    port = portOption(values.port ?? io.env.PORT);
  } catch (error) {
    return { code: fail(io, (error as Error).message) };
  }
  const logger =
    io.logger ??
    createLogger({ level: parseLevel(io.env.LOG_LEVEL, "warn"), write: (line) => io.stderr(`${line}\n`) });
  out(
    "scrypath-bot: no Slack credentials in the environment, so this is the sandbox: the real bot, a demo " +
      "deployment and a Slack-like page, all on 127.0.0.1. (With SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET, " +
      "or SLACK_APP_TOKEN, set, npm start runs the bot in Slack instead.)\n",
  );
  if (values.config) out(`scrypath-bot: the sandbox uses its own demo configuration; --config is ignored\n`);
  const start = io.startSandbox ?? (await import("../devkit/sandbox/index.ts")).startSandbox;
  let sandbox: Pick<Sandbox, "url" | "stop">;
  try {
    sandbox = await start({
      ...(port !== null ? { port } : {}),
      ...(values["data-dir"] ? { dataDir: values["data-dir"] } : {}),
      log: (line) => out(`  ${line}\n`),
      logLevel: logger.level,
      botLog: (line) => io.stderr(`${line}\n`),
    });
  } catch (error) {
    // Ctrl-C reaches the embedded servers too; whatever failed after it, start-up was interrupted.
    if (io.interrupted?.()) {
      out("scrypath-bot: stopped during start-up.\n");
      return { code: 130 };
    }
    return { code: fail(io, `the sandbox did not start: ${(error as Error).message}`) };
  }
  out(`\nscrypath-bot sandbox ready: open ${sandbox.url}\nPress Ctrl-C to stop.\n`);
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      out("scrypath-bot: stopping the sandbox…\n");
      await sandbox.stop().catch((error: unknown) => logger.error("stopping the sandbox failed", { error }));
      out("scrypath-bot: stopped.\n");
    })();
    return stopping;
  };
  return { stop, logger };
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
  let values: { config?: string | undefined; port?: string | undefined; "data-dir"?: string | undefined };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: "string" }, port: { type: "string" }, "data-dir": { type: "string" } },
      strict: true,
    }));
  } catch (error) {
    return { code: fail(io, `${(error as Error).message}; ${USAGE}`) };
  }
  if (!hasSlackCredentials(io.env)) return runSandbox(values, io);
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
  // `--port` wins over PORT, as the sandbox reads it.
  const env = values.port !== undefined ? { ...io.env, PORT: values.port } : io.env;
  try {
    settings = slackSettings(env);
    config = loadConfig(values.config, env);
  } catch (error) {
    return { code: fail(io, errorLines(error, "").join("\n")) };
  }

  const logger =
    io.logger ??
    createLogger({
      level: parseLevel(io.env.LOG_LEVEL),
      secrets: [settings.botToken, settings.signingSecret, settings.appToken, ...configuredSecrets(config)],
    });
  const operator = openOperator(config);
  let bot: ReturnType<typeof createSlackApp>;
  let port: number | null;
  try {
    bot = createSlackApp({ config, operator, env, logger });
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

/**
 * A second signal this soon after the first is the same Ctrl-C delivered again (the terminal signals
 * the whole process group, and npm and tsx pass it on): only a later one forces the exit.
 */
const REPEATED_SIGNAL_MS = 1_500;

async function runFromShell(): Promise<void> {
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

  const started = await main(process.argv.slice(2), io);
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
  await runFromShell();
}
