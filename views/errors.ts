// Error and progress notes: which backend failed and what to check, "still working", and the
// "Requested by" context that is the one deliberate mention in any view.
import type { MrkdwnElement } from "@slack/types";
import {
  code,
  context,
  count,
  escapeMrkdwn,
  finalizeMessage,
  mrkdwn,
  REDACT_SLACK,
  redact,
  section,
  truncate,
} from "./common.ts";
import type { SlackMessage } from "./types.ts";

export type BackendName = "postgres" | "meilisearch";

export const BACKEND_LABELS: Record<BackendName, string> = {
  postgres: "PostgreSQL",
  meilisearch: "Meilisearch",
};

/** What each backend's plane holds, for "unknown, not zero" warnings. */
export const BACKEND_PLANES: Record<BackendName, string> = {
  meilisearch: "backend plane (Meilisearch tasks)",
  postgres: "queue plane (Oban jobs)",
};

const CHECKS: Record<string, string[]> = {
  meilisearch_unreachable: [
    "Is Meilisearch running and reachable from the bot at `meilisearch.url`?",
    "Does `GET /health` answer from the bot's host (network policy, DNS, TLS)?",
  ],
  meilisearch_auth: [
    "Is `meilisearch.apiKey` set to a key that still exists?",
    "Does the key allow `tasks.get`, `settings.get` and `indexes.get` on this index?",
  ],
  meilisearch_error: [
    "Meilisearch answered with an error: check its logs and `GET /health`.",
    "If the index was renamed, check `indexPrefix` in the bot configuration.",
  ],
  index_not_found: [
    "Does the live index exist? Check `indexPrefix` (global and per schema).",
    "A reindex or swap may have left the live index missing: see the reconcile report.",
  ],
  postgres_unreachable: [
    "Is PostgreSQL reachable from the bot at `database.url` (host, port, TLS)?",
    "Are the user and password in `database.url` still valid?",
  ],
  postgres_timeout: [
    "Is PostgreSQL up, and not overloaded (slow queries, CPU, I/O)? A failover can leave it silent for a while.",
    "Try again in a minute; `/readyz` says when the bot can reach it again.",
  ],
  postgres_lock: [
    "Another session holds a lock on a table the read needs: find it with `pg_blocking_pids()` or `pg_stat_activity`.",
    "A long migration, `LOCK TABLE` or `VACUUM FULL` takes such locks: let it finish or end it, then try again.",
  ],
  oban_tables_missing: [
    "Is `database.obanPrefix` the schema that holds `oban_jobs`?",
    "Did the application's Oban migrations run against this database?",
  ],
  postgres_error: [
    "The query failed inside PostgreSQL: check its logs and the bot's database user's grants.",
  ],
};

const FALLBACK_CHECKS: Record<BackendName | "none", string[]> = {
  meilisearch: ["Check `meilisearch.url`, that the server is up, and the API key's permissions."],
  postgres: ["Check `database.url`, that the server accepts connections, and `database.obanPrefix`."],
  none: ["Try again in a minute; if it persists, the bot's log has the details."],
};

/** The command as the user typed it, e.g. `/scrypath failed posts`. */
export function commandLabel(verb: string, schema?: string | null): string {
  return `/scrypath ${verb}${schema ? ` ${schema}` : ""}`;
}

/** One sentence from a backend, safe for mrkdwn: secrets redacted, escaped, bounded. */
export function errorSentence(message: string, max = 500): string {
  const text = message.trim() || "no error message";
  const head = text.slice(0, max + REDACT_SLACK);
  const dropped = text.length - head.length;
  return escapeMrkdwn(truncate(redact(head), max, (cut) => `… (${count(cut + dropped)} more characters)`));
}

export function backendErrorView(
  error: { message: string; backend: BackendName | null; code: string },
  opts: { verb: string; schema?: string },
): SlackMessage {
  const cmd = commandLabel(opts.verb, opts.schema);
  const who = error.backend ? BACKEND_LABELS[error.backend] : null;
  const title = who ? `:x: *${who} did not answer* ${code(cmd)}` : `:x: ${code(cmd)} *could not finish*`;
  const checks = CHECKS[error.code] ?? FALLBACK_CHECKS[error.backend ?? "none"];
  const unknown = error.backend
    ? `Nothing was changed. The ${BACKEND_PLANES[error.backend]} is unknown, not zero.`
    : "Nothing was changed.";
  const blocks = [
    section(`${title}\n${errorSentence(error.message)}`),
    section(`*What to check*\n${checks.map((c) => `• ${c}`).join("\n")}`),
    context([unknown]),
  ];
  const text = `${who ?? "Scrypath"}: ${escapeMrkdwn(cmd)} failed: ${errorSentence(error.message, 300)}`;
  return finalizeMessage(text, blocks);
}

/** The interim answer while a slow read runs. */
export function workingView(verb: string, schema?: string | null): SlackMessage {
  const cmd = commandLabel(verb, schema);
  return finalizeMessage(`Still working on ${escapeMrkdwn(cmd)}…`, [
    context([`:hourglass_flowing_sand: Still working on ${code(cmd)}… the answer replaces this note.`]),
  ]);
}

const USER_ID = /^[UW][A-Z0-9]+$/;

/**
 * "Requested by <@U…>" for messages shared in a channel: the one deliberate mention in any view.
 * Anything that is not a Slack user id is shown escaped instead.
 */
export function sharedContext(userId: string): MrkdwnElement {
  const who = USER_ID.test(userId) ? `<@${userId}>` : code(userId);
  return mrkdwn(`Requested by ${who}`);
}
