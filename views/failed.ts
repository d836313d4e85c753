// `/scrypath failed <schema>`: the class rollup of every failed row, then one page of rows.
import type { Button } from "@slack/types";
import { replayBlocksRetry } from "../src/core/failedWork.ts";
import { dominantClass } from "../src/core/rollup.ts";
import {
  type FailedWork,
  REASON_CLASSES,
  type ReasonClass,
  type ReasonClassCounts,
  type Source,
} from "../src/core/types.ts";
import type { FailedWorkResult } from "../src/operator/index.ts";
import {
  actions,
  age,
  button,
  code,
  context,
  count,
  divider,
  escapeMrkdwn,
  excerpt,
  fillTemplate,
  finalizeMessage,
  footer,
  header,
  link,
  openValue,
  plural,
  section,
} from "./common.ts";
import { BACKEND_LABELS, BACKEND_PLANES, type BackendName, errorSentence, sharedContext } from "./errors.ts";
import { needsHeadline, replayLine, retryingRowLine, rowStateWord, tallyLines } from "./tally.ts";
import {
  ACTIONS,
  type BulkRetryRequestValue,
  type OpenValue,
  REQUEST_ACTIONS,
  type RetryRequestValue,
  type SlackMessage,
  type ViewContext,
} from "./types.ts";

/** Rows per page the commands should request; the view never shows more than MAX_PAGE_SIZE. */
export const FAILED_PAGE_SIZE = 10;
export const MAX_PAGE_SIZE = 20;
/** `lastError` excerpt length per row. */
export const ERROR_EXCERPT = 200;

export const BACKEND_NO_REPLAY = "Backend tasks have no supported replay action";

/** What each class usually means, and the first move (spec §3.3, §9.8 drift-recovery map). */
export const CLASS_HINTS: Record<ReasonClass, string> = {
  transport:
    "network, timeout or HTTP 401/403/408/429/5xx — a single retry may help once the backend answers",
  validation: "the data did not cast (Ecto.CastError, ArgumentError) — fix the data before replaying",
  backend_rejected:
    "Meilisearch refused the write (invalid_state, size or disk limits) — check the backend first",
  queue_exhausted:
    "the job ran out of attempts without a classifiable error — read the error before replaying",
  unknown: "unclassified error — read the error text",
};

export interface FailedViewOptions extends ViewContext {
  /** 1-based page number of `result.entries`. */
  page: number;
  pageSize: number;
  reasonClass?: ReasonClass | null;
  source?: Source | null;
  /** A backend that could not be read: its rows are missing from this list. */
  partial?: { backend: string; message: string } | null;
}

function share(n: number, total: number): string {
  if (total === 0 || n === 0) return "0%";
  const pct = (n / total) * 100;
  return pct < 1 ? "<1%" : `${Math.round(pct)}%`;
}

function bar(n: number, total: number, width = 10): string {
  const filled = total === 0 ? 0 : Math.round((n / total) * width);
  return "█".repeat(n > 0 ? Math.max(1, filled) : 0).padEnd(width, "░");
}

/** The five classes in canonical order, as a monospace bar chart that reads on a phone. */
export function rollupBlock(counts: ReasonClassCounts): string {
  const width = Math.max(...REASON_CLASSES.map((c) => c.length));
  const numbers = Math.max(...REASON_CLASSES.map((c) => count(counts.byClass[c]).length));
  const rows = REASON_CLASSES.map((cls) => {
    const n = counts.byClass[cls];
    return `${cls.padEnd(width)} ${bar(n, counts.total)} ${share(n, counts.total).padStart(4)} ${count(n).padStart(numbers)}`;
  });
  return `\`\`\`\n${rows.join("\n")}\n\`\`\``;
}

export function rowId(row: Pick<FailedWork, "source" | "id">): string {
  return `${row.source}:${row.id}`;
}

/** "replayed as #25 · completed · resolved 3 min ago": a completed replay closes the row. */
function rowReplayLine(row: FailedWork, now: Date): string | null {
  return row.replayedAs ? replayLine(row.replayedAs, age(row.replayedAs.at, now)) : null;
}

/**
 * "Retry…" for a queue row that can be replayed: it only asks for a confirmation card. Rows
 * already replayed into a job that is still live (or completed, or pruned) get none, since the
 * operator would refuse them as `already_replayed`.
 */
function retryButton(row: FailedWork): Button | null {
  if (row.source !== "oban" || !row.retryable) return null;
  const r = row.replayedAs;
  if (r && replayBlocksRetry(r.state)) return null;
  const value: RetryRequestValue = { schema: row.schema, target: rowId(row) };
  return button({ text: "Retry…", actionId: REQUEST_ACTIONS.retry, value: JSON.stringify(value) });
}

/**
 * Under the rollup, one line per class with terminal queue rows a bulk retry would take (the
 * operator's `bulkRetryable` figure: replayable, not replayed yet), with "Retry all N <class>…",
 * which only asks for a confirmation card (state terminal: retrying rows are Oban's to retry).
 * Each button rides on its own line as an accessory: Slack wants action_ids unique within an
 * actions block, and the five share one. No line for a class with none (backend-only classes
 * have none: backend rows have no replay), only the filtered class under a class filter, none
 * under a Meilisearch-only filter. Above `access.bulkRetryLimit` the line says so instead of
 * offering a request the operator would refuse.
 */
function bulkRetrySections(result: FailedWorkResult, opts: FailedViewOptions) {
  const counts = result.bulkRetryable;
  if (!counts || opts.source === "meilisearch") return [];
  const limit = result.bulkRetryLimit ?? null;
  return REASON_CLASSES.filter(
    (cls) => counts.byClass[cls] > 0 && (!opts.reasonClass || cls === opts.reasonClass),
  ).map((cls) => {
    const n = counts.byClass[cls];
    const line = `${code(cls)} · ${plural(n, "terminal row")} to replay (replayable, not replayed yet)`;
    if (limit !== null && n > limit) {
      return section(
        `${line} — more than one bulk retry takes (${count(limit)}): narrow it by failure time with \`--since\`.`,
      );
    }
    const value: BulkRetryRequestValue = { schema: result.schema, reasonClass: cls, state: "terminal" };
    return section(line, {
      accessory: button({
        text: `Retry all ${count(n)} ${cls}…`,
        actionId: REQUEST_ACTIONS.bulkRetry,
        value: JSON.stringify(value),
      }),
    });
  });
}

function rowSection(row: FailedWork, opts: FailedViewOptions) {
  const meta = row.metadata;
  const where =
    "queue" in meta ? `queue ${code(meta.queue)}` : `task ${code(meta.type)} on ${code(meta.index)}`;
  const attempts = row.attempt !== null ? `attempt ${row.attempt}/${row.maxAttempts ?? "?"}` : null;
  const at = row.failedAt ? `failed ${age(row.failedAt, opts.now)}` : "failure time unknown";
  const error = excerpt(row.lastError ?? row.reason, ERROR_EXCERPT);
  let jobUrl: string | null = null;
  if (row.source === "oban" && "queue" in meta && opts.dashboardLinks.job) {
    jobUrl = fillTemplate(opts.dashboardLinks.job, {
      id: row.id,
      queue: meta.queue,
      schema: row.schema,
      index: row.recovery?.index ?? null,
    });
  }
  const lines = [
    `*${code(rowId(row))}* · ${row.operation} · ${rowStateWord(row.state)} · ${row.reasonClass} · ${
      row.retryable ? "retryable: yes" : "retryable: no"
    }`,
    [attempts, at, where].filter(Boolean).join(" · "),
    `> ${error === "" ? "_no error text_" : error}`,
    retryingRowLine(row),
    rowReplayLine(row, opts.now),
    row.source === "meilisearch" ? `_${BACKEND_NO_REPLAY}._` : null,
    jobUrl ? link(jobUrl, "Open job in dashboard") : null,
  ];
  const retry = retryButton(row);
  return section(lines.filter(Boolean).join("\n"), retry ? { accessory: retry } : {});
}

function filterLabel(opts: FailedViewOptions): string {
  const parts = [
    opts.reasonClass ? `class ${code(opts.reasonClass)}` : null,
    opts.source ? `source ${code(opts.source)}` : null,
  ].filter(Boolean);
  return parts.length > 0 ? `Filters: ${parts.join(", ")}` : "No filters";
}

function pageValue(schema: string, opts: FailedViewOptions, page: number, cursor?: string): string {
  const value: OpenValue = { schema, page };
  if (cursor) value.cursor = cursor;
  if (opts.reasonClass) value.reasonClass = opts.reasonClass;
  if (opts.source) value.source = opts.source;
  return openValue(value);
}

export function failedView(result: FailedWorkResult, opts: FailedViewOptions): SlackMessage {
  const page = Math.max(1, Math.floor(opts.page) || 1);
  const pageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(opts.pageSize) || FAILED_PAGE_SIZE));
  const total = result.counts.total;
  const rows = result.entries.slice(0, pageSize);
  const hidden = result.entries.length - rows.length;
  const partial = opts.partial ?? null;

  // Unfiltered and fully read, the headline counts what still needs a person (the tally);
  // filtered or partial, it counts the rows shown. With a backend unread, "no failed work" would
  // be a claim about rows nobody could see.
  const tally = result.tally;
  const whole =
    tally !== null && !opts.reasonClass && !opts.source && !partial && tally.read.backend && tally.read.queue;
  const title = whole
    ? total === 0
      ? "No failed sync work for this schema"
      : needsHeadline(tally)
    : total === 0
      ? partial
        ? "No failed sync work in what could be read"
        : "No failed sync work matches these filters"
      : `${plural(total, "failed row")}${partial ? " in what could be read" : " with these filters"}`;
  const alarm = whole ? tally.needsTriage > 0 : total > 0;
  const tallySection = whole && total > 0 ? section(tallyLines(tally, { emphasise: true }).join("\n")) : null;
  const dominant = dominantClass(result.counts);
  const coverage = result.backendCoverage;

  const partialWarning = partial
    ? (() => {
        const key = partial.backend as BackendName;
        const who = BACKEND_LABELS[key] ?? escapeMrkdwn(partial.backend);
        const plane = BACKEND_PLANES[key] ?? "its plane";
        return section(
          `:warning: *${who} could not be read:* ${errorSentence(partial.message, 400)} — the ${plane} is unknown, not zero; counts below cover only what was read.`,
        );
      })()
    : null;

  const summary =
    total === 0
      ? null
      : section(
          `${rollupBlock(result.counts)}\n*Dominant reason:* ${code(dominant ?? "unknown")} (${share(
            result.counts.byClass[dominant ?? "unknown"],
            total,
          )}) — ${CLASS_HINTS[dominant ?? "unknown"]}`,
        );

  const coverageNote =
    coverage.classified < coverage.total
      ? context([
          `:warning: Only ${count(coverage.classified)} of ${count(coverage.total)} failed Meilisearch tasks were classified; the rollup covers those.`,
        ])
      : null;

  // Slack wants action_ids unique within a block, and both page buttons use ACTIONS.page: Next
  // rides on the page line as its accessory, Previous sits with the other buttons below it.
  const next = result.nextCursor
    ? button({
        text: "Next ›",
        actionId: ACTIONS.page,
        value: pageValue(result.schema, opts, page + 1, result.nextCursor),
      })
    : null;
  const buttons: Button[] = [];
  if (page > 1) {
    buttons.push(
      button({ text: "‹ Previous", actionId: ACTIONS.page, value: pageValue(result.schema, opts, page - 1) }),
    );
  }
  buttons.push(
    button({ text: "Status", actionId: ACTIONS.openStatus, value: openValue({ schema: result.schema }) }),
  );

  const shown =
    rows.length === 0
      ? total > 0
        ? "no rows on this page"
        : null
      : `rows ${count((page - 1) * pageSize + 1)}–${count((page - 1) * pageSize + rows.length)} of ${count(total)}`;

  const blocks = [
    header(`${alarm ? ":rotating_light:" : partial ? ":warning:" : ":white_check_mark:"} ${title}`),
    context([`${code(result.schema)} · mode *${result.mode}* · index ${code(result.index)}`]),
    partialWarning,
    tallySection,
    summary,
    coverageNote,
    ...bulkRetrySections(result, opts),
    rows.length > 0 ? divider() : null,
    ...rows.map((row) => rowSection(row, { ...opts, page, pageSize })),
    hidden > 0
      ? context([
          `_${plural(hidden, "more row")} on this page not shown — narrow with a class or source filter._`,
        ])
      : null,
    rows.length > 0 || page > 1 ? divider() : null,
    rows.length > 0 || page > 1 || next
      ? section(`*Page ${count(page)}*${shown ? ` · ${shown}` : ""}${next ? "" : " · last page"}`, {
          ...(next ? { accessory: next } : {}),
        })
      : null,
    actions(buttons, { blockId: "scrypath.failed.nav" }),
    footer([
      `${filterLabel(opts)} · page ${count(page)}`,
      opts.sharedBy ? sharedContext(opts.sharedBy) : null,
    ]),
  ];
  const text = `${escapeMrkdwn(result.schema)}: ${title}${
    dominant ? ` (mostly ${dominant})` : ""
  }${partial ? " — partial: one backend was not read" : ""}`;
  return finalizeMessage(text, blocks, { overflowHint: "use Next, or narrow with a class or source filter" });
}
