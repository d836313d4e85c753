// `--json` documents: upstream's snake_case field names, one JSON document per call, secrets
// redacted. Shapes follow §8.2 and §6.3 where upstream defines them, and extend them where it
// does not (documented in the README).
import { reportToJson } from "../core/contractDrift.ts";
import { redactValue } from "../core/redact.ts";
import { countsToJson } from "../core/rollup.ts";
import type {
  Bucket,
  ContractDriftReport,
  FailedWork,
  RecoveryAction,
  Status,
  SyncState,
} from "../core/types.ts";
import type { FailedWorkResult, ReconcileReport, SettingsDiff } from "../operator/index.ts";
import { isoTimestamp, stateTimestamp } from "./format.ts";

const time = (d: Date | null) => (d ? isoTimestamp(d) : null);

function stateJson(s: SyncState | null) {
  return (
    s && {
      source: s.source,
      kind: s.kind,
      id: s.id,
      state: s.state,
      at: stateTimestamp(s),
      metadata: s.metadata,
    }
  );
}

function bucketJson(b: Bucket) {
  return { total: b.total, items: b.items.map(stateJson) };
}

export function statusJson(status: Status) {
  return {
    schema: status.schema,
    mode: status.mode,
    index: status.index,
    backend: {
      pending: bucketJson(status.backend.pending),
      failed: bucketJson(status.backend.failed),
      last_succeeded: stateJson(status.backend.lastSucceeded),
    },
    queue: {
      observed: status.queue.observed,
      pending: bucketJson(status.queue.pending),
      retrying: bucketJson(status.queue.retrying),
      failed: bucketJson(status.queue.failed),
      last_succeeded: stateJson(status.queue.lastSucceeded),
    },
  };
}

/** §8.2 entry keys first (`id, reason_class, source, state, operation, retryable`), then extras. */
export function failedEntryJson(row: FailedWork) {
  return {
    id: row.id,
    reason_class: row.reasonClass,
    source: row.source,
    state: row.state,
    operation: row.operation,
    retryable: row.retryable,
    reason: row.reason,
    last_error: row.lastError,
    failed_at: time(row.failedAt),
    attempt: row.attempt,
    max_attempts: row.maxAttempts,
    metadata: row.metadata,
  };
}

export function failedJson(result: FailedWorkResult) {
  return {
    schema: result.schema,
    entries: result.entries.map(failedEntryJson),
    counts: countsToJson(result.counts),
    next_cursor: result.nextCursor,
  };
}

function actionJson(a: RecoveryAction) {
  return {
    kind: a.kind,
    schema: a.schema,
    backend: a.backend,
    mode: a.mode,
    operation: a.operation,
    index: a.index,
    // The payload can hold document data and connection hints; reports carry only the job reference.
    reference: a.reference && { job_id: a.reference.jobId, queue: a.reference.queue },
  };
}

export function reconcileJson(report: ReconcileReport) {
  return {
    schema: report.schema,
    mode: report.mode,
    index: report.index,
    drift_signals: report.driftSignals,
    summary: report.summary,
    failed_work_counts: countsToJson(report.failedWorkCounts),
    retryable_total: report.retryableTotal,
    actions: report.actions.map(actionJson),
    reindex: {
      live_index: report.reindex.liveIndex,
      target_index: report.reindex.targetIndex,
      observed: report.reindex.observed,
      task_state: report.reindex.taskState,
      cutover: report.reindex.cutover,
      last_task: report.reindex.lastTask,
    },
    status: statusJson(report.status),
    index_contract_drift: report.indexContractDrift ? contractDriftJson(report.indexContractDrift) : null,
  };
}

export function contractDriftJson(report: ContractDriftReport) {
  return reportToJson(report);
}

/** §8.6: keys in order schema, index, status, declared, applied ({} on parity), drift. */
export function settingsDiffJson(diff: SettingsDiff) {
  const parity = diff.status === "parity";
  return {
    schema: diff.schema,
    index: diff.index,
    status: diff.status,
    declared: parity ? {} : redactValue(diff.declared),
    applied: parity ? {} : redactValue(diff.applied),
    // Redact the values only: `key` names a Meilisearch setting, and redactValue would treat a
    // field called "key" as a credential.
    drift: diff.drift.map((d) => ({
      key: d.key,
      declared: redactValue(d.declared),
      applied: redactValue(d.applied),
    })),
  };
}
