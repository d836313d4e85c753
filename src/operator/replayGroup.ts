// Following a bulk retry's new jobs as a group (issue 16): each observation counts the group by
// state in ONE statement over the primary key (completed, pending, failed with the classes of
// their newest errors, and ids no longer in the table), and checks a bounded sample of the
// completed jobs' documents in the index. "Accepted is not searchable": only sampled documents
// observed in the index count as verified, and the group never claims more than "k of s sampled".
// Observing never submits work.
import { getDocument } from "../backends/meilisearch.ts";
import { groupStateCounts, jobStates, type SampledJob, sampleCompletedJobs } from "../backends/obanJobs.ts";
import { QUEUE_COMPLETED_STATES, QUEUE_FAILED_STATES, QUEUE_RETRYING_STATES } from "../core/states.ts";
import type { ReasonClass } from "../core/types.ts";
import { recordVerifications } from "../state/replayLinks.ts";
import { meiliRead, obanTables, postgresRead, stateTables } from "./bounded.ts";
import type { OperatorContext } from "./context.ts";
import { prepareState } from "./mutation.ts";
import { contains, type ReplayState, replayVerdict } from "./verify.ts";

/** How many completed jobs have one document each checked in the index. */
export const GROUP_SAMPLE_SIZE = 5;

export type ReplayGroupState =
  /** Jobs still pending, or sampled documents not observed yet. */
  | "following"
  /** Every job completed and every sampled document was observed in the index. */
  | "completed"
  /** Nothing pending any more, and some jobs failed (discarded or cancelled). */
  | "failed"
  /** Nothing pending, none failed, but some jobs are gone from the table: their outcome is unknown. */
  | "unknown"
  /** Following ran out of time (set by the follower). */
  | "timed_out";

export interface ReplayGroupObservation {
  state: ReplayGroupState;
  /** Distinct job ids followed. */
  total: number;
  completed: number;
  /** Available, scheduled, executing, retryable (and any other unfinished state). */
  pending: number;
  /** Of the pending jobs, those Oban will run again by itself (retryable). */
  retrying: number;
  /** Discarded or cancelled: terminal. */
  failed: number;
  /** The failed jobs by the class of their newest error. */
  failedByClass: Partial<Record<ReasonClass, number>>;
  /** Ids no longer in `oban_jobs` (pruned, or deleted). */
  pruned: number;
  /** Sampled documents of completed jobs, and how many were observed in the index as expected. */
  sample: { sampled: number; verified: number };
  /** The index the sample was checked in (null until a completed job was sampled). */
  index: string | null;
}

export interface ReplayGroupWatch {
  total: number;
  startedAt: Date;
  /** One observation: one aggregated read of the jobs, and the sample checked in the index. */
  observe(): Promise<ReplayGroupObservation>;
  /**
   * Keep where following ended on each job's replay link, as a single retry's follower does (so
   * every surface can say "verified" or "resolved" afterwards, even once Oban pruned the jobs):
   * a sampled document observed → verified, other completed jobs → queue_only_completed, failed →
   * failed, gone → unknown, still pending when following timed out → timed_out. Nothing while the
   * group is still followed. Resolves with how many links changed.
   */
  record(observation: ReplayGroupObservation): Promise<number>;
}

/** States in which following the group stops by itself. */
export const FINAL_GROUP_STATES: readonly ReplayGroupState[] = [
  "completed",
  "failed",
  "unknown",
  "timed_out",
];

interface Sampled {
  job: SampledJob;
  verified: boolean;
}

/**
 * Watch the new jobs `jobIds` of a bulk retry whose execution started at `startedAt`. The sample
 * is the lowest-id completed jobs, up to GROUP_SAMPLE_SIZE, each job's first document; a document
 * once observed stays verified, so each observation asks Meilisearch at most that many times.
 */
export function watchReplayGroup(
  ctx: OperatorContext,
  jobIds: readonly number[],
  startedAt: Date,
): ReplayGroupWatch {
  const ids = [...new Set(jobIds)];
  const prefix = ctx.config.database.obanPrefix;
  const sampled = new Map<number, Sampled>();

  const checkSample = async (): Promise<void> => {
    for (const entry of sampled.values()) {
      const { job } = entry;
      if (entry.verified || !job.document) continue;
      const document = job.document;
      const found = await meiliRead(ctx, () => getDocument(ctx.meili, job.index, document.id));
      entry.verified =
        job.operation === "delete" ? found === null : found !== null && contains(found, document.data ?? {});
    }
  };

  const observe = async (): Promise<ReplayGroupObservation> => {
    const cells = await postgresRead(ctx, obanTables(ctx), () => groupStateCounts(ctx.db, prefix, ids));
    let completed = 0;
    let failed = 0;
    let retrying = 0;
    let present = 0;
    const failedByClass: Partial<Record<ReasonClass, number>> = {};
    for (const cell of cells) {
      present += cell.count;
      if ((QUEUE_COMPLETED_STATES as readonly string[]).includes(cell.state)) completed += cell.count;
      else if ((QUEUE_FAILED_STATES as readonly string[]).includes(cell.state)) {
        failed += cell.count;
        const reason = cell.reasonClass ?? "unknown";
        failedByClass[reason] = (failedByClass[reason] ?? 0) + cell.count;
      } else if ((QUEUE_RETRYING_STATES as readonly string[]).includes(cell.state)) retrying += cell.count;
    }
    // Pending is every present row in no other bucket (as core/states reads unknown states).
    const pending = present - completed - failed;
    if (sampled.size < GROUP_SAMPLE_SIZE && completed > sampled.size) {
      const more = await postgresRead(ctx, obanTables(ctx), () =>
        sampleCompletedJobs(ctx.db, prefix, ids, [...sampled.keys()], GROUP_SAMPLE_SIZE - sampled.size),
      );
      for (const job of more) sampled.set(job.id, { job, verified: false });
    }
    await checkSample();
    const documents = [...sampled.values()].filter((s) => s.job.document !== null);
    const sample = { sampled: documents.length, verified: documents.filter((s) => s.verified).length };
    const pruned = ids.length - present;
    const settled = pending === 0 && sample.verified === sample.sampled;
    const state: ReplayGroupState = !settled
      ? "following"
      : failed > 0
        ? "failed"
        : pruned > 0
          ? "unknown"
          : "completed";
    return {
      state,
      total: ids.length,
      completed,
      pending,
      retrying,
      failed,
      failedByClass,
      pruned,
      sample,
      index: documents[0]?.job.index ?? null,
    };
  };

  const record = async (o: ReplayGroupObservation): Promise<number> => {
    if (o.state === "following") return 0;
    const stateName = await prepareState(ctx);
    const verified = new Set([...sampled.values()].filter((s) => s.verified).map((s) => s.job.id));
    return postgresRead(ctx, [...obanTables(ctx), ...stateTables(ctx, "replay_links")], async () => {
      // States now (a job may have finished since the last observation), never the args.
      const states = await jobStates(ctx.db, prefix, ids);
      const verdicts = ids.flatMap((id) => {
        const jobState = states.get(id) ?? null;
        const verdict = replayVerdict({
          state: jobReplayState(jobState, verified.has(id), o.state),
          jobState,
        });
        return verdict ? [{ replayJobId: id, verdict }] : [];
      });
      return recordVerifications(ctx.db, stateName, prefix, verdicts);
    });
  };

  return { total: ids.length, startedAt, observe, record };
}

/** One job of a group that stopped being followed, in a single replay's terms. */
function jobReplayState(jobState: string | null, verified: boolean, group: ReplayGroupState): ReplayState {
  if (jobState === null) return "unknown";
  if ((QUEUE_COMPLETED_STATES as readonly string[]).includes(jobState))
    return verified ? "verified" : "queue_only_completed";
  if ((QUEUE_FAILED_STATES as readonly string[]).includes(jobState)) return "failed";
  // Still pending: a verdict only when following ran out of time (else: no verdict yet).
  return group === "timed_out" ? "timed_out" : "running";
}
