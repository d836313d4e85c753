// Assembles the Bolt app: HTTP receiver (default) or Socket Mode (SLACK_APP_TOKEN), the admin
// server (health, readiness, metrics on ADMIN_PORT), JSON logs, per-app metrics, and the listeners.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { App, type LogLevel, type Receiver, SocketModeReceiver, webApi } from "@slack/bolt";
import type { ExtendedErrorHandlerArgs } from "@slack/bolt/dist/App.js";
import type { CommandDeps } from "../../commands/types.ts";
import type { ViewContext } from "../../views/types.ts";
import { type AlertRunner, createAlertRunner } from "../alerts/runner.ts";
import type { Config } from "../config.ts";
import type { AlertSubscription } from "../core/alertTypes.ts";
import { deployEnv } from "../deployEnv.ts";
import { createDigestRunner, type DigestRunner } from "../digest/runner.ts";
import { boltLogger, createLogger, type Logger, parseLevel, toBoltLevel } from "../log.ts";
import { createMetrics, type Metrics, reasonLabel } from "../metrics.ts";
import type { Operator } from "../operator/index.ts";
import { configuredSecrets } from "../secrets.ts";
import { withTimeout } from "../timeout.ts";
import { createAccess } from "./access.ts";
import { createAdminServer, type Phase } from "./admin.ts";
import { newRequestId, unexpectedErrorMessage } from "./answer.ts";
import { createChannelCheck } from "./channels.ts";
import { countRateLimits, createChat } from "./chat.ts";
import { type Confirmations, createConfirmations } from "./confirmations.ts";
import { refuseWhileDraining } from "./draining.ts";
import { createFollowers, type Followers } from "./follow.ts";
import { createHotApplyForm } from "./hotApplyForm.ts";
import { applyServerLimits, type IntakeLimits, IntakeReceiver } from "./intake.ts";
import { VERBS } from "./labels.ts";
import { type ListenerDeps, registerListeners } from "./listeners/index.ts";
import { type SlackSettings, slackSettings } from "./settings.ts";
import { SLACK_API_URL, slackFetch } from "./slackFetch.ts";
import { SWEEP_INTERVAL_MS } from "./sweeper.ts";

export const EVENTS_PATH = "/slack/events";
/** The "still working" note appears when an answer takes longer than this. */
export const WORKING_AFTER_MS = 1_500;
/** The last steps of a stop whose drain ran out (closing interrupted requests) wait at most this. */
const INTERRUPT_MS = 3_000;

export interface SlackAppOptions {
  config: Config;
  operator: Operator;
  env: NodeJS.ProcessEnv;
  logger?: Logger;
  now?: () => Date;
  workingAfterMs?: number;
  readinessTimeoutMs?: number;
  /** How often pending confirmation cards are checked for expiry (default 30 s). */
  sweepIntervalMs?: number;
  /** Verification replies: how long to follow a retry (default `slack.verifyTimeout`) and how often to look. */
  follow?: { timeoutMs?: number; intervalMs?: number; maxIntervalMs?: number };
  /** Bounded retries of the bot's own Slack calls (cards, replies); tests shorten the backoff. */
  chat?: { maxAttempts?: number; baseDelayMs?: number };
  /** HTTP intake limits (body size, timeouts, connection cap); tests shorten the timeouts. */
  intakeLimits?: IntakeLimits;
  /** false: do not schedule digests on start (tests drive `digests.tick` themselves). */
  digestSchedules?: boolean;
  /** false: do not tick alerts on start (tests drive `alerts.tick` themselves). */
  alertSchedules?: boolean;
  /** The effective alert subscriptions (default: YAML and /scrypath watch, `operator.alertSubscriptions`). */
  alertSubscriptions?: () => Promise<AlertSubscription[]>;
  /** The admin server's port (default ADMIN_PORT, else 9090; 0 picks a free one). */
  adminPort?: number;
  /** How long a stop waits for work in flight (default SHUTDOWN_DRAIN_SECONDS, else 20 s). */
  drainMs?: number;
}

export interface SlackApp {
  app: App;
  settings: SlackSettings;
  metrics: Metrics;
  logger: Logger;
  /** Confirmation cards: requests, decisions, expiry. */
  confirmations: Confirmations;
  /** Verification replies following confirmed retries. */
  followers: Followers;
  /** Scheduled digests (started with the app when any are configured). */
  digests: DigestRunner;
  /** Live alerts (ticking every `alerts.interval` once started). */
  alerts: AlertRunner;
  /** The admin server (/healthz, /readyz, /metrics), listening once started. */
  admin: Server;
  /** Where the bot stands (readiness is 200 only while "serving"). */
  phase(): Phase;
  /** HTTP: the port of /slack/events (Socket Mode: null); adminPort: /healthz, /readyz, /metrics. */
  start(): Promise<{ port: number | null; adminPort: number }>;
  /**
   * Drains: readiness 503 at once, new commands and clicks told the bot is restarting, work in
   * flight (answers, confirmed executions, digest posts) awaited up to the drain bound, then what
   * still executes here closed as interrupted (cards edited); then stops receiving. Resolves with
   * whether everything finished in time. Does not close the operator.
   */
  stop(): Promise<{ drained: boolean }>;
}

function secretsOf(settings: SlackSettings, config: Config): (string | null | undefined)[] {
  return [settings.botToken, settings.signingSecret, settings.appToken, ...configuredSecrets(config)];
}

function portOf(server: Server | undefined): number | null {
  const address = server?.address();
  return address && typeof address === "object" ? (address as AddressInfo).port : null;
}

async function listening(server: Server): Promise<void> {
  if (server.listening) return;
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
}

export function createSlackApp(options: SlackAppOptions): SlackApp {
  const { config, operator, env } = options;
  const settings = slackSettings(env);
  const logger =
    options.logger ??
    createLogger({ level: parseLevel(env.LOG_LEVEL), secrets: secretsOf(settings, config) });
  const bolt = boltLogger(logger.child({ component: "slack" }), "bolt");
  const logLevel: LogLevel = toBoltLevel(logger.level);
  const metrics = createMetrics();

  const apiUrl = settings.apiUrl ?? SLACK_API_URL;
  const fetchFn = slackFetch(metrics, apiUrl);
  const clientOptions = () => ({
    slackApiUrl: apiUrl,
    fetch: fetchFn,
    // The Web API client waits forever by default.
    timeout: 10_000,
  });
  type WebClient = InstanceType<typeof webApi.WebClient>;

  let phase: Phase = "starting";
  const setPhase = (next: Phase) => {
    phase = next;
    metrics.ready.set(next === "serving" ? 1 : 0);
  };
  setPhase("starting");
  const deploy = deployEnv(env);
  const adminPort = options.adminPort ?? deploy.adminPort;
  const drainMs = options.drainMs ?? deploy.drainMs;
  // Its own server, with the intake's timeouts and connection cap; never the Slack port.
  const admin = applyServerLimits(
    createAdminServer({
      phase: () => phase,
      backends: () => operator.readiness(options.readinessTimeoutMs ?? 2_000),
      metrics,
      logger,
    }),
    options.intakeLimits,
  );

  let receiver: Receiver;
  let routesServer: () => Server | undefined;
  if (settings.mode === "socket") {
    const socket = new SocketModeReceiver({
      appToken: settings.appToken as string,
      logger: bolt,
      logLevel,
      // Its WebClient (for apps.connections.open) takes its options from here. Without custom
      // routes or an installer, Socket Mode opens no HTTP port at all.
      installerOptions: { clientOptions: clientOptions() },
    });
    receiver = socket;
    // apps.connections.open goes through Socket Mode's own client (a private field).
    const socketClient = (socket.client as unknown as { webClient?: WebClient }).webClient;
    if (socketClient) countRateLimits(socketClient, metrics);
    routesServer = () => undefined;
  } else {
    // Bolt's HTTPReceiver behind a server with limits and a guard (body size, timeouts,
    // connection cap, signature window both ways, replays, duplicated fields): intake.ts.
    const http = new IntakeReceiver({
      signingSecret: settings.signingSecret as string,
      path: EVENTS_PATH,
      logger: logger.child({ component: "intake" }),
      ...(options.intakeLimits ? { limits: options.intakeLimits } : {}),
      bolt: {
        logger: bolt,
        logLevel,
        // The ack answers the HTTP request at once; the work continues after it.
        processBeforeResponse: false,
      },
    });
    receiver = http;
    routesServer = () => http.server;
  }

  const knowsBot = settings.botId !== null && settings.botUserId !== null;
  const app = new App({
    receiver,
    token: settings.botToken,
    ...(knowsBot ? { botId: settings.botId as string, botUserId: settings.botUserId as string } : {}),
    // Without both ids Bolt would call auth.test in the constructor; do it in start() instead,
    // where a bad token becomes a clear start-up error.
    deferInitialization: !knowsBot,
    logger: bolt,
    logLevel,
    clientOptions: clientOptions(),
    extendedErrorHandler: true,
  });
  countRateLimits(app.client, metrics);

  const inflight = new Set<Promise<unknown>>();
  const commands: CommandDeps = { operator, config, now: options.now ?? (() => new Date()) };

  // The bot's own messages (cards, replies, modals) and reads: the SDK's retries, bounded, and
  // chat.postMessage never retried (chat.ts).
  const chatLogger = logger.child({ component: "chat" });
  const chat = createChat({
    token: settings.botToken,
    client: { ...clientOptions(), logger: bolt, logLevel },
    metrics,
    logger: chatLogger,
    ...options.chat,
  });
  // Scheduled digests pace their posts and honour Retry-After themselves (src/digest/poster.ts),
  // and record every posted ts so a retried slot never double-posts: their client never retries
  // and hands 429s back.
  const digestClient = new webApi.WebClient(settings.botToken, {
    ...clientOptions(),
    logger: bolt,
    logLevel,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
  });
  countRateLimits(digestClient, metrics);
  const viewContext = (): ViewContext => ({
    now: commands.now(),
    dashboardLinks: config.slack.dashboardLinks,
    sharedBy: null,
  });
  const followers = createFollowers({
    operator,
    chat,
    logger: logger.child({ component: "follow" }),
    metrics,
    viewContext,
    options: { timeoutMs: config.slack.verifyTimeout * 1000, ...options.follow },
  });
  const access = createAccess({ access: config.access, chat, logger: logger.child({ component: "access" }) });
  commands.operatorRole = (userId) => access.decide(userId);
  commands.channels = createChannelCheck({ chat, logger: logger.child({ component: "channels" }) });
  const confirmations = createConfirmations({
    operator,
    commands,
    chat,
    access,
    followers,
    logger: logger.child({ component: "confirmations" }),
    metrics,
    viewContext,
  });
  const hotApply = createHotApplyForm({ operator, chat, confirmations, logger: chatLogger });
  const digests = createDigestRunner({
    operator,
    config,
    client: digestClient,
    clock: commands.now,
    logger: logger.child({ component: "digest" }),
    instanceId: `${hostname()}:${process.pid}`,
    hooks: {
      outcome: (digest, outcome) => metrics.digests.inc({ digest, outcome }),
      slackRetry: (reason) =>
        metrics.slackRetries.inc({ method: "chat.postMessage", reason: reasonLabel(reason) }),
    },
  });
  commands.digests = digests;
  // Alert cards: the same no-retry client (the runner honours Retry-After and never posts twice).
  const alerts = createAlertRunner({
    operator,
    config,
    client: digestClient,
    clock: commands.now,
    subscriptions: options.alertSubscriptions ?? (() => operator.alertSubscriptions.effective()),
    logger: logger.child({ component: "alerts" }),
    instanceId: `${hostname()}:${process.pid}`,
    hooks: {
      outcome: (outcome) => metrics.alerts.inc({ outcome }),
      slackRetry: (method, reason) => metrics.slackRetries.inc({ method, reason: reasonLabel(reason) }),
    },
  });

  const deps: ListenerDeps = {
    commands,
    logger,
    metrics,
    verbs: VERBS,
    workingAfterMs: options.workingAfterMs ?? WORKING_AFTER_MS,
    requestId: newRequestId,
    backendError: (error) => operator.backendError(error),
    mutations: { confirmations, hotApply },
    alerts,
    chat,
    track: (work) => {
      inflight.add(work);
      work.finally(() => inflight.delete(work)).catch(() => {});
    },
  };
  app.use(refuseWhileDraining(() => phase === "draining" || phase === "stopped", logger));
  registerListeners(app, deps);

  // Backstop: listeners catch their own errors, so this sees middleware and authorization failures.
  app.error(async ({ error, body }: ExtendedErrorHandlerArgs) => {
    const requestId = newRequestId();
    metrics.unexpectedErrors.inc({ where: "bolt" });
    logger.error("unhandled error in Bolt", { requestId, code: error.code, type: body?.type, error });
    const responseUrl = (body as { response_url?: unknown } | undefined)?.response_url;
    if (typeof responseUrl !== "string") return;
    try {
      const response = await fetchFn(responseUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          ...unexpectedErrorMessage(requestId),
          response_type: "ephemeral",
          replace_original: false,
        }),
      });
      if (!response.ok) throw new Error(`response_url answered HTTP ${response.status}`);
    } catch (respondError) {
      metrics.slackApiErrors.inc({ method: "response_url", reason: "backstop" });
      logger.warn("could not post the error message to response_url", { requestId, error: respondError });
    }
  });

  let started = false;
  return {
    app,
    settings,
    metrics,
    logger,
    confirmations,
    followers,
    digests,
    alerts,
    admin,
    phase: () => phase,
    async start() {
      if (!knowsBot) {
        try {
          await app.init();
        } catch (error) {
          const code = (error as { data?: { error?: string } }).data?.error ?? (error as Error).message;
          throw new Error(
            `Slack rejected the bot token at start-up (auth.test: ${code}); check SLACK_BOT_TOKEN ` +
              "(or set SLACK_BOT_ID and SLACK_BOT_USER_ID to skip the check)",
            { cause: error },
          );
        }
      }
      await new Promise<void>((resolve, reject) => {
        admin.once("error", reject);
        admin.listen(adminPort, settings.host ?? undefined, () => {
          admin.off("error", reject);
          resolve();
        });
      });
      const adminAt = portOf(admin) as number;
      const sweep = () => {
        confirmations.startSweeper(options.sweepIntervalMs ?? SWEEP_INTERVAL_MS);
        if (config.digests.length > 0 && options.digestSchedules !== false) digests.start();
        if (options.alertSchedules !== false) alerts.start();
      };
      try {
        if (settings.mode === "socket") {
          await app.start();
          started = true;
          sweep();
          setPhase("serving");
          return { port: null, adminPort: adminAt };
        }
        const listen = settings.host ? { port: settings.port, host: settings.host } : settings.port;
        const server = (await app.start(listen as number)) as Server;
        await listening(server);
        started = true;
        sweep();
        setPhase("serving");
        return { port: portOf(server), adminPort: adminAt };
      } catch (error) {
        admin.close();
        admin.closeAllConnections();
        throw error;
      }
    },
    async stop() {
      if (phase === "stopped") return { drained: true };
      // Readiness fails at once; new commands and clicks are told the bot is restarting.
      setPhase("draining");
      confirmations.stopSweeper();
      // A bulk retry stops after its current batch, so the drain ends it whole, its card final.
      confirmations.windDown();
      followers.stopAll();
      const deadline = Date.now() + drainMs;
      const until = (work: Promise<unknown>, ms: number): Promise<boolean> =>
        withTimeout(
          work.then(() => true),
          Math.max(ms, 0),
          () => false,
        );
      // Digest posts in flight finish (their slot records the post); no new slot is claimed.
      // Alert checks and card edits in flight finish too; no new tick starts.
      const digestsStopped = Promise.all([
        digests.stop().catch((error: unknown) => logger.warn("stopping digests failed", { error })),
        alerts.stop().catch((error: unknown) => logger.warn("stopping alerts failed", { error })),
      ]);
      if (inflight.size > 0)
        logger.info("draining: waiting for work in flight", { count: inflight.size, drainMs });
      // Work taken just before the drain began may still register: look again until none is left.
      let drained = await until(digestsStopped, deadline - Date.now());
      while (drained && inflight.size > 0 && Date.now() < deadline) {
        drained = await until(Promise.allSettled([...inflight]), deadline - Date.now());
      }
      drained &&= inflight.size === 0;
      if (!drained) {
        logger.warn("the drain ran out; closing what still executes here as interrupted", {
          inflight: inflight.size,
          drainMs,
        });
        const closing = Promise.all([
          confirmations
            .interruptRunning()
            .then((count) => logger.info("closed interrupted requests", { count }))
            .catch((error: unknown) => logger.error("could not close interrupted requests", { error })),
          // Digest slots still posting here go back to the other replicas now, not after the lease.
          digests
            .releaseClaims()
            .then((slots) => slots.length > 0 && logger.info("released digest slots", { slots }))
            .catch((error: unknown) => logger.error("could not release digest slots", { error })),
          // Alert check leases go back too: another replica checks those schemas at its next tick.
          alerts
            .releaseClaims()
            .then((count) => count > 0 && logger.info("released alert check leases", { count }))
            .catch((error: unknown) => logger.error("could not release alert check leases", { error })),
        ]);
        await until(closing, INTERRUPT_MS);
      }
      if (started) {
        started = false;
        const server = routesServer();
        const closed = server?.listening ? new Promise((resolve) => server.once("close", resolve)) : null;
        await until(app.stop(), INTERRUPT_MS);
        server?.closeAllConnections?.();
        await closed;
      }
      setPhase("stopped");
      if (admin.listening) {
        const closed = new Promise((resolve) => admin.close(resolve));
        admin.closeAllConnections();
        await closed;
      }
      return { drained };
    },
  };
}
