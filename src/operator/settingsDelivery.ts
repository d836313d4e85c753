// How a settings PATCH (a hot-apply or its revert) reaches Meilisearch, and what the bot knows
// about its outcome afterwards.
import {
  getSettings,
  type MeiliClient,
  sendSettings,
  settingsTasksAfter,
  type TaskWait,
  waitForTask,
  withRequestTimeout,
} from "../backends/meilisearch.ts";
import { deepEqual, isPlainObject } from "../core/deepEqual.ts";
import type { MeiliTask } from "../core/types.ts";
import { OperatorError } from "../errors.ts";
import type { OperatorContext } from "./context.ts";

/**
 * Whether the live value still carries what a change applied. Meilisearch merges partial
 * objects (typoTolerance: {enabled: false} reads back with every other field), so objects
 * compare by the applied fields only. Every list a hot-apply can set (stop words, synonym
 * groups, typo-tolerance word and attribute lists) is a set that Meilisearch reads back
 * sorted, so lists compare without regard to order: `["the", "a"]` reads back `["a", "the"]`.
 */
export function carriesChange(current: unknown, applied: unknown): boolean {
  if (isPlainObject(applied) && isPlainObject(current)) {
    return Object.entries(applied).every(([k, v]) => carriesChange(current[k], v));
  }
  if (Array.isArray(applied) && Array.isArray(current)) {
    const key = (items: unknown[]) => [...new Set(items.map((i) => JSON.stringify(i)))].sort();
    return deepEqual(key(current), key(applied));
  }
  return deepEqual(current, applied);
}

/** A hot-apply or a revert ends within this, so a confirmed card shows its outcome within 15 s. */
export const SETTINGS_BUDGET_MS = 11_000;
/** Each read (the settings, the task list, a task) gives up after this. */
export const READ_TIMEOUT_MS = 3_000;
/** The PATCH gives up after this: Meilisearch enqueues a settings change in milliseconds. */
export const PATCH_TIMEOUT_MS = 5_000;
/** After a PATCH without an answer, how long the bot keeps trying to find out what happened. */
export const FIND_OUT_MS = 4_000;
/** "Nothing arrived" needs a look at least this long after the PATCH gave up. */
const SETTLE_MS = 1_000;

/** The time left to one hot-apply or revert, and clients bounded by it. */
export interface Budget {
  readonly deadline: number;
  left(): number;
  /** The client for one request: the configured timeout, `cap`, and the time left, whichever is least. */
  client(cap: number): MeiliClient;
}

export function budgetOf(ctx: OperatorContext, ms = SETTINGS_BUDGET_MS): Budget {
  const deadline = Date.now() + ms;
  const left = () => Math.max(1, deadline - Date.now());
  return {
    deadline,
    left,
    client: (cap) => withRequestTimeout(ctx.meili, Math.min(ctx.config.meilisearch.timeoutMs, cap, left())),
  };
}

export type DeliveredStatus = "succeeded" | "failed" | "cancelled" | "unconfirmed";

/** What the bot found out after a PATCH whose answer was lost. */
export interface LostAnswer {
  /** Why there was no answer: "Meilisearch at … did not answer the settings PATCH within 5 s". */
  why: string;
  /** Its task, found by type, index, uid and content; status as last seen. */
  task: { uid: number; status: string } | null;
  /** What the live settings read back showed about the change. */
  live: "show_change" | "do_not_show_change" | "unreadable";
}

export interface Delivered {
  uid: number | null;
  status: DeliveredStatus;
  /** What went wrong or is unknown, in words; null when it succeeded with an answer. */
  error: string | null;
  /** Present when the PATCH's answer was lost. */
  lost: LostAnswer | null;
}

/**
 * The PATCH's answer was lost and the bot established that the change did not arrive: no settings
 * task for it after the PATCH, and the live settings do not carry it. Nothing was changed.
 */
export class NotAppliedError extends OperatorError {
  constructor(message: string) {
    super("meilisearch_unreachable", message, "meilisearch");
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const statusWords = (status: string) => (status === "canceled" ? "cancelled" : status);

/** The outcome of a task seen by uid, as words. */
function fromWait(uid: number, wait: TaskWait, waitedMs: number): Pick<Delivered, "status" | "error"> {
  if ("task" in wait && wait.outcome === "succeeded") return { status: "succeeded", error: null };
  if ("task" in wait && wait.outcome === "failed")
    return { status: "failed", error: wait.task?.error?.message ?? "the settings task failed" };
  if (wait.outcome === "cancelled") return { status: "cancelled", error: "the settings task was cancelled" };
  const seen = "task" in wait && wait.task ? statusWords(wait.task.status) : "enqueued";
  const then =
    "error" in wait
      ? `then Meilisearch did not answer about it (${wait.error.message})`
      : `it did not finish within ${Math.round(waitedMs / 1000)} s`;
  return {
    status: "unconfirmed",
    error: `Meilisearch received the change as task ${uid} (${seen}) — accepted is not applied yet: ${then}; check GET /tasks/${uid}`,
  };
}

/** A task already seen finished, as a wait's outcome. */
function settledWait(task: MeiliTask): TaskWait {
  if (task.status === "succeeded" || task.status === "failed") return { outcome: task.status, task };
  return { outcome: "cancelled", task };
}

/** The first settings task after `floor` that carries exactly these keys and values. */
export function matchingTask(tasks: MeiliTask[], wire: Record<string, unknown>): MeiliTask | null {
  const keys = Object.keys(wire).sort().join(",");
  return (
    tasks.find(
      (t) =>
        isPlainObject(t.details) &&
        Object.keys(t.details).sort().join(",") === keys &&
        carriesChange(t.details, wire),
    ) ?? null
  );
}

/** Read the task list after `floor` and the live settings, until both answer or `until` passes. */
async function findOut(
  budget: Budget,
  index: string,
  wire: Record<string, unknown>,
  floor: number | null,
  gaveUpAt: number,
  until: number,
): Promise<{ task: MeiliTask | null; live: LostAnswer["live"]; conclusive: boolean }> {
  let task: MeiliTask | null = null;
  let live: LostAnswer["live"] = "unreadable";
  for (;;) {
    const startedAt = Date.now();
    const cap = Math.min(READ_TIMEOUT_MS, Math.max(1, until - startedAt));
    const [tasks, settings] = await Promise.allSettled([
      floor === null ? Promise.resolve(null) : settingsTasksAfter(budget.client(cap), index, floor),
      getSettings(budget.client(cap), index),
    ]);
    if (tasks.status === "fulfilled" && tasks.value) task = matchingTask(tasks.value, wire) ?? task;
    if (settings.status === "fulfilled") {
      const current = settings.value;
      live = Object.keys(wire).every((k) => carriesChange(current[k], wire[k]))
        ? "show_change"
        : "do_not_show_change";
    }
    const bothRead = settings.status === "fulfilled" && tasks.status === "fulfilled" && floor !== null;
    if (task) return { task, live, conclusive: true };
    if (bothRead && startedAt - gaveUpAt >= SETTLE_MS) return { task, live, conclusive: true };
    if (Date.now() + 250 >= until) return { task, live, conclusive: false };
    await sleep(bothRead ? Math.max(0, gaveUpAt + SETTLE_MS - Date.now()) : 250);
  }
}

/**
 * PATCH `wire` and report what is known of its outcome, within the budget. Throws only when
 * nothing changed: the request never left (refused connection, DNS), Meilisearch refused it,
 * or its answer was lost and the bot then found that it never arrived (NotAppliedError).
 * A request that left without an answer is otherwise `unconfirmed`, never "nothing changed".
 */
export async function deliverSettings(
  ctx: OperatorContext,
  budget: Budget,
  index: string,
  wire: Record<string, unknown>,
  floor: number | null,
): Promise<Delivered> {
  const { taskWaitMs, timeoutMs } = ctx.config.meilisearch;
  const waitFor = async (uid: number) => {
    const waitMs = Math.min(taskWaitMs, budget.left());
    const wait = await waitForTask(ctx.meili, uid, {
      timeoutMs: waitMs,
      requestTimeoutMs: Math.min(timeoutMs, READ_TIMEOUT_MS),
    });
    return { wait, waitMs };
  };
  const sent = await sendSettings(
    ctx.meili,
    index,
    wire,
    Math.min(timeoutMs, PATCH_TIMEOUT_MS, budget.left()),
  );
  if (sent.answered) {
    const { wait, waitMs } = await waitFor(sent.taskUid);
    return { uid: sent.taskUid, ...fromWait(sent.taskUid, wait, waitMs), lost: null };
  }

  const why = sent.error.message;
  const gaveUpAt = Date.now();
  const found = await findOut(
    budget,
    index,
    wire,
    floor,
    gaveUpAt,
    Math.min(budget.deadline, gaveUpAt + FIND_OUT_MS),
  );
  if (found.task) {
    const uid = found.task.uid;
    const settled = found.task.status !== "enqueued" && found.task.status !== "processing";
    const { wait, waitMs } = settled ? { wait: settledWait(found.task), waitMs: 0 } : await waitFor(uid);
    const outcome = fromWait(uid, wait, waitMs);
    const last = "task" in wait && wait.task ? wait.task : found.task;
    return {
      uid,
      status: outcome.status,
      error:
        outcome.status === "succeeded"
          ? null
          : outcome.status === "unconfirmed"
            ? `${why}; ${outcome.error}`
            : `${why}; Meilisearch received the change as task ${uid}, which ${outcome.status}: ${outcome.error}`,
      lost: { why, task: { uid, status: statusWords(last.status) }, live: found.live },
    };
  }
  if (found.conclusive && found.live === "do_not_show_change") {
    throw new NotAppliedError(
      `${why}; checked afterwards: Meilisearch has no settings task for this change and the live settings do not carry it`,
    );
  }
  const known =
    found.live === "unreadable"
      ? "could not confirm whether Meilisearch received it: its task list and the live settings could not be read"
      : found.live === "show_change"
        ? "no task for it was found, but the live settings read back show the change"
        : "could not confirm whether Meilisearch received it: no task for it was found yet and the live settings read back do not show the change";
  return {
    uid: null,
    status: "unconfirmed",
    error: `${why}; ${known}`,
    lost: { why, task: null, live: found.live },
  };
}
