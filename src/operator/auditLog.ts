// An audit log entry as the surfaces show it (`/scrypath audit`, `scrypath-bot audit`): a view
// model, so views and the CLI do not depend on the audit table's shape.

export interface AuditLogEntry {
  id: number;
  at: Date;
  /** A Slack user id, `cli:<os user>`, or the bot itself. */
  actor: string;
  /** Upstream's gated-action name, e.g. `scrypath.ops.failed_work_retry`. */
  action: string;
  /** The schema module, when the entry concerns one. */
  schema: string | null;
  index: string | null;
  /** The ids acted on (job ids, target index, settings keys, the change reverted). */
  target: Record<string, unknown>;
  outcome: string;
  reason: string | null;
  details: Record<string, unknown>;
  /** Where the request came from (channel, message ts, confirmation id; CLI host). */
  context: Record<string, unknown>;
}
