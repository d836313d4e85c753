// Types that mirror Scrypath's operator structs (spec scrypath-operator §2–§6).
// Field names are camelCase here; the CLI's --json output maps them back to upstream names.

import type { ReplayVerdict } from "./tally.ts";

export type SyncMode = "inline" | "manual" | "oban";
export type Source = "meilisearch" | "oban";
export type Operation = "upsert" | "delete" | "unknown";

/** Canonical order everywhere (§3.4). */
export const REASON_CLASSES = [
  "transport",
  "validation",
  "backend_rejected",
  "queue_exhausted",
  "unknown",
] as const;
export type ReasonClass = (typeof REASON_CLASSES)[number];

/**
 * Oban job states as the v14 enum has them (meilisearch-and-oban §B1): the one list; the groups
 * the bot reads them in (failed work, queue buckets, unfinished) are derived from it in states.ts.
 */
export const OBAN_STATES = [
  "available",
  "suspended",
  "scheduled",
  "executing",
  "retryable",
  "completed",
  "discarded",
  "cancelled",
] as const;
export type ObanState = (typeof OBAN_STATES)[number];

/** How many failed Oban jobs of a schema are in one state and reason class (SQL rollup). */
export interface FailedRollupCell {
  state: string;
  reasonClass: ReasonClass;
  count: number;
  /** Of them, rows Scrypath can replay; null when not counted. */
  replayable: number | null;
  /** The earliest `scheduled_at` among them (for `retryable`: when Oban next retries). */
  firstScheduledAt?: Date | null;
}

/** Normalized Meilisearch task status (§1.4). */
export type TaskStatus = "enqueued" | "processing" | "succeeded" | "failed" | "cancelled";

/** A Meilisearch task as the tasks API returns it (open `type`, §A1). */
export interface MeiliTask {
  uid: number;
  indexUid: string | null;
  status: string;
  type: string;
  error?: { message?: string; code?: string; type?: string; link?: string } | null;
  details?: Record<string, unknown>;
  enqueuedAt?: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
}

/** One `oban_jobs` row as the backend reads it (ids parsed to numbers, timestamps as UTC Dates). */
export interface ObanJob {
  id: number;
  state: string;
  queue: string;
  worker: string;
  args: Record<string, unknown>;
  /** Only the newest error is read for classification; `firstError` feeds upstream's `reason`. */
  lastError: unknown;
  firstError: unknown;
  attempt: number;
  maxAttempts: number;
  attemptedAt: Date | null;
  completedAt: Date | null;
  /** `completed_at` as Postgres stores it, to the microsecond (`2026-10-04T17:02:05.123456Z`). */
  completedAtIso?: string | null;
  insertedAt: Date | null;
  /** When Oban runs it next (for a `retryable` job: its next attempt). */
  scheduledAt?: Date | null;
}

/** Status-plane state (§2.1). Backend states: pending/completed/failed; queue: queued/retrying/failed/completed. */
export type PlaneState = "pending" | "completed" | "failed" | "queued" | "retrying";

export interface SyncState {
  source: Source;
  kind: "backend_task" | "queue_job";
  id: number;
  state: PlaneState;
  at: Date | null;
  /**
   * `at` at the source's precision, up to microseconds, in UTC (`2026-10-04T17:02:05.123456Z`):
   * a JS Date keeps milliseconds only. Absent or null: print `at`.
   */
  atIso?: string | null;
  /** backend: task type; queue: worker, queue and Oban state. */
  metadata: Record<string, string>;
}

/** A bounded view of a plane bucket: `total` is exact, `items` are the newest few. */
export interface Bucket {
  total: number;
  items: SyncState[];
}

export interface Status {
  schema: string;
  mode: SyncMode;
  index: string;
  backend: { pending: Bucket; failed: Bucket; lastSucceeded: SyncState | null };
  queue: {
    observed: boolean;
    pending: Bucket;
    retrying: Bucket;
    failed: Bucket;
    lastSucceeded: SyncState | null;
  };
}

export interface RecoveryAction {
  kind: "retry" | "backfill" | "reindex";
  schema: string;
  backend: string;
  mode: SyncMode;
  operation: Operation;
  index: string;
  /** Present on retry actions: the job to replay and its full args. */
  reference: { jobId: number; queue: string; payload: Record<string, unknown> } | null;
}

export interface FailedWork {
  id: number;
  schema: string;
  mode: SyncMode;
  source: Source;
  operation: Operation;
  state: "failed" | "retrying";
  retryable: boolean;
  reason: string;
  failedAt: Date | null;
  lastAttemptAt: Date | null;
  attempt: number | null;
  maxAttempts: number | null;
  reasonClass: ReasonClass;
  recovery: RecoveryAction | null;
  metadata: { index: string; taskUid: number; type: string } | { worker: string; queue: string };
  /** Improvement over upstream: first line of the newest error, secrets redacted. */
  lastError: string | null;
  /** Set by the operator when the bot replayed this row: the new job and its current state. */
  replayedAs?: ReplayRef | null;
  /** A `retrying` row: when Oban tries it again by itself (its `scheduled_at`). */
  retryAt?: Date | null;
}

export interface ReplayRef {
  jobId: number;
  /** Current Oban state of the replay job; null when it is gone (pruned). */
  state: string | null;
  /** What following the replay established (`verified`…); null or absent when not followed to the end. */
  verification?: ReplayVerdict | null;
  requestedBy: string;
  at: Date;
}

export interface ReasonClassCounts {
  version: 1;
  total: number;
  byClass: Record<ReasonClass, number>;
}

export interface ReindexVisibility {
  liveIndex: string;
  targetIndex: string;
  observed: boolean;
  taskState: "pending" | "failed" | "idle" | "completed" | "unknown";
  cutover: "completed" | "pending" | "not_started";
  lastTask: { id: number; state: TaskStatus; type: string } | null;
}

export const DRIFT_SIGNALS = [
  "pending_backend_work",
  "pending_queue_work",
  "failed_sync_work",
  "reindex_visibility_available",
  "reindex_in_progress",
  "reindex_cutover_pending",
] as const;
export type DriftSignal = (typeof DRIFT_SIGNALS)[number];

export const CONTRACT_DIMENSIONS = [
  "fields",
  "filterable_attributes",
  "sortable_attributes",
  "faceting",
  "settings",
] as const;
export type ContractDimensionName = (typeof CONTRACT_DIMENSIONS)[number];

export type SetDetail = { only_declared: string } | { only_applied: string } | { truncated: true };
export type SettingsDetail = { key: string; declared: unknown; applied: unknown | "not_present" };
export type FacetingDetail = { declared: unknown; applied: unknown };
export type DimensionDetail = SetDetail | SettingsDetail | FacetingDetail;

export interface ContractDimension {
  match: boolean;
  details: DimensionDetail[];
}

export interface ContractDriftReport {
  version: 1;
  /** `Elixir.`-prefixed module, as upstream's JSON (§6.3). */
  schema: string;
  index: string;
  dimensions: Record<ContractDimensionName, ContractDimension>;
}

/** What a schema declares with `use Scrypath` (§6.1), as configured for the bot. */
export interface SchemaContract {
  fields: string[];
  filterable: string[];
  sortable: string[];
  faceting: {
    attributes: string[];
    maxValuesPerFacet: number;
    sortFacetValuesBy: Record<string, "alpha" | "count">;
  } | null;
  /** Canonical snake_case keys (§2.6 normalization); unrecognized keys kept as given. */
  settings: Record<string, unknown>;
}
