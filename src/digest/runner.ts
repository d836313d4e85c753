// The digest runner: for each configured digest, the latest slot at or before now; if it is within
// the grace window, one replica claims it, builds the snapshot, decides, and posts (or records the
// skip). After downtime only the latest slot is considered, once, marked late: never a burst of old
// slots. A failed or abandoned attempt is taken over on a later tick and resumes after the last
// message it recorded; a post it sent without recording the answer is first looked for in Slack
// (recover.ts) and adopted if it went out, so every message is posted once. When Slack cannot be read
// the slot is left 'unconfirmed' rather than risk a second parent. An older slot left half-posted is
// finished before the latest one is worked (a short schedule moves on before the lease ends). `start()` ticks each digest at its cron times (node-cron, in its zone), once
// at start-up for catch-up, and every minute for retries.
import cron, { type ScheduledTask } from "node-cron";
import { digestDetails, digestParent } from "../../views/digest.ts";
import type { DigestPreviewProps } from "../../views/digestList.ts";
import type { SlackMessage } from "../../views/types.ts";
import type { Config, DigestConfig } from "../config.ts";
import {
  type DigestListEntry,
  type DigestSnapshot,
  diffDigest,
  digestHash,
  isSnapshot,
  shouldPost,
} from "../core/digest.ts";
import { didYouMean } from "../core/schemaRef.ts";
import { OperatorError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { DigestSlot, Operator, SlotClaim } from "../operator/index.ts";
import { type BuildOptions, buildDigest } from "./content.ts";
import type { ChatClient, Sleep } from "./port.ts";
import { type ChannelPacer, ClaimLostError, createPacer, postDigest, realSleep } from "./poster.ts";
import { digestMetadata, findPosted, HistoryUnreadableError } from "./recover.ts";
import { latestSlot, nextSlot, type Slot } from "./schedule.ts";

/** A digest posted more than this after its slot is marked late. */
export const LATE_AFTER_MS = 2 * 60_000;
/** A claim with no progress for this long was abandoned (the claimant crashed): it can be taken over. */
export const CLAIM_LEASE_MS = 10 * 60_000;
/** Attempts per slot (the first and its retries) before it stays failed. */
export const MAX_ATTEMPTS = 3;
/** How often `start()` looks for slots to retry or catch up. */
export const RETRY_EVERY_MS = 60_000;

export type TickOutcome =
  /** Posted now (or finished posting what an earlier attempt started). */
  | "posted"
  /** Decided to stay quiet; the slot is recorded with its snapshot. */
  | "skipped"
  /** This attempt failed; a later tick retries within grace. */
  | "failed"
  /**
   * A post of this slot may be in Slack but could not be confirmed (history unreadable): not posted
   * again, recorded with the reason.
   */
  | "unconfirmed"
  /** An older slot overtaken by a later one before anything of it was posted: not posted late. */
  | "superseded"
  /** Another replica (or an earlier attempt) has the slot. */
  | "taken"
  /** This runner is already working on the digest. */
  | "busy"
  /** No slot in the last days. */
  | "no_slot"
  /** The latest slot is older than the grace window: it is not posted late. */
  | "outside_grace";

export interface TickResult {
  digest: string;
  outcome: TickOutcome;
  slot: Slot | null;
  late: boolean;
  /** Why it was skipped or failed. */
  reason: string | null;
  /** Messages this tick posted. */
  messages: number;
}

export interface DigestHooks {
  /** Each digest's tick outcome (for a counter by digest and outcome). */
  outcome?(digest: string, outcome: TickOutcome): void;
  /** A Slack call retried after a rate limit. */
  slackRetry?(reason: string): void;
}

export interface DigestRunnerOptions {
  operator: Operator;
  config: Config;
  client: ChatClient;
  clock: () => Date;
  sleep?: Sleep;
  logger?: Pick<Logger, "info" | "warn" | "error">;
  /** Names this replica in claims (e.g. `host:pid`). */
  instanceId: string;
  hooks?: DigestHooks;
  build?: BuildOptions;
  postIntervalMs?: number;
  /** Monotonic milliseconds for pacing posts (default performance.now); tests advance it in `sleep`. */
  monotonic?: () => number;
  leaseMs?: number;
  maxAttempts?: number;
  /** 0 disables the periodic retry tick of `start()`. */
  retryEveryMs?: number;
}

/** The preview reply's messages and the snapshot they were built from. */
export interface DigestPreview extends DigestPreviewProps {
  snapshot: DigestSnapshot;
}

export interface TickOptions {
  /** Run by hand for the slot of `now` (the sandbox's "Run digest now"): the digest says so. */
  onDemand?: boolean;
}

export interface DigestRunner {
  /** Works the latest slot of each digest (or of `only`); never throws. */
  tick(now?: Date, only?: readonly string[], options?: TickOptions): Promise<TickResult[]>;
  /** Cron tasks per digest (in its zone, unref'd), a catch-up tick now, and periodic retries. */
  start(): void;
  stop(): Promise<void>;
  /**
   * Hands back the slots this replica still holds (a stop whose drain ran out mid-post), so
   * another replica resumes them at once; resolves with their keys.
   */
  releaseClaims(): Promise<string[]>;
  /** The messages a digest would post now, without posting or claiming anything. */
  preview(name?: string | null, now?: Date): Promise<DigestPreview>;
  list(now?: Date): Promise<DigestListEntry[]>;
}

const noop = () => {};
const NO_LOG = { info: noop, warn: noop, error: noop };

function sentence(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split("\n")[0] ?? "").slice(0, 500) || "unknown error";
}

export function createDigestRunner(options: DigestRunnerOptions): DigestRunner {
  const { operator, config, client, clock, instanceId } = options;
  const slots = operator.digestSlots;
  const sleep = options.sleep ?? realSleep;
  const log = options.logger ?? NO_LOG;
  const hooks = options.hooks ?? {};
  const leaseMs = options.leaseMs ?? CLAIM_LEASE_MS;
  const maxAttempts = options.maxAttempts ?? MAX_ATTEMPTS;
  const pacer: ChannelPacer = createPacer({
    sleep,
    ...(options.postIntervalMs !== undefined ? { intervalMs: options.postIntervalMs } : {}),
    ...(options.monotonic ? { now: options.monotonic } : {}),
  });
  const inFlight = new Map<string, Promise<TickResult>>();
  let tasks: ScheduledTask[] = [];
  let retryTimer: NodeJS.Timeout | undefined;

  function findDigest(name: string | null | undefined): DigestConfig {
    const digests = config.digests;
    if (!name) {
      if (digests.length === 1 && digests[0]) return digests[0];
      throw new OperatorError(
        "bad_argument",
        digests.length === 0
          ? "no digests are configured; add them under digests: in the bot configuration"
          : `name the digest to preview: ${digests.map((d) => d.name).join(", ")}`,
      );
    }
    const found = digests.find((d) => d.name === name);
    if (found) return found;
    const hint = didYouMean(
      name,
      digests.map((d) => d.name),
    );
    throw new OperatorError(
      "bad_argument",
      `unknown digest "${name}"${hint ? ` (did you mean ${hint}?)` : ""}; configured digests: ${
        digests.map((d) => d.name).join(", ") || "none"
      }`,
    );
  }

  function render(
    digest: DigestConfig,
    snapshot: DigestSnapshot,
    previous: DigestSnapshot | null,
    parent: { late: boolean; slotAt: Date | null },
  ): SlackMessage[] {
    // Pure in the snapshot: a retried slot renders exactly the messages the first attempt did.
    const ctx = {
      now: new Date(snapshot.checkedAt),
      dashboardLinks: config.slack.dashboardLinks,
      digest: digest.name,
    };
    return [
      digestParent(snapshot, diffDigest(previous, snapshot), { ...ctx, ...parent, mention: digest.mention }),
      ...digestDetails(snapshot, ctx),
    ];
  }

  const previousSnapshot = (row: DigestSlot | null) => (row && isSnapshot(row.content) ? row.content : null);

  /**
   * A post written ahead but never recorded may be in Slack: look for it by its metadata, and
   * record it when found. Returns the slot's ts (with the found one), or a result when the slot
   * must not go on: history unreadable for good ("unconfirmed").
   */
  async function settlePending(
    digest: DigestConfig,
    row: DigestSlot,
    claim: SlotClaim,
    channel: string,
    result: (outcome: TickOutcome, extra?: Partial<TickResult>) => TickResult,
  ): Promise<{ ts: string[] } | { done: TickResult }> {
    const ts = [...row.messageTs];
    if (row.posting === null || row.posting !== ts.length || !row.postingAt || !isSnapshot(row.content)) {
      return { ts };
    }
    const part = row.posting;
    let found: string | null;
    try {
      found = await findPosted({
        client,
        channel,
        ref: { digest: digest.name, slotKey: row.slotKey, part },
        since: row.postingAt,
        parentTs: ts[0] ?? null,
        sleep,
      });
    } catch (error) {
      if (!(error instanceof HistoryUnreadableError) || !error.permanent) throw error;
      // Posting again could put a second parent (or reply) in the channel; not posting leaves at
      // worst one digest without (the rest of) its thread. The reason says what to fix.
      const reason =
        `not posted again: ${part === 0 ? "the parent" : `thread message ${part}`} may already be in Slack ` +
        `(a replica stopped before recording it) and the bot could not check: ${error.message}` +
        (error.code === "missing_scope" ? "; add the channels:history and groups:history scopes" : "");
      if (!(await slots.recordUnconfirmed(claim, { reason, at: clock() }))) {
        throw new ClaimLostError("the slot was taken over by another replica");
      }
      log.error("digest unconfirmed", { digest: digest.name, slot: row.slotKey, part, reason });
      return { done: result("unconfirmed", { reason }) };
    }
    if (found === null) {
      log.info("digest post not found in Slack; posting it", {
        digest: digest.name,
        slot: row.slotKey,
        part,
      });
      return { ts };
    }
    ts.push(found);
    if (!(await slots.recordPosted(claim, { channel, ts, complete: false, at: clock() }))) {
      throw new ClaimLostError("the slot was taken over by another replica");
    }
    log.info("digest post found in Slack; resuming after it", {
      digest: digest.name,
      slot: row.slotKey,
      part,
    });
    return { ts };
  }

  /** The digest's data, stamped with when it was read (the clock, not the slot it is for). */
  async function read(digest: DigestConfig, onDemand: boolean): Promise<DigestSnapshot> {
    const snapshot = await buildDigest(operator, digest, config, clock(), options.build);
    return onDemand ? { ...snapshot, onDemand: true } : snapshot;
  }

  async function work(
    digest: DigestConfig,
    row: DigestSlot,
    mode: "latest" | "finish" = "latest",
    tickOptions: TickOptions = {},
  ): Promise<TickResult> {
    const claim: SlotClaim = { digest: digest.name, slotKey: row.slotKey, claimedBy: instanceId };
    const slot = { at: row.slotAt, key: row.slotKey };
    const result = (outcome: TickOutcome, extra: Partial<TickResult> = {}): TickResult => ({
      digest: digest.name,
      outcome,
      slot,
      late: row.late,
      reason: null,
      messages: 0,
      ...extra,
    });
    const channel = row.channel ?? digest.channel;
    const settled = await settlePending(digest, row, claim, channel, result);
    if ("done" in settled) return settled.done;
    const postedBefore = settled.ts;
    // Something was posted already: finish that digest, from the snapshot it was decided on.
    const resume = postedBefore.length > 0 && isSnapshot(row.content);
    if (!resume && mode === "finish") {
      // An older slot of which nothing reached Slack: the later slot speaks instead.
      const reason = "a later slot came before anything of this one was posted";
      if (!(await slots.recordSuperseded(claim, { reason, at: clock() }))) {
        throw new ClaimLostError("the slot was taken over by another replica");
      }
      return result("superseded", { reason });
    }
    const snapshot = resume
      ? (row.content as DigestSnapshot)
      : await read(digest, tickOptions.onDemand === true);
    const contentHash = digestHash(snapshot);
    const previous = await slots.previous(digest.name, row.slotAt);
    if (!resume) {
      const decision = shouldPost(digest.when, snapshot, previous);
      if (!decision.post) {
        const at = clock();
        if (
          !(await slots.recordSkipped(claim, {
            content: snapshot,
            contentHash,
            reason: decision.reason,
            at,
          }))
        ) {
          throw new ClaimLostError("the slot was taken over by another replica");
        }
        log.info("digest skipped", { digest: digest.name, slot: row.slotKey, reason: decision.reason });
        return result("skipped", { reason: decision.reason });
      }
      if (!(await slots.recordContent(claim, { content: snapshot, contentHash, at: clock() }))) {
        throw new ClaimLostError("the slot was taken over by another replica");
      }
    }
    const messages = render(digest, snapshot, previousSnapshot(previous), {
      late: row.late,
      slotAt: row.slotAt,
    });
    const posted = await postDigest({
      client,
      channel,
      messages,
      posted: postedBefore,
      record: (ts, complete) => slots.recordPosted(claim, { channel, ts, complete, at: clock() }),
      intent: (index) => slots.recordIntent(claim, { channel, index, at: clock() }),
      metadata: (part) =>
        digestMetadata({ digest: digest.name, slotKey: row.slotKey, part }, messages.length),
      pacer,
      sleep,
      onRetry: (reason) => hooks.slackRetry?.(reason),
    });
    log.info("digest posted", {
      digest: digest.name,
      slot: row.slotKey,
      late: row.late,
      messages: posted.postedNow,
      resumed: postedBefore.length,
    });
    return result("posted", { messages: posted.postedNow });
  }

  /**
   * Older slots of the digest that an attempt left with something in Slack (or possibly in Slack)
   * and that no one works any more: finish their thread before the latest slot is posted.
   */
  async function finishOlder(digest: DigestConfig, before: Date, now: Date): Promise<void> {
    const at = clock();
    const older = await slots.unfinished({
      digest: digest.name,
      before,
      since: new Date(now.getTime() - config.digestGrace * 1000),
      staleBefore: new Date(at.getTime() - leaseMs),
      maxAttempts,
    });
    for (const stale of older) {
      const row = await slots.reclaim({
        digest: digest.name,
        slotKey: stale.slotKey,
        claimedBy: instanceId,
        at,
        staleBefore: new Date(at.getTime() - leaseMs),
        maxAttempts,
        late: false,
      });
      if (!row) continue;
      let outcome: TickOutcome;
      try {
        const done = await work(digest, row, "finish");
        outcome = done.outcome;
        log.info("older digest slot finished", { digest: digest.name, slot: row.slotKey, outcome });
      } catch (error) {
        outcome = error instanceof ClaimLostError ? "taken" : "failed";
        const claim = { digest: digest.name, slotKey: row.slotKey, claimedBy: instanceId };
        if (outcome === "failed") {
          await slots.recordFailed(claim, { reason: sentence(error), at: clock() }).catch(() => false);
        }
        log.warn("older digest slot not finished", { digest: digest.name, slot: row.slotKey, err: error });
      }
      hooks.outcome?.(digest.name, outcome);
    }
  }

  async function runDigest(
    digest: DigestConfig,
    now: Date,
    tickOptions: TickOptions = {},
  ): Promise<TickResult> {
    const slot = latestSlot(digest, now);
    const base = { digest: digest.name, slot, late: false, reason: null, messages: 0 };
    if (!slot) return { ...base, outcome: "no_slot" };
    const age = now.getTime() - slot.at.getTime();
    if (age > config.digestGrace * 1000) return { ...base, outcome: "outside_grace" };
    const late = age > LATE_AFTER_MS;
    let row: DigestSlot | null = null;
    try {
      await slots.ensure();
      await finishOlder(digest, slot.at, now);
      const at = clock();
      row =
        (await slots.claim({
          digest: digest.name,
          slotKey: slot.key,
          slotAt: slot.at,
          claimedBy: instanceId,
          at,
          late,
        })) ??
        (await slots.reclaim({
          digest: digest.name,
          slotKey: slot.key,
          claimedBy: instanceId,
          at,
          staleBefore: new Date(at.getTime() - leaseMs),
          maxAttempts,
          late,
        }));
      if (!row) return { ...base, outcome: "taken" };
      return await work(digest, row, "latest", tickOptions);
    } catch (error) {
      const reason = sentence(error);
      if (error instanceof ClaimLostError || !row) {
        log.warn("digest not posted", { digest: digest.name, slot: slot.key, reason });
        return { ...base, late, outcome: error instanceof ClaimLostError ? "taken" : "failed", reason };
      }
      const claim = { digest: digest.name, slotKey: row.slotKey, claimedBy: instanceId };
      await slots.recordFailed(claim, { reason, at: clock() }).catch(() => false);
      log.error("digest failed", { digest: digest.name, slot: slot.key, attempt: row.attempts, err: error });
      return { ...base, late: row.late, outcome: "failed", reason };
    }
  }

  async function tick(
    now: Date = clock(),
    only?: readonly string[],
    tickOptions: TickOptions = {},
  ): Promise<TickResult[]> {
    const digests = only ? config.digests.filter((d) => only.includes(d.name)) : config.digests;
    return Promise.all(
      digests.map((digest) => {
        const running = inFlight.get(digest.name);
        if (running) {
          return Promise.resolve<TickResult>({
            digest: digest.name,
            outcome: "busy",
            slot: null,
            late: false,
            reason: null,
            messages: 0,
          });
        }
        const job = runDigest(digest, now, tickOptions).then((r) => {
          hooks.outcome?.(digest.name, r.outcome);
          return r;
        });
        inFlight.set(digest.name, job);
        return job.finally(() => inFlight.delete(digest.name));
      }),
    );
  }

  return {
    tick,

    start() {
      if (tasks.length > 0 || retryTimer) return;
      tasks = config.digests.map((digest) => {
        const task = cron.createTask(
          digest.cron,
          // node-cron passes the matched slot time; the clock is never earlier than the slot.
          (run) => tick(new Date(Math.max(clock().getTime(), run.date.getTime())), [digest.name]),
          {
            timezone: digest.timezone,
            name: `scrypath-digest:${digest.name}`,
            unref: true,
            suppressMissedWarning: true,
          },
        );
        void task.start();
        return task;
      });
      void tick();
      const every = options.retryEveryMs ?? RETRY_EVERY_MS;
      if (every > 0) {
        retryTimer = setInterval(() => void tick(), every);
        retryTimer.unref();
      }
    },

    async stop() {
      for (const task of tasks) await task.destroy();
      tasks = [];
      if (retryTimer) clearInterval(retryTimer);
      retryTimer = undefined;
      await Promise.allSettled([...inFlight.values()]);
    },

    releaseClaims() {
      return slots.release({
        claimedBy: instanceId,
        reason: "the replica posting it stopped before it finished; another replica resumes it",
        at: clock(),
      });
    },

    async preview(name, now = clock()) {
      const digest = findDigest(name);
      const snapshot = await buildDigest(operator, digest, config, now, options.build);
      const previous = await slots.previous(digest.name);
      const [parent, ...details] = render(digest, snapshot, previousSnapshot(previous), {
        late: false,
        slotAt: null,
      });
      return {
        name: digest.name,
        channel: digest.channel,
        decision: shouldPost(digest.when, snapshot, previous),
        parent: parent as SlackMessage,
        details,
        snapshot,
      };
    },

    async list(now = clock()) {
      return Promise.all(
        config.digests.map(async (d) => ({
          name: d.name,
          channel: d.channel,
          cron: d.cron,
          timezone: d.timezone,
          when: d.when,
          schemas: d.schemas,
          nextRun: nextSlot(d, now)?.at ?? null,
          lastSlot: await slots.last(d.name),
        })),
      );
    },
  };
}
