// A local stand-in for Slack on 127.0.0.1: the Web API under /api/<method> (what the bot's
// WebClient calls when SLACK_API_URL points here) and response_url endpoints under /respond/<id>
// (what Bolt's respond() posts to). Records everything; can be told to fail.
import { randomBytes } from "node:crypto";
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

const BOT = { user_id: "U0BOT0000", bot_id: "B0BOT0000", team_id: "T0TEAM000", team: "Scrypath Test" };

export class FakeSlack {
  readonly calls: ApiCall[] = [];
  readonly responses: ResponsePost[] = [];
  /** When set, API calls with another bearer token answer `invalid_auth`. */
  token: string | null = null;
  /** What `apps.connections.open` returns (the Socket Mode WebSocket URL). */
  socketUrl: string | null = null;
  /** Members returned by usergroups.users.list, per user group id. */
  readonly usergroups = new Map<string, string[]>();

  private server: Server;
  private port = 0;
  private apiFailures = new Map<string, FailureRule>();
  private respondFailures = new Map<string, FailureRule>();
  private waiters: (() => void)[] = [];
  private postedMessages: { ts: string; body: Record<string, unknown> }[] = [];
  private updates: Record<string, unknown>[] = [];
  private ts = 1_700_000_000;

  private constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(String(error));
      });
    });
  }

  static async start(): Promise<FakeSlack> {
    const fake = new FakeSlack();
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The value for SLACK_API_URL. */
  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  /** A fresh response_url; posts to it are recorded under `id`. */
  responseUrl(id = randomBytes(6).toString("hex")): { id: string; url: string } {
    return { id, url: `${this.url}/respond/${id}` };
  }

  /** The next `times` calls of `method` fail (429 with Retry-After, or an HTTP status / ok:false). */
  failApi(
    method: string,
    failure: Failure,
    times = 1,
    when?: (body: Record<string, unknown>) => boolean,
  ): void {
    this.apiFailures.set(method, { failure, remaining: times, ...(when ? { when } : {}) });
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

  /** Waits until `check` holds (bounded), re-checking whenever a call or post arrives. */
  async waitFor(check: () => boolean, describe: () => string, timeoutMs = 20_000): Promise<void> {
    await this.until(check, timeoutMs, describe);
  }

  postsTo(id: string): ResponsePost[] {
    return this.responses.filter((r) => r.id === id);
  }

  /** Waits until `count` posts reached response_url `id` (bounded), then returns them. */
  async waitForPosts(id: string, count = 1, timeoutMs = 20_000): Promise<ResponsePost[]> {
    await this.until(
      () => this.postsTo(id).length >= count,
      timeoutMs,
      () => {
        return `expected ${count} post(s) to /respond/${id}, got ${this.postsTo(id).length}`;
      },
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
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private notify(): void {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
  }

  private take(
    rules: Map<string, FailureRule>,
    key: string,
    body: Record<string, unknown> = {},
  ): Failure | null {
    const rule = rules.get(key);
    if (!rule || rule.remaining <= 0 || (rule.when && !rule.when(body))) return null;
    rule.remaining -= 1;
    if (rule.remaining === 0) rules.delete(key);
    return rule.failure;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = new URL(req.url ?? "/", this.url).pathname;
    const respond = /^\/respond\/([A-Za-z0-9_-]+)$/.exec(path);
    if (respond && req.method === "POST") {
      const id = respond[1] as string;
      const failure = this.take(this.respondFailures, id);
      const status = failure?.status ?? 200;
      this.responses.push({ id, body: parseJson(raw), status });
      this.notify();
      res.writeHead(status, { "Content-Type": "text/plain" });
      res.end(status === 200 ? "ok" : "error");
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
      ? { ok: false, error: "error" in failure ? failure.error : "fatal_error" }
      : this.token !== null && token !== this.token && method !== "apps.connections.open"
        ? { ok: false, error: "invalid_auth" }
        : this.answer(method, body);
    res.writeHead(200, { "Content-Type": "application/json; charset=utf-8" });
    res.end(JSON.stringify(answer));
  }

  private nextTs(): string {
    this.ts += 1;
    return `${this.ts}.000100`;
  }

  private answer(method: string, body: Record<string, unknown>): Record<string, unknown> {
    switch (method) {
      case "auth.test":
        return { ok: true, url: "https://scrypath-test.slack.com/", user: "scrypath", ...BOT };
      case "chat.postMessage": {
        const ts = this.nextTs();
        this.postedMessages.push({ ts, body });
        return {
          ok: true,
          channel: body.channel,
          ts,
          message: { type: "message", user: BOT.user_id, bot_id: BOT.bot_id, text: body.text, ts },
        };
      }
      case "chat.update":
        this.updates.push(body);
        return { ok: true, channel: body.channel, ts: body.ts, text: body.text };
      case "chat.postEphemeral":
        return { ok: true, message_ts: this.nextTs() };
      case "views.open":
        return { ok: true, view: { id: `V${randomBytes(4).toString("hex").toUpperCase()}`, type: "modal" } };
      case "views.update":
        return { ok: true, view: { id: body.view_id, type: "modal" } };
      case "usergroups.users.list":
        return { ok: true, users: this.usergroups.get(String(body.usergroup)) ?? [] };
      case "apps.connections.open":
        return this.socketUrl ? { ok: true, url: this.socketUrl } : { ok: false, error: "invalid_auth" };
      default:
        return { ok: false, error: "unknown_method" };
    }
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
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
