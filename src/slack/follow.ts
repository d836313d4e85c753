// After a confirmed retry: one thread reply under the card follows the new job and the Meilisearch
// task it produced (§9.6), edited in place on each change: accepted → running → queue job completed
// → verified, or failed, or timed out. "Accepted" is not searchable; only documents observed in the
// index count as verified. Observing never submits work. Followers poll about once a second, backing
// off, for a bounded time; their timers never keep the process alive, and stopAll() ends them.
import { setTimeout as sleep } from "node:timers/promises";
import { verificationReply } from "../../views/confirm.ts";
import { replayGroupReply } from "../../views/replayGroup.ts";
import type { SlackMessage, ViewContext } from "../../views/types.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { ReplayGroupStarted } from "../operator/confirmations/types.ts";
import type { Operator } from "../operator/index.ts";
import { FINAL_GROUP_STATES, type ReplayGroupObservation } from "../operator/replayGroup.ts";
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
  operator: Pick<Operator, "watchReplay" | "watchReplayGroup">;
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

/** A bulk retry's new jobs, followed as a group under its card (the workflow's port). */
export type GroupFollowTarget = ReplayGroupStarted;

export interface Followers {
  /** Starts following in the background; resolves when the follower ends (tests wait on it). */
  follow(target: FollowTarget): Promise<ReplayObservation | null>;
  /** Starts following a bulk retry's jobs as a group; resolves when that follower ends. */
  followGroup(target: GroupFollowTarget): Promise<ReplayGroupObservation | null>;
  /** Ends every follower at its next pause. */
  stopAll(): void;
  readonly active: number;
}

/** The fields a reader notices; a reply is edited only when one of them changed. */
function signature(o: ReplayObservation): string {
  return JSON.stringify([o.state, o.jobState, o.attempt, o.task?.uid, o.task?.status, o.documents]);
}

/** The figures a reader notices in a group's reply: it is edited only when one changed. */
function groupSignature(o: ReplayGroupObservation): string {
  return JSON.stringify([
    o.state,
    o.completed,
    o.pending,
    o.retrying,
    o.failed,
    o.failedByClass,
    o.pruned,
    o.sample,
    o.index,
  ]);
}

/** What one follower follows: how to observe it, when it is over, and how its reply reads. */
export interface FollowSubject<O> {
  /** One observation; a throw is a backend blip (the last observation stands, look again later). */
  observe(): Promise<O>;
  isFinal(o: O): boolean;
  /** The fields a reader notices: the reply is edited only when this changed. */
  signature(o: O): string;
  /** The observation once the time is up. */
  timedOut(o: O): O;
  render(o: O, final: boolean, elapsedMs: number): SlackMessage;
}

/** How following ended: the last observation, and whether stopAll() cut it short. */
export interface FollowEnd<O> {
  seen: O;
  stopped: boolean;
  elapsedMs: number;
}

interface LoopOptions {
  timeoutMs: number;
  intervalMs: number;
  maxIntervalMs: number;
  backoff: number;
}

/**
 * The polling every follower shares: observe, post one reply in the thread, then observe again
 * after a pause that grows by `backoff`, editing the reply in place only when its signature changed,
 * until the subject is final, the time is up (one last edit says so), or `signal` aborts.
 */
export async function followLoop<O>(
  where: { channel: string; threadTs: string },
  subject: FollowSubject<O>,
  io: { chat: Chat; log: Logger; what: string },
  options: LoopOptions,
  signal: AbortSignal,
): Promise<FollowEnd<O>> {
  const { chat, log } = io;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let seen: O = await subject.observe();
  let final = subject.isFinal(seen);
  const ts = await chat.post(where.channel, subject.render(seen, final, elapsed()), {
    threadTs: where.threadTs,
  });
  const update = (message: SlackMessage) =>
    chat.update(where.channel, ts, message).catch((error: unknown) => {
      log.warn(`could not update the reply following ${io.what}`, { error });
    });
  let shown = subject.signature(seen);
  let pause = options.intervalMs;
  let timedOut = false;
  while (!final) {
    if (signal.aborted) return { seen, stopped: true, elapsedMs: elapsed() };
    const left = options.timeoutMs - elapsed();
    if (left <= 0) {
      seen = subject.timedOut(seen);
      final = true;
      timedOut = true;
      break;
    }
    try {
      await sleep(Math.min(pause, left), undefined, { ref: false, signal });
    } catch {
      log.info(`stopped following ${io.what}`);
      return { seen, stopped: true, elapsedMs: elapsed() };
    }
    pause = Math.min(options.maxIntervalMs, Math.round(pause * options.backoff));
    try {
      seen = await subject.observe();
    } catch (error) {
      // A backend blip: keep the last observation and look again after the next pause.
      log.warn(`could not observe ${io.what}; will look again`, { error });
      continue;
    }
    final = subject.isFinal(seen);
    if (!final && subject.signature(seen) === shown) continue;
    await update(subject.render(seen, final, elapsed()));
    shown = subject.signature(seen);
  }
  if (timedOut) await update(subject.render(seen, true, elapsed()));
  return { seen, stopped: false, elapsedMs: elapsed() };
}

export function createFollowers(deps: FollowDeps): Followers {
  const controllers = new Set<AbortController>();
  const loopOptions: LoopOptions = {
    timeoutMs: deps.options.timeoutMs,
    intervalMs: deps.options.intervalMs ?? 1_000,
    maxIntervalMs: deps.options.maxIntervalMs ?? 5_000,
    backoff: deps.options.backoff ?? 1.25,
  };

  const run = async (target: FollowTarget, signal: AbortSignal): Promise<ReplayObservation | null> => {
    const log = deps.logger.child({ jobId: target.jobId, channel: target.channel });
    const replay = await deps.operator.watchReplay(target.jobId, target.startedAt);
    if (!replay) {
      log.warn("the replay job vanished before it could be followed");
      return null;
    }
    const { receipt, queue } = replay;
    const end = await followLoop<ReplayObservation>(
      target,
      {
        observe: () => replay.observe(),
        isFinal: (o) => FINAL_REPLAY_STATES.includes(o.state),
        signature,
        timedOut: (o) => ({ ...o, state: "timed_out" }),
        render: (o, final, elapsedMs) =>
          verificationReply(target.jobId, o, deps.viewContext(), {
            final,
            elapsedMs,
            schema: target.schema,
            index: receipt.index,
            queue,
          }),
      },
      { chat: deps.chat, log, what: "the replay" },
      loopOptions,
      signal,
    );
    const { seen } = end;
    if (end.stopped) return seen;
    deps.metrics.verifications.inc({ state: seen.state });
    log.info("followed a replay to the end", { state: seen.state, durationMs: end.elapsedMs });
    // The operator keeps the verdict, so every surface can say "verified" afterwards.
    await replay.record(seen).catch((error: unknown) => {
      log.warn("could not record where following the replay ended", { error });
    });
    return seen;
  };

  const runGroup = async (
    target: GroupFollowTarget,
    signal: AbortSignal,
  ): Promise<ReplayGroupObservation | null> => {
    const log = deps.logger.child({
      confirmationId: target.confirmationId,
      channel: target.channel,
      jobs: target.jobIds.length,
    });
    if (target.jobIds.length === 0) return null;
    const group = deps.operator.watchReplayGroup(target.jobIds, target.startedAt);
    const end = await followLoop<ReplayGroupObservation>(
      target,
      {
        observe: () => group.observe(),
        isFinal: (o) => FINAL_GROUP_STATES.includes(o.state),
        signature: groupSignature,
        timedOut: (o) => ({ ...o, state: "timed_out" }),
        render: (o, final, elapsedMs) =>
          replayGroupReply(o, deps.viewContext(), { final, elapsedMs, schema: target.schema }),
      },
      { chat: deps.chat, log, what: "the bulk retry's replays" },
      loopOptions,
      signal,
    );
    const { seen } = end;
    if (end.stopped) return seen;
    deps.metrics.groupFollows.inc({ state: seen.state });
    log.info("followed a bulk retry's replays to the end", {
      state: seen.state,
      completed: seen.completed,
      pending: seen.pending,
      failed: seen.failed,
      pruned: seen.pruned,
      sampled: seen.sample.sampled,
      verified: seen.sample.verified,
      durationMs: end.elapsedMs,
    });
    // As for a single replay: the operator keeps each job's verdict, so every surface can say it.
    await group.record(seen).catch((error: unknown) => {
      log.warn("could not record where following the bulk retry's replays ended", { error });
    });
    return seen;
  };

  /** Runs one follower in the background until it ends or stopAll(); resolves when it ends. */
  const track = <T>(
    work: (signal: AbortSignal) => Promise<T>,
    onError: (error: unknown) => T,
  ): Promise<T> => {
    const controller = new AbortController();
    controllers.add(controller);
    return work(controller.signal)
      .catch(onError)
      .finally(() => controllers.delete(controller));
  };

  return {
    follow(target) {
      return track(
        (signal) => run(target, signal),
        (error) => {
          deps.logger.warn("following a replay failed", { jobId: target.jobId, error });
          return null;
        },
      );
    },
    followGroup(target) {
      return track(
        (signal) => runGroup(target, signal),
        (error) => {
          deps.logger.warn("following a bulk retry's replays failed", {
            confirmationId: target.confirmationId,
            error,
          });
          return null;
        },
      );
    },
    stopAll() {
      for (const c of controllers) c.abort();
    },
    get active() {
      return controllers.size;
    },
  };
}
