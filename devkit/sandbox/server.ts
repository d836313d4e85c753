// The sandbox's page server on 127.0.0.1: serves the page (devkit/sandbox/page, plain files, no build
// step) and the API it drives. Every interaction takes the real path: the server builds the payload
// Slack would send (slash command, block_actions, view_submission), signs it with the bot's signing
// secret and posts it to the bot's /slack/events; the bot answers through the fake Slack API, whose
// conversation changes reach the page as Server-Sent Events.
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import {
  type FakeSlack,
  type MessageRef,
  readBody,
  type SlackChange,
  type SlackChannel,
  type SlackUser,
  viewPayload,
} from "../fakeSlack/index.ts";
import { payloadBody, signedHeaders } from "../signer.ts";
import type { MeilisearchOutage, OutageState } from "./outage.ts";

const PAGE_DIR = fileURLToPath(new URL("./page/", import.meta.url));
const STATIC: Record<string, string> = {
  "/": "index.html",
  "/index.html": "index.html",
  "/app.js": "app.js",
  "/render.js": "render.js",
  "/style.css": "style.css",
};
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};
/** Slack waits this long for the app's HTTP answer before it shows an error. */
export const ACK_TIMEOUT_MS = 3_000;
const API_APP_ID = "A0SCRYPATH";

export interface HelpVerb {
  name: string;
  usage: string;
  summary: string;
  mutates: boolean;
}

export interface SandboxServerOptions {
  slack: FakeSlack;
  /** The bot's `/slack/events` URL. */
  botEventsUrl: string;
  signingSecret: string;
  channel: SlackChannel;
  users: SlackUser[];
  /** The slash command and its usage hint (manifest.yml). */
  command: { name: string; usageHint: string };
  verbs: HelpVerb[];
  /** User group handles by id, for `<!subteam^…>` mentions. */
  groups?: Record<string, string>;
  /** "Run digest now", when the bot has digests. */
  digest?: { label: string; run: () => Promise<string> } | null;
  /** "Break Meilisearch for a minute", when the sandbox runs its own Meilisearch. */
  outage?: MeilisearchOutage | null;
  log?: (line: string) => void;
}

export interface SandboxServer {
  readonly port: number;
  readonly url: string;
  /** Start answering (until then every request gets 503 "starting"). */
  ready(options: SandboxServerOptions): void;
  close(): Promise<void>;
}

/** What the page's event stream carries: the fake Slack's changes, and the outage's. */
type PageEvent = SlackChange | { type: "outage"; outage: OutageState };

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Binds the port at once (so a taken port fails fast); answers 503 until ready(). */
export async function listenSandboxServer(host: string, port: number): Promise<SandboxServer> {
  let options: SandboxServerOptions | null = null;
  const clients = new Set<ServerResponse>();
  let unsubscribe: (() => void) | null = null;
  let heartbeat: NodeJS.Timeout | undefined;
  let closing: Promise<void> | null = null;

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      if (!(error instanceof HttpError))
        options?.log?.(`sandbox: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) sendJson(res, status, { ok: false, error: (error as Error).message });
      else res.end();
    });
  });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://sandbox.invalid");
    if (!options) {
      res.writeHead(503, { "Content-Type": "text/plain; charset=utf-8", "Retry-After": "1" });
      res.end("The sandbox is starting; reload in a moment.");
      return;
    }
    if (!sameOrigin(req, bound())) throw new HttpError(403, "requests must come from the sandbox page");
    const file = STATIC[url.pathname];
    if (req.method === "GET" && file) {
      const body = await readFile(`${PAGE_DIR}${file}`);
      res.writeHead(200, {
        "Content-Type": TYPES[file.split(".").pop() ?? ""] ?? "application/octet-stream",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy":
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'",
      });
      res.end(body);
      return;
    }
    if (req.method === "GET" && url.pathname === "/healthz") {
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("ok");
      return;
    }
    if (req.method === "GET" && url.pathname === "/api/state") return sendJson(res, 200, state(options));
    if (req.method === "GET" && url.pathname === "/api/events") return events(req, res);
    if (req.method === "POST" && url.pathname.startsWith("/api/")) {
      if (req.headers["content-type"]?.split(";")[0] !== "application/json") {
        throw new HttpError(415, "send JSON");
      }
      const input = parseObject(await readBody(req, 256 * 1024));
      const result = await post(options, url.pathname.slice("/api/".length), input);
      return sendJson(res, 200, { ok: true, ...result });
    }
    throw new HttpError(404, "not found");
  };

  const events = (req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
    });
    res.write("retry: 1000\n\n");
    clients.add(res);
    req.on("close", () => clients.delete(res));
  };

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = () => (server.address() as AddressInfo).port;

  return {
    get port() {
      return bound();
    },
    get url() {
      return `http://${host}:${bound()}/`;
    },
    ready(ready) {
      options = ready;
      const listener = (change: PageEvent) => {
        const data = `data: ${JSON.stringify(change)}\n\n`;
        for (const client of clients) client.write(data);
      };
      ready.slack.changes.on("change", listener);
      // The outage's countdown and "is back" reach the page on the same stream.
      const outageListener = (outage: OutageState) => listener({ type: "outage", outage });
      ready.outage?.changes.on("change", outageListener);
      unsubscribe = () => {
        ready.slack.changes.off("change", listener);
        ready.outage?.changes.off("change", outageListener);
      };
      heartbeat = setInterval(() => {
        for (const client of clients) client.write(": keep-alive\n\n");
      }, 15_000);
      heartbeat.unref();
    },
    close() {
      closing ??= (async () => {
        clearInterval(heartbeat);
        unsubscribe?.();
        for (const client of clients) client.end();
        clients.clear();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}

/** Browsers send Origin on POSTs; a page elsewhere (or a rebound DNS name) must not drive the bot. */
function sameOrigin(req: IncomingMessage, port: number): boolean {
  const allowed = new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  if (!allowed.has(req.headers.host ?? "")) return false;
  const origin = req.headers.origin;
  if (origin === undefined || origin === "null") return origin === undefined;
  try {
    return allowed.has(new URL(origin).host);
  } catch {
    return false;
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store" });
  res.end(JSON.stringify(body));
}

function parseObject(raw: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, "expected a JSON object");
}

function state(o: SandboxServerOptions) {
  return {
    team: o.slack.team,
    bot: o.slack.bot,
    channel: o.channel,
    users: o.users,
    command: o.command,
    verbs: o.verbs,
    groups: o.groups ?? {},
    digest: o.digest ? { label: o.digest.label } : null,
    outage: o.outage?.state() ?? null,
    messages: o.slack.listMessages(),
    ephemerals: o.slack.listEphemerals(),
    views: o.slack.listViews(),
  };
}

// ── Interactions ──────────────────────────────────────────────────────────────────────────────

interface Delivered {
  status: number;
  body: string;
  error: string | null;
}

/** Posts a signed form body to the bot as Slack would, with Slack's 3-second patience. */
async function deliver(o: SandboxServerOptions, body: string): Promise<Delivered> {
  try {
    const response = await fetch(o.botEventsUrl, {
      method: "POST",
      headers: signedHeaders(o.signingSecret, body),
      body,
      signal: AbortSignal.timeout(ACK_TIMEOUT_MS),
    });
    const text = await response.text();
    return { status: response.status, body: text, error: response.ok ? null : "dispatch_failed" };
  } catch (error) {
    const timedOut = (error as Error).name === "TimeoutError";
    return { status: 0, body: "", error: timedOut ? "operation_timeout" : "dispatch_failed" };
  }
}

function userOf(o: SandboxServerOptions, input: Record<string, unknown>): SlackUser {
  const user = o.users.find((u) => u.id === input.user);
  if (!user) throw new HttpError(400, "unknown user");
  return user;
}

/** What the composer accepts, as Slack's does: a message of up to 40,000 characters. */
const TYPED_MAX = 40_000;

function text(input: Record<string, unknown>, key: string, max = 4000): string {
  const value = input[key];
  if (typeof value !== "string" || value.length > max) throw new HttpError(400, `expected ${key}`);
  return value;
}

async function post(
  o: SandboxServerOptions,
  action: string,
  input: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  switch (action) {
    case "command":
      // Slack delivers long text to the app, which answers it (the bot refuses over 4,000 itself).
      return command(o, userOf(o, input), text(input, "text", TYPED_MAX));
    case "message": {
      const threadTs = typeof input.threadTs === "string" ? input.threadTs : null;
      const body = text(input, "text").trim();
      if (body === "") throw new HttpError(400, "empty message");
      o.slack.postUserMessage(o.channel.id, userOf(o, input).id, escapeTyped(body), threadTs);
      return {};
    }
    case "click":
      return click(o, userOf(o, input), input);
    case "submit":
      return submit(o, userOf(o, input), input);
    case "close": {
      userOf(o, input);
      o.slack.closeView(text(input, "viewId", 40));
      return {};
    }
    case "dismiss":
      userOf(o, input);
      o.slack.dismissEphemeral(text(input, "id", 40));
      return {};
    case "digest": {
      if (!o.digest) throw new HttpError(404, "this bot has no digests");
      return { result: await o.digest.run() };
    }
    case "break": {
      if (!o.outage) throw new HttpError(404, "this sandbox does not run its own Meilisearch");
      userOf(o, input);
      // A second press while broken does nothing: the same outage, the same end.
      return { outage: o.outage.start() };
    }
    default:
      throw new HttpError(404, "not found");
  }
}

/** What a person types is escaped by Slack before an app sees it (`&`, `<`, `>`). */
function escapeTyped(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function failureNote(o: SandboxServerOptions, user: string, what: string, delivered: Delivered): void {
  o.slack.slackbotNote(o.channel.id, user, `${what} failed with the error "${delivered.error}"`);
}

async function command(
  o: SandboxServerOptions,
  user: SlackUser,
  typed: string,
): Promise<Record<string, unknown>> {
  const match = /^\s*(\/[a-z0-9_-]+)\s*([\s\S]*)$/i.exec(typed);
  const name = match?.[1]?.toLowerCase();
  if (!match || name !== o.command.name) {
    o.slack.slackbotNote(o.channel.id, user.id, `${match?.[1] ?? typed} is not a valid command.`);
    return { delivered: false };
  }
  const args = (match[2] ?? "").trim();
  const responseUrl = o.slack.registerResponseUrl({
    channel: o.channel.id,
    user: user.id,
    source: null,
    threadTs: null,
    command: `${o.command.name}${args ? ` ${args}` : ""}`,
  });
  const fields = {
    token: "sandbox-verification-token",
    team_id: o.slack.team.id,
    team_domain: o.slack.team.domain,
    channel_id: o.channel.id,
    channel_name: o.channel.name,
    user_id: user.id,
    user_name: user.name,
    command: o.command.name,
    text: escapeTyped(args),
    api_app_id: API_APP_ID,
    is_enterprise_install: "false",
    response_url: responseUrl.url,
    trigger_id: o.slack.issueTrigger(user.id),
  };
  const delivered = await deliver(o, new URLSearchParams(fields).toString());
  if (delivered.error) {
    failureNote(o, user.id, o.command.name, delivered);
    return { delivered: false, status: delivered.status };
  }
  // An ack with a body is the first answer (ephemeral unless it says in_channel).
  if (delivered.body.trim() !== "") {
    let ack: Record<string, unknown>;
    try {
      ack = JSON.parse(delivered.body) as Record<string, unknown>;
    } catch {
      ack = { text: delivered.body };
    }
    o.slack.deliverResponse(responseUrl.id, ack);
  }
  return { delivered: true, status: delivered.status };
}

interface FoundElement {
  blockId: string;
  element: Record<string, unknown>;
}

/** The button at `blockIndex` (its accessory, or `elementIndex` of an actions block). */
function findElement(blocks: unknown[], input: Record<string, unknown>): FoundElement {
  const blockIndex = Number(input.blockIndex);
  const block = blocks[blockIndex] as Record<string, unknown> | undefined;
  if (!Number.isInteger(blockIndex) || !block) throw new HttpError(404, "no such block");
  const element =
    input.elementIndex === "accessory"
      ? block.accessory
      : Array.isArray(block.elements)
        ? block.elements[Number(input.elementIndex)]
        : undefined;
  if (!element || typeof element !== "object") throw new HttpError(404, "no such element");
  // Slack gives blocks without a block_id one of its own; a stable one per position does here.
  const blockId = typeof block.block_id === "string" ? block.block_id : `sandbox-block-${blockIndex}`;
  return { blockId, element: element as Record<string, unknown> };
}

function actionOf(found: FoundElement, input: Record<string, unknown>): Record<string, unknown> {
  const e = found.element;
  if (e.type === "static_select") {
    // A choice in a select: the option chosen, as Slack sends it.
    const options = Array.isArray(e.options) ? (e.options as Record<string, unknown>[]) : [];
    const chosen = options.find((o) => o.value === input.selected);
    if (!chosen) throw new HttpError(400, "no such option");
    return {
      type: "static_select",
      action_id: e.action_id ?? `sandbox-action-${found.blockId}`,
      block_id: found.blockId,
      selected_option: { text: chosen.text, value: chosen.value },
      ...(e.placeholder ? { placeholder: e.placeholder } : {}),
      action_ts: `${(Date.now() / 1000).toFixed(6)}`,
    };
  }
  return {
    action_id: e.action_id ?? `sandbox-action-${found.blockId}`,
    block_id: found.blockId,
    text: e.text ?? { type: "plain_text", text: "" },
    ...(typeof e.value === "string" ? { value: e.value } : {}),
    ...(typeof e.url === "string" ? { url: e.url } : {}),
    ...(typeof e.style === "string" ? { style: e.style } : {}),
    type: e.type ?? "button",
    action_ts: `${(Date.now() / 1000).toFixed(6)}`,
  };
}

async function click(
  o: SandboxServerOptions,
  user: SlackUser,
  input: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const where = input.where as Record<string, unknown> | undefined;
  const base = {
    type: "block_actions",
    user: { id: user.id, username: user.name, name: user.name, team_id: o.slack.team.id },
    api_app_id: API_APP_ID,
    token: "sandbox-verification-token",
    trigger_id: o.slack.issueTrigger(user.id),
    team: { id: o.slack.team.id, domain: o.slack.team.domain },
    enterprise: null,
    is_enterprise_install: false,
  };
  let payload: Record<string, unknown>;
  if (where?.kind === "view") {
    const view = o.slack.view(String(where.viewId));
    if (!view || view.user !== user.id) throw new HttpError(404, "no such modal");
    const found = findElement((view.view.blocks as unknown[]) ?? [], input);
    payload = {
      ...base,
      container: { type: "view", view_id: view.id },
      view: viewPayload(view, o.slack.team.id, o.slack.bot.botId, stateValues(input.values)),
      actions: [actionOf(found, input)],
    };
  } else {
    let ref: MessageRef;
    let blocks: unknown[];
    let ts: string;
    let threadTs: string | null;
    let message: Record<string, unknown> | null = null;
    if (where?.kind === "ephemeral") {
      const eph = o.slack.ephemeral(String(where.id));
      if (!eph || eph.user !== user.id) throw new HttpError(404, "no such message");
      ref = { kind: "ephemeral", id: eph.id };
      ({ blocks, ts, threadTs } = eph);
    } else {
      const stored = o.slack.message(o.channel.id, String(where?.ts ?? ""));
      if (!stored) throw new HttpError(404, "no such message");
      ref = { kind: "message", channel: stored.channel, ts: stored.ts };
      ({ blocks, ts, threadTs } = stored);
      message = {
        type: "message",
        user: stored.user,
        ...(stored.botId ? { bot_id: stored.botId, app_id: API_APP_ID } : {}),
        text: stored.text,
        blocks: stored.blocks,
        ts: stored.ts,
        ...(stored.threadTs ? { thread_ts: stored.threadTs } : {}),
        ...(stored.replyCount > 0
          ? { reply_count: stored.replyCount, latest_reply: stored.latestReply }
          : {}),
      };
    }
    const found = findElement(blocks, input);
    const responseUrl = o.slack.registerResponseUrl({
      channel: o.channel.id,
      user: user.id,
      source: ref,
      threadTs,
    });
    payload = {
      ...base,
      container: {
        type: "message",
        message_ts: ts,
        channel_id: o.channel.id,
        is_ephemeral: ref.kind === "ephemeral",
        ...(threadTs ? { thread_ts: threadTs } : {}),
      },
      channel: { id: o.channel.id, name: o.channel.name },
      ...(message ? { message } : {}),
      state: { values: {} },
      response_url: responseUrl.url,
      actions: [actionOf(found, input)],
    };
  }
  const delivered = await deliver(o, payloadBody(payload));
  if (delivered.error) {
    o.slack.slackbotNote(
      o.channel.id,
      user.id,
      `The app did not answer the click in time (${delivered.error}); Slack shows a warning next to the button.`,
    );
  }
  return { delivered: !delivered.error, status: delivered.status };
}

/** The page's input values → Slack's `state.values` (block_id → action_id → { type, value }). */
function stateValues(
  values: unknown,
): Record<string, Record<string, { type: string; value: string | null }>> {
  const out: Record<string, Record<string, { type: string; value: string | null }>> = {};
  if (!values || typeof values !== "object") return out;
  for (const [blockId, actions] of Object.entries(values as Record<string, unknown>)) {
    if (!actions || typeof actions !== "object") continue;
    out[blockId] = {};
    for (const [actionId, value] of Object.entries(actions as Record<string, unknown>)) {
      (out[blockId] as Record<string, { type: string; value: string | null }>)[actionId] = {
        type: "plain_text_input",
        value: typeof value === "string" && value !== "" ? value : null,
      };
    }
  }
  return out;
}

async function submit(
  o: SandboxServerOptions,
  user: SlackUser,
  input: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const view = o.slack.view(text(input, "viewId", 40));
  if (!view || view.user !== user.id) throw new HttpError(404, "no such modal");
  const payload = {
    type: "view_submission",
    team: { id: o.slack.team.id, domain: o.slack.team.domain },
    user: { id: user.id, username: user.name, name: user.name, team_id: o.slack.team.id },
    api_app_id: API_APP_ID,
    token: "sandbox-verification-token",
    trigger_id: o.slack.issueTrigger(user.id),
    view: viewPayload(view, o.slack.team.id, o.slack.bot.botId, stateValues(input.values)),
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
  const delivered = await deliver(o, payloadBody(payload));
  if (delivered.error) {
    return { closed: false, problem: "We had some trouble connecting. Try again?", status: delivered.status };
  }
  let answer: Record<string, unknown> = {};
  if (delivered.body.trim() !== "") {
    try {
      answer = JSON.parse(delivered.body) as Record<string, unknown>;
    } catch {
      answer = {};
    }
  }
  switch (answer.response_action) {
    case "errors":
      return { closed: false, errors: answer.errors ?? {} };
    case "update":
      if (answer.view && typeof answer.view === "object") {
        o.slack.replaceView(view.id, answer.view as Record<string, unknown>);
      }
      return { closed: false };
    case "push":
      if (answer.view && typeof answer.view === "object") {
        o.slack.pushView(user.id, answer.view as Record<string, unknown>);
      }
      return { closed: false };
    case "clear":
      o.slack.closeView(view.id, true);
      return { closed: true };
    default:
      o.slack.closeView(view.id);
      return { closed: true };
  }
}
