// The root operator API: one function per operator call. Every surface (Slack, CLI, digests)
// calls only this.

import { createMeiliClient } from "../backends/meilisearch.ts";
import { createPool } from "../backends/postgres.ts";
import type { Config } from "../config.ts";
import type { OperatorContext } from "./context.ts";
import { indexContractDrift } from "./contractDrift.ts";
import { failedSyncWork } from "./failedWork.ts";
import { reconcileSync } from "./reconcile.ts";
import { settingsDiff, settingsRead } from "./settings.ts";
import { syncStatus } from "./status.ts";

export type { OperatorContext, ResolvedSchema } from "./context.ts";
export { resolveSchema } from "./context.ts";
export type { FailedWorkOptions, FailedWorkResult } from "./failedWork.ts";
export type { ReconcileOptions, ReconcileReport } from "./reconcile.ts";
export type { SettingsDiff, SettingsRead } from "./settings.ts";
export type { StatusOptions } from "./status.ts";

type Bound<F> = F extends (ctx: OperatorContext, ...args: infer A) => infer R ? (...args: A) => R : never;

export interface Operator {
  readonly context: OperatorContext;
  syncStatus: Bound<typeof syncStatus>;
  failedSyncWork: Bound<typeof failedSyncWork>;
  reconcileSync: Bound<typeof reconcileSync>;
  indexContractDrift: Bound<typeof indexContractDrift>;
  settingsDiff: Bound<typeof settingsDiff>;
  settingsRead: Bound<typeof settingsRead>;
  close(): Promise<void>;
}

export function createOperator(context: OperatorContext): Operator {
  return {
    context,
    syncStatus: (...args) => syncStatus(context, ...args),
    failedSyncWork: (...args) => failedSyncWork(context, ...args),
    reconcileSync: (...args) => reconcileSync(context, ...args),
    indexContractDrift: (...args) => indexContractDrift(context, ...args),
    settingsDiff: (...args) => settingsDiff(context, ...args),
    settingsRead: (...args) => settingsRead(context, ...args),
    close: () => context.db.end(),
  };
}

/** Open the backends a configuration names. Nothing connects until the first call. */
export function openOperator(config: Config, options: { poolSize?: number } = {}): Operator {
  return createOperator({
    config,
    db: createPool(config.database.url, { max: options.poolSize ?? 5 }),
    meili: createMeiliClient(config.meilisearch),
  });
}
