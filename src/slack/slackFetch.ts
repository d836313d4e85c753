// The fetch every Slack HTTP call goes through (Web API client, Socket Mode's connections.open,
// and Bolt's respond()). It counts Web API failures (the SDK keeps no such count; 429s are counted
// from the clients' rate_limited event, see chat.ts), and bounds response_url posts, which Bolt
// sends without a timeout.
import type { Metrics } from "../metrics.ts";
import { methodLabel, reasonLabel } from "../metrics.ts";

export const SLACK_API_URL = "https://slack.com/api/";
/** A response_url post that has not answered by then is given up (and logged by the caller). */
export const RESPONSE_URL_TIMEOUT_MS = 10_000;

function urlOf(input: Parameters<typeof fetch>[0]): string {
  if (typeof input === "string") return input;
  if (input instanceof URL) return input.href;
  return input.url;
}

export function slackFetch(metrics: Metrics, apiUrl: string = SLACK_API_URL): typeof fetch {
  return async (input, init) => {
    const url = urlOf(input);
    if (!url.startsWith(apiUrl)) {
      // response_url: the caller (respond) counts and logs its failures.
      return fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(RESPONSE_URL_TIMEOUT_MS) });
    }
    const method = methodLabel(url.slice(apiUrl.length).split("?")[0] ?? "");
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      const name = (error as Error)?.name;
      metrics.slackApiErrors.inc({ method, reason: name === "TimeoutError" ? "timeout" : "network" });
      throw error;
    }
    if (response.status === 429) return response;
    if (!response.ok) {
      metrics.slackApiErrors.inc({ method, reason: `http_${response.status}` });
    } else {
      const body = (await response
        .clone()
        .json()
        .catch(() => null)) as { ok?: boolean; error?: string } | null;
      if (body?.ok === false)
        metrics.slackApiErrors.inc({ method, reason: reasonLabel(body.error ?? "unknown") });
    }
    return response;
  };
}
