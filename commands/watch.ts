// `/scrypath watch <schema|all> [--on …] [--min N] [--mention @group]`, `/scrypath unwatch
// <schema|all>` and `/scrypath watches [--all]`: which schemas' alerts this channel hears. Watch and
// unwatch change what the bot says, not production: operators only (deny by default) but without a
// confirmation card, and every attempt is audited, refusals included. A channel the bot cannot post
// in is refused at subscribe time, with how to fix it.
import { z } from "zod";
import { ALERT_CONDITION_NAMES } from "../src/config.ts";
import { ACCESS_MESSAGES, type AccessDecision } from "../src/core/access.ts";
import type { AlertCondition } from "../src/core/alertTypes.ts";
import { didYouMean } from "../src/core/schemaRef.ts";
import type { Actor, WatchRefusal } from "../src/operator/index.ts";
import { accessRefusalView } from "../views/confirm.ts";
import { channelRefusedView, unwatchResultView, watchesView, watchResultView } from "../views/watches.ts";
import { schemaName } from "./args.ts";
import { viewContext } from "./context.ts";
import { clip } from "./parse.ts";
import { COMMON_FLAGS, type Command, type CommandDeps, type Invocation } from "./types.ts";

export const DEFAULT_WATCH_CONDITIONS: AlertCondition[] = ["failures", "drift", "unreadable"];

const MENTION_EXAMPLE = "`--mention @search-oncall` (a user group) or `--mention S0123ABCD` (its id)";

/**
 * A user group as Slack sends it with escaping on (`<!subteam^S0123|@oncall>`, `<!subteam^S0123>`)
 * or a raw id (`S0123ABCD`); null for anything else.
 */
export function usergroupId(typed: string): string | null {
  const escaped = /^<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>$/.exec(typed.trim());
  if (escaped) return escaped[1] as string;
  return /^S[A-Z0-9]{2,}$/.test(typed.trim()) ? typed.trim() : null;
}

const conditionList = z.string().transform((typed, ctx) => {
  const names = typed
    .split(",")
    .map((n) => n.trim().toLowerCase())
    .filter((n) => n !== "");
  const out: AlertCondition[] = [];
  for (const name of names) {
    if (!(ALERT_CONDITION_NAMES as readonly string[]).includes(name)) {
      const guess = didYouMean(name, [...ALERT_CONDITION_NAMES]);
      ctx.addIssue({
        code: "custom",
        message: `unknown condition "${clip(name)}"${guess ? ` (did you mean ${guess}?)` : ""}; --on takes a comma-separated list of ${ALERT_CONDITION_NAMES.join(", ")}`,
      });
      return z.NEVER;
    }
    if (!out.includes(name as AlertCondition)) out.push(name as AlertCondition);
  }
  if (out.length === 0) {
    ctx.addIssue({
      code: "custom",
      message: `--on needs at least one of ${ALERT_CONDITION_NAMES.join(", ")}`,
    });
    return z.NEVER;
  }
  return out;
});

const mention = z.string().transform((typed, ctx) => {
  const id = usergroupId(typed);
  if (id) return id;
  ctx.addIssue({
    code: "custom",
    message: `--mention expects a Slack user group, got "${clip(typed)}"; for example ${MENTION_EXAMPLE}`,
  });
  return z.NEVER;
});

const minFailures = z.number().int().min(1).max(10_000, "--min must be between 1 and 10000");

const oneSchema = z
  .array(z.string())
  .min(1, "expected a schema or `all`, for example `/scrypath watch posts`")
  .max(1, "expected one schema or `all`; watch each schema separately")
  .pipe(z.array(schemaName));

export interface WatchArgs {
  schema: string;
  conditions: AlertCondition[];
  minFailures: number;
  mention: string | null;
}

function actorOf(invocation: Invocation): Actor {
  return { id: invocation.userId, context: { channel: invocation.channelId, via: "slack" } };
}

/** The operator role, as mutations check it (deny by default: no check means nobody has it). */
async function operatorDecision(deps: CommandDeps, userId: string): Promise<AccessDecision> {
  if (deps.operatorRole) return deps.operatorRole(userId);
  return {
    allowed: false,
    reason: "not_an_operator",
    message: ACCESS_MESSAGES.not_an_operator,
    usergroups: deps.config.access.operators.usergroups,
  };
}

/** The refusal shown for a missing role (and audited by the caller). */
function accessRefused(verb: string, decision: Exclude<AccessDecision, { allowed: true }>) {
  const message =
    decision.reason === "not_an_operator"
      ? `\`/scrypath ${verb}\` is for operators in this workspace; ${decision.message}`
      : decision.message;
  return { message, view: accessRefusalView(message, "operator", decision.reason, decision.usergroups) };
}

async function audit(deps: CommandDeps, refusal: WatchRefusal): Promise<void> {
  await deps.operator.alertSubscriptions.auditRefusal(refusal);
}

export const watch: Command<WatchArgs> = {
  name: "watch",
  usage: "/scrypath watch <schema|all> [--on failures,drift,unreadable,stuck] [--min N] [--mention @group]",
  summary: "post this schema's alerts in this channel (default: failures, drift, unreadable)",
  audited: true,
  flags: { ...COMMON_FLAGS, on: "string", min: "integer", mention: "string" },
  args: z
    .object({
      positionals: oneSchema,
      flags: z
        .object({ on: conditionList.optional(), min: minFailures.optional(), mention: mention.optional() })
        .loose(),
    })
    .transform((a) => ({
      schema: a.positionals[0] as string,
      conditions: a.flags.on ?? DEFAULT_WATCH_CONDITIONS,
      minFailures: a.flags.min ?? 1,
      mention: a.flags.mention ?? null,
    })),
  async run(args, deps, invocation) {
    const actor = actorOf(invocation);
    const attempt = { verb: "watch" as const, actor, channel: invocation.channelId, ...args };
    const decision = await operatorDecision(deps, invocation.userId);
    if (!decision.allowed) {
      const refused = accessRefused("watch", decision);
      await audit(deps, { ...attempt, reason: decision.reason, message: refused.message });
      return refused.view;
    }
    const standing = deps.channels
      ? await deps.channels.standing(invocation.channelId)
      : ({
          postable: false,
          reason: "channel_unchecked",
          detail: "this surface cannot ask Slack about channels",
        } as const);
    if (!standing.postable) {
      await audit(deps, { ...attempt, reason: standing.reason, message: standing.detail });
      return channelRefusedView(standing);
    }
    const result = await deps.operator.alertSubscriptions.watch(
      { channel: invocation.channelId, ...args },
      actor,
    );
    return watchResultView(result, viewContext(deps));
  },
};

export const unwatch: Command<{ schema: string }> = {
  name: "unwatch",
  usage: "/scrypath unwatch <schema|all>",
  summary: "stop this channel's alerts made with /scrypath watch",
  audited: true,
  flags: { ...COMMON_FLAGS },
  args: z.object({ positionals: oneSchema, flags: z.record(z.string(), z.unknown()) }).transform((a) => ({
    schema: a.positionals[0] as string,
  })),
  async run(args, deps, invocation) {
    const actor = actorOf(invocation);
    const decision = await operatorDecision(deps, invocation.userId);
    if (!decision.allowed) {
      const refused = accessRefused("unwatch", decision);
      await audit(deps, {
        verb: "unwatch",
        actor,
        channel: invocation.channelId,
        schema: args.schema,
        reason: decision.reason,
        message: refused.message,
      });
      return refused.view;
    }
    const result = await deps.operator.alertSubscriptions.unwatch(
      { channel: invocation.channelId, schema: args.schema },
      actor,
    );
    return unwatchResultView(result, viewContext(deps));
  },
};

export const watches: Command<{ all: boolean }> = {
  name: "watches",
  usage: "/scrypath watches [--all] [--share]",
  summary:
    "this channel's alert subscriptions and where each came from (--all: every channel's, operators only)",
  flags: { ...COMMON_FLAGS, all: "boolean" },
  args: z
    .object({
      positionals: z
        .array(z.string())
        .max(0, "`watches` takes no schema; it lists this channel's subscriptions"),
      flags: z.object({ all: z.boolean().optional() }).loose(),
    })
    .transform((a) => ({ all: a.flags.all === true })),
  async run(args, deps, invocation) {
    if (args.all) {
      const decision = await operatorDecision(deps, invocation.userId);
      if (!decision.allowed) return accessRefused("watches --all", decision).view;
    }
    const channel = args.all ? null : invocation.channelId;
    const subscriptions = await deps.operator.alertSubscriptions.list(channel);
    return watchesView(subscriptions, viewContext(deps), {
      channel,
      configured: deps.config.schemas.map((s) => s.module),
    });
  },
};
