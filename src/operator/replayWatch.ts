// What a follower of a confirmed retry needs from the operator: the replay job's receipt (which
// documents should end up how, read from the job's args) and its queue, and a way to observe it
// (verify.ts) as often as it likes. Observing never submits work.
import { findJob } from "../backends/obanJobs.ts";
import type { RecordedVerdict } from "../state/replayLinks.ts";
import type { OperatorContext } from "./context.ts";
import {
  observeReplay,
  type ReplayObservation,
  type ReplayReceipt,
  receiptFor,
  recordReplayVerdict,
} from "./verify.ts";

export interface ReplayWatch {
  receipt: ReplayReceipt;
  /** The replay job's Oban queue, for the reply's hints. */
  queue: string;
  /** One observation of the replay: its job, its Meilisearch task, its documents. */
  observe(): Promise<ReplayObservation>;
  /** Keep where following ended, so every surface can say "verified" (null: not a verdict). */
  record(observation: ReplayObservation): Promise<RecordedVerdict | null>;
}

/**
 * Start watching replay job `jobId` (inserted by an execution that started at `startedAt`: tasks
 * enqueued before it are not this job's); null when the job is gone.
 */
export async function watchReplay(
  ctx: OperatorContext,
  jobId: number,
  startedAt: Date,
): Promise<ReplayWatch | null> {
  const job = await findJob(ctx.db, ctx.config.database.obanPrefix, jobId);
  if (!job) return null;
  const operation = job.args.operation === "delete" ? "delete" : "upsert";
  const index = typeof job.args.index === "string" ? job.args.index : "";
  const receipt = receiptFor(jobId, index, operation, job.args, startedAt);
  return {
    receipt,
    queue: job.queue,
    observe: () => observeReplay(ctx, receipt),
    record: (observation) => recordReplayVerdict(ctx, jobId, observation),
  };
}
