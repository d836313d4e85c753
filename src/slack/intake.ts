// The HTTP front door of /slack/events. Bolt's HTTPReceiver buffers up to 4 MiB of any body before
// it looks at the signature and leaves Node's server timeouts at their defaults (5 minutes for a
// request, checked every 30 s), so unsigned traffic could take memory and connections. Here the
// server is built with limits (body size, header and request timeouts, a connection cap), and a
// guard in front of Bolt's own request listener refuses, before Bolt parses anything:
//   - a body over the limit (by Content-Length before reading, or once a chunked body runs past it),
//   - anything but POST on the events path,
//   - a signature that does not verify, or a timestamp more than 5 minutes off in either direction,
//   - a form with a field given twice (a clear 400, logged),
// and answers a signed request it has already seen (same signature, within the window) once.
// Bolt then gets the already-buffered request (it verifies the signature again, cheaply) and the
// custom routes (/healthz, /readyz, /metrics) keep working through its listener.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { ListenOptions } from "node:net";
import {
  type App,
  type Logger as BoltLogger,
  HTTPModuleFunctions,
  HTTPReceiver,
  type HTTPReceiverOptions,
  type Receiver,
  verifySlackRequest,
} from "@slack/bolt";
import { LRUCache } from "lru-cache";
import type { Logger } from "../log.ts";

export interface IntakeLimits {
  /** Largest request body accepted, in bytes. Slack's payloads are a few KiB. */
  bodyBytes: number;
  /** A connection must have sent its request headers within this. */
  headersTimeoutMs: number;
  /** ... and its whole request within this. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** How often Node looks for connections past the two timeouts above (30 s by default). */
  connectionsCheckingIntervalMs: number;
  /** Connections beyond this are closed as they arrive. */
  maxConnections: number;
}

/**
 * Production limits: a connection that has not delivered its whole request is closed within
 * requestTimeoutMs + connectionsCheckingIntervalMs = 25 s (the bound: 40 s). Slack sends a
 * whole request in milliseconds, so the timeouts leave a slow network ample room.
 */
export const INTAKE_LIMITS: IntakeLimits = {
  bodyBytes: 256 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 20_000,
  keepAliveTimeoutMs: 5_000,
  connectionsCheckingIntervalMs: 5_000,
  maxConnections: 4_096,
};

/** Slack's replay window: a signed request is good for 5 minutes either side of its timestamp. */
export const TIMESTAMP_WINDOW_S = 5 * 60;
/** Signatures remembered at most (an entry is ~200 bytes: ~20 MB at the cap). */
export const SEEN_SIGNATURES_MAX = 100_000;

const FORM = "application/x-www-form-urlencoded";
/** At most one log line per kind of refused unsigned request in this long. */
export const LOG_EVERY_MS = 10_000;

/** Sets the limits on a server (before it listens: the checking interval is read on listen). */
export function applyServerLimits(server: Server, limits: IntakeLimits = INTAKE_LIMITS): Server {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // A public property of http.Server (Node ≥ 18.12) that @types/node 20 does not list.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval =
    limits.connectionsCheckingIntervalMs;
  server.maxConnections = limits.maxConnections;
  return server;
}

/**
 * A refusal: a short text, then the connection closed once it is written, so that the rest of an
 * unread body is never read (Node would otherwise drain it before closing).
 */
function refuse(res: ServerResponse, status: number, text = ""): void {
  if (res.headersSent) return;
  res.req.pause();
  res.once("finish", () => res.socket?.destroy());
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", Connection: "close" });
  res.end(text ? `${text}\n` : undefined);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" ? value : undefined;
}

/** The first form field present more than once, if any. */
export function duplicatedField(body: string): string | null {
  const seen = new Set<string>();
  for (const key of new URLSearchParams(body).keys()) {
    if (seen.has(key)) return key;
    seen.add(key);
  }
  return null;
}

export type Verdict = { ok: true; timestamp: number; signature: string } | { ok: false; reason: string };

/** Signature and timestamp, both directions (Bolt only refuses stale ones, not future ones). */
export function verifySigned(
  req: IncomingMessage,
  rawBody: string,
  signingSecret: string,
  nowMs: number,
): Verdict {
  const signature = header(req, "x-slack-signature");
  const stamp = header(req, "x-slack-request-timestamp");
  if (!signature || !stamp || !/^\d{1,12}$/.test(stamp)) {
    return { ok: false, reason: "missing or malformed signature headers" };
  }
  const timestamp = Number(stamp);
  if (Math.abs(nowMs / 1000 - timestamp) > TIMESTAMP_WINDOW_S) {
    return { ok: false, reason: "timestamp more than 5 minutes off" };
  }
  try {
    verifySlackRequest({
      signingSecret,
      body: rawBody,
      headers: { "x-slack-signature": signature, "x-slack-request-timestamp": timestamp },
      nowMilliseconds: nowMs,
    });
  } catch {
    return { ok: false, reason: "signature mismatch" };
  }
  return { ok: true, timestamp, signature };
}

export interface IntakeOptions {
  signingSecret: string;
  /** The events path (Bolt's endpoint). */
  path: string;
  logger: Logger;
  limits?: IntakeLimits;
  now?: () => number;
  /** Bolt's receiver options (custom routes, logger, processBeforeResponse…). */
  bolt: Omit<HTTPReceiverOptions, "signingSecret" | "endpoints" | "bodyLimit" | "logger"> & {
    logger: BoltLogger;
  };
}

/**
 * A Bolt receiver: Bolt's HTTPReceiver does the routing and the event dispatch; this owns the
 * server (with limits) and the guard in front.
 */
export class IntakeReceiver implements Receiver {
  readonly limits: IntakeLimits;
  /** The listening server (undefined before start and after stop). */
  server: Server | undefined;
  private readonly bolt: HTTPReceiver;
  private readonly seen: LRUCache<string, true>;
  private readonly now: () => number;

  constructor(private readonly options: IntakeOptions) {
    this.limits = options.limits ?? INTAKE_LIMITS;
    this.now = options.now ?? Date.now;
    this.bolt = new HTTPReceiver({
      ...options.bolt,
      signingSecret: options.signingSecret,
      endpoints: options.path,
      bodyLimit: this.limits.bodyBytes,
    });
    // Each entry lives until its timestamp leaves the window; past that the window refuses it.
    this.seen = new LRUCache({ max: SEEN_SIGNATURES_MAX, ttl: (2 * TIMESTAMP_WINDOW_S + 1) * 1000 });
  }

  init(app: App): void {
    this.bolt.init(app);
  }

  async start(listen: number | ListenOptions): Promise<Server> {
    if (this.server) throw new Error("the Slack receiver is already started");
    const server = applyServerLimits(
      createServer(
        {
          headersTimeout: this.limits.headersTimeoutMs,
          requestTimeout: this.limits.requestTimeoutMs,
          keepAliveTimeout: this.limits.keepAliveTimeoutMs,
          connectionsCheckingInterval: this.limits.connectionsCheckingIntervalMs,
        },
        (req, res) => this.handle(req, res),
      ),
      this.limits,
    );
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(listen, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (error) => this.options.logger.error("Slack HTTP server error", { error }));
    return server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) throw new Error("the Slack receiver is not started");
    this.server = undefined;
    await new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
  }

  private readonly quiet = new Map<string, { until: number; suppressed: number }>();

  /**
   * Refusals of unsigned traffic: anyone can send it, so a flood must not become a flood of log
   * lines. One line per kind every LOG_EVERY_MS; the next one counts those left out.
   */
  private unsignedWarn(msg: string, fields: Record<string, unknown>): void {
    const now = performance.now();
    const state = this.quiet.get(msg);
    if (state && now < state.until) {
      state.suppressed += 1;
      return;
    }
    const suppressed = state?.suppressed ?? 0;
    this.quiet.set(msg, { until: now + LOG_EVERY_MS, suppressed: 0 });
    this.options.logger.warn(msg, suppressed > 0 ? { ...fields, suppressedSinceLast: suppressed } : fields);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const { path } = this.options;
    const url = new URL(req.url ?? "/", "http://localhost");
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > this.limits.bodyBytes) {
      this.unsignedWarn("refused a request body over the limit", { path: url.pathname, bytes: declared });
      refuse(res, 413, "Request body too large.");
      return;
    }
    if (url.pathname !== path) {
      this.toBolt(req, res);
      return;
    }
    if (req.method !== "POST") {
      refuse(res, 405, "Only POST is accepted here.");
      return;
    }
    HTTPModuleFunctions.bufferIncomingMessage(req, this.limits.bodyBytes).then(
      (buffered) => this.checked(buffered, res),
      (error: unknown) => {
        if (HTTPModuleFunctions.isRawBodyError(error) && error.statusCode === 413) {
          this.unsignedWarn("refused a request body over the limit", { path: url.pathname, chunked: true });
          refuse(res, 413, "Request body too large.");
        } else {
          // The client went away or sent a malformed body: nothing to answer.
          refuse(res, 400);
          req.destroy();
        }
      },
    );
  }

  private checked(req: IncomingMessage & { rawBody: Buffer }, res: ServerResponse): void {
    const { logger, signingSecret } = this.options;
    const text = req.rawBody.toString();
    const form = header(req, "content-type") === FORM;
    // Slack's unsigned SSL check: Bolt answers it and strips anything else from the body.
    if (form && new URLSearchParams(text).getAll("ssl_check").join() === "1") {
      this.toBolt(req, res);
      return;
    }
    const verdict = verifySigned(req, text, signingSecret, this.now());
    if (!verdict.ok) {
      this.unsignedWarn("refused an unsigned or stale request", { reason: verdict.reason });
      refuse(res, 401);
      return;
    }
    const twice = form ? duplicatedField(text) : null;
    if (twice) {
      logger.warn("refused a signed request with a duplicated form field", { field: twice });
      refuse(
        res,
        400,
        `Refused: the form field "${twice}" appears more than once; Slack sends each field once.`,
      );
      return;
    }
    if (this.seen.has(verdict.signature)) {
      // A replay (or a duplicate delivery) of a request already handled: acknowledge, do nothing.
      logger.warn("ignored a signed request seen before", {
        timestamp: verdict.timestamp,
        retryNum: header(req, "x-slack-retry-num"),
      });
      res.writeHead(200);
      res.end();
      return;
    }
    const ttl = (verdict.timestamp + TIMESTAMP_WINDOW_S + 1) * 1000 - this.now();
    this.seen.set(verdict.signature, true, { ttl: Math.max(1, ttl) });
    this.toBolt(req, res);
  }

  /** Bolt's routing: events, then custom routes; an unknown path gets Bolt's 404. */
  private toBolt(req: IncomingMessage, res: ServerResponse): void {
    try {
      this.bolt.requestListener(req, res);
    } catch (error) {
      HTTPModuleFunctions.defaultDispatchErrorHandler({
        error: error as Error,
        logger: this.options.bolt.logger,
        request: req,
        response: res,
      });
    }
  }
}
