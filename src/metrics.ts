// Prometheus metrics, one Registry per app instance (several apps can live in one test process).
// Label values are bounded: verbs and outcomes come from fixed lists, Slack methods are checked
// against the method-name shape, and everything else is "other".
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface Metrics {
  registry: Registry;
  /** Slash commands and button clicks, by verb and outcome (ok, usage, denied, backend_error, error). */
  commands: Counter<"verb" | "outcome">;
  /** From ack to the answer posted, by verb and outcome. */
  commandSeconds: Histogram<"verb" | "outcome">;
  /** Answers that named an unreachable or failing backend. */
  backendErrors: Counter<"backend">;
  /** Failed calls to Slack: Web API methods by name, response_url posts as "response_url". */
  slackApiErrors: Counter<"method" | "reason">;
  /** 429 answers from Slack, and the seconds Slack asked to wait (Retry-After): the clients' rate_limited event. */
  slackRateLimited: Counter<"method">;
  slackRateLimitWaitSeconds: Counter<"method">;
  /** "Still working" notes posted because the answer took longer than the threshold. */
  workingNotes: Counter<"verb">;
  /** Bugs: errors no command turned into a message. */
  unexpectedErrors: Counter<"where">;
  /** Confirmation requests by kind (retry, backfill, reindex, swap, hot_apply, revert) and outcome. */
  confirmations: Counter<"kind" | "outcome">;
  /** Slack calls retried by the Web API client's retry policy (chat.update, reads…; never chat.postMessage), by method and reason. */
  slackRetries: Counter<"method" | "reason">;
  /** Retry verifications that reached a final state, by state. */
  verifications: Counter<"state">;
  /** Bulk retries followed as a group to a final state, by state. */
  groupFollows: Counter<"state">;
  /** Digest slots worked, by digest name and outcome (posted, skipped, failed, taken, …). */
  digests: Counter<"digest" | "outcome">;
  /** Live-alert work, by outcome (checked, taken, opened, posted, edited, timeline, resolved, …). */
  alerts: Counter<"outcome">;
  /** 1 while the bot takes Slack traffic (readiness), 0 while it starts or drains. */
  ready: Gauge;
  /** Each backend as the last deep readiness check found it (1 up, 0 down), by backend. */
  backendUp: Gauge<"backend">;
  /** Prometheus text exposition. */
  text(): Promise<string>;
  contentType: string;
}

export const OUTCOMES = ["ok", "usage", "denied", "backend_error", "error"] as const;

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: "scrypath_bot_" });
  const registers = [registry];
  return {
    registry,
    commands: new Counter({
      name: "scrypath_bot_commands_total",
      help: "Slash commands and read-only button clicks handled, by verb and outcome.",
      labelNames: ["verb", "outcome"],
      registers,
    }),
    commandSeconds: new Histogram({
      name: "scrypath_bot_command_duration_seconds",
      help: "Time from acknowledging a command or click to posting its answer.",
      labelNames: ["verb", "outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10, 20, 30],
      registers,
    }),
    backendErrors: new Counter({
      name: "scrypath_bot_backend_errors_total",
      help: "Answers that reported an unreachable or failing backend, by backend.",
      labelNames: ["backend"],
      registers,
    }),
    slackApiErrors: new Counter({
      name: "scrypath_bot_slack_api_errors_total",
      help: "Failed calls to Slack (Web API methods, and response_url posts as method response_url).",
      labelNames: ["method", "reason"],
      registers,
    }),
    slackRateLimited: new Counter({
      name: "scrypath_bot_slack_rate_limited_total",
      help: "HTTP 429 answers from Slack, by method.",
      labelNames: ["method"],
      registers,
    }),
    slackRateLimitWaitSeconds: new Counter({
      name: "scrypath_bot_slack_rate_limit_wait_seconds_total",
      help: "Seconds Slack asked the bot to wait (Retry-After) after rate limiting, by method.",
      labelNames: ["method"],
      registers,
    }),
    workingNotes: new Counter({
      name: "scrypath_bot_working_notes_total",
      help: "'Still working' notes posted because an answer took longer than the threshold.",
      labelNames: ["verb"],
      registers,
    }),
    unexpectedErrors: new Counter({
      name: "scrypath_bot_unexpected_errors_total",
      help: "Errors that no command turned into a message (bugs), by where they were caught.",
      labelNames: ["where"],
      registers,
    }),
    confirmations: new Counter({
      name: "scrypath_bot_confirmations_total",
      help: "Mutation confirmation requests, by kind and outcome (requested, confirmed, done, failed, cancelled, expired, refused).",
      labelNames: ["kind", "outcome"],
      registers,
    }),
    slackRetries: new Counter({
      name: "scrypath_bot_slack_retries_total",
      help: "Slack Web API calls retried after a rate limit, a 5xx or a network error (never chat.postMessage), by method and reason.",
      labelNames: ["method", "reason"],
      registers,
    }),
    verifications: new Counter({
      name: "scrypath_bot_retry_verifications_total",
      help: "Retry verifications followed to a final state (verified, failed, timed_out, unknown), by state.",
      labelNames: ["state"],
      registers,
    }),
    groupFollows: new Counter({
      name: "scrypath_bot_bulk_retry_follows_total",
      help: "Bulk retries followed as a group to a final state (completed, failed, unknown, timed_out), by state.",
      labelNames: ["state"],
      registers,
    }),
    digests: new Counter({
      name: "scrypath_bot_digests_total",
      help: "Digest slots worked, by digest name and outcome (posted, skipped, failed, taken, busy, no_slot, outside_grace).",
      labelNames: ["digest", "outcome"],
      registers,
    }),
    alerts: new Counter({
      name: "scrypath_bot_alerts_total",
      help: "Live-alert work by outcome: schemas checked or taken by another replica, alerts opened and resolved, cards posted, adopted after a crash and edited, timeline messages, unconfirmed posts, failed checks and Slack calls.",
      labelNames: ["outcome"],
      registers,
    }),
    ready: new Gauge({
      name: "scrypath_bot_ready",
      help: "1 while the bot takes Slack traffic (its /readyz), 0 while it starts or drains after SIGTERM.",
      registers,
    }),
    backendUp: new Gauge({
      name: "scrypath_bot_backend_up",
      help: "Each backend (postgres, meilisearch) as the last deep check (/readyz?deep=1) found it: 1 up, 0 down.",
      labelNames: ["backend"],
      registers,
    }),
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
}

/** A bounded label for a verb: one of `known`, else "other". */
export function verbLabel(verb: string | null | undefined, known: readonly string[]): string {
  return verb && known.includes(verb) ? verb : "other";
}

/** A bounded label for a Slack Web API method name (`chat.postMessage`), else "other". */
export function methodLabel(method: string): string {
  return /^[a-z]+(\.[A-Za-z]+){1,3}$/.test(method) && method.length <= 64 ? method : "other";
}

/** A bounded label for a Slack error code (`channel_not_found`, `http_503`, `network`). */
export function reasonLabel(reason: string): string {
  return /^[a-z0-9_]{1,64}$/.test(reason) ? reason : "other";
}
