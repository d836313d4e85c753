// Reading a digest: the snapshot (src/core/digest.ts) of the schemas it covers (posture verdict
// §9.2, failed work by class, drift signals and reindex state, contract drift), read through the
// operator with bounded concurrency. A schema whose data cannot be read says so, with the backend
// and one sentence: silence must never look like health.
import type { Config, DigestConfig } from "../config.ts";
import {
  type Check,
  type DigestProblem,
  type DigestSnapshot,
  type FailedCounts,
  postureInput,
  type SchemaDigest,
  SNAPSHOT_VERSION,
  type SyncFacts,
  storedTally,
} from "../core/digest.ts";
import { posture } from "../core/posture.ts";
import { CONTRACT_DIMENSIONS, type ReasonClassCounts } from "../core/types.ts";
import { isOperatorError } from "../errors.ts";
import { timedOut } from "../operator/bounded.ts";
import type { Operator, ReconcileReport } from "../operator/index.ts";
import { mapLimited, POSTURE_TIMEOUT_MS } from "../operator/posture.ts";
import { withTimeout } from "../timeout.ts";

/** Schemas read at the same time; each read runs its own backend calls in parallel. */
export const DIGEST_CONCURRENCY = 4;
export interface BuildOptions {
  concurrency?: number;
  /** Per read; a read that takes longer is reported as not checked. */
  timeoutMs?: number;
}

function problemOf(check: Check, error: unknown): DigestProblem {
  if (isOperatorError(error)) {
    return { check, backend: error.backend, code: error.code, message: error.message };
  }
  return {
    check,
    backend: null,
    code: "error",
    message: error instanceof Error ? error.message : String(error),
  };
}

function syncFacts(report: ReconcileReport): SyncFacts {
  const { status, reindex, tally } = report;
  return {
    triage: storedTally(tally),
    terminal: { backend: tally.terminal.backend, queue: tally.terminal.queue },
    pending: {
      backend: status.backend.pending.total,
      queue: status.queue.pending.total,
      retrying: status.queue.retrying.total,
    },
    signals: report.driftSignals,
    reindex: { target: reindex.targetIndex, state: reindex.taskState, cutover: reindex.cutover },
    summary: report.summary,
  };
}

function failedFrom(counts: ReasonClassCounts, scope: FailedCounts["scope"]): FailedCounts {
  return { version: counts.version, total: counts.total, byClass: { ...counts.byClass }, scope };
}

async function readSchema(
  operator: Operator,
  config: Config,
  module: string,
  timeoutMs: number,
): Promise<SchemaDigest> {
  const schemaConfig = config.schemas.find((s) => s.module === module);
  const timed = <T>(work: () => Promise<T>, what: string) =>
    withTimeout(Promise.resolve().then(work), timeoutMs, () => {
      throw timedOut(`${what} of ${module}`, timeoutMs);
    });
  const [sync, contract] = await Promise.allSettled([
    timed(() => operator.reconcileSync(module), "the reconcile report"),
    schemaConfig?.contract ? timed(() => operator.indexContractDrift(module), "the contract check") : null,
  ]);
  const problems: DigestProblem[] = [];
  const digest: SchemaDigest = {
    schema: module,
    alias: schemaConfig?.alias ?? null,
    mode: schemaConfig?.syncMode ?? "inline",
    index: null,
    failed: null,
    sync: null,
    contract: null,
    problems,
  };
  if (sync.status === "fulfilled") {
    digest.index = sync.value.index;
    digest.sync = syncFacts(sync.value);
    digest.failed = failedFrom(sync.value.failedWorkCounts, "all");
  } else {
    const problem = problemOf("sync", sync.reason);
    problems.push(problem);
    // Meilisearch down: the queue plane in Postgres still says how much failed there.
    if (digest.mode === "oban" && problem.backend === "meilisearch") {
      try {
        const queue = await timed(
          () => operator.failedSyncWork(module, { source: "oban", limit: 1 }),
          "the failed queue jobs",
        );
        digest.index = queue.index;
        digest.failed = failedFrom(queue.counts, "queue");
      } catch {
        // Nothing more can be said than the problem already recorded.
      }
    }
  }
  if (schemaConfig?.contract) {
    if (contract.status === "fulfilled" && contract.value) {
      const dims = contract.value.dimensions;
      digest.contract = { differing: CONTRACT_DIMENSIONS.filter((name) => !dims[name].match) };
    } else {
      digest.contract = { differing: null };
      if (contract.status === "rejected") problems.push(problemOf("contract", contract.reason));
    }
  }
  return digest;
}

/** The modules a digest covers, in configuration order. */
function digestSchemas(digest: Pick<DigestConfig, "schemas">, config: Pick<Config, "schemas">): string[] {
  return digest.schemas ?? config.schemas.map((s) => s.module);
}

/** Reads every schema of `digest` (at most `concurrency` at a time) into a snapshot. Never throws for a backend. */
export async function buildDigest(
  operator: Operator,
  digest: Pick<DigestConfig, "name" | "schemas">,
  config: Config,
  now: Date,
  options: BuildOptions = {},
): Promise<DigestSnapshot> {
  const modules = digestSchemas(digest, config);
  const timeoutMs = options.timeoutMs ?? POSTURE_TIMEOUT_MS;
  const schemas = await mapLimited(modules, options.concurrency ?? DIGEST_CONCURRENCY, (module) =>
    readSchema(operator, config, module, timeoutMs),
  );
  return {
    version: SNAPSHOT_VERSION,
    digest: digest.name,
    checkedAt: now.toISOString(),
    posture: posture(schemas.map(postureInput)),
    schemas,
  };
}
