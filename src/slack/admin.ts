// The admin server, on its own port (ADMIN_PORT, default 9090), never on the Slack port:
//   GET /healthz        liveness: the process serves (200 while it runs).
//   GET /readyz         readiness: the bot takes Slack traffic (receiver or socket up, not draining).
//                       A backend outage is not a readiness failure: answers and metrics report it,
//                       so a Meilisearch outage does not drop every replica out of the Service.
//   GET /readyz?deep=1  Postgres and Meilisearch checked now: 503 naming the backend down and why.
//   GET /metrics        Prometheus text.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Readiness } from "../health.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";

/** Where the bot stands: readiness is 200 only while "serving". */
export type Phase = "starting" | "serving" | "draining" | "stopped";

export interface AdminDeps {
  phase: () => Phase;
  backends: () => Promise<Readiness>;
  metrics: Metrics;
  logger: Logger;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "Content-Type": contentType, "Cache-Control": "no-store" });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json; charset=utf-8", `${JSON.stringify(body)}\n`);
}

/** The deep check's answer: each backend, and which are down (with why) when any is. */
async function deep(deps: AdminDeps, res: ServerResponse): Promise<void> {
  const r = await deps.backends();
  deps.metrics.backendUp.set({ backend: "postgres" }, r.postgres.ok ? 1 : 0);
  deps.metrics.backendUp.set({ backend: "meilisearch" }, r.meilisearch.ok ? 1 : 0);
  const down = (["postgres", "meilisearch"] as const)
    .filter((name) => !r[name].ok)
    .map((name) => ({ backend: name, error: r[name].error ?? "not ok" }));
  json(res, down.length === 0 ? 200 : 503, {
    ready: down.length === 0,
    phase: deps.phase(),
    postgres: r.postgres,
    meilisearch: r.meilisearch,
    ...(down.length > 0 ? { down } : {}),
  });
}

function handle(deps: AdminDeps, req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://admin");
  const read = req.method === "GET" || req.method === "HEAD";
  if (!read) {
    send(res, url.pathname.match(/^\/(healthz|readyz|metrics)$/) ? 405 : 404, "text/plain", "");
    return;
  }
  switch (url.pathname) {
    case "/healthz":
      json(res, 200, { status: "ok" });
      return;
    case "/readyz": {
      const deepCheck = url.searchParams.get("deep");
      if (deepCheck !== null && deepCheck !== "0" && deepCheck !== "false") {
        deep(deps, res).catch((error: unknown) => {
          deps.logger.error("deep readiness check failed", { error });
          json(res, 503, { ready: false, error: "the deep check itself failed; see the bot's log" });
        });
        return;
      }
      const phase = deps.phase();
      json(res, phase === "serving" ? 200 : 503, { ready: phase === "serving", phase });
      return;
    }
    case "/metrics":
      deps.metrics
        .text()
        .then((text) => send(res, 200, deps.metrics.contentType, text))
        .catch((error: unknown) => {
          deps.logger.error("metrics exposition failed", { error });
          send(res, 500, "text/plain; charset=utf-8", "metrics unavailable\n");
        });
      return;
    default:
      send(res, 404, "text/plain; charset=utf-8", "not found\n");
  }
}

/** The admin server (not listening yet). */
export function createAdminServer(deps: AdminDeps): Server {
  return createServer((req, res) => handle(deps, req, res));
}
