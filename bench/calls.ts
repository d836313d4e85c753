// The measuring process. bench/run.ts seeds the servers, then forks this file (under tsx, like
// the parent), so that the peak RSS reported is that of a process that only opened the operator
// and ran the calls, not of the one that enqueued thousands of seed requests.
//
// Protocol: the parent sends one MeasureJob over IPC; this process answers with one
// MeasureResult (or { error }) and exits.
import { createPool } from "../src/backends/postgres.ts";
import { parseConfig } from "../src/config.ts";
import type { Status } from "../src/core/types.ts";
import {
  type FailedWorkResult,
  type Operator,
  openOperator,
  type ReconcileReport,
} from "../src/operator/index.ts";
import { operatorContext } from "../src/operator/internal.ts";
import { countRequests, floorPlan, type PlanName, runStep } from "./floor.ts";
import { type Capture, capture, compare, maxRssMb, RssSampler, type Timing } from "./measure.ts";

export interface MeasureJob {
  /** The configuration object (as YAML would hold it), parsed here with parseConfig. */
  config: unknown;
  /** The schema reference the calls name (alias). */
  schema: string;
  liveIndex: string;
  targetIndex: string;
  runs: number;
  warmups: number;
  poolSize: number;
  targets: { ratio: number; ms: number };
}

export interface CallResult {
  call: string;
  requests: { sql: number; http: number };
  op: Timing;
  floor: Timing;
  /** op median / floor median. */
  ratio: number;
  target: { ratio: number; ms: number };
  pass: { ratio: boolean; ms: boolean };
  answer: unknown;
  rssPeakMb: number;
}

export interface MeasureResult {
  results: Record<PlanName, CallResult>;
  captures: { op: PlanName; capture: Capture }[];
  rss: { startMb: number; operatorOpenedMb: number; sampledPeakMb: number; maxRssMb: number };
}

interface Call {
  name: PlanName;
  call: string;
  /** Runs the call and condenses its answer for the report (a few fields, cheap). */
  run: () => Promise<unknown>;
}

function failedAnswer(a: FailedWorkResult) {
  return {
    entries: a.entries.length,
    sources: [...new Set(a.entries.map((e) => e.source))],
    nextCursor: a.nextCursor,
    counts: a.counts,
    backendCoverage: a.backendCoverage,
  };
}

function statusAnswer(a: Status) {
  return {
    backend: {
      pending: a.backend.pending.total,
      failed: a.backend.failed.total,
      lastSucceeded: a.backend.lastSucceeded?.id,
    },
    queue: {
      pending: a.queue.pending.total,
      retrying: a.queue.retrying.total,
      failed: a.queue.failed.total,
      lastSucceeded: a.queue.lastSucceeded?.id,
    },
  };
}

function reconcileAnswer(a: ReconcileReport) {
  return {
    summary: a.summary,
    driftSignals: a.driftSignals,
    actions: a.actions.length,
    retryRows: a.failedWork.length,
    retryableTotal: a.retryableTotal,
    failedWorkTotal: a.failedWorkCounts.total,
    reindex: a.reindex,
  };
}

function callsOf(op: Operator, schema: string): Call[] {
  return [
    {
      name: "failed",
      call: `failedSyncWork('${schema}', { limit: 50 })`,
      run: () => op.failedSyncWork(schema, { limit: 50 }).then(failedAnswer),
    },
    { name: "status", call: `syncStatus('${schema}')`, run: () => op.syncStatus(schema).then(statusAnswer) },
    {
      name: "reconcile",
      call: `reconcileSync('${schema}')`,
      run: () => op.reconcileSync(schema).then(reconcileAnswer),
    },
    {
      name: "failedQueuePage",
      call: `failedSyncWork('${schema}', { limit: 50, cursor: 'o' }) — the first page of queue rows`,
      run: () => op.failedSyncWork(schema, { limit: 50, cursor: "o" }).then(failedAnswer),
    },
  ];
}

/** A busy machine can push a run past the pool's statement timeout; try up to three times. */
async function retried<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if (attempt >= 3) throw error;
    }
  }
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

export async function measure(job: MeasureJob, log: (line: string) => void): Promise<MeasureResult> {
  const startMb = mb(process.memoryUsage.rss());
  const config = parseConfig(job.config, {});
  // The operator as production opens it, and the floor's own pool of the same size and type parsers.
  const operator = openOperator(config, { poolSize: job.poolSize });
  const floorPool = createPool(config.database.url, {
    max: job.poolSize,
    applicationName: "scrypath-bench-floor",
  });
  const operatorOpenedMb = mb(process.memoryUsage.rss());
  const sampler = new RssSampler().start();
  try {
    const results = {} as Record<PlanName, CallResult>;
    const captures: MeasureResult["captures"] = [];
    for (const c of callsOf(operator, job.schema)) {
      log(`measuring ${c.call}`);
      const perCall = new RssSampler().start();
      // The first run also fills per-pool caches (enum labels), as any earlier call would.
      const answer = await retried(c.run);
      const captured = await retried(() => capture(operatorContext(operator).db, c.run));
      captures.push({ op: c.name, capture: captured });
      const plan = floorPlan(c.name, captured, job.liveIndex, job.targetIndex);
      const timing = await compare(c.run, () => runStep(plan, floorPool), {
        warmups: job.warmups,
        runs: job.runs,
      });
      const ratio = Math.round((timing.op.medianMs / timing.floor.medianMs) * 100) / 100;
      results[c.name] = {
        call: c.call,
        requests: countRequests(plan),
        op: timing.op,
        floor: timing.floor,
        ratio,
        target: job.targets,
        // A failed run (e.g. a statement timeout) misses the time target, not the ratio.
        pass: {
          ratio: ratio <= job.targets.ratio,
          ms: timing.op.p95Ms < job.targets.ms && !timing.op.errors,
        },
        answer,
        rssPeakMb: perCall.stop(),
      };
      log(
        `  op median ${timing.op.medianMs} ms (p95 ${timing.op.p95Ms}), floor median ${timing.floor.medianMs} ms, ratio ${ratio}` +
          (timing.op.errors ? `; ${timing.op.errors.count} failed runs: ${timing.op.errors.first}` : ""),
      );
    }
    return {
      results,
      captures,
      rss: { startMb, operatorOpenedMb, sampledPeakMb: sampler.stop(), maxRssMb: maxRssMb() },
    };
  } finally {
    sampler.stop();
    await operator.close();
    await floorPool.end();
  }
}

// Forked by bench/run.ts: one job in, one result out.
if (process.send) {
  const send = process.send.bind(process);
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  process.once("message", (job: MeasureJob) => {
    measure(job, log).then(
      (result) => send(result, () => process.exit(0)),
      (error: unknown) =>
        send({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) }, () =>
          process.exit(1),
        ),
    );
  });
  // Ctrl-C reaches the whole process group; the parent cleans up.
  process.once("SIGINT", () => process.exit(130));
  process.once("SIGTERM", () => process.exit(143));
}
