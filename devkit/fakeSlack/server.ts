// The fake Slack's server: a local stand-in for Slack on 127.0.0.1, for the sandbox and the tests: the Web API under
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
//
// The pieces: store.ts (the conversation), webApi.ts (the Web API methods), interactions.ts
// (trigger_ids and response_urls), faults.ts (failures and crashes on demand), waiters.ts (test
// waiters), types.ts (the vocabulary). This class wires them to HTTP and keeps its public API.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Faults } from "./faults.ts";
import { ResponseUrls, Triggers } from "./interactions.ts";
import { ConversationStore } from "./store.ts";
import {
  type ApiCall,
  type BotIdentity,
  type ConversationSnapshot,
  type CrashPoint,
  type EphemeralMessage,
  type Failure,
  type ResponsePost,
  type ResponseUrlContext,
  SLACKBOT,
  type SlackChannel,
  type SlackUser,
  type StoredMessage,
  type StoredView,
  type Team,
} from "./types.ts";
import { Waiters } from "./waiters.ts";
import { fail, WebApi } from "./webApi.ts";

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

const DEFAULT_BOT: BotIdentity = { userId: "U0BOT0000", botId: "B0BOT0000", name: "scrypath" };
const DEFAULT_TEAM: Team = { id: "T0TEAM000", domain: "scrypath-test", name: "Scrypath Test" };

export class FakeSlack {
  readonly calls: ApiCall[] = [];
  readonly responses: ResponsePost[] = [];
  /** When set, API calls with another bearer token answer `invalid_auth`. */
  token: string | null = null;
  /** What `apps.connections.open` returns (the Socket Mode WebSocket URL). */
  socketUrl: string | null = null;
  /** Members returned by usergroups.users.list, per user group id. */
  readonly usergroups = new Map<string, string[]>();

  readonly strict: boolean;
  readonly team: Team;
  readonly bot: BotIdentity;
  readonly users = new Map<string, SlackUser>();
  readonly channels = new Map<string, SlackChannel>();

  private server: Server;
  private port = 0;
  private readonly host: string;
  private readonly waiters = new Waiters();
  private readonly faults = new Faults();
  private readonly store: ConversationStore;
  private readonly triggers = new Triggers();
  private readonly responseUrls: ResponseUrls;
  private readonly webApi: WebApi;

  private constructor(options: FakeSlackOptions) {
    this.strict = options.strict ?? false;
    this.host = options.host ?? "127.0.0.1";
    this.team = options.team ?? DEFAULT_TEAM;
    this.bot = options.bot ?? DEFAULT_BOT;
    for (const u of options.users ?? []) this.users.set(u.id, u);
    for (const c of options.channels ?? []) this.channels.set(c.id, c);
    this.store = new ConversationStore(
      { strict: this.strict, realTime: options.realTime ?? false, clock: options.clock ?? Date.now },
      () => this.waiters.notify(),
    );
    this.responseUrls = new ResponseUrls(this, this.store);
    this.webApi = new WebApi(this, this.store, this.triggers);
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

  /** Every change of the conversation (messages, ephemerals, modals), as it happens. */
  get changes(): ConversationStore["changes"] {
    return this.store.changes;
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
    this.faults.failApi(method, failure, times, when);
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
    this.faults.crashOn(method, at, when, times);
  }

  /** Calls held by crashOn, not yet released. */
  get crashedCalls(): number {
    return this.faults.crashedCalls;
  }

  /** Forgets crashes set up with crashOn that have not happened yet. */
  cancelCrashes(): void {
    this.faults.cancelCrashes();
  }

  /** Drops the connections crashOn held: the caller (if it still lives) sees them reset. */
  releaseCrashed(): void {
    this.faults.releaseCrashed();
  }

  /** The next `times` posts to response_url `id` get `status`. */
  failRespond(id: string, status: number, times = 1): void {
    this.faults.failRespond(id, status, times);
  }

  callsTo(method: string): ApiCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /**
   * The messages the bot posted (chat.postMessage answered ok) with their ts, in order: cards,
   * thread replies. `ts` is what the fake answered.
   */
  get posted(): { ts: string; body: Record<string, unknown> }[] {
    return this.webApi.posted;
  }

  /** Successful chat.update calls of the message `ts`, in order. */
  updatesOf(ts: string): Record<string, unknown>[] {
    return this.webApi.updates.filter((u) => u.ts === ts);
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
    await this.waiters.until(check, timeoutMs, describe);
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
    return this.store.listMessages(channel);
  }

  listEphemerals(user?: string): EphemeralMessage[] {
    return this.store.listEphemerals(user);
  }

  /** Open modals, root first per user. */
  listViews(user?: string): StoredView[] {
    return this.store.listViews(user);
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.store.message(channel, ts);
  }

  ephemeral(id: string): EphemeralMessage | undefined {
    return this.store.ephemeral(id);
  }

  view(id: string): StoredView | undefined {
    return this.store.view(id);
  }

  snapshot(): ConversationSnapshot {
    return this.store.snapshot();
  }

  /** Puts back a conversation saved by snapshot() (before anyone looks: no changes are announced). */
  restore(snapshot: ConversationSnapshot): void {
    this.store.restore(snapshot);
  }

  /** A single-use trigger_id for `user`, valid for 3 s (a command or a click carries one). */
  issueTrigger(user: string): string {
    return this.triggers.issue(user);
  }

  /** A response_url whose posts land in the conversation (ephemeral for `user`, or in the channel). */
  registerResponseUrl(context: ResponseUrlContext): { id: string; url: string } {
    const { id, url } = this.responseUrl(randomBytes(9).toString("base64url"));
    this.responseUrls.register(id, context);
    return { id, url };
  }

  /** Something a person typed in the channel (or a thread): the bot does not subscribe to these. */
  postUserMessage(
    channel: string,
    user: string,
    text: string,
    threadTs: string | null = null,
  ): StoredMessage {
    return this.store.addMessage({ channel, user, botId: null, text, blocks: [], threadTs, via: null });
  }

  /** Slack's own ephemeral note to one person ("/scrypath failed with the error …"). */
  slackbotNote(
    channel: string,
    user: string,
    text: string,
    threadTs: string | null = null,
  ): EphemeralMessage {
    return this.store.addEphemeral({ channel, user, from: SLACKBOT, text, blocks: [], threadTs });
  }

  /** The person dismissed an ephemeral message. */
  dismissEphemeral(id: string): boolean {
    return this.store.deleteEphemeral(id);
  }

  /** The person closed the top modal (or, with `all`, every modal of theirs). */
  closeView(id: string, all = false): StoredView[] {
    return this.store.closeView(id, all);
  }

  /** A view_submission answered `response_action: update`: the view changes in place. */
  replaceView(id: string, view: Record<string, unknown>): StoredView | null {
    return this.store.replaceView(id, view);
  }

  /** A view_submission answered `response_action: push`. */
  pushView(user: string, view: Record<string, unknown>): StoredView {
    return this.store.openView(user, view);
  }

  /**
   * A post to response_url `id` (or the body of a slash command's ack, which Slack treats the same
   * way): applied to the conversation when the URL is registered, only recorded otherwise. Returns
   * the HTTP status Slack would answer (404 once the URL is used up or expired, strict mode).
   */
  deliverResponse(id: string, body: Record<string, unknown>): number {
    return this.responseUrls.deliver(id, body);
  }

  // ── HTTP ───────────────────────────────────────────────────────────────────────────────────

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? "/", this.url).pathname;
    const respond = /^\/respond\/([A-Za-z0-9_-]+)$/.exec(path);
    if (respond && req.method === "POST") {
      const id = respond[1] as string;
      const body = parseJson(raw);
      const failure = this.faults.respondFailure(id);
      const status = failure?.status ?? this.deliverResponse(id, body);
      this.responses.push({ id, body, status });
      this.waiters.notify();
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
    this.waiters.notify();

    const crash = this.faults.crash(method, body);
    if (crash) {
      if (crash === "after") this.webApi.answer(method, body);
      this.faults.hold(res);
      this.waiters.notify();
      return;
    }

    const failure = this.faults.apiFailure(method, body);
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
        : this.webApi.answer(method, body);
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
    res.end(JSON.stringify(answer));
  }
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
