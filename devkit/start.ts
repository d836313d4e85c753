// `npm start`: the newcomer's entry. Without Slack credentials in the environment it starts the
// sandbox (devkit/sandbox): the real bot against a demo deployment and a local, Slack-like page.
// With them it runs the production bot (src/main.ts), which never starts the sandbox itself. The
// sandbox is imported only when it starts. This is a checkout's entry (tsx, a dev dependency): a
// release tree (scripts/release.sh) has no devkit/, and its `npm start` is `scrypath-bot serve`.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { createLogger, parseLevel } from "../src/log.ts";
import {
  fail,
  type MainIo,
  runFromShell,
  START_OPTIONS,
  type Started,
  main as serve,
  USAGE,
} from "../src/main.ts";
import { hasSlackCredentials } from "../src/slack/settings.ts";
import type { Sandbox, SandboxOptions } from "./sandbox/index.ts";

export interface StartIo extends MainIo {
  /** Starts the sandbox (tests inject a stand-in; default devkit/sandbox). */
  startSandbox?: (options: SandboxOptions) => Promise<Pick<Sandbox, "url" | "stop">>;
}

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
  io: StartIo,
): Promise<Started> {
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
  const start = io.startSandbox ?? (await import("./sandbox/index.ts")).startSandbox;
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

/** The sandbox without Slack credentials, the production bot with them. */
export async function main(argv: string[], io: StartIo): Promise<Started> {
  let values: { config?: string | undefined; port?: string | undefined; "data-dir"?: string | undefined };
  try {
    ({ values } = parseArgs({ args: argv, options: START_OPTIONS, strict: true }));
  } catch (error) {
    return { code: fail(io, `${(error as Error).message}; ${USAGE}`) };
  }
  if (!hasSlackCredentials(io.env)) return runSandbox(values, io);
  return serve(argv, io);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runFromShell(main);
}
