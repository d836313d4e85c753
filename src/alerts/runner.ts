// The alert runner: every `alerts.interval`, each schema a subscription covers is checked by ONE
// replica (its check lease in Postgres), the alerts of every channel watching it are decided
// (src/core/alerts.ts), and the cards are brought in line with their rows in Slack. The same
// guarantees as digests, with the same techniques:
//
// - One card per opened condition: the row is opened with INSERT … ON CONFLICT DO NOTHING on the
//   unique open index; its first post is written ahead (`posting_at`, a lease) and carries message
//   metadata (`scrypath_alert`, { alert_id }). A post written ahead but never recorded (the replica
//   died, or the answer was lost) is looked for in Slack by that metadata after the lease, and
//   adopted if found, else posted; when history cannot be read it is not posted again (a second
//   card is worse than a late one) and the next lease tries again.
// - One edit per change: an edit is claimed on the content hash (one edit in flight per card),
//   chat.update is sent, and `posted_hash` recorded. Every tick, every replica repairs any card
//   whose posted hash differs from its content (a replica that died mid-edit, a 429 that outlasted
//   its retries). chat.update is idempotent, so a repaired edit shows the same card.
// - Timeline lines are taken from the row's queue under its version and posted at most once (a
//   replica dying between the two loses that one message rather than posting it twice); Slack
//   refusing it puts the lines back for the next message.
// - A Slack 429 waits Retry-After (bounded) and tries again; past the bound the row stays unsynced
//   for the next tick. Never a second card.
// - Subscriptions that no longer ask for an open alert (a watch removed) count as false: the card
//   clears and resolves after the hold-down, like any other. (With no subscription at all the
//   runner stays idle and touches nothing; cards keep their last state.)
import { alertCard, alertTimeline } from "../../views/alert.ts";
import { context } from "../../views/common.ts";
import type { SlackMessage, ViewContext } from "../../views/types.ts";
import type { Config } from "../config.ts";
import {
  type AlertState,
  cardModel,
  contentHash,
  decideAlert,
  nextStreak,
  readCondition,
  TIMELINE_MAX_POSTS,
  timelineDue,
  type Watch,
  watchesFor,
} from "../core/alerts.ts";
import type {
  AlertCondition,
  AlertSubscription,
  SchemaObservation,
  TimelineEvent,
} from "../core/alertTypes.ts";
import { ClaimLostError, certainlyNotPosted, rateLimitDelay, realSleep } from "../digest/poster.ts";
import { findByMetadata, HistoryUnreadableError } from "../digest/recover.ts";
import type { Logger } from "../log.ts";
import type { AlertRow, Operator } from "../operator/index.ts";
import type { AlertChatClient, HistoryMessage, MessageEvent, Sleep } from "./port.ts";

/** The metadata event type of every alert card. */
export const ALERT_EVENT = "scrypath_alert";
/** A first post written ahead this long ago without a ts was abandoned: another replica repairs it. */
export const POST_LEASE_MS = 2 * 60_000;
/** An edit claimed this long ago and never recorded was abandoned: another replica repairs it. */
export const EDIT_LEASE_MS = 60_000;
/** 429 answers tolerated per Slack call before the row is left for the next tick. */
export const MAX_RATE_LIMIT_RETRIES = 3;
/** Schemas checked at once per replica (each check is a few reads). */
export const CHECK_CONCURRENCY = 4;
/** Alerts with Slack work left, handled per tick at most. */
export const SYNC_LIMIT = 200;
/** Edits of one card per sync at most (its content may change while it is being edited). */
const EDITS_PER_SYNC = 3;

export type AlertOutcome =
  /** A schema checked by this replica. */
  | "checked"
  /** A schema whose check lease another replica holds. */
  | "taken"
  /** A check that failed (the state tables could not be read or written). */
  | "failed"
  | "opened"
  | "resolved"
  /** A card posted, or found in Slack after a crash and adopted. */
  | "posted"
  | "adopted"
  | "edited"
  | "timeline"
  /** A card that may be in Slack could not be confirmed (history unreadable): not posted again. */
  | "unconfirmed"
  /** A Slack call that failed; the row stays unsynced for the next tick. */
  | "slack_failed";

export interface AlertHooks {
  outcome?(outcome: AlertOutcome): void;
  /** A Slack call retried after a rate limit. */
  slackRetry?(method: string, reason: string): void;
}

export interface AlertRunnerOptions {
  operator: Operator;
  config: Config;
  client: AlertChatClient;
  clock: () => Date;
  /** The effective subscriptions (YAML and /scrypath watch). */
  subscriptions: () => Promise<AlertSubscription[]>;
  /** Names this replica in claims (e.g. `host:pid`). */
  instanceId: string;
  sleep?: Sleep;
  logger?: Pick<Logger, "info" | "warn" | "error">;
  hooks?: AlertHooks;
  postLeaseMs?: number;
  editLeaseMs?: number;
  concurrency?: number;
}

export interface AlertTickResult {
  /** Schemas this replica checked, and those another replica had. */
  checked: string[];
  taken: string[];
  failed: { schema: string; reason: string }[];
  /** Alerts opened and resolved by this tick's checks. */
  opened: number[];
  resolved: number[];
  /** What this tick did in Slack. */
  posted: number;
  edited: number;
  timeline: number;
  /** True when another tick of this runner was still running (nothing done). */
  busy: boolean;
}

export interface AlertRunner {
  /** Checks every watched schema whose lease it gets, then syncs the cards; never throws. */
  tick(now?: Date): Promise<AlertTickResult>;
  /** Brings one alert's card (and its queued timeline) in line now: after Acknowledge or Snooze. */
  refresh(alertId: number): Promise<void>;
  /** Ticks every `alerts.interval` (unref'd), the first at once. */
  start(): void;
  /** Stops ticking and waits for the work in flight. */
  stop(): Promise<void>;
  /** Hands back this replica's check leases (a stop whose drain ran out): others check at once. */
  releaseClaims(): Promise<number>;
}

const noop = () => {};
const NO_LOG = { info: noop, warn: noop, error: noop };

function sentence(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split("\n")[0] ?? "").slice(0, 500) || "unknown error";
}

export function alertMetadata(id: number): MessageEvent {
  return { event_type: ALERT_EVENT, event_payload: { alert_id: id } };
}

function isCard(message: HistoryMessage, id: number): boolean {
  return (
    message.metadata?.event_type === ALERT_EVENT && Number(message.metadata.event_payload?.alert_id) === id
  );
}

/** Runs `work` over `items`, at most `limit` at a time. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(lanes);
}

/** The note the last timeline message of an incident carries (the cap). */
export function capNote(): string {
  return `This thread gets at most ${TIMELINE_MAX_POSTS} updates per incident; later changes show on the card only.`;
}

export function createAlertRunner(options: AlertRunnerOptions): AlertRunner {
  const { operator, config, client, clock, instanceId } = options;
  const cards = operator.alertCards;
  const timings = config.alerts;
  const sleep = options.sleep ?? realSleep;
  const log = options.logger ?? NO_LOG;
  const hooks = options.hooks ?? {};
  const postLeaseMs = options.postLeaseMs ?? POST_LEASE_MS;
  const editLeaseMs = options.editLeaseMs ?? EDIT_LEASE_MS;
  const concurrency = options.concurrency ?? CHECK_CONCURRENCY;
  const inFlight = new Set<Promise<unknown>>();
  let ticking: Promise<AlertTickResult> | null = null;
  let timer: NodeJS.Timeout | undefined;

  const count = (outcome: AlertOutcome) => hooks.outcome?.(outcome);
  const track = <T>(work: Promise<T>): Promise<T> => {
    inFlight.add(work);
    work.finally(() => inFlight.delete(work)).catch(() => {});
    return work;
  };
  const viewContext = (now: Date): ViewContext => ({
    now,
    dashboardLinks: config.slack.dashboardLinks,
    sharedBy: null,
  });

  /** A Slack call, with Retry-After honoured up to MAX_RATE_LIMIT_RETRIES times. */
  async function send<T extends { ok?: boolean; error?: string }>(
    method: string,
    call: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let answer: T;
      try {
        answer = await call();
      } catch (error) {
        const delay = rateLimitDelay(error);
        if (delay === null || attempt >= MAX_RATE_LIMIT_RETRIES) throw error;
        hooks.slackRetry?.(method, "rate_limited");
        await sleep(delay);
        continue;
      }
      if (answer.ok === false && answer.error === "ratelimited" && attempt < MAX_RATE_LIMIT_RETRIES) {
        hooks.slackRetry?.(method, "rate_limited");
        await sleep(1000);
        continue;
      }
      if (answer.ok === false) {
        throw Object.assign(new Error(`${method} failed (${answer.error})`), {
          code: "slack_webapi_platform_error",
          data: { error: answer.error },
        });
      }
      return answer;
    }
  }

  // ---- checks -------------------------------------------------------------------------------

  /** Schemas a subscription covers, and those with an open alert (a watch removed: it resolves). */
  function schemasToCheck(subscriptions: readonly AlertSubscription[], open: readonly string[]): string[] {
    const configured = config.schemas.map((s) => s.module);
    const wanted = new Set<string>(open);
    for (const sub of subscriptions) for (const m of sub.schemas ?? configured) wanted.add(m);
    return configured.filter((m) => wanted.has(m));
  }

  /** A new alert's row as the decisions see it, to hash its card before it is inserted. */
  function newAlert(watch: Watch, obs: SchemaObservation, now: Date, evidence: AlertState["evidence"]) {
    const at = now.toISOString();
    return {
      channel: watch.channel,
      schema: obs.schema,
      alias: obs.alias,
      index: obs.index,
      condition: watch.condition,
      status: "open" as const,
      openedAt: at,
      clearingSince: null,
      resolvedAt: null,
      checkedAt: at,
      evidence,
      mention: watch.mention,
      acknowledgedBy: null,
      acknowledgedAt: null,
      snoozedUntil: null,
      snoozedUntilResolved: false,
      snoozedBy: null,
      recentBaseline: null,
      timeline: [],
      timelinePostedAt: null,
      timelinePosts: 0,
    };
  }

  /** Decides one (channel, condition) of a schema and stores it; retries when a click moved the row. */
  async function decide(
    watch: Watch,
    alert: AlertRow | null,
    obs: SchemaObservation,
    streak: ReturnType<typeof nextStreak>,
    now: Date,
    result: AlertTickResult,
  ): Promise<void> {
    const reading =
      watch.keys.length === 0
        ? { truth: false as const, evidence: null }
        : readCondition(watch.condition, obs, streak, watch, timings);
    let current = alert;
    for (let attempt = 0; attempt < 3; attempt++) {
      const decision = decideAlert({ alert: current, reading, now, timings });
      if (decision.kind === "none") return;
      if (decision.kind === "open") {
        const fresh = {
          ...newAlert(watch, obs, now, decision.evidence),
          recentBaseline: decision.recentBaseline,
        };
        const row = await cards.insert({
          channel: watch.channel,
          schema: obs.schema,
          alias: obs.alias,
          index: obs.index,
          condition: watch.condition,
          openedAt: now,
          evidence: decision.evidence,
          mention: watch.mention,
          recentBaseline: decision.recentBaseline,
          contentHash: contentHash(fresh),
        });
        if (row) {
          result.opened.push(row.id);
          count("opened");
          log.info("alert opened", {
            alert: row.id,
            channel: row.channel,
            schema: row.schema,
            condition: row.condition,
          });
        }
        return;
      }
      const base = current as AlertRow;
      const next = { ...base, ...decision.change };
      const updated = await cards.update({
        id: base.id,
        version: base.version,
        fields: next,
        contentHash: contentHash(next),
      });
      if (updated) {
        if (decision.change.status === "resolved") {
          result.resolved.push(updated.id);
          count("resolved");
          log.info("alert resolved", { alert: updated.id, channel: updated.channel, schema: updated.schema });
        }
        return;
      }
      // A click (or another check) changed the row: decide again on what it is now.
      const reread = await cards.get(base.id);
      if (reread?.status !== "open") return;
      current = reread;
    }
  }

  async function checkSchema(
    schema: string,
    subscriptions: readonly AlertSubscription[],
    now: Date,
    result: AlertTickResult,
  ): Promise<void> {
    const intervalMs = timings.interval * 1000;
    // A little under the interval, so this replica's next tick gets it back despite timer jitter.
    const leaseMs = Math.max(intervalMs - 1000, intervalMs / 2);
    const check = await cards.claimCheck({
      schema,
      claimedBy: instanceId,
      at: now,
      leaseUntil: new Date(now.getTime() + leaseMs),
    });
    if (!check) {
      result.taken.push(schema);
      count("taken");
      return;
    }
    const previous = check.observation
      ? { fingerprint: check.fingerprint, observation: check.observation }
      : null;
    const obs = await operator.observeSchema(schema, previous, { now });
    const streak = nextStreak(
      { failedChecks: check.failedChecks, since: check.failingSince?.toISOString() ?? null },
      obs,
    );
    const recorded = await cards.recordCheck({
      schema,
      claimedBy: instanceId,
      checkedAt: now,
      observation: obs.full || !check.observation ? obs : null,
      failedChecks: streak.failedChecks,
      failingSince: streak.since ? new Date(streak.since) : null,
    });
    if (!recorded) {
      result.taken.push(schema);
      count("taken");
      return;
    }
    result.checked.push(schema);
    count("checked");
    const watches = watchesFor(subscriptions, schema);
    const open = await cards.open(schema);
    const key = (channel: string, condition: AlertCondition) => `${channel}\u0000${condition}`;
    const openByKey = new Map(open.map((a) => [key(a.channel, a.condition), a]));
    for (const watch of watches) {
      await decide(
        watch,
        openByKey.get(key(watch.channel, watch.condition)) ?? null,
        obs,
        streak,
        now,
        result,
      );
      openByKey.delete(key(watch.channel, watch.condition));
    }
    // Open alerts nobody watches any more: false, so they clear and resolve after the hold-down.
    for (const alert of openByKey.values()) {
      const orphan: Watch = {
        channel: alert.channel,
        condition: alert.condition,
        minFailures: 1,
        mention: null,
        keys: [],
      };
      await decide(orphan, alert, obs, streak, now, result);
    }
  }

  // ---- Slack ----------------------------------------------------------------------------------

  /** The first post of a card (or finding it in Slack after a crash). */
  async function post(row: AlertRow, now: Date, result: AlertTickResult): Promise<AlertRow | null> {
    const claim = await cards.claimPost({
      id: row.id,
      at: now,
      staleBefore: new Date(now.getTime() - postLeaseMs),
    });
    if (!claim) return null;
    const mine = claim.row.postingAt as Date;
    const current = claim.row;
    if (claim.previousPostingAt) {
      let found: string | null;
      try {
        found = await findByMetadata({
          client,
          channel: current.channel,
          since: claim.previousPostingAt,
          parentTs: null,
          matches: (m) => isCard(m, current.id),
          sleep,
        });
      } catch (error) {
        // Back to when the lost post may have gone out, so the next look starts there.
        await cards.releasePost({ id: current.id, postingAt: mine, to: claim.previousPostingAt });
        const permanent = error instanceof HistoryUnreadableError && error.permanent;
        count(permanent ? "unconfirmed" : "slack_failed");
        log.error("alert card may be in Slack and could not be confirmed; not posted again", {
          alert: current.id,
          channel: current.channel,
          reason: sentence(error),
        });
        return null;
      }
      if (found) {
        // Adopted: what it shows is unknown, so the edit below brings it to the current content.
        if (await cards.recordPost({ id: current.id, postingAt: mine, ts: found, postedHash: null })) {
          count("adopted");
          log.info("alert card found in Slack; adopted", { alert: current.id, ts: found });
          return cards.get(current.id);
        }
        return null;
      }
      log.info("alert card not found in Slack; posting it", { alert: current.id });
    }
    const message = alertCard(cardModel(current, { mention: true }), viewContext(now));
    let ts: string;
    try {
      const answer = await send("chat.postMessage", () =>
        client.chat.postMessage({
          channel: current.channel,
          text: message.text,
          blocks: message.blocks,
          metadata: alertMetadata(current.id),
          unfurl_links: false,
          unfurl_media: false,
        }),
      );
      if (typeof answer.ts !== "string")
        throw new Error("chat.postMessage did not post (no ts in the answer)");
      ts = answer.ts;
    } catch (error) {
      // Slack said no: nothing to look for later, the next tick posts again. Otherwise it may be
      // out there: after the lease, the next replica looks for it before posting.
      if (certainlyNotPosted(error)) await cards.releasePost({ id: current.id, postingAt: mine, to: null });
      count("slack_failed");
      log.warn("alert card not posted", {
        alert: current.id,
        channel: current.channel,
        reason: sentence(error),
      });
      return null;
    }
    if (!(await cards.recordPost({ id: current.id, postingAt: mine, ts, postedHash: current.contentHash }))) {
      log.error("alert card posted after another replica took the post over", { alert: current.id, ts });
      return null;
    }
    result.posted += 1;
    count("posted");
    return cards.get(current.id);
  }

  /** Edits a card to its current content; once per change across replicas. */
  async function edit(row: AlertRow, now: Date, result: AlertTickResult): Promise<AlertRow | null> {
    let current: AlertRow | null = row;
    for (
      let n = 0;
      n < EDITS_PER_SYNC && current && current.messageTs && current.postedHash !== current.contentHash;
      n++
    ) {
      const claimed = await cards.claimEdit({
        id: current.id,
        hash: current.contentHash,
        at: now,
        staleBefore: new Date(now.getTime() - editLeaseMs),
      });
      if (!claimed) return current;
      const editingAt = claimed.editingAt as Date;
      const message = alertCard(cardModel(claimed, { mention: false }), viewContext(now));
      try {
        await send("chat.update", () =>
          client.chat.update({
            channel: claimed.channel,
            ts: claimed.messageTs as string,
            text: message.text,
            blocks: message.blocks,
          }),
        );
      } catch (error) {
        await cards.finishEdit({ id: claimed.id, hash: claimed.contentHash, editingAt, posted: false });
        count("slack_failed");
        log.warn("alert card not edited; the next tick tries again", {
          alert: claimed.id,
          reason: sentence(error),
        });
        return null;
      }
      if (await cards.finishEdit({ id: claimed.id, hash: claimed.contentHash, editingAt, posted: true })) {
        result.edited += 1;
        count("edited");
      }
      current = await cards.get(claimed.id);
    }
    return current;
  }

  /** Posts the queued timeline lines as one thread message when the rate limit allows. */
  async function timeline(row: AlertRow, now: Date, result: AlertTickResult): Promise<void> {
    if (!row.messageTs) return;
    const due = timelineDue(row, now, timings);
    if (!due.due) return;
    const events: TimelineEvent[] = row.timeline;
    const taken = await cards.takeTimeline({ id: row.id, version: row.version, at: now });
    if (!taken) return;
    const ctx = viewContext(now);
    const built = alertTimeline(cardModel(taken, { mention: false }), events, ctx);
    const message: SlackMessage = due.last
      ? { ...built, blocks: [...built.blocks, context([capNote()])] }
      : built;
    try {
      await send("chat.postMessage", () =>
        client.chat.postMessage({
          channel: row.channel,
          thread_ts: row.messageTs as string,
          text: message.text,
          blocks: message.blocks,
          unfurl_links: false,
          unfurl_media: false,
        }),
      );
    } catch (error) {
      if (certainlyNotPosted(error)) {
        await cards.restoreTimeline({
          id: row.id,
          events,
          postedAt: row.timelinePostedAt ? new Date(row.timelinePostedAt) : null,
        });
      }
      count("slack_failed");
      log.warn("alert timeline not posted", { alert: row.id, reason: sentence(error) });
      return;
    }
    result.timeline += 1;
    count("timeline");
  }

  async function sync(row: AlertRow, now: Date, result: AlertTickResult): Promise<void> {
    let current: AlertRow | null = row;
    if (!current.messageTs) current = await post(current, now, result);
    if (current && current.postedHash !== current.contentHash) current = await edit(current, now, result);
    if (current) await timeline(current, now, result);
  }

  const emptyResult = (): AlertTickResult => ({
    checked: [],
    taken: [],
    failed: [],
    opened: [],
    resolved: [],
    posted: 0,
    edited: 0,
    timeline: 0,
    busy: false,
  });

  async function runTick(now: Date): Promise<AlertTickResult> {
    const result = emptyResult();
    let subscriptions: AlertSubscription[];
    let schemas: string[];
    try {
      subscriptions = await options.subscriptions();
      // No subscription: nothing to read or post (the bot's tables are not even touched).
      if (subscriptions.length === 0) return result;
      await cards.ensure();
      schemas = schemasToCheck(subscriptions, await cards.openSchemas());
    } catch (error) {
      result.failed.push({ schema: "*", reason: sentence(error) });
      count("failed");
      log.error("alerts not checked", { reason: sentence(error) });
      return result;
    }
    await eachLimited(schemas, concurrency, async (schema) => {
      try {
        await checkSchema(schema, subscriptions, now, result);
      } catch (error) {
        result.failed.push({ schema, reason: sentence(error) });
        count("failed");
        log.error("alert check failed", { schema, err: error });
      }
    });
    try {
      for (const row of await cards.unsynced({ limit: SYNC_LIMIT })) {
        try {
          await sync(row, clock(), result);
        } catch (error) {
          if (error instanceof ClaimLostError) continue;
          count("slack_failed");
          log.error("alert card not synced", { alert: row.id, err: error });
        }
      }
    } catch (error) {
      log.error("alert cards not synced", { reason: sentence(error) });
    }
    return result;
  }

  function tick(now: Date = clock()): Promise<AlertTickResult> {
    if (ticking) return Promise.resolve({ ...emptyResult(), busy: true });
    const job = runTick(now);
    ticking = job;
    return track(job).finally(() => {
      ticking = null;
    });
  }

  return {
    tick,

    refresh(alertId) {
      return track(
        (async () => {
          const row = await cards.get(alertId);
          if (row) await sync(row, clock(), emptyResult());
        })(),
      );
    },

    start() {
      if (timer) return;
      void tick();
      timer = setInterval(() => void tick(), timings.interval * 1000);
      timer.unref();
    },

    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.allSettled([...inFlight]);
    },

    releaseClaims() {
      return cards.releaseChecks({ claimedBy: instanceId });
    },
  };
}
