// Posting a digest: the parent with chat.postMessage, then each detail message as a thread reply,
// one after another, at most about one message per second per channel (spec slack-platform §5).
// A 429 waits Retry-After and tries again (bounded). Every ts is handed to `record` as soon as
// Slack returns it, and a retried slot passes the recorded ts back in `posted`: posting resumes
// after the last recorded message instead of starting over, so nothing is posted twice.
// Between the post and the record there is a window (the replica dies, the answer is lost): each
// post is written ahead with `intent` and carries message metadata naming its slot and part, so
// the next attempt can find it in Slack (recover.ts) instead of posting it a second time.
import type { SlackMessage } from "../../views/types.ts";
import { rateLimitWait } from "../slackErrors.ts";
import type { MessageEvent, PostClient, PostMessageArgs, Sleep } from "./port.ts";

export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** chat.postMessage allows about one message per second per channel. */
export const POST_INTERVAL_MS = 1000;
/** 429 answers tolerated per message before the attempt fails (the slot is retried later). */
export const MAX_RATE_LIMIT_RETRIES = 3;
/** A Retry-After longer than this is capped: the slot's grace window is the real limit. */
export const MAX_RETRY_AFTER_MS = 120_000;

/** Spaces posts to the same channel at least `intervalMs` apart, across every digest of a runner. */
export interface ChannelPacer {
  turn(channel: string): Promise<void>;
}

export function createPacer(options: {
  sleep: Sleep;
  intervalMs?: number;
  now?: () => number;
}): ChannelPacer {
  const interval = options.intervalMs ?? POST_INTERVAL_MS;
  const now = options.now ?? (() => performance.now());
  const last = new Map<string, number>();
  const queues = new Map<string, Promise<void>>();
  return {
    turn(channel) {
      const mine = (queues.get(channel) ?? Promise.resolve()).then(async () => {
        const previous = last.get(channel);
        const wait = previous === undefined ? 0 : previous + interval - now();
        if (wait > 0) await options.sleep(wait);
        last.set(channel, now());
      });
      queues.set(
        channel,
        mine.catch(() => {}),
      );
      return mine;
    },
  };
}

/** Milliseconds Slack asked us to wait (capped), when the error is a rate limit; null otherwise. */
export function rateLimitDelay(error: unknown): number | null {
  const wait = rateLimitWait(error);
  return wait === null ? null : Math.min(wait, MAX_RETRY_AFTER_MS);
}

/** The claim on the slot was taken over by another replica: stop posting. */
export class ClaimLostError extends Error {
  override readonly name = "ClaimLostError";
}

/** Slack answered a post with an error: the message was not posted. */
export class SlackRefusedError extends Error {
  override readonly name = "SlackRefusedError";
}

/** Slack's answers that may come after part of the work was done (docs: fatal_error). */
const MAYBE_DONE = new Set(["internal_error", "fatal_error", "service_unavailable", "request_timeout"]);

/**
 * Whether a failed chat.postMessage certainly posted nothing: Slack answered it with an error (or a
 * 429). A lost answer, a timeout or a 5xx may have posted it.
 */
export function certainlyNotPosted(error: unknown): boolean {
  if (error instanceof SlackRefusedError) return true;
  const e = error as { code?: string; data?: { error?: string } } | null;
  if (e?.code === "slack_webapi_rate_limited_error") return true;
  return e?.code === "slack_webapi_platform_error" && !MAYBE_DONE.has(e.data?.error ?? "");
}

export interface PostDigestOptions {
  client: PostClient;
  channel: string;
  /** The parent first, then the thread replies. */
  messages: readonly SlackMessage[];
  /** ts already posted for this slot by an earlier attempt, in order. */
  posted: readonly string[];
  /** Stores every ts posted so far; `complete` once the last one is in. False: the claim was lost. */
  record(ts: string[], complete: boolean): Promise<boolean>;
  /** Written ahead of each post of message `index` (0 = the parent). False: the claim was lost. */
  intent?(index: number): Promise<boolean>;
  /** Metadata for message `index`, so a later attempt can find it in Slack. */
  metadata?(index: number): MessageEvent;
  pacer: ChannelPacer;
  sleep: Sleep;
  maxRetries?: number;
  onRetry?(reason: "rate_limited", delayMs: number): void;
}

export interface PostResult {
  /** Every ts of the slot, the parent first. */
  ts: string[];
  /** Messages this call posted (the others were posted by an earlier attempt). */
  postedNow: number;
}

async function postOne(options: PostDigestOptions, args: PostMessageArgs, index: number): Promise<string> {
  const max = options.maxRetries ?? MAX_RATE_LIMIT_RETRIES;
  for (let attempt = 0; ; attempt++) {
    await options.pacer.turn(options.channel);
    // Written ahead, right before the request leaves: from here on it may be in Slack.
    if (options.intent && !(await options.intent(index))) {
      throw new ClaimLostError("the slot was taken over by another replica");
    }
    let answer: { ok?: boolean; ts?: string; error?: string };
    try {
      answer = await options.client.chat.postMessage(args);
    } catch (error) {
      const delay = rateLimitDelay(error);
      if (delay === null || attempt >= max) throw error;
      options.onRetry?.("rate_limited", delay);
      await options.sleep(delay);
      continue;
    }
    if (answer.ok === false && answer.error === "ratelimited" && attempt < max) {
      options.onRetry?.("rate_limited", 1000);
      await options.sleep(1000);
      continue;
    }
    if (answer.ok === false) throw new SlackRefusedError(`chat.postMessage did not post (${answer.error})`);
    if (typeof answer.ts !== "string") throw new Error("chat.postMessage did not post (no ts in the answer)");
    return answer.ts;
  }
}

/** Posts what is left of a digest, recording each ts as soon as it is known. */
export async function postDigest(options: PostDigestOptions): Promise<PostResult> {
  const ts = [...options.posted];
  const total = options.messages.length;
  if (ts.length >= total) {
    if (!(await options.record(ts, true)))
      throw new ClaimLostError("the slot was taken over by another replica");
    return { ts, postedNow: 0 };
  }
  let postedNow = 0;
  for (let i = ts.length; i < total; i++) {
    const message = options.messages[i] as SlackMessage;
    const parent = ts[0];
    let posted: string;
    try {
      posted = await postOne(
        options,
        {
          channel: options.channel,
          text: message.text,
          blocks: message.blocks,
          ...(i > 0 && parent ? { thread_ts: parent } : {}),
          ...(options.metadata ? { metadata: options.metadata(i) } : {}),
          unfurl_links: false,
          unfurl_media: false,
        },
        i,
      );
    } catch (error) {
      // Slack said no: nothing is out there to look for later (clears the write-ahead mark).
      if (options.intent && certainlyNotPosted(error))
        await options.record([...ts], false).catch(() => false);
      throw error;
    }
    ts.push(posted);
    postedNow += 1;
    if (!(await options.record([...ts], i === total - 1))) {
      throw new ClaimLostError("the slot was taken over by another replica");
    }
  }
  return { ts, postedNow };
}
