// A local stand-in for Slack on 127.0.0.1, for the sandbox and the tests: the Web API under
// /api/<method> (what the bot's WebClient calls when SLACK_API_URL points here) and response_url
// endpoints under /respond/<id> (what Bolt's respond() posts to). It records every call, can be told
// to fail, and keeps the conversation as Slack would show it: channel messages with their ts, thread
// replies, ephemeral messages per user, and modals per user. Every change is announced on `changes`
// (the sandbox pushes them to its page).
//
// Message metadata (chat.postMessage `metadata`) is kept and returned by conversations.history and
// conversations.replies when asked (`include_all_metadata`), with `oldest` / `latest` / `limit` and
// cursor pagination as Slack pages them. `crashOn` plays a bot that dies around a call: the call is
// performed (or not) and its answer never comes back.
//
// Two personalities: lenient (the default, for tests that click buttons on messages the fake never
// saw) and `strict`, closer to Slack: unknown messages, channels, views and triggers are errors,
// triggers expire after 3 s and are single-use, a response_url serves 5 posts within 30 minutes.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ApiCall {
  method: string;
  body: Record<string, unknown>;
  token: string | null;
}

export interface ResponsePost {
  id: string;
  /** The JSON body the bot posted (text, blocks, response_type, replace_original…). */
  body: Record<string, unknown>;
  /** Status the fake answered with. */
  status: number;
}

export type Failure = { status: 429; retryAfter: number } | { status: number; error?: string };

interface FailureRule {
  failure: Failure;
  remaining: number;
  /** Only calls whose body matches fail (and count). */
  when?: (body: Record<string, unknown>) => boolean;
}

export interface SlackUser {
  id: string;
  name: string;
  realName: string;
  /** Shown by the sandbox next to the name ("operator", "not an operator"). */
  title?: string;
  tz?: string;
}

export interface SlackChannel {
  id: string;
  name: string;
}

export interface BotIdentity {
  userId: string;
  botId: string;
  name: string;
}

export interface Team {
  id: string;
  domain: string;
  name: string;
}

/** A message in a channel or a thread. */
export interface StoredMessage {
  channel: string;
  ts: string;
  /** The parent's ts for a thread reply; null for a message in the channel. */
  threadTs: string | null;
  /** Author: the bot's user id or a person's. */
  user: string;
  botId: string | null;
  text: string;
  blocks: unknown[];
  /** ts of the last edit (chat.update, replace_original), or null. */
  edited: string | null;
  /** Message metadata the app attached (chat.postMessage `metadata`), if any. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> } | null;
  /** Parents only: replies so far and the newest reply's ts. */
  replyCount: number;
  latestReply: string | null;
  /** A shared answer to a slash command: who ran which command. */
  via: { user: string; command: string } | null;
}

/** A message only `user` sees (chat.postEphemeral, response_url answers). */
export interface EphemeralMessage {
  id: string;
  channel: string;
  /** The only person who sees it. */
  user: string;
  ts: string;
  threadTs: string | null;
  /** Who it is from: the bot's user id, or USLACKBOT for Slack's own notes. */
  from: string;
  text: string;
  blocks: unknown[];
  edited: string | null;
}

/** An open modal, as views.open / views.update / views.push left it. */
export interface StoredView {
  id: string;
  hash: string;
  user: string;
  /** The view as the app sent it (type, title, blocks, submit, close, callback_id, private_metadata…). */
  view: Record<string, unknown>;
  rootViewId: string;
  previousViewId: string | null;
  externalId: string;
  /** Position in the user's stack of modals (0 = the root). */
  depth: number;
}

/** The conversation without its modals, for the sandbox's --data-dir (modals do not survive a restart). */
export interface ConversationSnapshot {
  version: 1;
  messages: StoredMessage[];
  ephemerals: EphemeralMessage[];
}

export type SlackChange =
  | { type: "message"; message: StoredMessage }
  | { type: "message_deleted"; channel: string; ts: string }
  | { type: "ephemeral"; message: EphemeralMessage }
  | { type: "ephemeral_deleted"; id: string; user: string }
  | { type: "view"; view: StoredView }
  | { type: "view_closed"; id: string; user: string };

/** What a button or message a response_url belongs to points at. */
export type MessageRef = { kind: "message"; channel: string; ts: string } | { kind: "ephemeral"; id: string };

export interface ResponseUrlContext {
  channel: string;
  /** Whoever invoked it: ephemeral answers go to them. */
  user: string;
  /** The message holding the clicked button; null for a slash command. */
  source: MessageRef | null;
  /** Thread of the source message, where new answers appear. */
  threadTs: string | null;
  /** The slash command text, shown above an in-channel answer. */
  command?: string;
}

interface ResponseUrlState extends ResponseUrlContext {
  createdAt: number;
  uses: number;
  /** What replace_original / delete_original act on: the source, else the last answer posted here. */
  target: MessageRef | null;
}

interface Trigger {
  user: string;
  issuedAt: number;
  used: boolean;
}

export interface FakeSlackOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free one). */
  port?: number;
  /** Behave like Slack where the lenient default would accept anything (see the file comment). */
  strict?: boolean;
  /** ts from the clock (`<unix seconds>.<micros>`) instead of a counter from 1700000001.000100. */
  realTime?: boolean;
  /** The clock (milliseconds) for ts when `realTime` (default Date.now): tests with a moved clock. */
  clock?: () => number;
  team?: Team;
  bot?: BotIdentity;
  users?: SlackUser[];
  channels?: SlackChannel[];
}

export const SLACKBOT = "USLACKBOT";
/** Slack's limits: a trigger_id lives 3 s; a response_url serves 5 posts within 30 minutes. */
export const TRIGGER_TTL_MS = 3_000;
export const RESPONSE_URL_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60_000;
const MAX_BLOCKS = { message: 50, modal: 100 };
/** conversations.history / replies: default and largest page (Slack: 100 and 999 for internal apps). */
const HISTORY_LIMIT = { default: 100, max: 999 };

/** Where a simulated crash happens around a call: before it reaches Slack, or after Slack did it. */
export type CrashPoint = "before" | "after";

const DEFAULT_BOT: BotIdentity = { userId: "U0BOT0000", botId: "B0BOT0000", name: "scrypath" };
const DEFAULT_TEAM: Team = { id: "T0TEAM000", domain: "scrypath-test", name: "Scrypath Test" };

type Answer = Record<string, unknown>;
const fail = (error: string, extra: Answer = {}): Answer => ({ ok: false, error, ...extra });

export class FakeSlack {
  readonly calls: ApiCall[] = [];
  readonly responses: ResponsePost[] = [];
  /** When set, API calls with another bearer token answer `invalid_auth`. */
  token: string | null = null;
  /** What `apps.connections.open` returns (the Socket Mode WebSocket URL). */
  socketUrl: string | null = null;
  /** Members returned by usergroups.users.list, per user group id. */
  readonly usergroups = new Map<string, string[]>();
  /** Every change of the conversation (messages, ephemerals, modals), as it happens. */
  readonly changes = new EventEmitter();

  readonly strict: boolean;
  readonly team: Team;
  readonly bot: BotIdentity;
  readonly users = new Map<string, SlackUser>();
  readonly channels = new Map<string, SlackChannel>();

  private server: Server;
  private port = 0;
  private readonly host: string;
  private readonly realTime: boolean;
  private readonly clock: () => number;
  private crashes = new Map<
    string,
    { at: CrashPoint; remaining: number; when?: (body: Record<string, unknown>) => boolean }
  >();
  private readonly held = new Set<ServerResponse>();
  private apiFailures = new Map<string, FailureRule>();
  private respondFailures = new Map<string, FailureRule>();
  private waiters: (() => void)[] = [];
  private postedMessages: { ts: string; body: Record<string, unknown> }[] = [];
  private updates: Record<string, unknown>[] = [];
  private counter = 1_700_000_000;
  private lastMicros = 0;
  /** Channel messages and replies, keyed `<channel>/<ts>`, in posting order. */
  private readonly messages = new Map<string, StoredMessage>();
  private readonly ephemerals = new Map<string, EphemeralMessage>();
  private readonly views = new Map<string, StoredView>();
  private readonly triggers = new Map<string, Trigger>();
  private readonly responseUrls = new Map<string, ResponseUrlState>();

  private constructor(options: FakeSlackOptions) {
    this.strict = options.strict ?? false;
    this.realTime = options.realTime ?? false;
    this.clock = options.clock ?? Date.now;
    this.host = options.host ?? "127.0.0.1";
    this.team = options.team ?? DEFAULT_TEAM;
    this.bot = options.bot ?? DEFAULT_BOT;
    for (const u of options.users ?? []) this.users.set(u.id, u);
    for (const c of options.channels ?? []) this.channels.set(c.id, c);
    this.changes.setMaxListeners(0);
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(String(error));
      });
    });
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const fake = new FakeSlack(options);
    await new Promise<void>((resolve, reject) => {
      fake.server.once("error", reject);
      fake.server.listen(options.port ?? 0, fake.host, () => resolve());
    });
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `http://${this.host}:${this.port}`;
  }

  /** The value for SLACK_API_URL. */
  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  // ── Test controls ──────────────────────────────────────────────────────────────────────────

  /** A fresh response_url that only records what is posted to it (under `id`). */
  responseUrl(id = randomBytes(6).toString("hex")): { id: string; url: string } {
    return { id, url: `${this.url}/respond/${id}` };
  }

  /**
   * The next `times` calls of `method` (those whose body matches `when`, if given) fail: 429 with
   * Retry-After, or an HTTP status / ok:false.
   */
  failApi(
    method: string,
    failure: Failure,
    times = 1,
    when?: (body: Record<string, unknown>) => boolean,
  ): void {
    this.apiFailures.set(method, { failure, remaining: times, ...(when ? { when } : {}) });
  }

  /**
   * The bot "dies" around the next `times` calls of `method` (whose body matches `when`): with
   * "after" Slack performs the call, with "before" it never sees it; either way no answer comes
   * back, and the connection is held open (as a dead process would leave it) until releaseCrashed().
   */
  crashOn(
    method: string,
    at: CrashPoint,
    when?: (body: Record<string, unknown>) => boolean,
    times = 1,
  ): void {
    this.crashes.set(method, { at, remaining: times, ...(when ? { when } : {}) });
  }

  /** Calls held by crashOn, not yet released. */
  get crashedCalls(): number {
    return this.held.size;
  }

  /** Forgets crashes set up with crashOn that have not happened yet. */
  cancelCrashes(): void {
    this.crashes.clear();
  }

  /** Drops the connections crashOn held: the caller (if it still lives) sees them reset. */
  releaseCrashed(): void {
    for (const res of this.held) res.destroy();
    this.held.clear();
  }

  /** The next `times` posts to response_url `id` get `status`. */
  failRespond(id: string, status: number, times = 1): void {
    this.respondFailures.set(id, { failure: { status }, remaining: times });
  }

  callsTo(method: string): ApiCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /**
   * The messages the bot posted (chat.postMessage answered ok) with their ts, in order: cards,
   * thread replies. `ts` is what the fake answered.
   */
  get posted(): { ts: string; body: Record<string, unknown> }[] {
    return this.postedMessages;
  }

  /** Successful chat.update calls of the message `ts`, in order. */
  updatesOf(ts: string): Record<string, unknown>[] {
    return this.updates.filter((u) => u.ts === ts);
  }

  postsTo(id: string): ResponsePost[] {
    return this.responses.filter((r) => r.id === id);
  }

  /** Waits until `check` holds (bounded), re-checking whenever a call or post arrives. */
  async waitFor(check: () => boolean, describe: () => string, timeoutMs = 20_000): Promise<void> {
    await this.until(check, timeoutMs, describe);
  }

  /** Waits until `count` posts reached response_url `id` (bounded), then returns them. */
  async waitForPosts(id: string, count = 1, timeoutMs = 20_000): Promise<ResponsePost[]> {
    await this.until(
      () => this.postsTo(id).length >= count,
      timeoutMs,
      () => `expected ${count} post(s) to /respond/${id}, got ${this.postsTo(id).length}`,
    );
    return this.postsTo(id);
  }

  async until(check: () => boolean, timeoutMs: number, describe: () => string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out: ${describe()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    this.releaseCrashed();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.changes.removeAllListeners();
  }

  // ── The conversation, as the sandbox's page reads and drives it ───────────────────────────

  /** Channel messages and thread replies, oldest first. */
  listMessages(channel?: string): StoredMessage[] {
    const all = [...this.messages.values()].filter((m) => !channel || m.channel === channel);
    return all.sort((a, b) => compareTs(a.ts, b.ts));
  }

  listEphemerals(user?: string): EphemeralMessage[] {
    const all = [...this.ephemerals.values()].filter((m) => !user || m.user === user);
    return all.sort((a, b) => compareTs(a.ts, b.ts));
  }

  /** Open modals, root first per user. */
  listViews(user?: string): StoredView[] {
    return [...this.views.values()].filter((v) => !user || v.user === user).sort((a, b) => a.depth - b.depth);
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.messages.get(key(channel, ts));
  }

  ephemeral(id: string): EphemeralMessage | undefined {
    return this.ephemerals.get(id);
  }

  view(id: string): StoredView | undefined {
    return this.views.get(id);
  }

  snapshot(): ConversationSnapshot {
    return { version: 1, messages: this.listMessages(), ephemerals: this.listEphemerals() };
  }

  /** Puts back a conversation saved by snapshot() (before anyone looks: no changes are announced). */
  restore(snapshot: ConversationSnapshot): void {
    if (snapshot?.version !== 1) throw new Error("not a saved conversation of this version");
    for (const m of snapshot.messages) this.messages.set(key(m.channel, m.ts), m);
    for (const m of snapshot.ephemerals) this.ephemerals.set(m.id, m);
  }

  /** A single-use trigger_id for `user`, valid for 3 s (a command or a click carries one). */
  issueTrigger(user: string): string {
    const id = `${Math.floor(Date.now() / 1000)}.${randomDigits(12)}.${randomBytes(16).toString("hex")}`;
    this.triggers.set(id, { user, issuedAt: Date.now(), used: false });
    return id;
  }

  /** A response_url whose posts land in the conversation (ephemeral for `user`, or in the channel). */
  registerResponseUrl(context: ResponseUrlContext): { id: string; url: string } {
    const { id, url } = this.responseUrl(randomBytes(9).toString("base64url"));
    this.responseUrls.set(id, { ...context, createdAt: Date.now(), uses: 0, target: context.source });
    return { id, url };
  }

  /** Something a person typed in the channel (or a thread): the bot does not subscribe to these. */
  postUserMessage(
    channel: string,
    user: string,
    text: string,
    threadTs: string | null = null,
  ): StoredMessage {
    return this.addMessage({ channel, user, botId: null, text, blocks: [], threadTs, via: null });
  }

  /** Slack's own ephemeral note to one person ("/scrypath failed with the error …"). */
  slackbotNote(
    channel: string,
    user: string,
    text: string,
    threadTs: string | null = null,
  ): EphemeralMessage {
    return this.addEphemeral({ channel, user, from: SLACKBOT, text, blocks: [], threadTs });
  }

  /** The person dismissed an ephemeral message. */
  dismissEphemeral(id: string): boolean {
    return this.deleteEphemeral(id);
  }

  /** The person closed the top modal (or, with `all`, every modal of theirs). */
  closeView(id: string, all = false): StoredView[] {
    const view = this.views.get(id);
    if (!view) return [];
    const closing = this.listViews(view.user).filter((v) => all || v.depth >= view.depth);
    for (const v of closing) {
      this.views.delete(v.id);
      this.emit({ type: "view_closed", id: v.id, user: v.user });
    }
    return closing;
  }

  /** A view_submission answered `response_action: update`: the view changes in place. */
  replaceView(id: string, view: Record<string, unknown>): StoredView | null {
    const current = this.views.get(id);
    if (!current) return null;
    const next: StoredView = { ...current, view, hash: newHash() };
    this.views.set(id, next);
    this.emit({ type: "view", view: next });
    return next;
  }

  /** A view_submission answered `response_action: push`. */
  pushView(user: string, view: Record<string, unknown>): StoredView {
    return this.openView(user, view);
  }

  // ── HTTP ───────────────────────────────────────────────────────────────────────────────────

  private notify(): void {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
  }

  private emit(change: SlackChange): void {
    this.changes.emit("change", change);
    this.notify();
  }

  private take(
    rules: Map<string, FailureRule>,
    id: string,
    body: Record<string, unknown> = {},
  ): Failure | null {
    const rule = rules.get(id);
    if (!rule || rule.remaining <= 0 || (rule.when && !rule.when(body))) return null;
    rule.remaining -= 1;
    if (rule.remaining === 0) rules.delete(id);
    return rule.failure;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? "/", this.url).pathname;
    const respond = /^\/respond\/([A-Za-z0-9_-]+)$/.exec(path);
    if (respond && req.method === "POST") {
      const id = respond[1] as string;
      const body = parseJson(raw);
      const failure = this.take(this.respondFailures, id);
      const status = failure?.status ?? this.deliverResponse(id, body);
      this.responses.push({ id, body, status });
      this.notify();
      res.writeHead(status, { "Content-Type": "text/plain" });
      res.end(status === 200 ? "ok" : status === 404 ? "expired_url" : "error");
      return;
    }
    const api = /^\/api\/([A-Za-z.]+)$/.exec(path);
    if (!api || req.method !== "POST") {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("not found");
      return;
    }
    const method = api[1] as string;
    const body = parseApiBody(raw, req.headers["content-type"]);
    const auth = req.headers.authorization;
    const token = auth?.startsWith("Bearer ")
      ? auth.slice(7)
      : typeof body.token === "string"
        ? body.token
        : null;
    this.calls.push({ method, body, token });
    this.notify();

    const crash = this.crashes.get(method);
    if (crash && crash.remaining > 0 && (!crash.when || crash.when(body))) {
      crash.remaining -= 1;
      if (crash.remaining === 0) this.crashes.delete(method);
      if (crash.at === "after") this.answer(method, body);
      this.held.add(res);
      res.on("close", () => this.held.delete(res));
      this.notify();
      return;
    }

    const failure = this.take(this.apiFailures, method, body);
    if (failure && failure.status === 429 && "retryAfter" in failure) {
      res.writeHead(429, { "Retry-After": String(failure.retryAfter), "Content-Type": "application/json" });
      res.end(JSON.stringify({ ok: false, error: "ratelimited" }));
      return;
    }
    if (failure && failure.status !== 200) {
      res.writeHead(failure.status, { "Content-Type": "text/plain" });
      res.end("upstream error");
      return;
    }
    const answer = failure
      ? fail("error" in failure && failure.error ? failure.error : "fatal_error")
      : this.token !== null && token !== this.token && method !== "apps.connections.open"
        ? fail("invalid_auth")
        : this.answer(method, body);
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
    res.end(JSON.stringify(answer));
  }

  // ── Web API methods ────────────────────────────────────────────────────────────────────────

  private answer(method: string, body: Record<string, unknown>): Answer {
    switch (method) {
      case "auth.test":
        return {
          ok: true,
          url: `https://${this.team.domain}.slack.com/`,
          team: this.team.name,
          user: this.bot.name,
          team_id: this.team.id,
          user_id: this.bot.userId,
          bot_id: this.bot.botId,
        };
      case "chat.postMessage":
        return this.chatPostMessage(body);
      case "chat.update":
        return this.chatUpdate(body);
      case "chat.postEphemeral":
        return this.chatPostEphemeral(body);
      case "chat.delete":
        return this.chatDelete(body);
      case "chat.getPermalink": {
        const ts = str(body.message_ts) ?? "";
        return {
          ok: true,
          channel: body.channel,
          permalink: `https://${this.team.domain}.slack.com/archives/${str(body.channel)}/p${ts.replace(".", "")}`,
        };
      }
      case "views.open":
        return this.viewsOpen(body, false);
      case "views.push":
        return this.viewsOpen(body, true);
      case "views.update":
        return this.viewsUpdate(body);
      case "usergroups.users.list":
        return { ok: true, users: this.usergroups.get(String(body.usergroup)) ?? [] };
      case "users.info": {
        const user = this.users.get(String(body.user));
        return user ? { ok: true, user: slackUser(user, this.team.id) } : fail("user_not_found");
      }
      case "conversations.info": {
        const channel = this.channels.get(String(body.channel));
        return channel
          ? { ok: true, channel: { id: channel.id, name: channel.name, is_channel: true, is_member: true } }
          : fail("channel_not_found");
      }
      case "conversations.history":
        return this.conversationsHistory(body);
      case "conversations.replies":
        return this.conversationsReplies(body);
      case "apps.connections.open":
        return this.socketUrl ? { ok: true, url: this.socketUrl } : fail("invalid_auth");
      default:
        return fail("unknown_method");
    }
  }

  /** Strict: the channel must exist; lenient: any channel works. */
  private knownChannel(channel: string | undefined): boolean {
    return channel !== undefined && (!this.strict || this.channels.has(channel));
  }

  private chatPostMessage(body: Record<string, unknown>): Answer {
    const channel = str(body.channel);
    if (!channel) return fail("channel_not_found");
    const text = str(body.text) ?? "";
    const blocks = Array.isArray(body.blocks) ? body.blocks : [];
    if (this.strict) {
      if (!this.knownChannel(channel)) return fail("channel_not_found");
      if (text === "" && blocks.length === 0) return fail("no_text");
      if (blocks.length > MAX_BLOCKS.message) return fail("invalid_blocks");
    }
    const metadata = messageMetadata(body.metadata);
    if (metadata === "invalid") return fail("invalid_metadata_format");
    const message = this.addMessage({
      channel,
      user: this.bot.userId,
      botId: this.bot.botId,
      text,
      blocks,
      threadTs: str(body.thread_ts) ?? null,
      via: null,
      metadata,
    });
    this.postedMessages.push({ ts: message.ts, body });
    return {
      ok: true,
      channel,
      ts: message.ts,
      message: {
        type: "message",
        user: this.bot.userId,
        bot_id: this.bot.botId,
        text,
        ts: message.ts,
        ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      },
    };
  }

  /** Channel messages (no thread replies), newest first, between `oldest` and `latest`. */
  private conversationsHistory(body: Record<string, unknown>): Answer {
    const channel = str(body.channel);
    if (!channel || !this.knownChannel(channel)) return fail("channel_not_found");
    const inRange = timeRange(body);
    const all = this.listMessages(channel)
      .filter((m) => m.threadTs === null && inRange(m.ts))
      .reverse();
    return this.page(all, body, (m, cursor) => compareTs(m.ts, cursor) < 0);
  }

  /** A thread: its parent, then the replies oldest first (those between `oldest` and `latest`). */
  private conversationsReplies(body: Record<string, unknown>): Answer {
    const channel = str(body.channel);
    if (!channel || !this.knownChannel(channel)) return fail("channel_not_found");
    let parent = this.messages.get(key(channel, str(body.ts) ?? ""));
    if (parent?.threadTs) parent = this.messages.get(key(channel, parent.threadTs));
    if (!parent) return fail("thread_not_found");
    const inRange = timeRange(body);
    const replies = this.listMessages(channel).filter((m) => m.threadTs === parent.ts && inRange(m.ts));
    return this.page([parent, ...replies], body, (m, cursor) => compareTs(m.ts, cursor) > 0);
  }

  /** One page of `items` (already in order) after the cursor, as Slack answers history reads. */
  private page(
    items: StoredMessage[],
    body: Record<string, unknown>,
    afterCursor: (m: StoredMessage, cursorTs: string) => boolean,
  ): Answer {
    const cursor = str(body.cursor);
    let rest = items;
    if (cursor) {
      const decoded = Buffer.from(cursor, "base64").toString("utf8");
      const match = /^next_ts:(\d+\.\d+)$/.exec(decoded);
      if (!match) return fail("invalid_cursor");
      rest = items.filter((m) => afterCursor(m, match[1] as string));
    }
    const asked = Number(body.limit ?? HISTORY_LIMIT.default);
    const limit = Math.min(
      HISTORY_LIMIT.max,
      Number.isFinite(asked) && asked > 0 ? Math.floor(asked) : HISTORY_LIMIT.default,
    );
    const chunk = rest.slice(0, limit);
    const hasMore = rest.length > chunk.length;
    const last = chunk.at(-1);
    const withMetadata = flag(body.include_all_metadata);
    return {
      ok: true,
      messages: chunk.map((m) => this.historyMessage(m, withMetadata)),
      has_more: hasMore,
      pin_count: 0,
      response_metadata: {
        next_cursor: hasMore && last ? Buffer.from(`next_ts:${last.ts}`).toString("base64") : "",
      },
    };
  }

  private historyMessage(m: StoredMessage, withMetadata: boolean): Answer {
    return {
      type: "message",
      user: m.user,
      ...(m.botId ? { bot_id: m.botId } : {}),
      text: m.text,
      blocks: m.blocks,
      ts: m.ts,
      ...(m.threadTs ? { thread_ts: m.threadTs } : {}),
      ...(m.replyCount > 0
        ? { thread_ts: m.ts, reply_count: m.replyCount, latest_reply: m.latestReply }
        : {}),
      ...(m.edited ? { edited: { user: m.user, ts: m.edited } } : {}),
      ...(withMetadata && m.metadata ? { metadata: m.metadata } : {}),
    };
  }

  private chatUpdate(body: Record<string, unknown>): Answer {
    const channel = str(body.channel) ?? "";
    const ts = str(body.ts) ?? "";
    const stored = this.messages.get(key(channel, ts));
    if (this.strict) {
      if (!this.knownChannel(channel)) return fail("channel_not_found");
      if (!stored) return fail("message_not_found");
      if (stored.user !== this.bot.userId) return fail("cant_update_message");
      if (Array.isArray(body.blocks) && body.blocks.length > MAX_BLOCKS.message)
        return fail("invalid_blocks");
    }
    this.updates.push(body);
    if (stored) {
      this.editMessage(stored, {
        text: str(body.text) ?? stored.text,
        // Slack keeps the blocks when an update leaves them out.
        blocks: Array.isArray(body.blocks) ? body.blocks : stored.blocks,
      });
    }
    return { ok: true, channel: body.channel, ts: body.ts, text: body.text };
  }

  private chatPostEphemeral(body: Record<string, unknown>): Answer {
    const channel = str(body.channel);
    const user = str(body.user);
    if (!channel || !this.knownChannel(channel)) return fail("channel_not_found");
    if (!user || (this.strict && this.users.size > 0 && !this.users.has(user))) return fail("user_not_found");
    const message = this.addEphemeral({
      channel,
      user,
      from: this.bot.userId,
      text: str(body.text) ?? "",
      blocks: Array.isArray(body.blocks) ? body.blocks : [],
      threadTs: str(body.thread_ts) ?? null,
    });
    return { ok: true, message_ts: message.ts };
  }

  private chatDelete(body: Record<string, unknown>): Answer {
    const channel = str(body.channel) ?? "";
    const ts = str(body.ts) ?? "";
    if (!this.messages.has(key(channel, ts))) return this.strict ? fail("message_not_found") : { ok: true };
    this.deleteMessage(channel, ts);
    return { ok: true, channel, ts };
  }

  private viewsOpen(body: Record<string, unknown>, push: boolean): Answer {
    const triggerId = str(body.trigger_id);
    const view = isObject(body.view) ? body.view : null;
    if (!triggerId) return fail("invalid_arguments");
    if (!view) return fail("invalid_arguments");
    const trigger = this.triggers.get(triggerId);
    if (this.strict) {
      if (!trigger) return fail("invalid_trigger_id");
      if (trigger.used) return fail("trigger_exchanged");
      if (Date.now() - trigger.issuedAt > TRIGGER_TTL_MS) return fail("trigger_expired");
      if (!Array.isArray(view.blocks) || view.blocks.length > MAX_BLOCKS.modal) return fail("invalid_blocks");
      if (push && this.listViews(trigger.user).length === 0) return fail("not_found");
    }
    if (trigger) trigger.used = true;
    const user = trigger?.user ?? "";
    if (!push) for (const v of this.listViews(user)) this.closeView(v.id, true);
    const stored = this.openView(user, view);
    return { ok: true, view: viewPayload(stored, this.team.id, this.bot.botId) };
  }

  private viewsUpdate(body: Record<string, unknown>): Answer {
    const view = isObject(body.view) ? body.view : null;
    if (!view) return fail("invalid_arguments");
    const id = str(body.view_id);
    const external = str(body.external_id);
    const stored = id
      ? this.views.get(id)
      : [...this.views.values()].find((v) => external !== undefined && v.externalId === external);
    if (!stored) {
      return this.strict ? fail("not_found") : { ok: true, view: { id: id ?? "V0UNKNOWN", type: "modal" } };
    }
    const hash = str(body.hash);
    if (hash !== undefined && hash !== stored.hash) return fail("hash_conflict");
    if (this.strict && (!Array.isArray(view.blocks) || view.blocks.length > MAX_BLOCKS.modal)) {
      return fail("invalid_blocks");
    }
    const updated = this.replaceView(stored.id, view) as StoredView;
    return { ok: true, view: viewPayload(updated, this.team.id, this.bot.botId) };
  }

  // ── response_url ───────────────────────────────────────────────────────────────────────────

  /**
   * A post to response_url `id` (or the body of a slash command's ack, which Slack treats the same
   * way): applied to the conversation when the URL is registered, only recorded otherwise. Returns
   * the HTTP status Slack would answer (404 once the URL is used up or expired, strict mode).
   */
  deliverResponse(id: string, body: Record<string, unknown>): number {
    const state = this.responseUrls.get(id);
    if (!state) return 200;
    if (
      this.strict &&
      (state.uses >= RESPONSE_URL_USES || Date.now() - state.createdAt > RESPONSE_URL_TTL_MS)
    ) {
      return 404;
    }
    state.uses += 1;
    const text = str(body.text) ?? "";
    const blocks = Array.isArray(body.blocks) ? body.blocks : [];
    if (body.delete_original === true) {
      if (state.target) this.deleteRef(state.target);
      state.target = null;
      return 200;
    }
    if (body.replace_original === true && state.target && this.editRef(state.target, text, blocks)) {
      return 200;
    }
    const threadTs = str(body.thread_ts) ?? state.threadTs;
    if (body.response_type === "in_channel") {
      const message = this.addMessage({
        channel: state.channel,
        user: this.bot.userId,
        botId: this.bot.botId,
        text,
        blocks,
        threadTs,
        via:
          state.command !== undefined && state.source === null
            ? { user: state.user, command: state.command }
            : null,
      });
      if (!state.source) state.target = { kind: "message", channel: message.channel, ts: message.ts };
      return 200;
    }
    const message = this.addEphemeral({
      channel: state.channel,
      user: state.user,
      from: this.bot.userId,
      text,
      blocks,
      threadTs,
    });
    // A slash command's later replace_original edits its last answer; a click's edits the clicked message.
    if (!state.source) state.target = { kind: "ephemeral", id: message.id };
    return 200;
  }

  private editRef(ref: MessageRef, text: string, blocks: unknown[]): boolean {
    if (ref.kind === "ephemeral") {
      const current = this.ephemerals.get(ref.id);
      if (!current) return false;
      const next = { ...current, text, blocks, edited: this.editTs() };
      this.ephemerals.set(ref.id, next);
      this.emit({ type: "ephemeral", message: next });
      return true;
    }
    const current = this.messages.get(key(ref.channel, ref.ts));
    if (!current) return false;
    this.editMessage(current, { text, blocks });
    return true;
  }

  private deleteRef(ref: MessageRef): void {
    if (ref.kind === "ephemeral") this.deleteEphemeral(ref.id);
    else this.deleteMessage(ref.channel, ref.ts);
  }

  // ── Store ──────────────────────────────────────────────────────────────────────────────────

  /** ts of an edit: from the clock, or (counter mode) without using up a message ts. */
  private editTs(): string {
    return this.realTime ? this.nextTs() : `${this.counter}.000200`;
  }

  private nextTs(): string {
    if (!this.realTime) {
      this.counter += 1;
      return `${this.counter}.000100`;
    }
    // Unique and increasing, like Slack's: seconds, then microseconds.
    const micros = Math.max(Math.floor(this.clock() * 1000), this.lastMicros + 1);
    this.lastMicros = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, "0")}`;
  }

  private addMessage(input: {
    channel: string;
    user: string;
    botId: string | null;
    text: string;
    blocks: unknown[];
    threadTs: string | null;
    via: StoredMessage["via"];
    metadata?: StoredMessage["metadata"];
  }): StoredMessage {
    const ts = this.nextTs();
    // A reply to a reply belongs to the same thread; a thread_ts naming no message starts none.
    let parent = input.threadTs ? this.messages.get(key(input.channel, input.threadTs)) : undefined;
    if (parent?.threadTs) parent = this.messages.get(key(input.channel, parent.threadTs));
    const threadTs = parent ? parent.ts : this.strict ? null : input.threadTs;
    const message: StoredMessage = {
      channel: input.channel,
      ts,
      threadTs,
      user: input.user,
      botId: input.botId,
      text: input.text,
      blocks: input.blocks,
      edited: null,
      replyCount: 0,
      latestReply: null,
      via: input.via,
      ...(input.metadata ? { metadata: input.metadata } : {}),
    };
    this.messages.set(key(input.channel, ts), message);
    this.emit({ type: "message", message });
    if (parent) {
      const updated = { ...parent, replyCount: parent.replyCount + 1, latestReply: ts };
      this.messages.set(key(parent.channel, parent.ts), updated);
      this.emit({ type: "message", message: updated });
    }
    return message;
  }

  private editMessage(current: StoredMessage, change: { text: string; blocks: unknown[] }): void {
    const next = { ...current, ...change, edited: this.editTs() };
    this.messages.set(key(current.channel, current.ts), next);
    this.emit({ type: "message", message: next });
  }

  private deleteMessage(channel: string, ts: string): void {
    const current = this.messages.get(key(channel, ts));
    if (!current) return;
    this.messages.delete(key(channel, ts));
    this.emit({ type: "message_deleted", channel, ts });
    if (current.threadTs) {
      const parent = this.messages.get(key(channel, current.threadTs));
      if (parent) {
        const replies = this.listMessages(channel).filter((m) => m.threadTs === parent.ts);
        const updated = { ...parent, replyCount: replies.length, latestReply: replies.at(-1)?.ts ?? null };
        this.messages.set(key(channel, parent.ts), updated);
        this.emit({ type: "message", message: updated });
      }
    }
  }

  private addEphemeral(input: Omit<EphemeralMessage, "id" | "ts" | "edited">): EphemeralMessage {
    const ts = this.nextTs();
    const message: EphemeralMessage = { ...input, id: `E${ts.replace(".", "")}`, ts, edited: null };
    this.ephemerals.set(message.id, message);
    this.emit({ type: "ephemeral", message });
    return message;
  }

  private deleteEphemeral(id: string): boolean {
    const current = this.ephemerals.get(id);
    if (!current) return false;
    this.ephemerals.delete(id);
    this.emit({ type: "ephemeral_deleted", id, user: current.user });
    return true;
  }

  private openView(user: string, view: Record<string, unknown>): StoredView {
    const stack = this.listViews(user);
    const id = `V${randomBytes(5).toString("hex").toUpperCase()}`;
    const stored: StoredView = {
      id,
      hash: newHash(),
      user,
      view,
      rootViewId: stack[0]?.id ?? id,
      previousViewId: stack.at(-1)?.id ?? null,
      externalId: str(view.external_id) ?? "",
      depth: stack.length,
    };
    this.views.set(id, stored);
    this.emit({ type: "view", view: stored });
    return stored;
  }
}

/** The view object Slack returns from views.* and puts in view_submission payloads. */
export function viewPayload(
  stored: StoredView,
  teamId: string,
  botId: string,
  values: Record<string, unknown> = {},
): Record<string, unknown> {
  const v = stored.view;
  return {
    id: stored.id,
    team_id: teamId,
    type: v.type ?? "modal",
    blocks: v.blocks ?? [],
    private_metadata: v.private_metadata ?? "",
    callback_id: v.callback_id ?? "",
    state: { values },
    hash: stored.hash,
    title: v.title ?? null,
    clear_on_close: v.clear_on_close ?? false,
    notify_on_close: v.notify_on_close ?? false,
    close: v.close ?? null,
    submit: v.submit ?? null,
    previous_view_id: stored.previousViewId,
    root_view_id: stored.rootViewId,
    app_id: "A0SCRYPATH",
    external_id: stored.externalId,
    app_installed_team_id: teamId,
    bot_id: botId,
  };
}

function slackUser(user: SlackUser, teamId: string): Record<string, unknown> {
  return {
    id: user.id,
    team_id: teamId,
    name: user.name,
    real_name: user.realName,
    tz: user.tz ?? "Europe/Berlin",
    is_bot: false,
    profile: { real_name: user.realName, display_name: user.name, title: user.title ?? "" },
  };
}

const key = (channel: string, ts: string) => `${channel}/${ts}`;

/** Orders Slack timestamps ("1700000001.000100") numerically, seconds then microseconds. */
export function compareTs(a: string, b: string): number {
  const [as = "0", af = "0"] = a.split(".");
  const [bs = "0", bf = "0"] = b.split(".");
  return Number(as) - Number(bs) || Number(af.padEnd(6, "0")) - Number(bf.padEnd(6, "0"));
}

function newHash(): string {
  return `${Math.floor(Date.now() / 1000)}.${randomBytes(6).toString("hex")}`;
}

function randomDigits(n: number): string {
  return [...randomBytes(n)].map((b) => String(b % 10)).join("");
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** A form or JSON boolean ("true", "1", true). */
function flag(value: unknown): boolean {
  return value === true || value === "true" || value === "1" || value === 1;
}

/** `oldest` / `latest` (exclusive unless `inclusive`), as Slack reads them. */
function timeRange(body: Record<string, unknown>): (ts: string) => boolean {
  const oldest = str(String(body.oldest ?? "")) ?? "0";
  const latest = str(String(body.latest ?? ""));
  const inclusive = flag(body.inclusive);
  return (ts) => {
    const o = compareTs(ts, oldest);
    if (inclusive ? o < 0 : o <= 0) return false;
    if (latest === undefined) return true;
    const l = compareTs(ts, latest);
    return inclusive ? l <= 0 : l < 0;
  };
}

/** chat.postMessage `metadata`: an event type and an object payload; null when absent. */
function messageMetadata(value: unknown): StoredMessage["metadata"] | "invalid" {
  if (value === undefined || value === null || value === "") return null;
  if (!isObject(value) || typeof value.event_type !== "string" || !isObject(value.event_payload)) {
    return "invalid";
  }
  return { event_type: value.event_type, event_payload: value.event_payload };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === "object" && !Array.isArray(value);
}

export function readBody(req: IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error("request body too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(raw: string): Record<string, unknown> {
  try {
    return JSON.parse(raw) as Record<string, unknown>;
  } catch {
    return { _raw: raw };
  }
}

/** The WebClient sends form bodies with nested values JSON-encoded, or JSON for some methods. */
function parseApiBody(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (contentType?.startsWith("application/json")) return parseJson(raw);
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    out[k] = /^[[{]/.test(v) ? parseJson(v) : v;
  }
  return out;
}
