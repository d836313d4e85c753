// `npm start` without Slack credentials: the sandbox. Starts the embedded PostgreSQL and Meilisearch
// (devkit/services/services.ts), seeds the demo deployment (seed.ts), runs the real bot app in HTTP mode on a
// free loopback port with its Web API pointed at the sandbox's own fake Slack (fakeSlack.ts) and a
// generated signing secret, plays the Elixir application's Oban workers (worker.ts), and serves a
// Slack-like page (server.ts, page/) at http://127.0.0.1:3000/. stop() undoes all of it, in reverse.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { Meilisearch } from "meilisearch";
import { parse as parseYaml } from "yaml";
import { helpEntries } from "../../commands/index.ts";
import { type Config, parseConfig } from "../../src/config.ts";
import { createLogger, type Level } from "../../src/log.ts";
import { type Operator, openOperator } from "../../src/operator/index.ts";
import { operatorContext } from "../../src/operator/internal.ts";
import { createSlackApp, EVENTS_PATH, type SlackApp } from "../../src/slack/app.ts";
import { type ConversationSnapshot, FakeSlack } from "../fakeSlack/index.ts";
import { insertJob } from "../oban/rows.ts";
import type { MeilisearchServer } from "../services/meilisearchServer.ts";
import { startServices } from "../services/services.ts";
import { errorMessage } from "../services/util.ts";
import { newSigningSecret } from "../signer.ts";
import { type MeilisearchOutage, meilisearchOutage, OUTAGE_MS } from "./outage.ts";
import {
  BOT,
  CHANNEL,
  DIGEST,
  OPS_GROUP,
  postEditJob,
  SANDBOX_QUEUES,
  sandboxConfigObject,
  seedDemo,
  TEAM,
  USERS,
} from "./seed.ts";
import { listenSandboxServer, type SandboxServer } from "./server.ts";
import { type JobRunner, startJobRunner } from "./worker.ts";

export const DEFAULT_PORT = 3000;
/**
 * The demo application's HTTP client gives up on Meilisearch after this long (Req's receive timeout,
 * shortened for the demo), so a job hit by the outage fails within seconds.
 */
const WORKER_REQUEST_TIMEOUT_MS = 3_000;
/** While Meilisearch is broken the demo application saves a post this often. */
const EDIT_EVERY_MS = 6_000;
/** Where --data-dir keeps the channel's messages. */
const CONVERSATION_FILE = "slack-conversation.json";
const HOST = "127.0.0.1";
const COMMAND = "/scrypath";

export interface SandboxOptions {
  /** The page's port (default 3000; 0 picks a free one). */
  port?: number;
  /** Keep Postgres and Meilisearch data here across runs (seeded once); default a temporary directory. */
  dataDir?: string;
  /** Progress lines for a person ("starting PostgreSQL…"). */
  log?: (line: string) => void;
  /** The bot's JSON log lines (default: dropped below `logLevel`, written to stderr). */
  botLog?: (line: string) => void;
  /** The bot's log level (default warn: the page is the interface). */
  logLevel?: Level;
  /** The Oban worker's pause between looks at the queues. */
  workerIntervalMs?: number;
  /** How long "Break Meilisearch" lasts (default a minute). */
  outageMs?: number;
}

export interface Sandbox {
  /** The page, e.g. http://127.0.0.1:3000/ */
  url: string;
  /** The bot's own HTTP base URL (its /slack/events; the admin routes are on a port of their own). */
  botUrl: string;
  slack: FakeSlack;
  config: Config;
  signingSecret: string;
  /** Whether this run wrote the demo deployment (false: a kept --data-dir already had it). */
  seeded: boolean;
  /** The sandbox's own Meilisearch process (what "Break Meilisearch" stops and continues). */
  meilisearch: Pick<MeilisearchServer, "pid" | "paused" | "exit"> | null;
  stop(): Promise<void>;
}

/** The usage hint of the slash command as the manifest declares it (the page shows it). */
export function usageHint(): string {
  try {
    const manifest = parseYaml(readFileSync(new URL("../../manifest.yml", import.meta.url), "utf8")) as {
      features?: { slash_commands?: { command?: string; usage_hint?: string }[] };
    };
    const hint = manifest.features?.slash_commands?.find((c) => c.command === COMMAND)?.usage_hint;
    if (hint) return hint;
  } catch {
    // fall back to the help entries
  }
  return helpEntries()
    .map((v) => v.usage.replace(`${COMMAND} `, ""))
    .join(" | ");
}

/**
 * "Run digest now": the digest's next scheduled slot, worked now by the bot's own digest runner (the
 * same claim, decision and paced posting through the fake Slack API). Each press takes the slot
 * after the previous one, so it can be pressed again.
 */
async function runDigestNow(bot: SlackApp): Promise<string> {
  const entry = (await bot.digests.list()).find((d) => d.name === DIGEST.name);
  const lastAt = entry?.lastSlot?.slotAt ?? null;
  const upcoming = entry?.nextRun ?? null;
  if (!entry || !upcoming) return `The ${DIGEST.name} digest has no upcoming slot.`;
  // After an earlier press the "next run" may already be worked: take the one after it.
  let at = upcoming;
  if (lastAt && lastAt.getTime() >= at.getTime()) {
    const after = (await bot.digests.list(new Date(lastAt.getTime() + 1_000))).find(
      (d) => d.name === DIGEST.name,
    );
    at = after?.nextRun ?? at;
  }
  const [result] = await bot.digests.tick(at, [DIGEST.name], { onDemand: true });
  const when = at.toLocaleString("en-GB", {
    timeZone: DIGEST.timezone,
    dateStyle: "medium",
    timeStyle: "short",
  });
  switch (result?.outcome) {
    case "posted":
      return `Posted the ${DIGEST.name} digest on demand, for the slot of ${when} (${DIGEST.timezone}).`;
    case "skipped":
      return `The ${DIGEST.name} digest of ${when} stayed quiet: ${result.reason ?? "nothing to report"}.`;
    default:
      return `The ${DIGEST.name} digest of ${when}: ${result?.outcome ?? "no result"}${result?.reason ? ` (${result.reason})` : ""}.`;
  }
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const log = options.log ?? (() => {});
  // Undo steps, run in reverse by stop() (and when start-up fails half-way).
  const undo: { what: string; run: () => Promise<void> }[] = [];
  let page: SandboxServer | undefined;
  const stopAll = async () => {
    // The page first: nothing new reaches the bot while the rest stops.
    await page?.close().catch(() => {});
    const errors: string[] = [];
    for (const step of undo.splice(0).reverse()) {
      await step.run().catch((error: unknown) => errors.push(`${step.what}: ${errorMessage(error)}`));
    }
    if (errors.length > 0) throw new Error(`stopping the sandbox: ${errors.join("; ")}`);
  };

  try {
    // The page's port first: a taken port fails before anything heavy starts.
    try {
      page = await listenSandboxServer(HOST, options.port ?? DEFAULT_PORT);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EADDRINUSE") {
        throw new Error(
          `port ${options.port ?? DEFAULT_PORT} on ${HOST} is in use; pass --port N (or PORT=N)`,
        );
      }
      throw error;
    }
    const listening = page;
    undo.push({ what: "page server", run: () => listening.close() });

    log(
      options.dataDir
        ? `starting PostgreSQL and Meilisearch (data kept in ${options.dataDir})…`
        : "starting PostgreSQL and Meilisearch (temporary data)…",
    );
    // Never the environment's DATABASE_URL / MEILISEARCH_URL: the sandbox writes demo data.
    const services = await startServices({
      env: {},
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    });
    undo.push({ what: "services", run: () => services.stop() });

    const config = parseConfig(sandboxConfigObject(services), {}, "the sandbox configuration");
    const operator: Operator = openOperator(config);
    undo.push({ what: "operator", run: () => operator.close() });
    const meili = new Meilisearch({
      host: services.meilisearchUrl,
      apiKey: services.meilisearchApiKey ?? undefined,
      defaultWaitOptions: { interval: 20, timeout: 30_000 },
    });
    const seeded = await seedDemo({ pool: operatorContext(operator).db, meili, config, log });
    log(seeded === "seeded" ? "seeded the demo deployment" : "kept the demo deployment from an earlier run");

    const slack = await FakeSlack.start({
      strict: true,
      realTime: true,
      team: TEAM,
      bot: BOT,
      users: USERS,
      channels: [CHANNEL],
    });
    undo.push({ what: "fake Slack", run: () => slack.close() });
    if (options.dataDir) {
      // With --data-dir the conversation is kept too, so cards still pending stay clickable.
      const saved = path.join(options.dataDir, CONVERSATION_FILE);
      try {
        slack.restore(JSON.parse(await readFile(saved, "utf8")) as ConversationSnapshot);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
          log(`could not read the saved conversation (${errorMessage(error)}); starting an empty one`);
        }
      }
      undo.push({
        what: "saving the conversation",
        run: () => writeFile(saved, `${JSON.stringify(slack.snapshot())}\n`, { mode: 0o600 }),
      });
    }
    const botToken = `xoxb-sandbox-${randomBytes(12).toString("hex")}`;
    slack.token = botToken;
    slack.usergroups.set(OPS_GROUP.id, OPS_GROUP.members);

    const signingSecret = newSigningSecret();
    const level = options.logLevel ?? "warn";
    const botLog = options.botLog ?? ((line: string) => process.stderr.write(`${line}\n`));
    const bot: SlackApp = createSlackApp({
      config,
      operator,
      env: {
        SLACK_BOT_TOKEN: botToken,
        SLACK_SIGNING_SECRET: signingSecret,
        SLACK_API_URL: slack.apiUrl,
        SLACK_BOT_ID: BOT.botId,
        SLACK_BOT_USER_ID: BOT.userId,
        PORT: "0",
        ADMIN_PORT: "0",
        HOST,
      },
      logger: createLogger({ level, write: botLog, secrets: [botToken, signingSecret] }),
      follow: { intervalMs: 700, maxIntervalMs: 2_000 },
    });
    const { port: botPort } = await bot.start();
    undo.push({ what: "bot", run: async () => void (await bot.stop()) });
    const botUrl = `http://${HOST}:${botPort}`;

    const runner: JobRunner = startJobRunner({
      pool: operatorContext(operator).db,
      prefix: config.database.obanPrefix,
      meili: new Meilisearch({ ...meili.config, timeout: WORKER_REQUEST_TIMEOUT_MS }),
      queues: SANDBOX_QUEUES,
      intervalMs: options.workerIntervalMs ?? 750,
      onError: (error, jobId) => log(`the demo Oban worker failed on job ${jobId}: ${errorMessage(error)}`),
    });
    undo.push({ what: "Oban worker", run: () => runner.stop() });

    // Undone before the worker stops (undo runs in reverse): Meilisearch is continued first.
    let edits = 0;
    const server = services.meilisearchServer;
    const outage: MeilisearchOutage | null = server
      ? meilisearchOutage({
          server,
          durationMs: options.outageMs ?? OUTAGE_MS,
          during: {
            everyMs: EDIT_EVERY_MS,
            run: async () => {
              await insertJob(operatorContext(operator).db, config.database.obanPrefix, postEditJob(edits++));
            },
          },
          onError: (error) => log(`the Meilisearch outage: ${errorMessage(error)}`),
        })
      : null;
    if (outage) undo.push({ what: "Meilisearch outage", run: () => outage.stop() });

    listening.ready({
      slack,
      botEventsUrl: `${botUrl}${EVENTS_PATH}`,
      signingSecret,
      channel: CHANNEL,
      users: USERS,
      command: { name: COMMAND, usageHint: usageHint() },
      verbs: helpEntries(),
      groups: { [OPS_GROUP.id]: OPS_GROUP.handle },
      digest: {
        label: `Run the ${DIGEST.name} digest now`,
        run: () => runDigestNow(bot),
      },
      outage,
      log,
    });

    let stopping: Promise<void> | null = null;
    return {
      url: listening.url,
      botUrl,
      slack,
      config,
      signingSecret,
      seeded: seeded === "seeded",
      meilisearch: server,
      stop() {
        stopping ??= stopAll();
        return stopping;
      },
    };
  } catch (error) {
    await stopAll().catch((stopError: unknown) => log(errorMessage(stopError)));
    throw error;
  }
}
