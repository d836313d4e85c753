// Which channels hear which schemas' alerts: the YAML subscriptions (`alerts.subscriptions`, kept
// in code review) and those made from Slack (`/scrypath watch`, the alert_subscriptions table).
// The alert engine reads `effective()`; the watch commands list, add, change and remove the stored
// ones. Every watch and unwatch attempt is audited (refusals too), the change and its audit row in
// one transaction under a lock on (channel, schema).
import { ALERT_CONDITIONS, type AlertCondition, type AlertSubscription } from "../core/alertTypes.ts";
import { OperatorError, RefusedError } from "../errors.ts";
import {
  ALL_SCHEMAS,
  deleteSubscription,
  findSubscription,
  listSubscriptions,
  type StoredSubscription,
  subscriptionsExist,
  upsertSubscription,
} from "../state/alertSubscriptions.ts";
import { writeAudit } from "../state/audit.ts";
import { postgresRead, stateTables } from "./bounded.ts";
import { type OperatorContext, resolveSchema } from "./context.ts";
import { type Actor, inTransaction, lockTarget, prepareState } from "./mutation.ts";

/** The audit log's action names for the watch commands. */
export const WATCH_ACTIONS = { watch: "scrypath.alerts.watch", unwatch: "scrypath.alerts.unwatch" } as const;

/** What `/scrypath watch` subscribes to when `--on` is left out. */
export const DEFAULT_CONDITIONS: AlertCondition[] = ["failures", "drift", "unreadable"];

/** `all` (or `*`) as typed: every configured schema. */
export function isAllSchemas(typed: string): boolean {
  return typed.trim().toLowerCase() === "all" || typed.trim() === ALL_SCHEMAS;
}

export interface WatchRequest {
  channel: string;
  /** As typed: a schema reference (module, alias, short name), or `all`. */
  schema: string;
  conditions: AlertCondition[];
  minFailures: number;
  /** A Slack user group id (S…), mentioned when an alert opens. */
  mention: string | null;
}

/** One field a repeated watch changed, before and after (as the answer and the audit show it). */
export interface SubscriptionChange {
  field: "conditions" | "minFailures" | "mention";
  from: string | number | string[] | null;
  to: string | number | string[] | null;
}

export type WatchResult =
  | { outcome: "watched"; subscription: AlertSubscription }
  | { outcome: "updated"; subscription: AlertSubscription; changes: SubscriptionChange[] }
  | { outcome: "unchanged"; subscription: AlertSubscription };

export interface UnwatchResult {
  outcome: "unwatched";
  removed: AlertSubscription;
  /** Configuration-file entries that still alert this channel about that schema. */
  stillConfigured: AlertSubscription[];
}

/** A watch or unwatch the surface refused before calling the operator (access, the channel). */
export interface WatchRefusal {
  verb: "watch" | "unwatch";
  actor: Actor;
  channel: string;
  /** The schema as typed. */
  schema: string;
  conditions?: AlertCondition[];
  minFailures?: number;
  mention?: string | null;
  /** Audit reason (`not_an_operator`, `bot_not_in_channel`…). */
  reason: string;
  /** The sentence the user was shown. */
  message: string;
}

export interface AlertSubscriptions {
  /**
   * What the alert engine acts on: the YAML entries (`config:<i>`), then the stored ones
   * (`watch:<id>`) whose schema is still configured, without `stuck` when `alerts.stuckAfter` is
   * not set. Before migration 8 is applied: the YAML entries only.
   */
  effective(): Promise<AlertSubscription[]>;
  /** Every subscription of one channel (or of all), YAML first, as `/scrypath watches` lists them. */
  list(channel?: string | null): Promise<AlertSubscription[]>;
  /** Subscribe a channel (or change its subscription); refusals are audited and thrown. */
  watch(request: WatchRequest, actor: Actor): Promise<WatchResult>;
  /** Remove a channel's stored subscription; a YAML one is refused (kept in code review). */
  unwatch(request: { channel: string; schema: string }, actor: Actor): Promise<UnwatchResult>;
  /** Audit a refusal a surface found itself. Never throws: auditing must not hide the refusal. */
  auditRefusal(refusal: WatchRefusal): Promise<void>;
}

function fromConfig(ctx: OperatorContext): AlertSubscription[] {
  return ctx.config.alerts.subscriptions.map((s, i) => ({
    key: `config:${i}`,
    source: "config" as const,
    channel: s.channel,
    schemas: s.schemas,
    on: [...s.on],
    minFailures: s.minFailures,
    mention: s.mention,
    createdBy: null,
    createdAt: null,
  }));
}

function fromStored(row: StoredSubscription): AlertSubscription {
  return {
    key: `watch:${row.id}`,
    source: "watch",
    channel: row.channel,
    schemas: row.schema === ALL_SCHEMAS ? null : [row.schema],
    on: ALERT_CONDITIONS.filter((c) => row.conditions.includes(c)),
    minFailures: row.minFailures,
    mention: row.mention,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    updatedBy: row.updatedBy,
    updatedAt: row.updatedAt?.toISOString() ?? null,
  };
}

/** The stored rows (none before migration 8), bounded like every Postgres read. */
function stored(ctx: OperatorContext, channel: string | null): Promise<StoredSubscription[]> {
  const name = ctx.config.state.schema;
  return postgresRead(ctx, stateTables(ctx, "alert_subscriptions"), async () => {
    if (!(await subscriptionsExist(ctx.db, name))) return [];
    return listSubscriptions(ctx.db, name, channel);
  });
}

async function effective(ctx: OperatorContext): Promise<AlertSubscription[]> {
  const configured = new Set(ctx.config.schemas.map((s) => s.module));
  const stuckOn = ctx.config.alerts.stuckAfter !== null;
  const watched = (await stored(ctx, null))
    .filter((row) => row.schema === ALL_SCHEMAS || configured.has(row.schema))
    .map(fromStored)
    .map((s) => (stuckOn ? s : { ...s, on: s.on.filter((c) => c !== "stuck") }))
    .filter((s) => s.on.length > 0);
  return [...fromConfig(ctx), ...watched];
}

async function list(ctx: OperatorContext, channel: string | null = null): Promise<AlertSubscription[]> {
  const yaml = fromConfig(ctx).filter((s) => channel === null || s.channel === channel);
  const rows = await stored(ctx, channel);
  const all = [...yaml, ...rows.map(fromStored)];
  // By channel, YAML entries first within a channel.
  return all.sort((a, b) => a.channel.localeCompare(b.channel));
}

/** The module a typed schema names (`*` for all), and its live index; throws unknown_schema. */
function target(ctx: OperatorContext, typed: string): { module: string; index: string | null } {
  if (isAllSchemas(typed)) return { module: ALL_SCHEMAS, index: null };
  const schema = resolveSchema(ctx, typed);
  return { module: schema.module, index: schema.liveIndex };
}

/** Whether a YAML entry covers (channel, module): the same channel and that schema (or all). */
function covers(s: AlertSubscription, channel: string, module: string): boolean {
  if (s.channel !== channel) return false;
  if (module === ALL_SCHEMAS) return s.schemas === null;
  return s.schemas === null || s.schemas.includes(module);
}

function changesBetween(before: StoredSubscription, after: WatchRequest): SubscriptionChange[] {
  const changes: SubscriptionChange[] = [];
  const sorted = (cs: AlertCondition[]) => ALERT_CONDITIONS.filter((c) => cs.includes(c));
  const from = sorted(before.conditions);
  const to = sorted(after.conditions);
  if (from.join(",") !== to.join(",")) changes.push({ field: "conditions", from, to });
  if (before.minFailures !== after.minFailures)
    changes.push({ field: "minFailures", from: before.minFailures, to: after.minFailures });
  if (before.mention !== after.mention)
    changes.push({ field: "mention", from: before.mention, to: after.mention });
  return changes;
}

function auditTarget(
  channel: string,
  schema: string,
  fields: { conditions?: AlertCondition[]; minFailures?: number; mention?: string | null },
): Record<string, unknown> {
  return {
    channel,
    schema: schema === ALL_SCHEMAS ? "all" : schema,
    ...(fields.conditions ? { conditions: fields.conditions } : {}),
    ...(fields.minFailures !== undefined ? { min_failures: fields.minFailures } : {}),
    ...(fields.mention !== undefined ? { mention: fields.mention } : {}),
  };
}

async function auditRefusal(ctx: OperatorContext, refusal: WatchRefusal): Promise<void> {
  let on: { module: string | null; index: string | null; shown: string } = {
    module: null,
    index: null,
    shown: refusal.schema,
  };
  try {
    const t = target(ctx, refusal.schema);
    on = { module: t.module === ALL_SCHEMAS ? null : t.module, index: t.index, shown: t.module };
  } catch {}
  try {
    await prepareState(ctx);
    await writeAudit(ctx.db, ctx.config.state.schema, {
      actor: refusal.actor.id,
      action: WATCH_ACTIONS[refusal.verb],
      schema: on.module,
      index: on.index,
      target: auditTarget(refusal.channel, on.shown, refusal),
      outcome: "refused",
      reason: refusal.reason,
      details: { message: refusal.message },
      context: refusal.actor.context ?? {},
    });
  } catch {}
}

/** Audit and throw a refusal the operator found (an unknown schema keeps its own error). */
async function refuse(
  ctx: OperatorContext,
  base: Omit<WatchRefusal, "reason" | "message">,
  error: OperatorError,
): Promise<never> {
  const reason = error instanceof RefusedError ? error.reason : error.code;
  const message =
    error instanceof RefusedError ? error.message.slice(error.reason.length + 2) : error.message;
  await auditRefusal(ctx, { ...base, reason, message });
  throw error;
}

async function watch(ctx: OperatorContext, request: WatchRequest, actor: Actor): Promise<WatchResult> {
  const name = await prepareState(ctx);
  const base = { verb: "watch" as const, actor, ...request };
  let on: { module: string; index: string | null };
  try {
    on = target(ctx, request.schema);
  } catch (error) {
    if (error instanceof OperatorError) return refuse(ctx, base, error);
    throw error;
  }
  const bad = request.conditions.find((c) => !ALERT_CONDITIONS.includes(c));
  if (bad) return refuse(ctx, base, new RefusedError("bad_condition", `unknown condition "${bad}"`));
  if (request.conditions.includes("stuck") && ctx.config.alerts.stuckAfter === null) {
    return refuse(
      ctx,
      base,
      new RefusedError(
        "stuck_not_configured",
        'the stuck-queue condition is off in this deployment (alerts.stuckAfter is not set in the configuration file); watch failures, drift or unreadable, or ask for alerts.stuckAfter (such as "15m") in code review',
      ),
    );
  }
  const fields = {
    channel: request.channel,
    schema: on.module,
    conditions: ALERT_CONDITIONS.filter((c) => request.conditions.includes(c)),
    minFailures: request.minFailures,
    mention: request.mention,
  };
  return inTransaction(ctx, async (client) => {
    await lockTarget(client, "alert_subscription", request.channel, on.module);
    const before = await findSubscription(client, name, request.channel, on.module);
    const changes = before ? changesBetween(before, fields) : [];
    const outcome = !before ? "watched" : changes.length > 0 ? "updated" : "unchanged";
    const row =
      outcome === "unchanged"
        ? (before as StoredSubscription)
        : await upsertSubscription(client, name, fields, actor.id);
    await writeAudit(client, name, {
      actor: actor.id,
      action: WATCH_ACTIONS.watch,
      schema: on.module === ALL_SCHEMAS ? null : on.module,
      index: on.index,
      target: auditTarget(request.channel, on.module, fields),
      outcome,
      details: { subscription_id: row.id, ...(changes.length > 0 ? { changes } : {}) },
      context: actor.context ?? {},
    });
    const subscription = fromStored(row);
    return outcome === "updated"
      ? { outcome, subscription, changes }
      : { outcome: outcome as "watched" | "unchanged", subscription };
  });
}

async function unwatch(
  ctx: OperatorContext,
  request: { channel: string; schema: string },
  actor: Actor,
): Promise<UnwatchResult> {
  const name = await prepareState(ctx);
  const base = { verb: "unwatch" as const, actor, ...request };
  let on: { module: string; index: string | null };
  try {
    on = target(ctx, request.schema);
  } catch (error) {
    if (!(error instanceof OperatorError)) throw error;
    // A schema removed from the configuration leaves its stored subscriptions (the engine skips
    // them): its exact module name still removes them.
    const orphan = (await stored(ctx, request.channel)).find((row) => row.schema === request.schema.trim());
    if (error.code !== "unknown_schema" || !orphan) return refuse(ctx, base, error);
    on = { module: orphan.schema, index: null };
  }
  const configured = fromConfig(ctx).filter((s) => covers(s, request.channel, on.module));
  const shown = on.module === ALL_SCHEMAS ? "all schemas" : on.module;
  const removed = await inTransaction(ctx, async (client) => {
    await lockTarget(client, "alert_subscription", request.channel, on.module);
    const row = await deleteSubscription(client, name, request.channel, on.module);
    if (row) {
      await writeAudit(client, name, {
        actor: actor.id,
        action: WATCH_ACTIONS.unwatch,
        schema: on.module === ALL_SCHEMAS ? null : on.module,
        index: on.index,
        target: auditTarget(request.channel, on.module, {
          conditions: row.conditions,
          minFailures: row.minFailures,
          mention: row.mention,
        }),
        outcome: "unwatched",
        details: { subscription_id: row.id },
        context: actor.context ?? {},
      });
    }
    return row;
  });
  if (removed) return { outcome: "unwatched", removed: fromStored(removed), stillConfigured: configured };
  if (configured.length > 0) {
    return refuse(
      ctx,
      base,
      new RefusedError(
        "kept_in_configuration",
        `this channel's alerts for ${shown} are kept in the configuration file (alerts.subscriptions), not made with /scrypath watch, so they cannot be removed from Slack: change it in code review`,
        { keys: configured.map((s) => s.key) },
      ),
    );
  }
  return refuse(
    ctx,
    base,
    new RefusedError(
      "not_watched",
      `this channel does not watch ${shown}; \`/scrypath watches\` lists what it watches`,
    ),
  );
}

export function alertSubscriptions(ctx: OperatorContext): AlertSubscriptions {
  return {
    effective: () => effective(ctx),
    list: (channel) => list(ctx, channel ?? null),
    watch: (request, actor) => watch(ctx, request, actor),
    unwatch: (request, actor) => unwatch(ctx, request, actor),
    auditRefusal: (refusal) => auditRefusal(ctx, refusal),
  };
}
