// The CLI's command table: names, the upstream task each mirrors, its options, and usage text.
import type { ParseArgsConfig } from "node:util";
import { didYouMean } from "../core/schemaRef.ts";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** Switches every command accepts, as the mix tasks' common switches (§8). */
export const SHARED_OPTIONS: OptionSpec = {
  config: { type: "string" },
  "index-prefix": { type: "string" },
  "sync-mode": { type: "string" },
  "meilisearch-url": { type: "string" },
  "oban-queue": { type: "string" },
  debug: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

export interface CommandSpec {
  /** Words that select the command, e.g. ["settings", "diff"]. */
  words: string[];
  /** Upstream task name used in error lines: `<task> failed: <reason>`. */
  task: string;
  /** The positional argument after the words, if any. */
  argument: "schema" | "directory" | "changeId" | "optionalSchema" | "none";
  /** Changes production: asks for confirmation (or --yes). */
  mutates?: boolean;
  options: OptionSpec;
  summary: string;
  usage: string;
  /** The command's own exit codes, when they are not the shared ones. */
  exitCodes?: string;
}

const json = { json: { type: "boolean" } } as const;
const yes = { yes: { type: "boolean", short: "y" } } as const;

export const COMMANDS: CommandSpec[] = [
  {
    words: ["status"],
    task: "scrypath.status",
    argument: "schema",
    options: { ...json },
    summary: "backend and queue planes of one schema",
    usage: "status <Schema> [--json]",
  },
  {
    words: ["failed"],
    task: "scrypath.failed",
    argument: "schema",
    options: {
      ...json,
      "no-class-summary": { type: "boolean" },
      class: { type: "string" },
      source: { type: "string" },
      limit: { type: "string" },
      cursor: { type: "string" },
    },
    summary: "failed sync work with the reason-class rollup",
    usage:
      "failed <Schema> [--json] [--no-class-summary] [--class C] [--source oban|meilisearch] [--limit N] [--cursor C]",
  },
  {
    words: ["reconcile"],
    task: "scrypath.reconcile",
    argument: "schema",
    options: {
      ...json,
      ...yes,
      "target-index": { type: "string" },
      "include-contract-drift": { type: "boolean" },
      action: { type: "string" },
      id: { type: "string" },
    },
    summary: "drift signals and recommended actions; --action retry|backfill|reindex|swap applies one",
    usage:
      "reconcile <Schema> [--json] [--target-index X] [--include-contract-drift] [--action A [--id ID] [--yes]]",
  },
  {
    words: ["drift"],
    task: "scrypath.index.contract_drift",
    argument: "schema",
    options: { ...json },
    summary: "index contract drift on five dimensions (exit 2 when drifted)",
    usage: "drift <Schema> [--json]",
  },
  {
    words: ["settings", "diff"],
    task: "scrypath.settings.diff",
    argument: "schema",
    options: { ...json },
    summary: "declared vs applied Meilisearch settings (exit 2 when drifted)",
    usage: "settings diff <Schema> [--json]",
  },
  {
    words: ["settings", "read"],
    task: "scrypath.settings.read",
    argument: "schema",
    options: {},
    summary: "the live index's applied settings",
    usage: "settings read <Schema>",
  },
  {
    words: ["retry"],
    task: "scrypath.retry",
    argument: "schema",
    mutates: true,
    options: {
      ...json,
      ...yes,
      id: { type: "string" },
      class: { type: "string" },
      since: { type: "string" },
      state: { type: "string" },
    },
    summary:
      "replay one failed Oban job (--id), or every failed job of a class (--class, capped), as new jobs; the failed jobs stay as they are",
    usage: "retry <Schema> --id ID | --class C [--since 2h] [--state terminal|retrying|all] [--yes] [--json]",
  },
  {
    words: ["settings", "hot-apply"],
    task: "scrypath.settings.hot_apply",
    argument: "schema",
    mutates: true,
    options: { ...json, ...yes, "settings-file": { type: "string" }, "ack-live": { type: "boolean" } },
    summary: "PATCH synonyms, stop words or typo tolerance on the live index",
    usage: "settings hot-apply <Schema> --settings-file F --ack-live [--yes] [--json]",
  },
  {
    words: ["settings", "revert"],
    task: "scrypath.settings.revert",
    argument: "changeId",
    mutates: true,
    options: { ...json, ...yes, force: { type: "boolean" } },
    summary: "put back the values a hot-apply replaced",
    usage: "settings revert <ID> [--force] [--yes] [--json]",
  },
  {
    words: ["audit"],
    task: "scrypath-bot.audit",
    argument: "optionalSchema",
    options: { ...json, limit: { type: "string" } },
    summary: "recent audit log entries, newest first",
    usage: "audit [Schema] [--limit N] [--json]",
  },
  {
    words: ["watches"],
    task: "scrypath-bot.watches",
    argument: "none",
    options: { ...json, channel: { type: "string" } },
    summary: "alert subscriptions: the configuration file's and those made with /scrypath watch",
    usage: "watches [--channel C] [--json]",
  },
  {
    words: ["migrate"],
    task: "scrypath-bot.migrate",
    argument: "none",
    options: { check: { type: "boolean" } },
    summary: "create or upgrade the bot's own tables (its only DDL); --check only reports",
    usage: "migrate [--check]",
    exitCodes:
      "Exit codes: 0 up to date (or migrated), 1 could not migrate, or with --check: migrations are pending,\n" +
      "2 with --check: could not check (Postgres unreachable, invalid configuration or options).",
  },
  {
    words: ["playbooks", "validate"],
    task: "scrypath_ops.playbooks.validate",
    argument: "directory",
    options: {},
    summary: "validate ScrypathOps playbook JSON files (exit 1 if any is invalid)",
    usage: "playbooks validate DIR",
  },
];

export function findCommand(positionals: string[]): { spec: CommandSpec; rest: string[] } | null {
  // Longest match first, so `settings diff` wins over a hypothetical `settings`.
  const sorted = [...COMMANDS].sort((a, b) => b.words.length - a.words.length);
  for (const spec of sorted) {
    if (spec.words.every((w, i) => positionals[i] === w)) {
      return { spec, rest: positionals.slice(spec.words.length) };
    }
  }
  // `index.contract_drift` is the upstream name of `drift`.
  if (positionals[0] === "index.contract_drift") {
    return { spec: COMMANDS.find((c) => c.words[0] === "drift") as CommandSpec, rest: positionals.slice(1) };
  }
  return null;
}

/**
 * The command line the user probably meant, as in Slack's did-you-mean: each command word that
 * does not match is replaced by the closest one (case-insensitive edit distance, or a prefix);
 * null when nothing is close.
 */
export function suggestCommand(positionals: string[]): string[] | null {
  const [first = "", second] = positionals;
  const firstWords = [...new Set(COMMANDS.map((c) => c.words[0] as string))];
  const head = firstWords.includes(first) ? first : didYouMean(first, firstWords);
  if (!head) return null;
  const group = COMMANDS.filter((c) => c.words[0] === head);
  if (group.some((c) => c.words.length === 1)) return [head, ...positionals.slice(1)];
  const subWords = group.map((c) => c.words[1] as string);
  const sub = second === undefined ? null : didYouMean(second, subWords);
  if (!sub) return null;
  const fixed = [head, sub, ...positionals.slice(2)];
  return fixed.join(" ") === positionals.join(" ") ? null : fixed;
}

export const SHARED_OPTIONS_USAGE = `Options for every command:
  --config FILE            configuration file (default: $SCRYPATH_BOT_CONFIG, else ./scrypath-bot.yml)
  --index-prefix P         runtime index prefix (wins over the schema's)
  --sync-mode M            inline | manual | oban
  --meilisearch-url URL    override meilisearch.url
  --oban-queue Q           override the schema's obanQueue
  --debug                  print stack traces on errors`;

const SHARED_EXIT_CODES = "Exit codes: 0 ok, 2 drift found, 1 could not complete.";

export const SHARED_USAGE = `${SHARED_OPTIONS_USAGE}\n${SHARED_EXIT_CODES}`;

/**
 * Commands that run the bot's process rather than one operator call: listed in their own section of
 * `--help` and dispatched before the command table (`serve` runs until a signal; see ./serve.ts).
 * `migrate [--check]` (issue 14) is a one-shot command of the table above (config, operator, exit
 * code); add `words[0]` of such a command to DEPLOY_WORDS to list it in this section too.
 */
export const SERVE = {
  usage: "serve [--config FILE] [--port N]",
  summary: "run the Slack bot (HTTP, or Socket Mode with SLACK_APP_TOKEN) until SIGTERM",
} as const;

/** First words of table commands listed under "Running the bot" rather than among the operator calls. */
const DEPLOY_WORDS: string[] = ["migrate"];

function usageLine(usage: string, summary: string): string {
  return `  scrypath-bot ${usage.padEnd(64)} ${summary}`;
}

export function usage(): string {
  const isDeploy = (c: CommandSpec) => DEPLOY_WORDS.includes(c.words[0] as string);
  const lines = COMMANDS.filter((c) => !isDeploy(c)).map((c) => usageLine(c.usage, c.summary));
  const deploy = [
    usageLine(SERVE.usage, SERVE.summary),
    ...COMMANDS.filter(isDeploy).map((c) => usageLine(c.usage, c.summary)),
  ];
  return `Usage:\n${lines.join("\n")}\n\nRunning the bot:\n${deploy.join("\n")}\n\n${SHARED_USAGE}`;
}

export function commandUsage(spec: CommandSpec): string {
  return `Usage: scrypath-bot ${spec.usage}\n${spec.summary}\n\n${SHARED_OPTIONS_USAGE}\n${spec.exitCodes ?? SHARED_EXIT_CODES}`;
}
