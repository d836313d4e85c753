// Messages the bot posts and edits itself (confirmation cards, verification replies, modals) and
// the Slack reads it makes, through @slack/web-api's own retries (retryConfig): a 429 waits as
// long as Retry-After says, a 5xx or a network error backs off exponentially, and what cannot go
// away (channel_not_found, not_in_channel, message_not_found…) is not retried. Each retry is
// counted by method and reason, each 429 by the client's rate_limited event.
// The one policy the SDK lacks: chat.postMessage is never retried blindly. A post whose answer was
// lost may have been posted, so its client tries once; only a 429 (nothing was posted) is sent
// again after a short Retry-After, a longer one goes back (SlackCallError "ratelimited",
// Retry-After in rateLimitWait) to a caller that paces itself.
import { setTimeout as sleep } from "node:timers/promises";
import { webApi } from "@slack/bolt";
import type { SlackMessage } from "../../views/types.ts";
import type { Logger } from "../log.ts";
import { type Metrics, methodLabel, reasonLabel } from "../metrics.ts";
import { rateLimitWait, SlackCallError } from "../slackErrors.ts";

type WebClient = InstanceType<typeof webApi.WebClient>;
type WebClientOptions = NonNullable<ConstructorParameters<typeof webApi.WebClient>[1]>;
type RetryOptions = NonNullable<WebClientOptions["retryConfig"]>;

/** Methods whose lost answer may mean they were carried out: tried once, never retried. */
const NEVER_RETRIED: ReadonlySet<string> = new Set(["chat.postMessage"]);

export interface ChatOptions {
  token: string | undefined;
  /** For every client chat creates: slackApiUrl, fetch, logger, logLevel… (timeout default 10 s). */
  client?: Omit<WebClientOptions, "retryConfig" | "rejectRateLimitedCalls">;
  metrics: Metrics;
  logger: Logger;
  /** Attempts per call, the first included (default 5). */
  maxAttempts?: number;
  /** First backoff after a 5xx or network error; doubles each time (default 500 ms). */
  baseDelayMs?: number;
  /** A post rate limited for at most this long is sent again after the pause (default 10 s). */
  maxPostWaitMs?: number;
}

/** A message event attached to a post (returned by history reads). */
export interface MessageMetadata {
  event_type: string;
  event_payload: Record<string, string | number | boolean>;
}

export interface Chat {
  /**
   * Posts in a channel (in a thread with `threadTs`) and returns the new message's ts. Tried
   * once: on any failure the message may or may not be in Slack, except on a 429 (not posted).
   */
  post(
    channel: string,
    message: SlackMessage,
    options?: { threadTs?: string | null; metadata?: MessageMetadata },
  ): Promise<string>;
  /** Replaces a message the bot posted. */
  update(channel: string, ts: string, message: SlackMessage): Promise<void>;
  /** A message only `user` sees (not editable later). */
  ephemeral(
    channel: string,
    user: string,
    message: SlackMessage,
    options?: { threadTs?: string | null },
  ): Promise<void>;
  /** A page of a channel's history or of a thread's replies (with `ts`). */
  history<T = Record<string, unknown>>(
    method: "conversations.history" | "conversations.replies",
    args: Record<string, unknown>,
  ): Promise<T>;
  /** Any other Web API method, with the same retries (fewer with `maxAttempts`: views.open cannot wait). */
  call<T = Record<string, unknown>>(
    method: string,
    args: Record<string, unknown>,
    options?: { maxAttempts?: number },
  ): Promise<T>;
}

/** The reason a Slack call failed, as the metrics and SlackCallError name it. */
function reasonOf(error: unknown): string {
  const e = error as {
    code?: string;
    statusCode?: number;
    original?: { message?: string };
    data?: { error?: string };
  };
  switch (e?.code) {
    case "slack_webapi_rate_limited_error":
      return "ratelimited";
    case "slack_webapi_http_error":
      return `http_${e.statusCode ?? 0}`;
    case "slack_webapi_request_error":
      // The SDK waited out a 429 and signals its retry with this error.
      return /^A rate limit was exceeded/.test(e.original?.message ?? "") ? "ratelimited" : "network";
    case "slack_webapi_platform_error":
      return e.data?.error ?? "unknown";
    default:
      return "unexpected";
  }
}

/** Counts every 429 a client sees, and the seconds Slack asked it to wait, by method. */
export function countRateLimits(client: WebClient, metrics: Metrics): void {
  client.on(webApi.WebClientEvent.RATE_LIMITED, (retryAfter: number, request: { url?: string }) => {
    const method = methodLabel(
      String(request?.url ?? "")
        .split("/")
        .pop() ?? "",
    );
    metrics.slackRateLimited.inc({ method });
    metrics.slackRateLimitWaitSeconds.inc({ method }, retryAfter);
  });
}

export function createChat(options: ChatOptions): Chat {
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxPostWaitMs = options.maxPostWaitMs ?? 10_000;
  const { metrics, logger } = options;

  // One client per method and attempt budget: the SDK pauses a client's whole queue while it
  // waits out a 429, and Slack rate-limits each method on its own, so a rate-limited chat.update
  // never holds up a views.open whose trigger expires in 3 s.
  const clients = new Map<string, WebClient>();
  const clientFor = (method: string, attempts: number): WebClient => {
    const key = `${method}/${attempts}`;
    const existing = clients.get(key);
    if (existing) return existing;
    type FailedAttempt = Error & { attemptNumber?: number; retriesLeft?: number };
    const retryConfig: RetryOptions & { onFailedAttempt(error: FailedAttempt): void } = {
      retries: attempts - 1,
      factor: 2,
      minTimeout: baseDelayMs,
      randomize: false,
      unref: true,
      // p-retry's hook (the SDK hands retryConfig to p-retry): called after each failed attempt.
      onFailedAttempt: (error) => {
        if ((error.retriesLeft ?? 0) <= 0) return;
        const reason = reasonOf(error);
        metrics.slackRetries.inc({ method, reason: reasonLabel(reason) });
        logger.info("retrying a Slack call", { method, reason, attempt: error.attemptNumber });
      },
    };
    const client = new webApi.WebClient(options.token, {
      timeout: 10_000,
      ...options.client,
      retryConfig,
      // A call tried once gets a 429 back at once; otherwise the SDK waits Retry-After and retries.
      rejectRateLimitedCalls: attempts === 1,
    });
    countRateLimits(client, metrics);
    clients.set(key, client);
    return client;
  };

  const call = async <T>(
    method: string,
    args: Record<string, unknown>,
    opts: { maxAttempts?: number } = {},
  ): Promise<T> => {
    const attempts = NEVER_RETRIED.has(method)
      ? 1
      : Math.max(1, Math.min(opts.maxAttempts ?? maxAttempts, maxAttempts));
    try {
      return (await clientFor(method, attempts).apiCall(method, args)) as T;
    } catch (error) {
      const reason = reasonOf(error);
      const tried = (error as { attemptNumber?: number }).attemptNumber ?? 1;
      logger.warn("Slack call failed", { method, reason, attempts: tried, error });
      throw new SlackCallError(method, reason, { cause: error });
    }
  };

  return {
    async post(channel, message, opts = {}) {
      const args = {
        channel,
        text: message.text,
        blocks: message.blocks,
        ...(opts.threadTs ? { thread_ts: opts.threadTs } : {}),
        ...(opts.metadata ? { metadata: opts.metadata } : {}),
        unfurl_links: false,
        unfurl_media: false,
      };
      // A 429 is the one failure that proves nothing was posted: only then is a post sent again,
      // after Slack's pause when it is short; a longer one goes back to the caller to pace itself.
      for (let attempt = 1; ; attempt++) {
        try {
          const result = await call<{ ts?: string }>("chat.postMessage", args);
          if (typeof result.ts !== "string") throw new SlackCallError("chat.postMessage", "no_ts_returned");
          return result.ts;
        } catch (error) {
          const wait = rateLimitWait(error);
          if (wait === null || wait > maxPostWaitMs || attempt >= maxAttempts) throw error;
          metrics.slackRetries.inc({ method: "chat.postMessage", reason: "ratelimited" });
          await sleep(wait);
        }
      }
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
    history: (method, args) => call(method, args),
    call,
  };
}
