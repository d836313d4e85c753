// One error type for everything a user can cause or fix: bad arguments, unknown schema,
// unreachable or refusing backends, missing indexes. `message` is one sentence that says
// what happened and what to do next; it is safe to show in Slack or on a terminal.

export type ErrorCode =
  | "config_invalid"
  | "config_missing"
  | "unknown_schema"
  | "ambiguous_schema"
  | "bad_argument"
  | "postgres_unreachable"
  | "postgres_error"
  | "postgres_timeout"
  | "postgres_lock"
  | "oban_tables_missing"
  | "meilisearch_unreachable"
  | "meilisearch_auth"
  | "meilisearch_error"
  | "index_not_found"
  | "no_contract"
  | "not_found"
  | "refused"
  | "timeout"
  /** The bot is stopping: work that can stop at a safe point did (a bulk retry between batches). */
  | "shutting_down";

export type Backend = "postgres" | "meilisearch";

export class OperatorError extends Error {
  override readonly name = "OperatorError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly backend: Backend | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isOperatorError(error: unknown): error is OperatorError {
  return error instanceof OperatorError;
}

/**
 * A mutation the operator declined, with upstream's reason name (`not_retryable`,
 * `index_mismatch`, `failed_work`, …) so scripts and surfaces can branch on it.
 */
export class RefusedError extends OperatorError {
  constructor(
    readonly reason: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super("refused", `${reason}: ${message}`);
  }
}

/**
 * Whether a failed change may nevertheless have taken effect (a commit or a request whose answer
 * was lost, and the truth could not be found out): such an error sets `outcomeUnknown`.
 */
export function outcomeUnknown(error: unknown): boolean {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { outcomeUnknown?: unknown }).outcomeUnknown === true
  );
}
