// The live-alert model's types: what one check of a schema observed, what an alert's card shows
// (its evidence), and what goes to its thread. Pure data (JSON-safe: times are ISO strings), shared
// by the alert engine (src/core/alerts.ts, src/alerts), the operator's observation and the views.
import type { ContractDimensionName, ReasonClass } from "./types.ts";

export const ALERT_CONDITIONS = ["failures", "drift", "unreadable", "stuck"] as const;
/**
 * - failures: terminal failed work (Oban discarded/cancelled, Meilisearch failed tasks) younger than
 *   `alerts.window`, not resolved by a replay, at least `minFailures` of it;
 * - drift: the live index no longer matches the declared contract (any of the five dimensions);
 * - unreadable: Postgres or Meilisearch could not be read for `unreadableAfter` consecutive checks;
 * - stuck: pending work older than `alerts.stuckAfter` (optional).
 */
export type AlertCondition = (typeof ALERT_CONDITIONS)[number];

export type Backend = "postgres" | "meilisearch";

/** The newest terminal failure's first error line (redacted), its class and when it failed. */
export interface NewestFailure {
  at: string;
  reasonClass: ReasonClass;
  /** One line, secrets redacted, at most 300 characters. */
  error: string | null;
  source: "oban" | "meilisearch";
}

/**
 * Terminal failed work of one schema, counted as `/scrypath failed` and the digest count it: the
 * same rollup and tally. `recent*` count only rows that failed within the window and are not
 * resolved by a replay: what the failures condition compares with `minFailures`.
 */
export interface FailuresObservation {
  /** Terminal rows in total (both planes), by class: the `/scrypath failed` headline. */
  terminal: number;
  byClass: Partial<Record<ReasonClass, number>>;
  /** Terminal rows still needing triage (not resolved by a replay): the tally's figure. */
  needTriage: number;
  /** Rows that failed within the window and are not resolved by a replay. */
  recent: number;
  recentByClass: Partial<Record<ReasonClass, number>>;
  /** When the oldest of the recent rows failed (it leaves the window at that time + window). */
  oldestRecentAt: string | null;
  newest: NewestFailure | null;
  /** Replays the bot made of this schema's failed rows, and how many are resolved / verified. */
  replays: { total: number; resolved: number; verified: number };
  /** "queue": Meilisearch could not be read, only Oban's plane is counted. */
  scope: "all" | "queue";
}

/** One backend that could not be read in this check, with its one sentence. */
export interface ReadProblem {
  backend: Backend;
  message: string;
}

/** What one check of one schema saw. Null parts could not be read or do not apply. */
export interface SchemaObservation {
  schema: string;
  alias: string | null;
  index: string | null;
  checkedAt: string;
  failures: FailuresObservation | null;
  /** Null: no contract declared, or it could not be read. */
  drift: { differing: ContractDimensionName[] } | null;
  /** Null: not configured (no stuckAfter), not an Oban schema, or unreadable. */
  stuck: { pending: number; oldestPendingAt: string | null } | null;
  problems: ReadProblem[];
  /**
   * The cheap change fingerprint this observation was computed for (index-only counts and newest
   * ids per state, Meilisearch task totals): an unchanged fingerprint reuses the observation.
   */
  fingerprint: string | null;
  /** Whether the full rollup ran for this check (false: the fingerprint was unchanged). */
  full: boolean;
}

/** What an alert's card shows for its condition (JSON-safe, stored with the alert). */
export type AlertEvidence =
  | {
      condition: "failures";
      recent: number;
      recentByClass: Partial<Record<ReasonClass, number>>;
      /** The recent rows' most frequent class (ties: REASON_CLASSES order). */
      dominant: ReasonClass | null;
      terminal: number;
      needTriage: number;
      newest: NewestFailure | null;
      replays: { total: number; resolved: number; verified: number };
      windowSeconds: number;
      minFailures: number;
      scope: "all" | "queue";
    }
  | { condition: "drift"; differing: ContractDimensionName[] }
  | { condition: "unreadable"; problems: ReadProblem[]; failedChecks: number; since: string }
  | { condition: "stuck"; pending: number; oldestPendingAt: string; stuckAfterSeconds: number };

/** A notable change, for the thread's timeline. */
export type TimelineEvent =
  | { kind: "new_class"; at: string; reasonClass: ReasonClass; count: number }
  | { kind: "doubled"; at: string; from: number; to: number }
  | { kind: "retry_confirmed"; at: string; replays: number }
  | { kind: "replays_resolved"; at: string; resolved: number; verified: number }
  | { kind: "reopened"; at: string }
  | { kind: "clearing"; at: string }
  | { kind: "drift_changed"; at: string; differing: ContractDimensionName[] }
  | { kind: "acknowledged"; at: string; userId: string }
  | { kind: "snoozed"; at: string; userId: string; until: string | null }
  | { kind: "resolved"; at: string; durationSeconds: number };

/** Everything the card view needs (views/alert.ts). */
export interface AlertCardModel {
  id: number;
  condition: AlertCondition;
  schema: string;
  alias: string | null;
  index: string | null;
  status: "open" | "resolved";
  openedAt: string;
  /** The condition is false since then; it resolves after the hold-down unless it comes back. */
  clearingSince: string | null;
  resolvedAt: string | null;
  evidence: AlertEvidence;
  /** The last check that updated the evidence. */
  checkedAt: string;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  /** Snoozed until then (null: not snoozed, unless `snoozedUntilResolved`). */
  snoozedUntil: string | null;
  snoozedUntilResolved: boolean;
  snoozedBy: string | null;
  /** User group mentioned on the open post only. */
  mention: string | null;
}

/**
 * A channel's subscription as the alert engine reads it: from the configuration (`alerts.subscriptions`,
 * kept in code review) or made from Slack (`/scrypath watch`, stored in the bot's tables).
 */
export interface AlertSubscription {
  /** `config:<index>` for YAML entries, `watch:<id>` for stored ones. */
  key: string;
  source: "config" | "watch";
  channel: string;
  /** Module names; null: every configured schema. */
  schemas: string[] | null;
  on: AlertCondition[];
  minFailures: number;
  mention: string | null;
  /** Who made a stored one (a Slack user id) and when; null for YAML entries. */
  createdBy: string | null;
  createdAt: string | null;
  /** Who last changed a stored one with `/scrypath watch` and when; null or absent: as created. */
  updatedBy?: string | null;
  updatedAt?: string | null;
}
