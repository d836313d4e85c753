// What every view returns: a Slack message body. Views are pure functions from operator
// results to this; they own Block Kit limits, truncation, escaping and redaction.
import type { KnownBlock } from "@slack/types";

export interface SlackMessage {
  /** Plain-text fallback for notifications and screen readers; always present. */
  text: string;
  blocks: KnownBlock[];
}

/** Optional URL templates (`{id}`, `{queue}`, `{index}`, `{schema}` placeholders). */
export interface DashboardLinks {
  job?: string;
  index?: string;
  runbook?: string;
}

/** What views need besides the operator result. */
export interface ViewContext {
  /** "Now", for ages ("3 h ago"); injected so views stay pure. */
  now: Date;
  dashboardLinks: DashboardLinks;
  /** Slack user id of the requester when the message is shared in the channel. */
  sharedBy?: string | null;
}

/** action_ids of the buttons views render; src/slack/actions routes on these. */
export const ACTIONS = {
  openFailed: "scrypath.open.failed",
  openReconcile: "scrypath.open.reconcile",
  openDrift: "scrypath.open.drift",
  openStatus: "scrypath.open.status",
  page: "scrypath.failed.page",
} as const;

/**
 * action_ids on an alert card (views/alert.ts). Failed work and Reconcile carry an `OpenValue`
 * ({ schema }) and answer in the card's thread; Acknowledge carries the alert id; Snooze is a
 * static select whose option values are `<alert id>:<SNOOZE_CHOICES key>`.
 */
export const ALERT_ACTIONS = {
  failed: "scrypath.alert.failed",
  reconcile: "scrypath.alert.reconcile",
  acknowledge: "scrypath.alert.ack",
  snooze: "scrypath.alert.snooze",
} as const;

/** Snooze choices: seconds, or null for "until resolved". */
export const SNOOZE_CHOICES = { "1h": 3600, "4h": 14_400, "24h": 86_400, resolved: null } as const;
export type SnoozeChoice = keyof typeof SNOOZE_CHOICES;

/**
 * Button values are JSON of this shape (≤ 2000 chars): enough to re-run the read that the
 * button opens. Never trusted: handlers re-validate the schema and options.
 */
export interface OpenValue {
  schema: string;
  cursor?: string | null;
  page?: number;
  reasonClass?: string;
  source?: string;
}

/**
 * action_ids of the buttons that *request* a mutation. A click never acts: the handler re-validates
 * the value and posts a confirmation card (views/confirm.ts) that an operator must confirm.
 */
export const REQUEST_ACTIONS = {
  retry: "scrypath.request.retry",
  action: "scrypath.request.action",
  /** "Retry all N <class>…" on the failed view's class rollup: a bulk retry of one class. */
  bulkRetry: "scrypath.request.bulk_retry",
} as const;

/** Value of a `REQUEST_ACTIONS.retry` button (JSON): the schema module and `oban:<job id>`. */
export interface RetryRequestValue {
  schema: string;
  target: string;
}

/**
 * Value of a `REQUEST_ACTIONS.bulkRetry` button (JSON): the schema module, the reason class and
 * the Oban states to retry (default terminal). The ids are resolved when the card is requested.
 */
export interface BulkRetryRequestValue {
  schema: string;
  reasonClass: string;
  state?: "terminal" | "retrying" | "all";
}

/** Value of a `REQUEST_ACTIONS.action` button (JSON), as `/scrypath reconcile <schema> --action` takes it. */
export interface ActionRequestValue {
  schema: string;
  action: "retry" | "backfill" | "reindex" | "swap";
  id?: string;
  targetIndex?: string;
}
