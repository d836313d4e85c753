// Messages the bot posts and edits itself (confirmation cards, verification replies): chat.postMessage,
// chat.update and chat.postEphemeral with bounded retries. A 429 waits as long as Retry-After says;
// a 5xx or a network error backs off exponentially; anything else (channel_not_found, not_in_channel,
// message_not_found…) is not retried. Only the Slack call is repeated: callers do their own work once.
// The WebClient given here must not retry by itself (retries: 0, rejectRateLimitedCalls: true).
import { setTimeout as sleep } from "node:timers/promises";
import type { webApi } from "@slack/bolt";
import type { SlackMessage } from "../../views/types.ts";
import type { Logger } from "../log.ts";
import { type Metrics, reasonLabel } from "../metrics.ts";
import { rateLimitWait } from "../slackErrors.ts";

type WebClient = InstanceType<typeof webApi.WebClient>;

/** Options for the bot's own WebClient: no hidden retries, a bounded wait for each call. */
export const NO_RETRY_CLIENT_OPTIONS = {
  retryConfig: { retries: 0 },
  rejectRateLimitedCalls: true,
  timeout: 10_000,
} as const;

export interface ChatOptions {
  client: WebClient;
  metrics: Metrics;
  logger: Logger;
  /** Attempts per call, the first included (default 5). */
  maxAttempts?: number;
  /** First backoff after a 5xx or network error; doubles each time (default 500 ms). */
  baseDelayMs?: number;
  /** A Retry-After longer than this is not waited for: the call fails (default 60 s). */
  maxWaitMs?: number;
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

export interface Chat {
  /** Posts in a channel (in a thread with `threadTs`) and returns the new message's ts. */
  post(channel: string, message: SlackMessage, options?: { threadTs?: string | null }): Promise<string>;
  /** Replaces a message the bot posted. */
  update(channel: string, ts: string, message: SlackMessage): Promise<void>;
  /** A message only `user` sees (not editable later). */
  ephemeral(
    channel: string,
    user: string,
    message: SlackMessage,
    options?: { threadTs?: string | null },
  ): Promise<void>;
  /** Any other Web API method, with the same retries (fewer with `maxAttempts`: views.open cannot wait). */
  call<T = Record<string, unknown>>(
    method: string,
    args: Record<string, unknown>,
    options?: { maxAttempts?: number },
  ): Promise<T>;
}

/** Slack error codes that say "try again later" rather than "this cannot work". */
// ("ratelimited" is read by rateLimitWait, before these.)
const TRANSIENT_CODES = new Set(["internal_error", "fatal_error", "service_unavailable"]);

interface Verdict {
  reason: string;
  /** Wait this long and retry; null: give up. */
  waitMs: number | null;
}

function classify(
  error: unknown,
  attempt: number,
  options: Required<Omit<ChatOptions, "client" | "metrics" | "logger">>,
): Verdict {
  const e = error as {
    code?: string;
    retryAfter?: number;
    statusCode?: number;
    headers?: Record<string, string>;
    data?: { error?: string };
  };
  const backoff = options.baseDelayMs * 2 ** (attempt - 1);
  const rateLimited = rateLimitWait(error);
  if (rateLimited !== null) {
    return { reason: "ratelimited", waitMs: rateLimited <= options.maxWaitMs ? rateLimited : null };
  }
  switch (e?.code) {
    case "slack_webapi_http_error": {
      const status = e.statusCode ?? 0;
      const after = Number(e.headers?.["retry-after"]);
      const wait = Number.isFinite(after) && after > 0 ? after * 1000 : backoff;
      return { reason: `http_${status}`, waitMs: status >= 500 && wait <= options.maxWaitMs ? wait : null };
    }
    case "slack_webapi_request_error":
      return { reason: "network", waitMs: backoff };
    case "slack_webapi_platform_error": {
      const code = e.data?.error ?? "unknown";
      return { reason: code, waitMs: TRANSIENT_CODES.has(code) ? backoff : null };
    }
    default:
      return { reason: "unexpected", waitMs: null };
  }
}

export function createChat(options: ChatOptions): Chat {
  const settings = {
    maxAttempts: options.maxAttempts ?? 5,
    baseDelayMs: options.baseDelayMs ?? 500,
    maxWaitMs: options.maxWaitMs ?? 60_000,
  };
  const { client, metrics, logger } = options;

  const call = async <T>(
    method: string,
    args: Record<string, unknown>,
    opts: { maxAttempts?: number } = {},
  ): Promise<T> => {
    const attempts = Math.min(opts.maxAttempts ?? settings.maxAttempts, settings.maxAttempts);
    for (let attempt = 1; ; attempt++) {
      try {
        return (await client.apiCall(method, args)) as T;
      } catch (error) {
        const verdict = classify(error, attempt, settings);
        if (verdict.waitMs === null || attempt >= attempts) {
          logger.warn("Slack call failed", { method, reason: verdict.reason, attempts: attempt, error });
          throw new SlackCallError(method, verdict.reason, { cause: error });
        }
        metrics.slackRetries.inc({ method, reason: reasonLabel(verdict.reason) });
        logger.info("retrying a Slack call", {
          method,
          reason: verdict.reason,
          attempt,
          waitMs: verdict.waitMs,
        });
        // Unref'd: a pending retry never keeps the process alive on its own.
        await sleep(verdict.waitMs, undefined, { ref: false });
      }
    }
  };

  return {
    async post(channel, message, opts = {}) {
      const result = await call<{ ts?: string }>("chat.postMessage", {
        channel,
        text: message.text,
        blocks: message.blocks,
        ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
        unfurl_links: false,
        unfurl_media: false,
      });
      if (typeof result.ts !== "string") throw new SlackCallError("chat.postMessage", "no_ts_returned");
      return result.ts;
    },
    async update(channel, ts, message) {
      await call("chat.update", { channel, ts, text: message.text, blocks: message.blocks });
    },
    async ephemeral(channel, user, message, opts = {}) {
      await call("chat.postEphemeral", {
        channel,
        user,
        text: message.text,
        blocks: message.blocks,
        ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
      });
    },
    call,
  };
}
