// `scrypath-bot <command>`: the operator core on a terminal, with mix-compatible output.
// `run` takes its I/O as arguments so tests drive it in-process.
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { type Config, errorLines, loadConfig, withOverrides } from "../config.ts";
import { validatePlaybook } from "../core/playbook.ts";
import { redactValue } from "../core/redact.ts";
import { validateHotApplyPayload } from "../core/settings.ts";
import { parseSince } from "../core/since.ts";
import { REASON_CLASSES, type ReasonClass, type SyncMode } from "../core/types.ts";
import { isOperatorError, OperatorError } from "../errors.ts";
import { type BulkState, type Operator, openOperator } from "../operator/index.ts";
import { checkReconcileAction } from "../operator/reconcileAction.ts";
import type { MutationRequest } from "../operator/requests.ts";
import { parseRetryTarget } from "../operator/retry.ts";
import { configuredSecrets } from "../secrets.ts";
import { withTimeout } from "../timeout.ts";
import { bulkRetryOutcome, bulkRetryText, progressLine } from "./bulkRetry.ts";
import { type CliCleaner, cliCleaner } from "./clean.ts";
import {
  COMMANDS,
  type CommandSpec,
  commandUsage,
  findCommand,
  SHARED_OPTIONS,
  suggestCommand,
  usage,
} from "./commands.ts";
import {
  formatContractDrift,
  formatFailed,
  formatReconcile,
  formatSettingsDiff,
  formatStatus,
} from "./format.ts";
import { contractDriftJson, failedJson, reconcileJson, settingsDiffJson, statusJson } from "./json.ts";
import {
  auditArgumentRefusal,
  auditLines,
  cliActor,
  confirmMutation,
  hotApplyCommand,
  type MutationOutcome,
  parseChangeId,
  readHotApplySettings,
  reconcileActionCommand,
  retryCommand,
  revertCommand,
  watchLines,
} from "./mutations.ts";
import { requestText } from "./requestText.ts";
import { serveFromShell } from "./serve.ts";

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Builds the operator; tests may pass their own. */
  openOperator?: (config: Config) => Operator;
  /** Asks a yes/no question; only given when a person is at a terminal. */
  confirm?: (question: string) => Promise<boolean>;
}

type Values = Record<string, string | boolean | undefined>;

class UsageError extends Error {
  /** The task the error belongs to, when it is known before `run` learns it. */
  constructor(
    message: string,
    readonly task?: string,
  ) {
    super(message);
  }
}

const SYNC_MODES: SyncMode[] = ["inline", "manual", "oban"];

// Every option any command knows (names never clash in type), so the first pass reads a value
// such as `--class validation` as the option's value, not as a positional.
const ALL_OPTIONS = Object.assign({}, SHARED_OPTIONS, ...COMMANDS.map((c) => c.options));

function parseCommandLine(argv: string[]) {
  // First pass: find the command words with every option allowed, then re-parse strictly.
  const loose = parseArgs({ args: argv, strict: false, allowPositionals: true, options: ALL_OPTIONS });
  const found = findCommand(loose.positionals);
  if (!found) return { found: null, values: loose.values as Values, positionals: loose.positionals };
  try {
    const strict = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: { ...SHARED_OPTIONS, ...found.spec.options },
    });
    return {
      found: findCommand(strict.positionals) ?? found,
      values: strict.values as Values,
      positionals: strict.positionals,
    };
  } catch (error) {
    throw new UsageError(
      `invalid options: ${optionProblem(error)}; run \`scrypath-bot ${found.spec.words.join(" ")} --help\` for the options it accepts`,
      found.spec.task,
    );
  }
}

/** node:util's parseArgs messages, shortened to the part that names the problem. */
function optionProblem(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const message = (e?.message ?? String(error)).split("\n")[0] ?? "";
  const unknown = /^Unknown option '([^']+)'/.exec(message);
  if (e?.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && unknown) return `unknown option ${unknown[1]}`;
  return message.replace(/^Option '([^']+)'/, "option $1").replace(/\.$/, "");
}

function schemaArgument(spec: CommandSpec, rest: string[]): string {
  if (spec.argument === "none") {
    if (rest.length > 0)
      throw new UsageError(`unexpected argument "${rest.join(" ")}"; this command takes none`);
    return "";
  }
  if (spec.argument === "optionalSchema" && rest.length === 0) return "";
  if (rest.length !== 1 || !rest[0]) {
    if (spec.argument === "changeId")
      throw new UsageError("expected one settings change id, for example `12`");
    throw new UsageError(
      spec.argument === "directory"
        ? "expected one directory argument, for example `priv/playbooks`"
        : "expected one schema module argument, for example `SearchablePost`",
    );
  }
  return rest[0];
}

function overrides(values: Values) {
  const syncMode = values["sync-mode"] as string | undefined;
  if (syncMode !== undefined && !SYNC_MODES.includes(syncMode as SyncMode)) {
    throw new UsageError(`unsupported sync mode "${syncMode}"; use one of ${SYNC_MODES.join(", ")}`);
  }
  const url = values["meilisearch-url"];
  if (typeof url === "string" && !isHttpUrl(url)) {
    throw new UsageError(
      `invalid --meilisearch-url "${url}"; pass an http(s) URL such as http://127.0.0.1:7700`,
    );
  }
  return {
    ...(values["index-prefix"] ? { indexPrefix: values["index-prefix"] as string } : {}),
    ...(syncMode ? { syncMode: syncMode as SyncMode } : {}),
    ...(values["meilisearch-url"] ? { meilisearchUrl: values["meilisearch-url"] as string } : {}),
    ...(values["oban-queue"] ? { obanQueue: values["oban-queue"] as string } : {}),
  };
}

function isHttpUrl(value: string): boolean {
  try {
    return ["http:", "https:"].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

function positiveInt(name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^[1-9][0-9]*$/.test(value)) {
    throw new UsageError(`--${name} expects a positive whole number, got "${value}"`);
  }
  return Number(value);
}

function reasonClass(value: string | boolean | undefined): ReasonClass | undefined {
  if (value === undefined) return undefined;
  if (!REASON_CLASSES.includes(value as ReasonClass)) {
    throw new UsageError(`--class must be one of ${REASON_CLASSES.join(", ")}`);
  }
  return value as ReasonClass;
}

function source(value: string | boolean | undefined): "oban" | "meilisearch" | undefined {
  if (value === undefined) return undefined;
  if (value !== "oban" && value !== "meilisearch")
    throw new UsageError("--source must be oban or meilisearch");
  return value;
}

interface Outcome {
  lines: string[];
  exitCode: 0 | 1 | 2;
  notes?: string[];
}

/** Outcome lines that are a JSON document, already cleaned value by value (see ./clean.ts). */
const JSON_DOCUMENTS = new WeakSet<string[]>();

/** The operator's pool waits for hung queries before it closes: never wait more than this. */
const CLOSE_TIMEOUT_MS = 1_000;

const BULK_STATES: BulkState[] = ["terminal", "retrying", "all"];

/** Resolve the filter once (refusals audited), state the blast radius, confirm, execute in batches. */
async function bulkRetry(
  schema: string,
  values: Values,
  operator: Operator,
  io: CliIo,
): Promise<ReturnType<typeof bulkRetryOutcome>> {
  const cls = reasonClass(values.class);
  const state = values.state === undefined ? "terminal" : (values.state as BulkState);
  if (!BULK_STATES.includes(state)) throw new UsageError(`--state must be one of ${BULK_STATES.join(", ")}`);
  let since: Date | null = null;
  if (values.since !== undefined) {
    since = typeof values.since === "string" ? parseSince(values.since) : null;
    if (!since)
      throw new UsageError(
        `--since expects a duration such as 2h or 30m, or an ISO timestamp, got "${values.since}"`,
      );
  }
  operator.resolveSchema(schema);
  const actor = cliActor();
  const plan = await operator.resolveBulkRetry(
    schema,
    { reasonClass: cls as ReasonClass, since, state },
    actor,
  );
  await confirmMutation(io, values.yes === true, bulkRetryText(plan));
  const result = await operator.executeBulkRetry(schema, plan.ids, actor, {
    onProgress: (p) => io.stderr(`${progressLine(p)}\n`),
  });
  return bulkRetryOutcome(plan, result);
}

async function runOperatorCommand(
  spec: CommandSpec,
  schema: string,
  values: Values,
  operator: Operator,
  io: CliIo,
  clean: CliCleaner,
): Promise<Outcome> {
  const asJson = values.json === true;
  const jsonLines = (doc: unknown) => {
    const lines = [clean.json(doc)];
    JSON_DOCUMENTS.add(lines);
    return lines;
  };
  const mutation = (m: MutationOutcome, failed = false): Outcome => ({
    lines: asJson ? jsonLines(m.json) : m.lines,
    notes: m.notes,
    exitCode: failed ? 1 : 0,
  });
  // Mutations run the checks their execution runs (on fresh reads) before asking, and refuse
  // (audited once) what would be refused, so nobody confirms a command that cannot run; the
  // question then states what will change. The execution re-validates when it runs.
  const confirm = async (request: MutationRequest, extra: string[] = []) => {
    const preview = await operator.precheckRequest(request, cliActor());
    await confirmMutation(io, values.yes === true, requestText(preview, extra));
  };
  switch (spec.task) {
    case "scrypath.retry": {
      const id = values.id as string | undefined;
      if (values.class !== undefined) {
        if (id) throw new UsageError("pass either --id (one job) or --class (a bulk retry), not both");
        const bulk = await bulkRetry(schema, values, operator, io);
        return mutation(bulk.outcome, bulk.failed);
      }
      if (values.since !== undefined || values.state !== undefined)
        throw new UsageError("--since and --state filter a bulk retry: pass them with --class");
      if (!id) throw new UsageError("`--id` is required for this command");
      operator.resolveSchema(schema);
      parseRetryTarget(id);
      await confirm({ kind: "retry", schema, target: id });
      return mutation(await retryCommand(operator, schema, id));
    }
    case "scrypath.settings.hot_apply": {
      const settingsFile = values["settings-file"] as string | undefined;
      const settings = await readHotApplySettings({
        settingsFile,
        ackLive: values["ack-live"] === true,
      }).catch((error) => auditArgumentRefusal(operator, error, { schema }));
      operator.resolveSchema(schema);
      // Keys the operator refuses (and audits) are refused without asking first.
      if (validateHotApplyPayload(settings).ok) {
        await confirm({ kind: "hot_apply", schema, settings }, [`Settings file: ${settingsFile}`]);
      }
      const r = await hotApplyCommand(operator, schema, settings);
      return mutation(r.outcome, r.failed);
    }
    case "scrypath.settings.revert": {
      const refused = (error: unknown) =>
        auditArgumentRefusal(operator, error, { schema: null, target: { revert_of: schema } });
      let changeId: number;
      try {
        changeId = parseChangeId(schema);
      } catch (error) {
        return refused(error);
      }
      const force = values.force === true;
      await confirm(
        { kind: "revert", changeId },
        force ? ["With --force: reverts even if the live values changed since the change."] : [],
      ).catch(refused);
      const r = await revertCommand(operator, changeId, force).catch(refused);
      return mutation(r.outcome, r.failed);
    }
    case "scrypath-bot.migrate":
      return values.check === true ? migrationCheck(operator) : migrateState(operator);
    case "scrypath-bot.watches": {
      const channel = typeof values.channel === "string" ? values.channel : null;
      const subscriptions = await operator.alertSubscriptions.list(channel);
      return { lines: asJson ? jsonLines(subscriptions) : watchLines(subscriptions), exitCode: 0 };
    }
    case "scrypath-bot.audit": {
      const rows = await operator.auditLog({
        schema: schema || null,
        limit: positiveInt("limit", values.limit) ?? 20,
      });
      return { lines: asJson ? jsonLines(rows) : auditLines(rows), exitCode: 0 };
    }
    case "scrypath.status": {
      const status = await operator.syncStatus(schema);
      return { lines: asJson ? jsonLines(statusJson(status)) : formatStatus(status), exitCode: 0 };
    }
    case "scrypath.failed": {
      const result = await operator.failedSyncWork(schema, {
        reasonClass: reasonClass(values.class),
        source: source(values.source),
        limit: positiveInt("limit", values.limit) ?? 100,
        cursor: (values.cursor as string | undefined) ?? null,
      });
      const notes = result.nextCursor
        ? [`More failed work: continue with --cursor ${result.nextCursor}`]
        : [];
      if (result.backendCoverage.classified < result.backendCoverage.total) {
        notes.push(
          `Only the newest ${result.backendCoverage.classified} of ${result.backendCoverage.total} failed Meilisearch tasks were classified.`,
        );
      }
      return {
        lines: asJson
          ? jsonLines(failedJson(result))
          : formatFailed(result, { classSummary: values["no-class-summary"] !== true }),
        exitCode: 0,
        notes,
      };
    }
    case "scrypath.reconcile": {
      if (typeof values.action === "string") {
        const action = values.action;
        const name = checkReconcileAction({ action, id: values.id as string | undefined });
        operator.resolveSchema(schema);
        await confirm({
          kind: "action",
          schema,
          action: name,
          id: (values.id as string | undefined) ?? null,
          targetIndex: (values["target-index"] as string | undefined) ?? null,
        });
        const r = await reconcileActionCommand(operator, schema, {
          action,
          ...(values.id ? { id: values.id as string } : {}),
          ...(values["target-index"] ? { targetIndex: values["target-index"] as string } : {}),
        });
        return mutation(r.outcome, r.failed);
      }
      const report = await operator.reconcileSync(schema, {
        targetIndex: (values["target-index"] as string | undefined) ?? null,
        includeContractDrift: values["include-contract-drift"] === true,
      });
      const listed = report.actions.filter((a) => a.kind === "retry").length;
      const notes =
        report.retryableTotal > listed
          ? [
              `Recommended actions list the newest ${listed} of ${report.retryableTotal} retryable failed jobs.`,
            ]
          : [];
      return {
        lines: asJson ? jsonLines(reconcileJson(report)) : formatReconcile(report),
        exitCode: 0,
        notes,
      };
    }
    case "scrypath.index.contract_drift": {
      const report = await operator.indexContractDrift(schema);
      const drifted = Object.values(report.dimensions).some((d) => !d.match);
      const module = report.schema.replace(/^Elixir\./, "");
      return {
        lines: asJson ? jsonLines(contractDriftJson(report)) : formatContractDrift(report, module),
        exitCode: drifted ? 2 : 0,
      };
    }
    case "scrypath.settings.diff": {
      const diff = await operator.settingsDiff(schema);
      return {
        lines: asJson ? jsonLines(settingsDiffJson(diff)) : formatSettingsDiff(diff),
        exitCode: diff.status === "drift" ? 2 : 0,
      };
    }
    case "scrypath.settings.read": {
      const read = await operator.settingsRead(schema);
      return { lines: jsonLines(redactValue(read.settings)), exitCode: 0 };
    }
    default:
      throw new Error(`unhandled command ${spec.task}`);
  }
}

const plural = (n: number) => `${n} migration${n === 1 ? "" : "s"}`;

/** `migrate`: apply what is pending under the advisory lock and say what was applied. */
async function migrateState(operator: Operator): Promise<Outcome> {
  const { from, to } = await operator.migrate();
  const line = to > from ? `applied ${plural(to - from)} (${from} → ${to})` : `up to date at ${to}`;
  return { lines: [line], exitCode: 0 };
}

/** `migrate --check`: exit 0 when up to date, 1 when migrations are pending (nothing is changed). */
async function migrationCheck(operator: Operator): Promise<Outcome> {
  const { current, latest } = await operator.migrationStatus();
  if (current >= latest) return { lines: [`up to date at ${current}`], exitCode: 0 };
  return {
    lines: [`${plural(latest - current)} pending (${current} → ${latest}); run \`scrypath-bot migrate\``],
    exitCode: 1,
  };
}

/** Upstream's `Playbook.Store.safe_basename?/1`: a plain `*.json` basename, nothing else. */
const PLAYBOOK_BASENAME = /^[\w.-]+\.json$/;

/**
 * `playbooks validate DIR`, worded as `mix scrypath_ops.playbooks.validate`: `Validated N
 * playbook(s) under <dir>` when all are valid, `<file>: <reason>` on stderr for each invalid one
 * (exit 1). Upstream stops at the first invalid file; this checks them all.
 */
async function validatePlaybooks(dir: string): Promise<Outcome> {
  const abs = resolve(dir);
  let names: string[];
  try {
    names = (await readdir(abs)).filter((n) => PLAYBOOK_BASENAME.test(n)).sort();
  } catch (error) {
    throw new OperatorError("bad_argument", `cannot read directory ${dir}: ${(error as Error).message}`);
  }
  if (names.length === 0) {
    return { lines: [`No eligible *.json playbooks found under ${abs}`], exitCode: 0 };
  }
  const notes: string[] = [];
  for (const name of names) {
    let result: ReturnType<typeof validatePlaybook>;
    try {
      result = validatePlaybook(JSON.parse(await readFile(join(abs, name), "utf8")));
    } catch (error) {
      result = { ok: false, reason: "invalid_json", detail: (error as Error).message };
    }
    if (!result.ok) notes.push(`${name}: ${result.reason}${result.detail ? ` (${result.detail})` : ""}`);
  }
  if (notes.length > 0) return { lines: [], notes, exitCode: 1 };
  return { lines: [`Validated ${names.length} playbook(s) under ${abs}`], exitCode: 0 };
}

export async function run(argv: string[], rawIo: CliIo): Promise<number> {
  // Every line written goes through the cleaner; JSON documents were cleaned before serialising.
  const clean = cliCleaner(configuredSecrets(null, rawIo.env));
  const ask = rawIo.confirm;
  const io: CliIo = {
    ...rawIo,
    stdout: (text) => rawIo.stdout(clean.text(text)),
    stderr: (text) => rawIo.stderr(clean.text(text)),
    // The question carries backend text too (a job's last error, settings values): cleaned alike.
    ...(ask ? { confirm: (question: string) => ask(clean.text(question)) } : {}),
  };
  let task = "scrypath-bot";
  let debug = argv.includes("--debug");
  // `migrate --check` keeps 1 for "migrations pending": anything that prevents the check is 2.
  const failureCode = argv.includes("migrate") && argv.includes("--check") ? 2 : 1;
  let operator: Operator | null = null;
  try {
    const { found, values, positionals } = parseCommandLine(argv);
    debug = values.debug === true;
    if (!found) {
      if (values.help || positionals[0] === "help") {
        io.stdout(`${usage()}\n`);
        return 0;
      }
      if (positionals[0] === "serve") {
        // Options before the word: `serve` is dispatched before the command table (runCommandLine).
        throw new UsageError("`serve` comes first: scrypath-bot serve [--config FILE] [--port N]");
      }
      if (positionals.length === 0) {
        // Misuse: the usage goes to stderr, so stdout stays empty for scripts.
        io.stderr(`${usage()}\n`);
        return 1;
      }
      const guess = suggestCommand(positionals);
      throw new UsageError(
        `unknown command "${positionals.join(" ")}"; ${guess ? `did you mean \`scrypath-bot ${guess.join(" ")}\`? ` : ""}run \`scrypath-bot --help\` for the list of commands`,
      );
    }
    const { spec, rest } = found;
    task = spec.task;
    if (values.help) {
      io.stdout(`${commandUsage(spec)}\n`);
      return 0;
    }
    const argument = schemaArgument(spec, rest);
    let outcome: Outcome;
    if (spec.argument === "directory") outcome = await validatePlaybooks(argument);
    else {
      const config = withOverrides(
        loadConfig(values.config as string | undefined, io.env),
        overrides(values),
      );
      clean.addSecrets(configuredSecrets(config));
      operator = (io.openOperator ?? ((c: Config) => openOperator(c, { poolSize: 4 })))(config);
      outcome = await runOperatorCommand(spec, argument, values, operator, io, clean);
    }
    if (outcome.lines.length > 0) {
      // A JSON document was cleaned value by value (a field named "key" keeps its value); text is
      // cleaned line by line, so a credential cut short in one row cannot reach into the next.
      const lines = JSON_DOCUMENTS.has(outcome.lines) ? outcome.lines : outcome.lines.map(clean.text);
      rawIo.stdout(`${lines.join("\n")}\n`);
    }
    for (const note of outcome.notes ?? []) io.stderr(`${note}\n`);
    return outcome.exitCode;
  } catch (caught) {
    // A backend failure that escaped a bounded read still gets its backend's sentence (an operator
    // stand-in without backends, as tests pass, has none to give).
    const error = operator?.backendError?.(caught) || caught;
    if (error instanceof UsageError || isOperatorError(error)) {
      const where = error instanceof UsageError ? (error.task ?? task) : task;
      io.stderr(`${errorLines(error, `${where} failed: `).join("\n")}\n`);
    } else {
      const message = String((error as Error)?.message ?? error).split("\n")[0];
      const hint = debug ? "" : "; re-run with --debug for the stack trace";
      io.stderr(`${task} failed: unexpected error: ${message ?? ""}${hint}\n`);
    }
    if (debug && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
    return failureCode;
  } finally {
    if (operator) {
      const closing = operator.close().catch(() => {});
      await withTimeout(closing, CLOSE_TIMEOUT_MS, () => {});
    }
  }
}

/**
 * The process's command line (bin/scrypath-bot.js, `npm run cli`): `serve` runs the bot until a
 * signal; every other command runs once and the process exits with its code.
 */
export async function runCommandLine(argv: string[]): Promise<void> {
  if (argv[0] === "serve") {
    await serveFromShell(argv.slice(1));
    return;
  }
  process.exitCode = await run(argv, processIo());
  // A backend that never answered leaves its sockets open: do not let them keep the process alive.
  setTimeout(() => process.exit(), 100).unref();
}

// Entry point when executed directly (`npm run cli`, `node dist/src/cli/main.js`).
if (
  import.meta.url === pathToFileURL(process.argv[1] ?? "").href ||
  process.argv[1]?.endsWith("/src/cli/main.ts")
) {
  await runCommandLine(process.argv.slice(2));
}

/** The real terminal: confirmation prompts only when a person is at one. */
export function processIo(): CliIo {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    ...(process.stdin.isTTY && process.stderr.isTTY
      ? {
          confirm: async (question: string) => {
            const rl = createInterface({ input: process.stdin, output: process.stderr });
            try {
              return (await rl.question(question)).trim().toLowerCase() === "yes";
            } finally {
              rl.close();
            }
          },
        }
      : {}),
  };
}
