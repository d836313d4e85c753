// The root operator API: one function per operator call. Every surface (Slack, CLI, digests)
// calls only this.

import { createMeiliClient } from "../backends/meilisearch.ts";
import { createPool, type PoolOptions } from "../backends/postgres.ts";
import type { Config } from "../config.ts";
import type { OperatorError } from "../errors.ts";
import { checkReadiness, type Readiness } from "../health.ts";
import { recentAudit } from "../state/audit.ts";
import { stateExists } from "../state/migrations.ts";
import { type AlertCards, alertCards } from "./alertCards.ts";
import { observeSchema } from "./alertObservation.ts";
import { type AlertSubscriptions, alertSubscriptions } from "./alertSubscriptions.ts";
import type { AuditLogEntry } from "./auditLog.ts";
import { asBackendError, postgresRead, stateTables } from "./bounded.ts";
import { executeBulkRetry, resolveBulkRetry } from "./bulkRetry.ts";
import { createConfirmationWorkflow } from "./confirmations/index.ts";
import { type OperatorContext, type ResolvedSchema, resolveSchema } from "./context.ts";
import { indexContractDrift } from "./contractDrift.ts";
import { type DigestSlots, digestSlots } from "./digestSlots.ts";
import { failedSyncWork } from "./failedWork.ts";
import { hotApplySettings, revertHotApply } from "./hotApply.ts";
import { rememberContext } from "./internal.ts";
import { migrate, migrationStatus } from "./migrations.ts";
import { fleetPosture } from "./posture.ts";
import { precheckRequest } from "./precheck.ts";
import { reconcileSync } from "./reconcile.ts";
import { reconcileAction } from "./reconcileAction.ts";
import { auditHotApplyRefusal } from "./refusals.ts";
import { watchReplayGroup } from "./replayGroup.ts";
import { watchReplay } from "./replayWatch.ts";
import { retrySyncWork } from "./retry.ts";
import { settingsDiff, settingsRead } from "./settings.ts";
import { syncStatus, syncStatusSettled } from "./status.ts";
import { swapIndexes } from "./swap.ts";

export type { AlertCards, AlertControlResult, AlertRow, CheckRow } from "./alertCards.ts";
export type { ObservationMemory } from "./alertObservation.ts";
export type {
  AlertSubscriptions,
  SubscriptionChange,
  UnwatchResult,
  WatchRefusal,
  WatchRequest,
  WatchResult,
} from "./alertSubscriptions.ts";
// The CLI names an entry a row.
export type { AuditLogEntry, AuditLogEntry as AuditRow } from "./auditLog.ts";
export type { BulkFilter, BulkProgress, BulkRetryPlan, BulkRetryResult, BulkState } from "./bulkRetry.ts";
export type { OperatorContext, ResolvedSchema } from "./context.ts";
export type { DigestSlot, DigestSlots, SlotClaim } from "./digestSlots.ts";
export type { FailedWorkOptions, FailedWorkResult } from "./failedWork.ts";
export type { HandOffResult } from "./handOff.ts";
export type { SettingsTaskResult } from "./hotApply.ts";
export type { MigrationRun, StateVersion } from "./migrations.ts";
export type { Actor } from "./mutation.ts";
export type { FleetPosture, SchemaPosture } from "./posture.ts";
export type { ReconcileOptions, ReconcileReport } from "./reconcile.ts";
export type { ReconcileActionResult } from "./reconcileAction.ts";
export type { ArgumentRefusal } from "./refusals.ts";
export type { ReplayGroupObservation, ReplayGroupState, ReplayGroupWatch } from "./replayGroup.ts";
export type { ReplayWatch } from "./replayWatch.ts";
export type { RetryResult } from "./retry.ts";
export type { SettingsDiff, SettingsRead } from "./settings.ts";
export type { SettledStatus, StatusOptions } from "./status.ts";
export type { SwapResult } from "./swap.ts";
export { resolveSchema };

type Bound<F> = F extends (ctx: OperatorContext, ...args: infer A) => infer R ? (...args: A) => R : never;

/** Every surface's way in. The pool and clients stay inside (src/operator/internal.ts). */
export interface Operator {
  syncStatus: Bound<typeof syncStatus>;
  failedSyncWork: Bound<typeof failedSyncWork>;
  reconcileSync: Bound<typeof reconcileSync>;
  indexContractDrift: Bound<typeof indexContractDrift>;
  settingsDiff: Bound<typeof settingsDiff>;
  settingsRead: Bound<typeof settingsRead>;
  retrySyncWork: Bound<typeof retrySyncWork>;
  /** A bulk retry's filter resolved once to the explicit ids a retry would accept (capped; refusals audited). */
  resolveBulkRetry: Bound<typeof resolveBulkRetry>;
  /** Replay resolved ids in batches, each one transaction, re-validating every id. */
  executeBulkRetry: Bound<typeof executeBulkRetry>;
  reconcileAction: Bound<typeof reconcileAction>;
  swapIndexes: Bound<typeof swapIndexes>;
  hotApplySettings: Bound<typeof hotApplySettings>;
  revertHotApply: Bound<typeof revertHotApply>;
  auditLog: Bound<typeof auditLog>;
  fleetPosture: Bound<typeof fleetPosture>;
  syncStatusSettled: Bound<typeof syncStatusSettled>;
  auditHotApplyRefusal: Bound<typeof auditHotApplyRefusal>;
  /** The checks a mutation will run, before anyone is asked to confirm it (refusals audited). */
  precheckRequest: Bound<typeof precheckRequest>;
  /** A configured schema by module, alias or short name (throws unknown_schema / ambiguous_schema). */
  resolveSchema(ref: string): ResolvedSchema;
  /** A backend failure that escaped a bounded read, as the OperatorError naming its backend; null otherwise. */
  backendError(error: unknown): OperatorError | null;
  /** Whether Postgres and Meilisearch answer now (for /readyz). */
  readiness(timeoutMs?: number): Promise<Readiness>;
  /** The digest runner's slot claims and records. */
  readonly digestSlots: DigestSlots;
  /** The alert runner's check leases, alert rows and card bookkeeping; Acknowledge and Snooze. */
  readonly alertCards: AlertCards;
  /** Which channels hear which schemas' alerts: YAML and `/scrypath watch` subscriptions. */
  readonly alertSubscriptions: AlertSubscriptions;
  /** The confirmation workflow for one surface, with that surface's ports (cards, access…). */
  confirmationWorkflow: Bound<typeof createConfirmationWorkflow>;
  /**
   * One alert check of a schema: a cheap change fingerprint, and the full rollup only when it moved
   * (src/operator/alertObservation.ts). Never throws for a backend.
   */
  observeSchema: Bound<typeof observeSchema>;
  /** A confirmed retry's replay job, to observe until it is verified (null when it is gone). */
  watchReplay: Bound<typeof watchReplay>;
  /** A confirmed bulk retry's new jobs, to observe as a group (counts by state, a sampled verification). */
  watchReplayGroup: Bound<typeof watchReplayGroup>;
  /** Create or upgrade the bot's own schema (the only DDL the bot runs; `scrypath-bot migrate`). */
  migrate: Bound<typeof migrate>;
  /** The bot's schema version and the latest this release knows; read only. */
  migrationStatus: Bound<typeof migrationStatus>;
  close(): Promise<void>;
}

/** Recent audit entries, newest first (empty before the first mutation created the tables). */
async function auditLog(
  ctx: OperatorContext,
  options: { schema?: string | null; limit?: number } = {},
): Promise<AuditLogEntry[]> {
  const name = ctx.config.state.schema;
  // Resolve first: an unknown schema is an error even before the first mutation.
  const schema = options.schema ? resolveSchema(ctx, options.schema).module : null;
  const limit = Math.min(Math.max(options.limit ?? 20, 1), 200);
  // The same bound and the same sentences as every other Postgres read.
  return postgresRead(ctx, stateTables(ctx, "audit_log"), async () => {
    if (!(await stateExists(ctx.db, name))) return [];
    return recentAudit(ctx.db, name, { schema, limit });
  });
}

export function createOperator(context: OperatorContext): Operator {
  const operator: Operator = {
    syncStatus: (...args) => syncStatus(context, ...args),
    failedSyncWork: (...args) => failedSyncWork(context, ...args),
    reconcileSync: (...args) => reconcileSync(context, ...args),
    indexContractDrift: (...args) => indexContractDrift(context, ...args),
    settingsDiff: (...args) => settingsDiff(context, ...args),
    settingsRead: (...args) => settingsRead(context, ...args),
    retrySyncWork: (...args) => retrySyncWork(context, ...args),
    resolveBulkRetry: (...args) => resolveBulkRetry(context, ...args),
    executeBulkRetry: (...args) => executeBulkRetry(context, ...args),
    reconcileAction: (...args) => reconcileAction(context, ...args),
    swapIndexes: (...args) => swapIndexes(context, ...args),
    hotApplySettings: (...args) => hotApplySettings(context, ...args),
    revertHotApply: (...args) => revertHotApply(context, ...args),
    auditLog: (...args) => auditLog(context, ...args),
    fleetPosture: (...args) => fleetPosture(context, ...args),
    syncStatusSettled: (...args) => syncStatusSettled(context, ...args),
    auditHotApplyRefusal: (...args) => auditHotApplyRefusal(context, ...args),
    precheckRequest: (...args) => precheckRequest(context, ...args),
    resolveSchema: (ref) => resolveSchema(context, ref),
    backendError: (error) => asBackendError(error, context),
    readiness: (timeoutMs) =>
      checkReadiness({
        db: context.db,
        databaseUrl: context.config.database.url,
        meilisearch: context.config.meilisearch,
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      }),
    digestSlots: digestSlots(context),
    alertCards: alertCards(context),
    alertSubscriptions: alertSubscriptions(context),
    confirmationWorkflow: (...args) => createConfirmationWorkflow(context, ...args),
    watchReplay: (...args) => watchReplay(context, ...args),
    watchReplayGroup: (...args) => watchReplayGroup(context, ...args),
    observeSchema: (...args) => observeSchema(context, ...args),
    migrate: () => migrate(context),
    migrationStatus: () => migrationStatus(context),
    close: () => context.db.end(),
  };
  rememberContext(operator, context);
  return operator;
}

/** The pool's bounds from the `database:` section. */
export function poolOptions(config: Config): PoolOptions {
  const d = config.database;
  return {
    max: d.poolSize,
    connectTimeoutMs: d.connectTimeoutMs,
    statementTimeoutMs: d.statementTimeoutMs,
    queryTimeoutMs: d.queryTimeoutMs,
    keepAliveInitialDelayMs: d.keepAliveInitialDelayMs,
  };
}

/** Open the backends a configuration names. Nothing connects until the first call. */
export function openOperator(config: Config, options: { poolSize?: number } = {}): Operator {
  return createOperator({
    config,
    db: createPool(config.database.url, {
      ...poolOptions(config),
      max: options.poolSize ?? config.database.poolSize,
    }),
    meili: createMeiliClient(config.meilisearch),
  });
}
