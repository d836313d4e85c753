// GET /healthz (the process answers), /readyz (Postgres and Meilisearch reachable) and /metrics
// (Prometheus text), served by Bolt's customRoutes in HTTP and in Socket Mode.
import type { ServerResponse } from "node:http";
import type { CustomRoute } from "@slack/bolt";
import type { Readiness } from "../health.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";

export interface RouteDeps {
  readiness: () => Promise<Readiness>;
  metrics: Metrics;
  logger: Logger;
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "Content-Type": contentType, "Cache-Control": "no-store" });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, "application/json; charset=utf-8", `${JSON.stringify(body)}\n`);
}

export function healthRoutes(deps: RouteDeps): CustomRoute[] {
  return [
    {
      path: "/healthz",
      method: ["GET", "HEAD"],
      handler: (_req, res) => json(res, 200, { status: "ok" }),
    },
    {
      path: "/readyz",
      method: ["GET", "HEAD"],
      handler: (_req, res) => {
        deps
          .readiness()
          .then((r) => json(res, r.ready ? 200 : 503, r))
          .catch((error: unknown) => {
            deps.logger.error("readiness check failed", { error });
            json(res, 503, { ready: false, error: "the readiness check itself failed; see the bot's log" });
          });
      },
    },
    {
      path: "/metrics",
      method: ["GET"],
      handler: (_req, res) => {
        deps.metrics
          .text()
          .then((text) => send(res, 200, deps.metrics.contentType, text))
          .catch((error: unknown) => {
            deps.logger.error("metrics exposition failed", { error });
            send(res, 500, "text/plain; charset=utf-8", "metrics unavailable\n");
          });
      },
    },
  ];
}
