// The CLI's mutating commands (retry, reconcile --action, settings hot-apply/revert) and the
// audit listing. Every mutation asks for confirmation on a terminal and needs --yes otherwise.
import { readFile } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import type { AlertSubscription } from "../core/alertTypes.ts";
import { isOperatorError, OperatorError } from "../errors.ts";
import type {
  Actor,
  AuditRow,
  Operator,
  ReconcileActionResult,
  SettingsTaskResult,
} from "../operator/index.ts";
import { isoTimestamp } from "./format.ts";
import type { RequestText } from "./requestText.ts";

export interface MutationIo {
  stderr: (text: string) => void;
  /** Asks a yes/no question on a terminal; absent when not interactive. */
  confirm?: (question: string) => Promise<boolean>;
}

export interface MutationOutcome {
  lines: string[];
  notes: string[];
  json: unknown;
}

/** `cli:<os user>`, so the audit log tells terminal actions apart from Slack users. */
export function cliActor(): Actor {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {}
  return { id: `cli:${user}`, context: { host: hostname(), via: "cli" } };
}

/**
 * Ask before acting; refuse when nobody can be asked and --yes was not given. The notes (a row
 * Oban retries by itself) are said first, also with --yes; the question states what will change.
 */
export async function confirmMutation(io: MutationIo, yes: boolean, request: RequestText): Promise<void> {
  if (!yes && !io.confirm) {
    throw new OperatorError(
      "bad_argument",
      `this command changes production (${request.what}); pass --yes to confirm when not running in a terminal`,
    );
  }
  for (const note of request.notes) io.stderr(`${note}\n`);
  if (yes || !io.confirm) return;
  if (!(await io.confirm(`${[...request.lines, "Type yes to continue: "].join("\n")}`))) {
    throw new OperatorError("bad_argument", "cancelled at the confirmation prompt; nothing was done");
  }
}

export async function retryCommand(operator: Operator, schema: string, id: string): Promise<MutationOutcome> {
  const result = await operator.retrySyncWork(schema, id, cliActor());
  return {
    // §8.3: the four mix lines.
    lines: [
      `Retried failed work ${result.id}`,
      `Status: ${result.status}`,
      `Mode: ${result.mode}`,
      `Reference: ${result.index}`,
    ],
    notes: [
      `New Oban job ${result.job.id} (${result.job.worker}) in queue ${result.job.queue}, state ${result.job.state}. Accepted is not searchable yet: the worker still has to run.`,
    ],
    json: {
      id: result.id,
      status: result.status,
      mode: result.mode,
      index: result.index,
      document_ids: result.documentIds,
      document_count: result.documentCount,
      job: {
        id: result.job.id,
        worker: result.job.worker,
        queue: result.job.queue,
        state: result.job.state,
        attempt: result.job.attempt,
        max_attempts: result.job.maxAttempts,
      },
    },
  };
}

function actionLines(outcome: ReconcileActionResult): MutationOutcome {
  switch (outcome.action) {
    case "retry": {
      const r = outcome.result;
      return {
        lines: ["Applied action: retry", `Status: ${r.status}`, `Mode: ${r.mode}`, `Reference: ${r.index}`],
        notes: [
          `New Oban job ${r.job.id} in queue ${r.job.queue} replays failed work ${r.id}. Accepted is not searchable yet.`,
        ],
        json: { action: "retry", status: r.status, mode: r.mode, reference: r.index, job_id: r.job.id },
      };
    }
    case "backfill":
    case "reindex": {
      const r = outcome.result;
      return {
        lines: [
          `Applied action: ${r.action}`,
          `Status: ${r.status}`,
          `Mode: ${r.mode}`,
          `Reference: ${r.index}`,
        ],
        notes: [
          `Handed off as Oban job ${r.job.id} (${r.job.worker}) in queue ${r.job.queue}; the application performs the ${r.action}.`,
        ],
        json: {
          action: r.action,
          status: r.status,
          mode: r.mode,
          reference: r.index,
          target_index: r.targetIndex,
          job_id: r.job.id,
        },
      };
    }
    case "swap": {
      const r = outcome.result;
      return {
        lines: [
          "Applied action: swap",
          `Status: ${r.status}`,
          "Mode: meilisearch",
          `Reference: ${r.liveIndex}`,
        ],
        notes: [
          r.status === "succeeded"
            ? `Swapped ${r.liveIndex} with ${r.targetIndex} (task ${r.taskUid}); ${r.targetIndex} now holds the previous documents.`
            : `Swap ${r.status}: ${r.error}`,
        ],
        json: {
          action: "swap",
          status: r.status,
          live_index: r.liveIndex,
          target_index: r.targetIndex,
          task_uid: r.taskUid,
          error: r.error,
        },
      };
    }
  }
}

export async function reconcileActionCommand(
  operator: Operator,
  schema: string,
  input: { action: string; id?: string; targetIndex?: string },
): Promise<{ outcome: MutationOutcome; failed: boolean }> {
  const result = await operator.reconcileAction(schema, { ...input, actor: cliActor() });
  const failed = result.action === "swap" && result.result.status !== "succeeded";
  return { outcome: actionLines(result), failed };
}

/** A command line the mutation refuses while reading it; `reason` goes to the audit log. */
export class ArgumentRefusal extends OperatorError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super("bad_argument", message);
  }
}

/**
 * Audit a refusal found while reading a mutation's arguments (no --ack-live, an unreadable
 * settings file, an unknown change id) through the operator's entry point, as the operator audits
 * its own refusals; then report it as it was. Anything else is rethrown untouched.
 */
export async function auditArgumentRefusal(
  operator: Operator,
  error: unknown,
  entry: { schema: string | null; target?: Record<string, unknown> },
): Promise<never> {
  const reason =
    error instanceof ArgumentRefusal
      ? error.reason
      : isOperatorError(error) && error.code === "not_found"
        ? "unknown_change"
        : null;
  if (reason && isOperatorError(error)) {
    await operator.auditHotApplyRefusal({
      actor: cliActor(),
      reason,
      message: error.message,
      schema: entry.schema,
      target: entry.target ?? {},
    });
  }
  throw error;
}

/**
 * §8.7 guards, in order, on the command line and the file: no I/O but reading the file, so they
 * run before the confirmation question. The operator validates the keys itself (and audits).
 */
export async function readHotApplySettings(input: {
  settingsFile?: string;
  ackLive: boolean;
}): Promise<Record<string, unknown>> {
  if (!input.ackLive)
    throw new ArgumentRefusal("live_ack_required", "live settings PATCH requires --ack-live acknowledgement");
  if (!input.settingsFile)
    throw new ArgumentRefusal("settings_file_required", "--settings-file PATH is required");
  let text: string;
  try {
    text = await readFile(input.settingsFile, "utf8");
  } catch (error) {
    throw new ArgumentRefusal(
      "settings_file_unreadable",
      `cannot read ${input.settingsFile}: ${(error as Error).message}`,
    );
  }
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (error) {
    throw new ArgumentRefusal(
      "invalid_settings_json",
      `${input.settingsFile} is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (!settings || typeof settings !== "object" || Array.isArray(settings)) {
    throw new ArgumentRefusal("invalid_settings_json", "settings JSON must be an object at the top level");
  }
  return settings as Record<string, unknown>;
}

/** `task uid=… status=…` and the JSON shape of a settings result; a lost answer is spelled out. */
function settingsLines(r: SettingsTaskResult, notes: string[]): MutationOutcome {
  const uid = r.task.uid ?? "unknown";
  const lost = r.lost?.task
    ? [
        `The answer to the PATCH was lost (${r.lost.why}); the change was found afterwards as task ${r.lost.task.uid}.`,
      ]
    : [];
  return {
    lines: [`task uid=${uid} status=${r.task.status}`],
    notes: [...notes, ...(r.task.status === "succeeded" ? lost : [])],
    json: {
      change_id: r.changeId,
      index: r.index,
      task: r.task,
      ...(r.lost ? { answer_lost: { why: r.lost.why, task: r.lost.task, live: r.lost.live } } : {}),
    },
  };
}

/** How to find out what an unconfirmed settings change did. */
function checkHint(r: SettingsTaskResult): string {
  return r.task.uid !== null
    ? `check it with GET /tasks/${r.task.uid}`
    : `check the live settings with: scrypath-bot settings read ${r.schema}`;
}

export async function hotApplyCommand(
  operator: Operator,
  schema: string,
  settings: Record<string, unknown>,
): Promise<{ outcome: MutationOutcome; failed: boolean }> {
  const r = await operator.hotApplySettings(schema, { settings, acknowledgeLive: true, actor: cliActor() });
  const notes =
    r.task.status === "unconfirmed"
      ? [
          `Settings change ${r.changeId}: outcome unconfirmed: ${r.task.error}`,
          `It may or may not be live; ${checkHint(r)}. If it applied, undo it with: scrypath-bot settings revert ${r.changeId} (the revert finds its task first).`,
        ]
      : [
          r.task.error
            ? `Settings change ${r.changeId}: ${r.task.error}`
            : `Settings change ${r.changeId} on ${r.index}; undo it with: scrypath-bot settings revert ${r.changeId}`,
        ];
  return { outcome: settingsLines(r, notes), failed: r.task.status !== "succeeded" };
}

/** `settings revert <ID>`: a positive whole number. */
export function parseChangeId(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value))
    throw new ArgumentRefusal("invalid_change_id", `invalid settings change id "${value}"`);
  return Number(value);
}

export async function revertCommand(operator: Operator, id: number, force: boolean) {
  const r = await operator.revertHotApply(id, { actor: cliActor(), force });
  const notes =
    r.task.status === "unconfirmed"
      ? [`Revert of change ${r.changeId}: outcome unconfirmed: ${r.task.error}`, `${checkHint(r)}.`]
      : r.task.error
        ? [`Revert of change ${r.changeId}: ${r.task.error}`]
        : [`Reverted settings change ${r.changeId} on ${r.index}.`];
  return { outcome: settingsLines(r, notes), failed: r.task.status !== "succeeded" };
}

export function auditLines(rows: AuditRow[]): string[] {
  if (rows.length === 0) return ["No audit entries."];
  return rows.map((r) => {
    const target = Object.entries(r.target)
      .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
      .join(" ");
    const reason = r.reason ? ` reason=${r.reason}` : "";
    return `${isoTimestamp(r.at)} ${r.actor} ${r.action} ${r.schema ?? "-"} ${r.outcome}${reason}${target ? ` ${target}` : ""}`;
  });
}

/** `scrypath-bot watches`: one line per subscription (channel, schemas, conditions, min, mention, source). */
export function watchLines(subscriptions: AlertSubscription[]): string[] {
  if (subscriptions.length === 0) return ["No alert subscriptions."];
  return subscriptions.map((s) => {
    const source =
      s.source === "config"
        ? `configuration file (${s.key})`
        : `watched by ${s.createdBy ?? "?"} at ${s.createdAt ?? "?"}${s.updatedBy ? `, changed by ${s.updatedBy} at ${s.updatedAt ?? "?"}` : ""} (${s.key})`;
    return [
      s.channel,
      s.schemas === null ? "all" : s.schemas.join(","),
      `on=${s.on.join(",")}`,
      `min=${s.minFailures}`,
      `mention=${s.mention ?? "-"}`,
      source,
    ].join(" ");
  });
}
