// The Slack side of the configuration, from the environment: tokens, mode (HTTP or Socket Mode),
// port, and the Web API base URL. Every problem is reported at once, naming the variables.
export type SlackMode = "http" | "socket";

export interface SlackSettings {
  mode: SlackMode;
  botToken: string;
  /** Required in HTTP mode; unused in Socket Mode (the socket is authenticated by the app token). */
  signingSecret: string | null;
  appToken: string | null;
  /** Web API base URL with a trailing slash; null means Slack's own. */
  apiUrl: string | null;
  /** Both or neither: with both, Bolt skips auth.test and never reaches Slack at start-up. */
  botId: string | null;
  botUserId: string | null;
  /** HTTP port of /slack/events (unused in Socket Mode; /healthz, /readyz, /metrics are on ADMIN_PORT). */
  port: number;
  /** Interface to bind in HTTP mode; null binds every interface. */
  host: string | null;
}

export class SlackSetupError extends Error {
  override readonly name = "SlackSetupError";
}

export const SLACK_ENV_HELP =
  "HTTP mode needs SLACK_BOT_TOKEN (xoxb-…) and SLACK_SIGNING_SECRET; Socket Mode needs SLACK_BOT_TOKEN " +
  "and SLACK_APP_TOKEN (xapp-…, an app-level token with connections:write). Optional: PORT (default 3000, " +
  "the HTTP port of /slack/events; unused in Socket Mode), HOST (bind address), SLACK_BOT_ID and " +
  "SLACK_BOT_USER_ID (skip auth.test at start-up), SLACK_API_URL, LOG_LEVEL (debug, info, warn, error).";

function value(env: NodeJS.ProcessEnv, name: string): string | null {
  const v = env[name]?.trim();
  return v ? v : null;
}

/** True when the environment names any Slack credential (without one, `npm start` runs the sandbox). */
export function hasSlackCredentials(env: NodeJS.ProcessEnv): boolean {
  return ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"].some((name) => value(env, name));
}

export function slackSettings(env: NodeJS.ProcessEnv): SlackSettings {
  const problems: string[] = [];
  const botToken = value(env, "SLACK_BOT_TOKEN");
  const signingSecret = value(env, "SLACK_SIGNING_SECRET");
  const appToken = value(env, "SLACK_APP_TOKEN");
  const mode: SlackMode = appToken ? "socket" : "http";

  if (!botToken) problems.push("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)");
  if (mode === "http" && !signingSecret) {
    problems.push(
      "SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request with it " +
        "(Basic Information → Signing Secret), or set SLACK_APP_TOKEN to use Socket Mode",
    );
  }
  if (appToken && !appToken.startsWith("xapp-")) {
    problems.push("SLACK_APP_TOKEN must be an app-level token (xapp-…) with the connections:write scope");
  }

  const rawPort = value(env, "PORT");
  const port = rawPort === null ? 3000 : Number(rawPort);
  if (!/^[0-9]{1,5}$/.test(rawPort ?? "0") || port > 65_535) {
    problems.push(`PORT must be a port number between 0 and 65535, got "${rawPort}"`);
  }

  let apiUrl = value(env, "SLACK_API_URL");
  if (apiUrl) {
    try {
      const u = new URL(apiUrl);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http");
      apiUrl = apiUrl.endsWith("/") ? apiUrl : `${apiUrl}/`;
    } catch {
      problems.push(`SLACK_API_URL must be an http(s) URL such as https://slack.com/api/, got "${apiUrl}"`);
    }
  }

  const botId = value(env, "SLACK_BOT_ID");
  const botUserId = value(env, "SLACK_BOT_USER_ID");
  if ((botId === null) !== (botUserId === null)) {
    problems.push("set both SLACK_BOT_ID and SLACK_BOT_USER_ID (to skip auth.test at start-up), or neither");
  }

  if (problems.length > 0) throw new SlackSetupError(`Slack settings: ${problems.join("; ")}`);
  return {
    mode,
    botToken: botToken as string,
    signingSecret,
    appToken,
    apiUrl,
    botId,
    botUserId,
    port,
    host: value(env, "HOST"),
  };
}
