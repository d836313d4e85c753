// Reading @slack/web-api's errors, for every caller of the Web API (the bot's chat, the digest
// poster): shared here so the digest does not import Slack code.

/**
 * Milliseconds Slack asked to wait before trying again, when `error` says the call was rate
 * limited (and so was not carried out), also behind a SlackCallError; null for any other error.
 * Retry-After, else 1 s.
 */
export function rateLimitWait(error: unknown): number | null {
  const e = (error instanceof SlackCallError ? error.cause : error) as {
    code?: string;
    retryAfter?: unknown;
    data?: { error?: string };
  } | null;
  if (e?.code === "slack_webapi_rate_limited_error") {
    const seconds = typeof e.retryAfter === "number" && e.retryAfter > 0 ? e.retryAfter : 1;
    return seconds * 1000;
  }
  if (e?.code === "slack_webapi_platform_error" && e.data?.error === "ratelimited") return 1000;
  return null;
}

/** A Slack call that failed for good: `reason` is Slack's error code, `http_503`, `ratelimited`… */
export class SlackCallError extends Error {
  override readonly name = "SlackCallError";
  constructor(
    readonly method: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${method} failed: ${reason}`, options);
  }
}
