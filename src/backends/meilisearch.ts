// The only code that talks to Meilisearch. Wraps the official client (which sends
// `Authorization: Bearer`) and maps its errors to one-sentence operator errors.
import {
  Meilisearch,
  MeilisearchApiError,
  MeilisearchError,
  MeilisearchRequestError,
  MeilisearchRequestTimeOutError,
  MeilisearchTaskTimeOutError,
} from "meilisearch";
import type { MeiliTask } from "../core/types.ts";
import { OperatorError } from "../errors.ts";

/** The Meilisearch client, named here so no module outside backends imports meilisearch. */
export type MeiliClient = Meilisearch;

/** Whether `error` came from the Meilisearch client (an API answer, a request that failed). */
export function isMeiliError(error: unknown): error is MeilisearchError {
  return error instanceof MeilisearchError;
}

export interface MeiliConfig {
  url: string;
  apiKey: string | null;
  timeoutMs: number;
}

export function createMeiliClient(config: MeiliConfig): Meilisearch {
  return new Meilisearch({
    host: config.url,
    ...(config.apiKey ? { apiKey: config.apiKey } : {}),
    timeout: config.timeoutMs,
  });
}

/**
 * The same server and key with its own per-request timeout, for a step that must end by a
 * deadline (the client aborts the request when it passes).
 */
export function withRequestTimeout(client: Meilisearch, timeoutMs: number): Meilisearch {
  return new Meilisearch({ ...client.config, timeout: Math.max(1, Math.ceil(timeoutMs)) });
}

/** The tasks API filter, as Meilisearch names it. `types` and `statuses` are open sets. */
export interface TaskFilter {
  uids?: number[];
  indexUids?: string[];
  types?: string[];
  statuses?: string[];
  /** Only tasks that finished after this time. */
  afterFinishedAt?: Date;
}

export interface TaskPage {
  total: number;
  results: MeiliTask[];
  next: number | null;
}

function query(filter: TaskFilter, limit: number, from?: number | null) {
  // The client types `types`/`statuses` as closed unions; the server treats them as strings.
  return {
    ...(filter.uids ? { uids: filter.uids } : {}),
    ...(filter.indexUids ? { indexUids: filter.indexUids } : {}),
    ...(filter.types ? { types: filter.types } : {}),
    ...(filter.statuses ? { statuses: filter.statuses } : {}),
    ...(filter.afterFinishedAt ? { afterFinishedAt: filter.afterFinishedAt } : {}),
    limit,
    ...(from != null ? { from } : {}),
  } as Parameters<Meilisearch["tasks"]["getTasks"]>[0];
}

/** One page of tasks, newest uid first. `total` counts every matching task, not just this page. */
export async function listTasks(
  client: Meilisearch,
  filter: TaskFilter,
  limit: number,
  from?: number | null,
): Promise<TaskPage> {
  try {
    const page = await client.tasks.getTasks(query(filter, limit, from));
    return {
      total: page.total,
      results: page.results as unknown as MeiliTask[],
      next: page.next ?? null,
    };
  } catch (error) {
    throw meiliError(error, client);
  }
}

/** Count matching tasks without transferring any (`limit=0` still answers `total`). */
export async function countTasks(client: Meilisearch, filter: TaskFilter): Promise<number> {
  return (await listTasks(client, filter, 0)).total;
}

/** Every matching task, following `next`, stopping after `cap` tasks. */
export async function collectTasks(
  client: Meilisearch,
  filter: TaskFilter,
  cap: number,
): Promise<{ tasks: MeiliTask[]; total: number; complete: boolean }> {
  const tasks: MeiliTask[] = [];
  let from: number | null = null;
  let total = 0;
  do {
    const page = await listTasks(client, filter, Math.min(1000, cap - tasks.length), from);
    total = page.total;
    tasks.push(...page.results);
    from = page.next;
  } while (from !== null && tasks.length < cap);
  return { tasks, total, complete: from === null };
}

/** GET /indexes/{uid}/settings; a missing index is `index_not_found`. */
export async function getSettings(client: Meilisearch, index: string): Promise<Record<string, unknown>> {
  try {
    return (await client.index(index).getSettings()) as Record<string, unknown>;
  } catch (error) {
    throw meiliError(error, client, index);
  }
}

export async function getTask(client: Meilisearch, uid: number): Promise<MeiliTask> {
  try {
    return (await client.tasks.getTask(uid)) as unknown as MeiliTask;
  } catch (error) {
    throw meiliError(error, client);
  }
}

/** Whether the server answers /health (needs no key). Never throws. */
export async function isHealthy(client: Meilisearch): Promise<boolean> {
  return client.isHealthy();
}

/** The server's URL without credentials, query or trailing slash, for messages. */
export function describeMeilisearch(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, "")}`;
  } catch {
    return "the configured Meilisearch";
  }
}

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/**
 * Why a request never got an answer, in one sentence with what to do next. The client wraps a
 * timeout in MeilisearchRequestTimeOutError and a network failure in fetch's TypeError, whose
 * cause carries the system error code.
 */
function unreachableSentence(host: string, cause: unknown): string {
  const c = cause as { name?: string; message?: string; cause?: { code?: string; message?: string } } | null;
  if (c?.name === "MeilisearchRequestTimeOutError" || /timed out|timeout/i.test(String(c?.message ?? ""))) {
    const ms = (c as { cause?: { timeout?: unknown } })?.cause?.timeout;
    const within = typeof ms === "number" ? ` within ${seconds(ms)}` : "";
    return `Meilisearch at ${host} did not answer${within} (request timed out); check that the server is up and not overloaded (GET /health), then try again`;
  }
  const code = c?.cause?.code ?? "";
  if (code === "ECONNREFUSED") {
    return `Meilisearch at ${host} is unreachable: it refused the connection (${code}); check that the server is running and that meilisearch.url names its host and port`;
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return `Meilisearch at ${host} is unreachable: its host name did not resolve (${code}); check the host in meilisearch.url and the bot's DNS`;
  }
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE") {
    return `Meilisearch at ${host} is unreachable: it closed the connection (${code}); it may be restarting: try again in a minute`;
  }
  return `Meilisearch at ${host} is unreachable (connection failed${code ? `, ${code}` : ""}); check meilisearch.url and that the server is running`;
}

/** "did not answer within N s" for a Meilisearch read the bot stopped waiting for. */
export function meiliTimeout(host: string, ms: number): OperatorError {
  return new OperatorError(
    "meilisearch_unreachable",
    `Meilisearch at ${host} did not answer within ${seconds(ms)} (request timed out); check that the server is up and not overloaded (GET /health), then try again`,
    "meilisearch",
  );
}

/** Map a client error to an OperatorError naming Meilisearch and what to check. */
export function meiliError(error: unknown, client: Meilisearch, index?: string): OperatorError {
  if (error instanceof OperatorError) return error;
  const host = describeMeilisearch(client.config.host);
  if (error instanceof MeilisearchApiError) {
    const status = error.response.status;
    const code = error.cause?.code ?? `http_${status}`;
    if (code === "index_not_found") {
      return new OperatorError(
        "index_not_found",
        `index not found: Meilisearch at ${host} has no index "${index ?? "?"}"; check the index prefix or run a reindex`,
        "meilisearch",
        { cause: error },
      );
    }
    if (status === 401 || status === 403) {
      return new OperatorError(
        "meilisearch_auth",
        `Meilisearch at ${host} refused the API key (${code}); check meilisearch.apiKey and the key's actions`,
        "meilisearch",
        { cause: error },
      );
    }
    return new OperatorError(
      "meilisearch_error",
      `Meilisearch at ${host} answered HTTP ${status} (${code}): ${error.cause?.message ?? error.message}`,
      "meilisearch",
      { cause: error },
    );
  }
  if (error instanceof MeilisearchRequestError) {
    return new OperatorError(
      "meilisearch_unreachable",
      unreachableSentence(host, error.cause),
      "meilisearch",
      {
        cause: error,
      },
    );
  }
  if (error instanceof MeilisearchTaskTimeOutError) {
    return new OperatorError(
      "meilisearch_error",
      `Meilisearch task wait timed out: ${error.message}`,
      "meilisearch",
      {
        cause: error,
      },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new OperatorError("meilisearch_error", `Meilisearch request failed: ${message}`, "meilisearch", {
    cause: error,
  });
}

export type TaskWait =
  | { outcome: "succeeded" | "failed" | "cancelled"; task: MeiliTask }
  | { outcome: "timeout"; task: MeiliTask | null }
  | { outcome: "unreachable"; error: OperatorError };

/**
 * Poll a task until it is terminal or `timeoutMs` passes. Never throws: a timeout or an
 * unreachable server mean the outcome is unknown, which callers must report as unconfirmed.
 */
export async function waitForTask(
  client: Meilisearch,
  uid: number,
  options: { timeoutMs: number; intervalMs?: number; requestTimeoutMs?: number },
): Promise<TaskWait> {
  const deadline = Date.now() + options.timeoutMs;
  // With requestTimeoutMs, no poll outlives the deadline by more than a quarter of a second.
  const poller = () =>
    options.requestTimeoutMs === undefined
      ? client
      : withRequestTimeout(client, Math.max(250, Math.min(options.requestTimeoutMs, deadline - Date.now())));
  let last: MeiliTask | null = null;
  for (;;) {
    try {
      last = await getTask(poller(), uid);
    } catch (error) {
      return { outcome: "unreachable", error: meiliError(error, client) };
    }
    if (last.status === "succeeded" || last.status === "failed") return { outcome: last.status, task: last };
    if (last.status === "canceled" || last.status === "cancelled")
      return { outcome: "cancelled", task: last };
    if (Date.now() >= deadline) return { outcome: "timeout", task: last };
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}

/** POST /swap-indexes with one pair; returns the enqueued task uid. */
export async function swapIndexes(client: Meilisearch, live: string, target: string): Promise<number> {
  try {
    return (await client.swapIndexes([{ indexes: [live, target], rename: false }])).taskUid;
  } catch (error) {
    throw meiliError(error, client, `${live} or ${target}`);
  }
}

/** The newest task uid Meilisearch has enqueued (-1 when it has none yet). */
export async function newestTaskUid(client: Meilisearch): Promise<number> {
  return (await listTasks(client, {}, 1)).results[0]?.uid ?? -1;
}

/** `settingsUpdate` tasks of `index` enqueued after task `afterUid`, oldest first (at most 200). */
export async function settingsTasksAfter(
  client: Meilisearch,
  index: string,
  afterUid: number,
): Promise<MeiliTask[]> {
  const found: MeiliTask[] = [];
  let from: number | null = null;
  for (;;) {
    const page = await listTasks(client, { types: ["settingsUpdate"], indexUids: [index] }, 50, from);
    const newer = page.results.filter((t) => t.uid > afterUid);
    found.push(...newer);
    from = page.next;
    if (from === null || newer.length < page.results.length || found.length >= 200) break;
  }
  return found.sort((a, b) => a.uid - b.uid);
}

/** Error codes (and syscalls) that prove a request never reached the server. */
const NEVER_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EAI_NONAME",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EADDRNOTAVAIL",
  "UND_ERR_CONNECT_TIMEOUT",
  "ERR_INVALID_URL",
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);
const NEVER_SENT_SYSCALLS = new Set(["connect", "getaddrinfo"]);

/**
 * Whether a failed request provably never left: the connection was refused, the name did not
 * resolve, the TLS handshake failed, or fetch refused the URL ("bad port"). A timeout, a reset or
 * a connection closed mid-way prove nothing: the server may have received the request.
 */
export function neverSent(error: unknown): boolean {
  const seen = new Set<unknown>();
  const stack: unknown[] = [error];
  while (stack.length > 0) {
    const e = stack.pop();
    if (!e || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    if (e instanceof MeilisearchApiError) return false;
    const { code, syscall, message, cause, errors } = e as {
      code?: unknown;
      syscall?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === "string" && (NEVER_SENT_CODES.has(code) || code.startsWith("ERR_TLS_"))) return true;
    if (typeof syscall === "string" && NEVER_SENT_SYSCALLS.has(syscall)) return true;
    if (message === "bad port") return true;
    stack.push(cause);
    if (Array.isArray(errors)) stack.push(...errors);
  }
  return false;
}

/** The innermost error code (or message) of a failed request, for one sentence. */
function transportReason(error: unknown): string {
  let e: unknown = error;
  let reason = "";
  while (e && typeof e === "object") {
    const { code, message, cause } = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof code === "string") reason = code;
    else if (typeof message === "string" && message !== "" && !reason) reason = message;
    e = cause;
  }
  return reason || "connection closed";
}

export type SettingsDelivery =
  | { answered: true; taskUid: number }
  /** The PATCH left, no answer came back: Meilisearch may or may not have received it. */
  | { answered: false; error: OperatorError };

/**
 * PATCH /indexes/{uid}/settings with wire (camelCase) settings, bounded by `timeoutMs`. Throws
 * when nothing can have changed: the request never left (refused connection, DNS, TLS) or
 * Meilisearch answered with an error. Returns `answered: false` when the request left and no
 * answer came back (a timeout, a connection closed after sending, a gateway's 502 or 504).
 */
export async function sendSettings(
  client: Meilisearch,
  index: string,
  settings: Record<string, unknown>,
  timeoutMs: number,
): Promise<SettingsDelivery> {
  const host = client.config.host;
  try {
    const task = await withRequestTimeout(client, timeoutMs).index(index).updateSettings(settings);
    return { answered: true, taskUid: task.taskUid };
  } catch (error) {
    if (error instanceof MeilisearchApiError) {
      const status = error.response.status;
      if (status !== 502 && status !== 504) throw meiliError(error, client, index);
      return {
        answered: false,
        error: new OperatorError(
          "meilisearch_unreachable",
          `a gateway in front of Meilisearch at ${host} answered HTTP ${status} to the settings PATCH, not Meilisearch`,
          "meilisearch",
          { cause: error },
        ),
      };
    }
    if (!(error instanceof MeilisearchRequestError) || neverSent(error))
      throw meiliError(error, client, index);
    const timedOut = error.cause instanceof MeilisearchRequestTimeOutError;
    const seconds = Math.round(timeoutMs / 100) / 10;
    return {
      answered: false,
      error: new OperatorError(
        "meilisearch_unreachable",
        timedOut
          ? `Meilisearch at ${host} did not answer the settings PATCH within ${seconds} s`
          : `the connection to Meilisearch at ${host} failed after the settings PATCH was sent (${transportReason(error.cause)})`,
        "meilisearch",
        { cause: error },
      ),
    };
  }
}

/** GET /indexes/{uid}/documents/{id}; null when the document (or the index) does not exist. */
export async function getDocument(
  client: Meilisearch,
  index: string,
  id: string | number,
): Promise<Record<string, unknown> | null> {
  try {
    return (await client.index(index).getDocument(id)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof MeilisearchApiError && error.response.status === 404) return null;
    throw meiliError(error, client, index);
  }
}
