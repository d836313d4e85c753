// After a confirmed retry: one thread reply under the card follows the new job and the Meilisearch
// task it produced (§9.6), edited in place on each change: accepted → running → queue job completed
// → verified, or failed, or timed out. "Accepted" is not searchable; only documents observed in the
// index count as verified. Observing never submits work. Followers poll about once a second, backing
// off, for a bounded time; their timers never keep the process alive, and stopAll() ends them.
import { setTimeout as sleep } from "node:timers/promises";
import { verificationReply } from "../../views/confirm.ts";
import type { ViewContext } from "../../views/types.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Operator } from "../operator/index.ts";
import { FINAL_REPLAY_STATES, type ReplayObservation } from "../operator/verify.ts";
import type { Chat } from "./chat.ts";

export interface FollowOptions {
  /** Give up (and say "timed out") after this long. */
  timeoutMs: number;
  /** First pause between observations; grows by `backoff` up to `maxIntervalMs`. */
  intervalMs?: number;
  maxIntervalMs?: number;
  backoff?: number;
}

export interface FollowDeps {
  /** The operator's replay observation (a follower never reads a table itself). */
  operator: Pick<Operator, "watchReplay">;
  chat: Chat;
  logger: Logger;
  metrics: Metrics;
  viewContext: () => ViewContext;
  options: FollowOptions;
}

export interface FollowTarget {
  channel: string;
  /** The thread the reply goes in: the card's thread, or the card itself. */
  threadTs: string;
  jobId: number;
  /** The schema module, for the reply's hints. */
  schema: string | null;
  /** When the execution started: Meilisearch tasks enqueued before it are not this job's. */
  startedAt: Date;
}

export interface Followers {
  /** Starts following in the background; resolves when the follower ends (tests wait on it). */
  follow(target: FollowTarget): Promise<ReplayObservation | null>;
  /** Ends every follower at its next pause. */
  stopAll(): void;
  readonly active: number;
}

/** The fields a reader notices; a reply is edited only when one of them changed. */
function signature(o: ReplayObservation): string {
  return JSON.stringify([o.state, o.jobState, o.attempt, o.task?.uid, o.task?.status, o.documents]);
}

export function createFollowers(deps: FollowDeps): Followers {
  const controllers = new Set<AbortController>();
  const interval = deps.options.intervalMs ?? 1_000;
  const maxInterval = deps.options.maxIntervalMs ?? 5_000;
  const backoff = deps.options.backoff ?? 1.25;

  const run = async (target: FollowTarget, signal: AbortSignal): Promise<ReplayObservation | null> => {
    const log = deps.logger.child({ jobId: target.jobId, channel: target.channel });
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const replay = await deps.operator.watchReplay(target.jobId, target.startedAt);
    if (!replay) {
      log.warn("the replay job vanished before it could be followed");
      return null;
    }
    const { receipt, queue } = replay;
    let seen = await replay.observe();
    const render = (o: ReplayObservation, final: boolean) =>
      verificationReply(target.jobId, o, deps.viewContext(), {
        final,
        elapsedMs: elapsed(),
        schema: target.schema,
        index: receipt.index,
        queue,
      });
    let final = FINAL_REPLAY_STATES.includes(seen.state);
    const ts = await deps.chat.post(target.channel, render(seen, final), { threadTs: target.threadTs });
    let shown = signature(seen);
    let pause = interval;
    while (!final) {
      if (signal.aborted) return seen;
      const left = deps.options.timeoutMs - elapsed();
      if (left <= 0) {
        seen = { ...seen, state: "timed_out" };
        final = true;
        break;
      }
      try {
        await sleep(Math.min(pause, left), undefined, { ref: false, signal });
      } catch {
        log.info("stopped following a replay", { state: seen.state });
        return seen;
      }
      pause = Math.min(maxInterval, Math.round(pause * backoff));
      try {
        seen = await replay.observe();
      } catch (error) {
        // A backend blip: keep the last observation and look again after the next pause.
        log.warn("could not observe the replay; will look again", { error });
        continue;
      }
      final = FINAL_REPLAY_STATES.includes(seen.state);
      if (!final && signature(seen) === shown) continue;
      await deps.chat.update(target.channel, ts, render(seen, final)).catch((error: unknown) => {
        log.warn("could not update the verification reply", { error });
      });
      shown = signature(seen);
    }
    if (seen.state === "timed_out") {
      await deps.chat.update(target.channel, ts, render(seen, true)).catch((error: unknown) => {
        log.warn("could not update the verification reply", { error });
      });
    }
    deps.metrics.verifications.inc({ state: seen.state });
    log.info("followed a replay to the end", { state: seen.state, durationMs: elapsed() });
    // The operator keeps the verdict, so every surface can say "verified" afterwards.
    await replay.record(seen).catch((error: unknown) => {
      log.warn("could not record where following the replay ended", { error });
    });
    return seen;
  };

  return {
    follow(target) {
      const controller = new AbortController();
      controllers.add(controller);
      return run(target, controller.signal)
        .catch((error: unknown) => {
          deps.logger.warn("following a replay failed", { jobId: target.jobId, error });
          return null;
        })
        .finally(() => controllers.delete(controller));
    },
    stopAll() {
      for (const c of controllers) c.abort();
    },
    get active() {
      return controllers.size;
    },
  };
}
