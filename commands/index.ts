// `/scrypath <verb> …`: parse, check the channel, run the verb, and turn every failure a user
// can cause or fix into a message. Only bugs throw; the listener answers those with a request id.
import { ACCESS_MESSAGES } from "../src/core/access.ts";
import { didYouMean } from "../src/core/schemaRef.ts";
import { isOperatorError, type OperatorError, RefusedError } from "../src/errors.ts";
import type { MutationRequest } from "../src/operator/requests.ts";
import { accessRefusalView } from "../views/confirm.ts";
import { backendErrorView } from "../views/errors.ts";
import { helpView, usageView } from "../views/help.ts";
import type { SlackMessage } from "../views/types.ts";
import { EXPECTED_SCHEMA } from "./args.ts";
import { audit } from "./audit.ts";
import { digest } from "./digest.ts";
import { drift } from "./drift.ts";
import { failed } from "./failed.ts";
import { clip, parseFlags, tokenize, UsageProblem } from "./parse.ts";
import { reconcile } from "./reconcile.ts";
import { retry } from "./retry.ts";
import { settings } from "./settings.ts";
import { status } from "./status.ts";
import type { AnyCommand, CommandDeps, Invocation, ModalRequest } from "./types.ts";
import { unwatch, watch, watches } from "./watch.ts";

export const COMMANDS: AnyCommand[] = [
  status,
  failed,
  reconcile,
  drift,
  retry,
  settings,
  audit,
  digest,
  watch,
  unwatch,
  watches,
];

export type Outcome = "ok" | "usage" | "denied" | "backend_error" | "error";

export interface CommandResult {
  message: SlackMessage;
  /** Post in the channel for everyone (`--share`) instead of only to the requester. */
  share: boolean;
  verb: string;
  schema: string | null;
  outcome: Outcome;
  /** The backend that failed, for metrics. */
  backend?: "postgres" | "meilisearch" | null;
  /** The backend's one sentence, for the log line (the same the user sees). */
  reason?: string;
  /**
   * A mutation to put before an operator: the listener posts a confirmation card in the channel
   * (`message` then only describes the verb).
   */
  confirmation?: MutationRequest;
  /** A modal for the listener to open with the command's trigger_id. */
  modal?: ModalRequest;
  /** The answer went elsewhere (a card in the channel, a modal): post nothing to the requester. */
  silent?: boolean;
}

/** `reconcile --action` changes state: listed with the mutating verbs too. */
const RECONCILE_ACTION_HELP = {
  name: "reconcile --action",
  usage: "/scrypath reconcile <schema> --action retry --id N | backfill | reindex | swap [--target-index X]",
  summary: "run one recommended action of the reconcile report",
  mutates: true,
};

export function helpEntries() {
  return [
    ...COMMANDS.map((c) => ({
      name: c.name,
      usage: c.usage,
      summary: c.summary,
      mutates: c.mutates ?? false,
      audited: c.audited ?? false,
    })),
    RECONCILE_ACTION_HELP,
    {
      name: "help",
      usage: "/scrypath help [verb]",
      summary: "this list, or one verb's usage",
      mutates: false,
    },
  ];
}

function find(name: string): AnyCommand | undefined {
  return COMMANDS.find((c) => c.name === name);
}

function usageResult(verb: string, problem: string, usage: string, suggestion: string | null): CommandResult {
  return {
    message: usageView(problem, usage, suggestion),
    share: false,
    verb,
    schema: null,
    outcome: "usage",
  };
}

function firstIssue(error: { issues: { message: string }[] }): string {
  return error.issues[0]?.message ?? "invalid arguments";
}

/** The configured schemas, as the operator lists them for an unknown one. */
function configuredSchemas(deps: CommandDeps): string {
  const names = deps.config.schemas.map((s) => s.module + (s.alias ? ` (${s.alias})` : ""));
  return names.length > 0 ? names.join(", ") : "none; add them under schemas: in the config";
}

/** A call that names no schema is told which ones it could name. */
function withSchemas(problem: string, deps: CommandDeps): string {
  return problem.startsWith(EXPECTED_SCHEMA)
    ? `${problem}; configured schemas: ${configuredSchemas(deps)}`
    : problem;
}

/** The refusal for a channel outside `access.channels`, or null when the channel may ask. */
export function channelDenied(verb: string, invocation: Invocation, deps: CommandDeps): CommandResult | null {
  const allowed = deps.config.access.channels;
  if (allowed.length === 0 || allowed.includes(invocation.channelId)) return null;
  return {
    message: usageView(
      "scrypath-bot does not answer in this channel",
      `Ask in one of the configured channels (access.channels), e.g. <#${allowed[0]}>.`,
      null,
    ),
    share: false,
    verb,
    schema: null,
    outcome: "denied",
  };
}

/** Where a verb is for operators only: the refusal for anyone else, or null. */
async function operatorsOnlyDenied(
  command: AnyCommand,
  invocation: Invocation,
  deps: CommandDeps,
): Promise<CommandResult | null> {
  if (!command.operatorsOnly?.(deps.config)) return null;
  const decision = deps.operatorRole
    ? await deps.operatorRole(invocation.userId)
    : ({
        allowed: false,
        reason: "not_an_operator",
        message: ACCESS_MESSAGES.not_an_operator,
        usergroups: deps.config.access.operators.usergroups,
      } as const);
  if (decision.allowed) return null;
  const message =
    decision.reason === "not_an_operator"
      ? `\`/scrypath ${command.name}\` is for operators in this workspace; ${decision.message}`
      : decision.message;
  return {
    message: accessRefusalView(message, "operator", decision.reason, decision.usergroups),
    share: false,
    verb: command.name,
    schema: null,
    outcome: "denied",
  };
}

/**
 * What a user sees for an OperatorError: usage (with did-you-mean) for what they typed wrong, the
 * refusal's sentence for a mutation that cannot run, and which backend failed otherwise.
 */
export function operatorErrorResult(
  error: OperatorError,
  at: { verb: string; schema: string | null; text?: string },
  deps: CommandDeps,
): CommandResult {
  const { verb, schema } = at;
  const usage = find(verb)?.usage ?? "/scrypath help";
  if (error.code === "unknown_schema" || error.code === "ambiguous_schema") {
    const names = deps.config.schemas.flatMap((s) => [s.alias, s.module.split(".").pop()?.toLowerCase()]);
    const guess = schema
      ? didYouMean(
          schema,
          names.filter((n): n is string => !!n),
        )
      : null;
    const fixed = guess && schema && at.text ? at.text.trim().replace(schema, guess) : null;
    return usageResult(verb, error.message, usage, fixed ? `/scrypath ${fixed}` : null);
  }
  if (
    error.code === "bad_argument" ||
    error.code === "no_contract" ||
    error.code === "refused" ||
    error.code === "not_found"
  ) {
    // A refusal's reason code stays a code, in code style after the sentence ("Not_retryable" is no word).
    const message =
      error instanceof RefusedError && error.message.startsWith(`${error.reason}: `)
        ? `${error.message.slice(error.reason.length + 2)} (\`${error.reason}\`)`
        : error.message;
    return { ...usageResult(verb, message, usage, null), schema };
  }
  return {
    message: backendErrorView(error, { verb, ...(schema ? { schema } : {}) }),
    share: false,
    verb,
    schema,
    outcome: "backend_error",
    backend: error.backend,
    reason: error.message,
  };
}

export async function runSlashCommand(
  text: string,
  invocation: Invocation,
  deps: CommandDeps,
): Promise<CommandResult> {
  let verb = "help";
  let schema: string | null = null;
  try {
    const tokens = tokenize(text.trim());
    verb = (tokens[0] ?? "help").toLowerCase();
    const rest = tokens.slice(1);

    if (verb === "help" || verb === "--help") {
      const about = rest[0] ? find(rest[0].toLowerCase()) : undefined;
      return {
        message: helpView(helpEntries(), about?.name),
        share: false,
        verb: "help",
        schema: null,
        outcome: "ok",
      };
    }
    const command = find(verb);
    if (!command) {
      const guess = didYouMean(verb, [...COMMANDS.map((c) => c.name), "help"]);
      return usageResult(
        "unknown",
        `unknown command \`${clip(verb)}\``,
        "/scrypath help",
        guess ? `/scrypath ${[guess, ...rest].join(" ")}` : null,
      );
    }
    const parsed = parseFlags(rest, command.flags);
    if (parsed.flags.help) {
      return {
        message: helpView(helpEntries(), command.name),
        share: false,
        verb,
        schema: null,
        outcome: "ok",
      };
    }
    const denied =
      channelDenied(verb, invocation, deps) ?? (await operatorsOnlyDenied(command, invocation, deps));
    if (denied) return denied;
    const args = command.args.safeParse(parsed);
    if (!args.success)
      return usageResult(verb, withSchemas(firstIssue(args.error), deps), command.usage, null);
    schema = (args.data as { schema?: string | null }).schema ?? null;
    const reply = await command.run(args.data, deps, invocation);
    if ("confirmation" in reply || "modal" in reply) {
      // The listener acts on these; the message only says what the verb does.
      return {
        message: helpView(helpEntries(), command.name),
        share: false,
        verb,
        schema,
        outcome: "ok",
        ...reply,
      };
    }
    return { message: reply, share: parsed.flags.share === true, verb, schema, outcome: "ok" };
  } catch (error) {
    if (error instanceof UsageProblem) {
      const command = find(verb);
      const suggestion = error.suggestion ? `/scrypath ${verb} … ${error.suggestion}` : null;
      return usageResult(verb, error.message, command?.usage ?? "/scrypath help", suggestion);
    }
    if (isOperatorError(error)) return operatorErrorResult(error, { verb, schema, text }, deps);
    throw error;
  }
}
