// Finding a digest message whose post was sent but whose ts was never recorded (the replica died,
// or the answer was lost, between chat.postMessage and the record). Every digest message carries
// Slack message metadata naming its digest, slot and part; the parent is looked for in
// conversations.history from just before the post was written ahead, a thread reply in
// conversations.replies of its parent. Reads are few (only after such a crash), bounded in pages,
// and honour 429s. An answer that says history cannot be read here (a missing scope, the bot not
// in the channel…) is permanent: the caller must not post again blindly.
import type { ChatClient, HistoryArgs, HistoryMessage, HistoryPage, MessageEvent, Sleep } from "./port.ts";
import { rateLimitDelay } from "./poster.ts";

/** The metadata event type of every digest message. */
export const DIGEST_EVENT = "scrypath_digest";
/** Slack's clock and ours may disagree: look this far before the post was written ahead. */
export const CLOCK_SKEW_MS = 2 * 60_000;
/** Messages per history page (Slack recommends at most 200). */
export const PAGE_SIZE = 200;
/** Pages read at most: 2,000 messages since the crash; beyond that the post cannot be confirmed. */
export const MAX_PAGES = 10;
/** 429s tolerated per page before the read fails (a later tick tries again). */
export const MAX_HISTORY_RETRIES = 3;

/** Slack errors that will not go away by retrying: history cannot be read with this token here. */
const PERMANENT = new Set([
  "missing_scope",
  "not_in_channel",
  "channel_not_found",
  "not_authed",
  "invalid_auth",
  "account_inactive",
  "token_revoked",
  "token_expired",
  "no_permission",
  "not_allowed_token_type",
  "ekm_access_denied",
  "team_access_not_granted",
  "access_denied",
  "thread_not_found",
]);

/** History could not be read. `permanent`: retrying will not help (a scope or membership is missing). */
export class HistoryUnreadableError extends Error {
  override readonly name = "HistoryUnreadableError";
  constructor(
    message: string,
    readonly code: string,
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

export interface MessageRef {
  digest: string;
  slotKey: string;
  /** 0 = the parent, then each thread reply. */
  part: number;
}

export function digestMetadata(ref: MessageRef, parts: number): MessageEvent {
  return {
    event_type: DIGEST_EVENT,
    event_payload: { digest: ref.digest, slot: ref.slotKey, part: ref.part, parts },
  };
}

function isMessage(m: HistoryMessage, ref: MessageRef): boolean {
  const meta = m.metadata;
  const payload = meta?.event_payload;
  return (
    meta?.event_type === DIGEST_EVENT &&
    payload?.digest === ref.digest &&
    payload?.slot === ref.slotKey &&
    Number(payload?.part) === ref.part
  );
}

/** Slack's `oldest` for a time: seconds with microseconds. */
export function slackTs(at: Date): string {
  return (Math.max(0, at.getTime()) / 1000).toFixed(6);
}

function unreadable(method: string, error: unknown): HistoryUnreadableError {
  const e = error as { code?: string; data?: { error?: string; needed?: string }; message?: string } | null;
  const code =
    e?.code === "slack_webapi_platform_error"
      ? (e.data?.error ?? "unknown_error")
      : e?.code === "slack_webapi_http_error"
        ? "http_error"
        : e?.code === "slack_webapi_rate_limited_error"
          ? "ratelimited"
          : "request_failed";
  const needed = e?.data?.needed ? ` (needs ${e.data.needed})` : "";
  const detail = code === "request_failed" || code === "http_error" ? `: ${e?.message ?? String(error)}` : "";
  return new HistoryUnreadableError(
    `${method} failed with ${code}${needed}${detail}`.split("\n")[0] as string,
    code,
    PERMANENT.has(code),
  );
}

async function page(
  method: "conversations.history" | "conversations.replies",
  read: () => Promise<HistoryPage>,
  sleep: Sleep,
): Promise<HistoryPage> {
  for (let attempt = 0; ; attempt++) {
    let answer: HistoryPage;
    try {
      answer = await read();
    } catch (error) {
      const delay = rateLimitDelay(error);
      if (delay !== null && attempt < MAX_HISTORY_RETRIES) {
        await sleep(delay);
        continue;
      }
      throw unreadable(method, error);
    }
    if (answer.ok === false) {
      throw unreadable(method, { code: "slack_webapi_platform_error", data: { error: answer.error } });
    }
    return answer;
  }
}

/**
 * The ts of the first message `matches` accepts among the bot's messages since `since` (minus the
 * clock skew): in the channel's history, or in the thread of `parentTs` when given. Throws
 * HistoryUnreadableError when Slack cannot be read, or when it has more than MAX_PAGES pages since
 * then. Shared by digests and alerts: both find a post whose answer never came back this way.
 */
export async function findByMetadata(input: {
  client: ChatClient;
  channel: string;
  since: Date;
  parentTs: string | null;
  matches: (message: HistoryMessage) => boolean;
  sleep: Sleep;
}): Promise<string | null> {
  const { client, channel, sleep } = input;
  const conversations = client.conversations;
  if (!conversations) {
    throw new HistoryUnreadableError("this Slack client cannot read history", "no_history_client", true);
  }
  const parentTs = input.parentTs;
  const method = parentTs === null ? "conversations.history" : "conversations.replies";
  const base: HistoryArgs = {
    channel,
    oldest: slackTs(new Date(input.since.getTime() - CLOCK_SKEW_MS)),
    limit: PAGE_SIZE,
    include_all_metadata: true,
  };
  let cursor: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const args = { ...base, ...(cursor ? { cursor } : {}) };
    const answer = await page(
      method,
      () =>
        parentTs === null ? conversations.history(args) : conversations.replies({ ...args, ts: parentTs }),
      sleep,
    );
    const found = (answer.messages ?? []).find(input.matches);
    if (found?.ts) return found.ts;
    cursor = answer.response_metadata?.next_cursor || undefined;
    if (!answer.has_more || !cursor) return null;
  }
  throw new HistoryUnreadableError(
    `${method} has more than ${MAX_PAGES * PAGE_SIZE} messages since the post; it was not searched further`,
    "too_many_messages",
    true,
  );
}

/**
 * The ts of message `ref.part` of a digest slot if it is in Slack, else null. `since` is when its
 * post was written ahead; `parentTs` is needed for a thread reply. Throws HistoryUnreadableError
 * when Slack cannot be read, or when it has more than MAX_PAGES pages since then.
 */
export async function findPosted(input: {
  client: ChatClient;
  channel: string;
  ref: MessageRef;
  since: Date;
  parentTs: string | null;
  sleep: Sleep;
}): Promise<string | null> {
  const { ref } = input;
  if (ref.part > 0 && !input.parentTs) throw new Error("a thread reply is looked for in its parent's thread");
  return findByMetadata({
    client: input.client,
    channel: input.channel,
    since: input.since,
    parentTs: ref.part === 0 ? null : (input.parentTs as string),
    matches: (m) => isMessage(m, ref),
    sleep: input.sleep,
  });
}
