// Confirmation cards (spec slack-platform §1.4–§1.5, operator §9.4–§9.6): every mutation asked for
// in Slack is posted in the channel as a card that states its blast radius and waits for one
// operator's Confirm. The card is edited in place once decided (buttons removed, outcome added),
// and a retry is followed in the thread until its documents are observed in the index.
import type { Button } from "@slack/types";
import type { AccessRefusal } from "../src/core/access.ts";
import type { KeyChange } from "../src/core/settingsDiff.ts";
import type {
  ConfirmationStatus,
  ConfirmationView,
  CardState as OperatorCardState,
} from "../src/operator/confirmations/types.ts";
import type { SettingsTaskResult } from "../src/operator/hotApply.ts";
import type { ReconcileActionResult } from "../src/operator/reconcileAction.ts";
import type { RequestOutcome, RequestPreview, SettingsPreview } from "../src/operator/requests.ts";
import type { CardStanding, RowStanding } from "../src/operator/standing.ts";
import type { ReplayObservation, ReplayState } from "../src/operator/verify.ts";
import {
  bulkClassHint,
  bulkExcludedText,
  bulkFields,
  bulkOutcome,
  bulkSampleText,
  progressText,
} from "./bulkCard.ts";
import {
  actions,
  button,
  code,
  context,
  count,
  escapeMrkdwn,
  excerpt,
  fields,
  fillTemplate,
  finalizeMessage,
  header,
  link,
  plural,
  section,
  slackDate,
  truncate,
} from "./common.ts";
import { commandLabel, errorSentence } from "./errors.ts";
import { pendingLine, replayLine, rowStateWord, tallyLine, tallyLines } from "./tally.ts";
import type { SlackMessage, ViewContext } from "./types.ts";

/** action_ids of the card's buttons; their `value` is the confirmation id and nothing else. */
export const CONFIRM_ACTIONS = { confirm: "scrypath.confirm", cancel: "scrypath.cancel" } as const;

/**
 * How an executed request ended, as card lines. `headline` and `lines` are plain text (backtick
 * code spans allowed): the card redacts, escapes and bounds them.
 */
export interface CardOutcome {
  /** true: done; false: not done; null: unconfirmed (it may or may not have happened). */
  ok: boolean | null;
  headline: string;
  lines: string[];
  /** The standing re-read once the request ran (it replaces the one read at the request). */
  standing?: CardStanding | null;
}

/** The operator's card state, with how an execution ended as card lines. */
export interface CardState extends Omit<OperatorCardState, "ending"> {
  outcome?: CardOutcome | null;
}

/** Excerpt of the request's last error shown on the card. */
export const CARD_ERROR_EXCERPT = 200;

export const ACCEPTED_NOT_SEARCHABLE_RETRY =
  "Accepted is not searchable: the worker still has to run. Follow-up in the thread.";

const USER_ID = /^[UW][A-Z0-9]+$/;

/** `<@U…>` for a Slack user id (a deliberate mention); anything else (`cli:alice`) as escaped code. */
export function userRef(id: string | null | undefined): string {
  if (!id) return "someone";
  return USER_ID.test(id) ? `<@${id}>` : code(id);
}

/** Plain text from the operator (names, errors) → bounded, redacted, escaped mrkdwn. */
function safe(text: string, max = 600): string {
  return errorSentence(text, max);
}

/** `text` inside a code span for plain-text outcome lines (escaped later by the card). */
const tick = (text: string | number): string => `\`${String(text).replace(/`/g, "ˋ")}\``;

// ── The card ────────────────────────────────────────────────────────────────────────────────

function subject(preview: RequestPreview): string {
  const inSchema = preview.schema && !preview.title.includes(preview.schema) ? ` in ${preview.schema}` : "";
  return `${preview.title}${inSchema}`;
}

function blastRadius(preview: RequestPreview): string[] {
  if (preview.bulk) return bulkFields(preview, preview.bulk);
  const items: string[] = [];
  if (preview.schema !== null) items.push(`*Schema*\n${code(preview.schema)}`);
  if (preview.index !== null) items.push(`*Index*\n${code(preview.index)}`);
  if (preview.target !== null) items.push(`*Source and id*\n${code(preview.target)}`);
  if (preview.operation !== null) items.push(`*Operation*\n${escapeMrkdwn(preview.operation)}`);
  if (preview.documentCount !== null) items.push(`*Documents*\n${count(preview.documentCount)}`);
  else if (preview.target?.startsWith("oban:")) items.push("*Documents*\nnot recorded in the job");
  if (preview.reasonClass !== null) items.push(`*Reason class*\n${code(preview.reasonClass)}`);
  return items;
}

interface Look {
  emoji: string;
  label: string;
}

function look(preview: RequestPreview, state: CardState): Look {
  const ok = state.outcome?.ok;
  switch (state.status) {
    case "pending":
      return { emoji: preview.danger ? ":warning:" : ":raised_hand:", label: "Confirmation needed" };
    case "executing":
      return { emoji: ":hourglass_flowing_sand:", label: "Running" };
    case "done":
    case "failed":
      if (ok === null) return { emoji: ":grey_question:", label: "Outcome unconfirmed" };
      if (ok === true || (ok === undefined && state.status === "done")) {
        return { emoji: ":white_check_mark:", label: "Done" };
      }
      return { emoji: ":x:", label: state.status === "failed" ? "Failed" : "Not done" };
    case "cancelled":
      return { emoji: ":no_entry_sign:", label: "Cancelled" };
    case "expired":
      return { emoji: ":hourglass:", label: "Expired" };
  }
}

/** The Confirm button: danger-styled with a client-side dialog for destructive or live changes. */
function confirmButton(id: string, preview: RequestPreview): Button {
  if (!preview.danger) {
    return button({ text: "Confirm", actionId: CONFIRM_ACTIONS.confirm, value: id, style: "primary" });
  }
  return button({
    text: "Confirm…",
    actionId: CONFIRM_ACTIONS.confirm,
    value: id,
    style: "danger",
    // plain_text: shown literally, so nothing is escaped; the builder bounds every field.
    confirm: {
      title: truncate(`${preview.title}?`, 100, () => "…?"),
      text: truncate(preview.effect, 300, () => "… (the card has the rest)"),
      confirm: "Yes, do it",
      deny: "Go back",
      style: "danger",
    },
  });
}

const ISO_TIME = /\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})\b/g;
const USER_IN_TEXT = /(?<![A-Za-z0-9_@:`])[UW](?=[A-Z0-9]*[0-9])[A-Z0-9]{8,}(?![A-Za-z0-9_])/g;

/**
 * An outcome line (the operator's own sentence) for people: bounded, redacted and escaped, then an
 * ISO timestamp becomes a date token in the reader's time zone and a Slack user id a mention.
 */
function humanLine(text: string, max = 600): string {
  return safe(text, max)
    .replace(ISO_TIME, (iso) => slackDate(new Date(iso)))
    .replace(USER_IN_TEXT, (id) => `<@${id}>`);
}

function outcomeText(outcome: CardOutcome): string {
  const lines = outcome.lines.filter((l) => l.trim() !== "").map((l) => humanLine(l));
  return [`*${humanLine(outcome.headline, 300)}*`, ...lines].join("\n");
}

function decisionLine(state: CardState, ctx: ViewContext): string {
  const by = userRef(state.decidedBy);
  const at = state.decidedAt ? ` at ${slackDate(state.decidedAt)}` : "";
  const asked = `requested by ${userRef(state.requestedBy)}`;
  switch (state.status) {
    case "pending": {
      const expired = state.expiresAt.getTime() <= ctx.now.getTime();
      // The absolute time only: a relative "in 14 min" would go stale on a card nobody re-renders.
      return `Requested by ${userRef(state.requestedBy)} · ${expired ? "expired" : "expires"} ${slackDate(
        state.expiresAt,
      )}`;
    }
    case "executing":
      return `Requested by ${userRef(state.requestedBy)}`;
    case "done":
    case "failed":
      return `Confirmed by ${by}${at} · ${asked}`;
    case "cancelled":
      return `Cancelled by ${by}${at} · ${asked}`;
    case "expired":
      return `Expired ${slackDate(state.decidedAt ?? state.expiresAt)} · ${asked}`;
  }
}

/** What the card says once decided, besides the blast radius. */
function resultSection(preview: RequestPreview, state: CardState): string | null {
  const by = userRef(state.decidedBy);
  switch (state.status) {
    case "pending":
      return null;
    case "executing":
      return `:hourglass_flowing_sand: *Running…* confirmed by ${by}${
        state.decidedAt ? ` at ${slackDate(state.decidedAt)}` : ""
      }. This card shows the outcome when it finishes.${
        state.progress ? `\n:arrows_counterclockwise: *${progressText(state.progress)}*` : ""
      }`;
    case "done":
    case "failed":
      if (state.outcome) return outcomeText(state.outcome);
      return state.status === "done"
        ? "*Done.*"
        : `*Failed before it finished.* Check ${code(commandLabel("audit", preview.schema))} for what was recorded.`;
    case "cancelled":
      return `*Cancelled by ${by}, nothing was done.*`;
    case "expired":
      return `*Expired at ${slackDate(state.decidedAt ?? state.expiresAt)}, nothing was done.* Ask again if it is still needed.`;
  }
}

/** Items shown per list (stop words, synonyms, fields) before "and N more". */
export const SETTINGS_ITEMS_SHOWN = 12;
/** One value shown in a settings change, at most. */
const SETTINGS_VALUE_MAX = 80;
/** One key's section of a settings change (Slack allows 3,000). */
const SETTINGS_SECTION_MAX = 2_700;

const value = (text: string): string => code(truncate(text, SETTINGS_VALUE_MAX));

function itemList(label: string, items: readonly string[]): string {
  const shown = items.slice(0, SETTINGS_ITEMS_SHOWN).map(value).join(", ");
  const more = items.length - SETTINGS_ITEMS_SHOWN;
  return `${label} (${count(items.length)}): ${shown}${more > 0 ? ` and ${count(more)} more` : ""}`;
}

function keyChangeText(c: KeyChange, revert: boolean): string {
  const lines = [`*${escapeMrkdwn(c.key)}*`];
  if (c.added.length > 0) lines.push(itemList(revert ? "Put back" : "Added", c.added));
  if (c.removed.length > 0) lines.push(itemList(revert ? "Taken out" : "Removed", c.removed));
  for (const f of c.changed.slice(0, SETTINGS_ITEMS_SHOWN)) {
    lines.push(`${value(f.what)}: ${value(f.live)} → ${value(f.requested)}`);
  }
  const more = c.changed.length - SETTINGS_ITEMS_SHOWN;
  if (more > 0) lines.push(`… and ${plural(more, "more change")}`);
  return truncate(lines.join("\n"), SETTINGS_SECTION_MAX, (cut) => `… (${count(cut)} more characters)`);
}

/** Per key, the live value and the requested one (or, for a revert, what it restores). */
function settingsSections(s: SettingsPreview): string[] {
  const revert = s.kind === "revert";
  const read = slackDate(new Date(s.readAt));
  const head = revert
    ? `*What the revert restores* (live now → restored; read ${read})${
        s.changedBy ? `\nUndoes a change applied by ${userRef(s.changedBy)}.` : ""
      }`
    : `*What changes on the live index* (live → requested; live values read ${read})`;
  if (s.changes.length === 0) {
    return [
      `${head}\n${revert ? "The live values are the restored ones already." : "Nothing: these are the live values already."}`,
    ];
  }
  const [first, ...rest] = s.changes.map((c) => keyChangeText(c, revert));
  return [`${head}\n${first}`, ...rest];
}

// ── Standing in the triage vocabulary ─────────────────────────────────────────────────────

/** "This row: terminal (`discarded`), not replayed yet", with its replay when it has one. */
export function rowStandingText(r: RowStanding): string {
  const head = `*This row:* ${rowStateWord(r.state)} (${code(r.obanState)})`;
  if (!r.replayedAs) return `${head}, not replayed yet`;
  return `${head}\n${replayLine(r.replayedAs, `at ${slackDate(r.replayedAs.at)}`)}`;
}

/**
 * The schema's figures as `/scrypath failed <schema>` prints them (the same functions), or why
 * there are none: a plane that was not read is unknown, not zero.
 */
export function schemaStandingLines(s: CardStanding): string[] {
  const who = `*${escapeMrkdwn(s.label)}:*`;
  const t = s.tally;
  if (!t) return [`${who} the failed-work figures could not be read.`];
  const unread = [t.read.backend ? null : "Meilisearch", t.read.queue ? null : "Postgres (Oban)"].filter(
    Boolean,
  );
  if (unread.length > 0) {
    return [`${who} the failed-work figures are unknown: ${unread.join(" and ")} could not be read.`];
  }
  const pending = pendingLine(t);
  if (t.rows === 0) return [`${who} no failed sync work`, ...(pending ? [pending] : [])];
  const [first, ...rest] = tallyLines(t);
  return [`${who} ${first}`, ...rest, ...(pending ? [pending] : [])];
}

/**
 * Where the row and the schema stand: at the request while pending; once the request ran, as
 * re-read then, or else honestly as of the request's read.
 */
function standingText(preview: RequestPreview, state: CardState): string | null {
  const after = state.outcome?.standing ?? null;
  const s = after ?? preview.standing ?? null;
  if (!s) return null;
  const read = slackDate(s.readAt);
  const head = after
    ? `*Standing after this ran* · read ${read}`
    : state.status === "pending"
      ? `*Standing now* · read ${read}`
      : `*Standing when requested* · figures as of ${read}`;
  const how = `as ${code(commandLabel("failed", s.label))} counts it`;
  const lines = [`${head} · ${how}`, ...(s.row ? [rowStandingText(s.row)] : []), ...schemaStandingLines(s)];
  return truncate(lines.join("\n"), 2_900);
}

/** The standing for the fallback text: "posts: 11 failed rows · 2 retrying · 9 need triage". */
function standingPlain(s: CardStanding | null | undefined): string | null {
  const t = s?.tally;
  if (!s || !t?.read.backend || !t.read.queue) return null;
  return `${escapeMrkdwn(s.label)}: ${t.rows === 0 ? "no failed sync work" : tallyLine(t)}`;
}

const EFFECT_LABEL: Record<ConfirmationStatus, string> = {
  pending: "What will happen",
  executing: "What is happening",
  done: "What was requested",
  failed: "What was requested",
  cancelled: "What was requested (not done)",
  expired: "What was requested (not done)",
};

/** A `retryable` row: Oban retries it by itself; say so before anyone confirms a replay. */
export function retryingLine(r: NonNullable<RequestPreview["retrying"]>): string {
  const at = r.at ? ` at ${slackDate(new Date(r.at))}` : "";
  return `:repeat: *Oban will retry this by itself${at} (attempt ${r.attempt} of ${r.maxAttempts})*; a replay now runs the same work twice.`;
}

/**
 * The public card for one mutation request, in every state. Pending: blast radius and
 * Confirm/Cancel; executing: "Running…" without buttons; decided: the outcome without buttons.
 */
export function confirmationCard(
  id: string,
  preview: RequestPreview,
  state: CardState,
  ctx: ViewContext,
): SlackMessage {
  const { emoji, label } = look(preview, state);
  const radius = blastRadius(preview);
  const error = preview.lastError ? excerpt(preview.lastError, CARD_ERROR_EXCERPT) : "";
  const result = resultSection(preview, state);
  const standing = standingText(preview, state);
  const pending = state.status === "pending";
  const sample = preview.bulk ? bulkSampleText(preview.bulk) : null;
  const excluded = preview.bulk ? bulkExcludedText(preview.bulk) : null;

  const blocks = [
    header(`${emoji} ${label}: ${preview.title}`),
    radius.length > 0 ? fields(radius) : null,
    error !== "" ? section(`*Last error*\n> ${error}`) : null,
    preview.bulk && pending ? section(bulkClassHint(preview.bulk)) : null,
    sample ? section(sample) : null,
    excluded ? section(excluded) : null,
    preview.retrying ? section(retryingLine(preview.retrying)) : null,
    section(`*${EFFECT_LABEL[state.status]}*\n${escapeMrkdwn(preview.effect)}`),
    standing ? section(standing) : null,
    ...(preview.settings ? settingsSections(preview.settings).map((t) => section(t)) : []),
    result ? section(result) : null,
    context([decisionLine(state, ctx)]),
    pending
      ? context([
          "Nothing happens until an operator confirms; the target is re-read and re-validated at that moment.",
        ])
      : null,
    pending
      ? actions(
          [
            confirmButton(id, preview),
            button({ text: "Cancel", actionId: CONFIRM_ACTIONS.cancel, value: id }),
          ],
          { blockId: `scrypath.confirm.${id}` },
        )
      : null,
  ];

  const what = escapeMrkdwn(subject(preview));
  const headline = state.outcome && !pending && state.status !== "executing" ? state.outcome.headline : null;
  const figures = pending
    ? standingPlain(preview.standing)
    : state.status === "executing" && state.progress
      ? progressText(state.progress)
      : null;
  const text =
    state.status === "expired"
      ? `Expired, nothing was done: ${what}`
      : state.status === "cancelled"
        ? `Cancelled, nothing was done: ${what}`
        : // Plain in notifications: a reason code's backticks are dropped there.
          `${label}: ${what}${headline ? ` — ${safe(headline, 300).replace(/`/g, "")}` : ""}${
            figures ? ` (${figures})` : ""
          }`;
  return finalizeMessage(text, blocks);
}

// ── Outcomes ────────────────────────────────────────────────────────────────────────────────

/** "Meilisearch task 22 succeeded", in words; `uid: null` when the task was never found. */
export function taskPhrase(uid: number | null, status: string): string {
  if (uid === null) return "no Meilisearch task found";
  const ended: Record<string, string> = {
    succeeded: "succeeded",
    failed: "failed",
    cancelled: "was cancelled",
    canceled: "was cancelled",
    enqueued: "is still enqueued",
    processing: "is still processing",
    unconfirmed: "not seen to finish",
  };
  return `Meilisearch task ${uid} ${ended[status] ?? status.replace(/_/g, " ")}`;
}

function settingsOutcome(kind: "hot_apply" | "revert", r: SettingsTaskResult): CardOutcome {
  const task = taskPhrase(r.task.uid, r.task.status);
  const revert = `revert with ${tick(`/scrypath settings revert ${r.changeId}`)}`;
  const what =
    kind === "hot_apply"
      ? `Settings change ${r.changeId} on ${tick(r.index)}`
      : `Revert of settings change ${r.changeId} on ${tick(r.index)}`;
  // The settings request's answer was lost; the bot found its task afterwards.
  const lostButFound =
    r.lost?.task != null
      ? `Meilisearch's answer to the settings change was lost (${r.lost.why}); the change was found afterwards as Meilisearch task ${r.lost.task.uid}.`
      : null;
  switch (r.task.status) {
    case "succeeded":
      return {
        ok: true,
        headline: `${kind === "hot_apply" ? "Settings applied" : "Settings reverted"} · ${task}`,
        lines: [
          kind === "hot_apply"
            ? `${what}: live now; ${revert}`
            : `${what}: the previous values are live again.`,
          ...(lostButFound ? [lostButFound] : []),
        ],
      };
    case "failed":
    case "cancelled":
      return {
        ok: false,
        headline: `${kind === "hot_apply" ? "Settings not applied" : "Revert not applied"} · ${task}`,
        lines: [r.task.error ?? `the settings task ${r.task.status}`, "The live settings were not changed."],
      };
    case "unconfirmed": {
      const check =
        r.task.uid !== null
          ? `Check Meilisearch task ${r.task.uid} (${tick(`GET /tasks/${r.task.uid}`)})`
          : `Check the live settings with ${tick(`scrypath-bot settings read ${r.schema}`)} or Meilisearch's settings tasks (${tick(`GET /tasks?types=settingsUpdate&indexUids=${r.index}`)})`;
      return {
        ok: null,
        headline: `Outcome unconfirmed · ${task}`,
        lines: [
          r.task.error ?? "Meilisearch did not say how its task ended.",
          kind === "hot_apply"
            ? `${what} may or may not be live; if it applied, ${revert} (the revert finds its task first and refuses if it never applied).`
            : `${what} may or may not be live; check the settings before trying again.`,
          `${check}.`,
        ],
      };
    }
  }
}

/** An executed request as card lines: job id or task uid, and what is (not yet) true. */
export function outcomeOf(outcome: RequestOutcome): CardOutcome {
  return { ...outcomeLines(outcome), standing: outcome.standing ?? null };
}

function outcomeLines(outcome: RequestOutcome): CardOutcome {
  switch (outcome.kind) {
    case "hot_apply":
    case "revert":
      return settingsOutcome(outcome.kind, outcome.result);
    case "retry":
      return actionOutcome({ action: "retry", result: outcome.result });
    case "action":
      return actionOutcome(outcome.result);
    case "bulk_retry":
      return bulkOutcome(outcome.result, outcome.standing?.schema ?? null);
  }
}

function actionOutcome(action: ReconcileActionResult): CardOutcome {
  switch (action.action) {
    case "retry": {
      const r = action.result;
      return {
        ok: true,
        headline: `Retry accepted · queue job ${r.job.id} (queue ${r.job.queue}, state ${r.job.state})`,
        lines: [
          `Replays oban:${r.id}: ${plural(r.documentCount, "document")} into ${tick(r.index)}; the failed job stays as it is.`,
          ACCEPTED_NOT_SEARCHABLE_RETRY,
        ],
      };
    }
    case "backfill":
    case "reindex": {
      const r = action.result;
      return {
        ok: true,
        headline: `Handed off as job ${r.job.id} (${r.job.worker}) in queue ${r.job.queue}`,
        lines: [
          r.action === "reindex"
            ? `Reindex of ${tick(r.index)} into ${tick(r.targetIndex)}: the application's worker does the work; swap once ${tick(r.targetIndex)} is complete.`
            : `Backfill of ${tick(r.index)}: the application's worker re-sends the documents.`,
          "Accepted is not searchable: the worker still has to run. Follow it with `/scrypath reconcile`.",
        ],
      };
    }
    case "swap": {
      const r = action.result;
      if (r.status === "succeeded") {
        return {
          ok: true,
          headline: `Swap succeeded · ${taskPhrase(r.taskUid, "succeeded")}`,
          lines: [
            `${tick(r.liveIndex)} now serves what was built in ${tick(r.targetIndex)}; ${tick(r.targetIndex)} holds the previous documents.`,
          ],
        };
      }
      if (r.status === "failed") {
        return {
          ok: false,
          headline: `Swap failed · ${taskPhrase(r.taskUid, "failed")}`,
          lines: [r.error ?? "the swap task failed", `The live index ${tick(r.liveIndex)} was not changed.`],
        };
      }
      const check =
        r.taskUid !== null
          ? `Meilisearch task ${r.taskUid} (${tick(`GET /tasks/${r.taskUid}`)})`
          : "Meilisearch's task list";
      return {
        ok: null,
        headline: `Swap outcome unconfirmed · ${taskPhrase(r.taskUid, "unconfirmed")}`,
        lines: [
          r.error ?? `the swap may still complete; check ${check}`,
          `Check ${check} or ${tick("/scrypath reconcile")} before asking again: swapping twice swaps back.`,
        ],
      };
    }
  }
}

/**
 * A refusal or an error before anything changed, as card lines: the reason code as code (never
 * dressed as a word), next to the operator's sentence.
 */
export function refusalOutcome(reason: string, message: string, nothingChanged = true): CardOutcome {
  return {
    ok: false,
    headline: `Not done: ${tick(reason)}`,
    lines: [
      message,
      nothingChanged
        ? "Nothing was changed."
        : "It may have partly run: check `/scrypath audit` for what was recorded.",
    ],
  };
}

// ── Retry follow-up in the thread ───────────────────────────────────────────────────────────

export const REPLAY_EMOJI: Record<ReplayState, string> = {
  accepted: ":inbox_tray:",
  running: ":gear:",
  queue_only_completed: ":hourglass:",
  verified: ":white_check_mark:",
  failed: ":x:",
  timed_out: ":alarm_clock:",
  unknown: ":grey_question:",
};

export const REPLAY_LABELS: Record<ReplayState, string> = {
  accepted: "accepted",
  running: "running",
  queue_only_completed: "queue job completed",
  verified: "verified",
  failed: "failed",
  timed_out: "timed out",
  unknown: "unknown",
};

export interface VerificationOptions {
  final: boolean;
  elapsedMs: number;
  /** The schema module, for the `/scrypath failed <schema>` hint. */
  schema?: string | null;
  /** The index the documents are checked in. */
  index?: string | null;
  /** The new job's queue, for the dashboard link. */
  queue?: string | null;
}

function seconds(ms: number): string {
  return count(Math.max(0, Math.round(ms / 1000)));
}

function stateSentence(jobId: number, obs: ReplayObservation, opts: VerificationOptions): string {
  const job = `Job ${count(jobId)}`;
  const jobState = obs.jobState ? code(obs.jobState) : "unknown";
  const where = opts.index ? ` in ${code(opts.index)}` : " in the index";
  const failedCmd = code(commandLabel("failed", opts.schema ?? "<schema>"));
  const docs = obs.documents;
  switch (obs.state) {
    case "accepted":
      return `${job} is accepted (state ${jobState}): waiting for a worker to pick it up.`;
    case "running":
      return obs.jobState === "retryable"
        ? `${job} failed attempt ${obs.attempt ?? "?"} and Oban will run it again (state ${jobState}).`
        : `${job} is running (state ${jobState}${obs.attempt !== null ? `, attempt ${obs.attempt}` : ""}).`;
    case "queue_only_completed":
      return docs.checked === 0
        ? `Queue job completed; backend evidence pending — the job carried no documents the bot can look up, so search${where} to check.`
        : `Queue job completed; backend evidence pending — ${count(docs.matched)} of ${count(docs.checked)} documents observed${where} so far.`;
    case "verified":
      return `Verified: ${count(docs.matched)} of ${count(docs.checked)} documents observed${where} with the expected values.`;
    case "failed":
      return `${job} failed (state ${jobState}); nothing from this replay is searchable. Check ${failedCmd}.`;
    case "timed_out":
      return `Stopped following after ${seconds(opts.elapsedMs)} s (job state ${jobState}${
        docs.checked > 0 ? `, ${count(docs.matched)} of ${count(docs.checked)} documents observed` : ""
      }); check ${failedCmd}.`;
    case "unknown":
      return `${job} could not be found in ${code("oban_jobs")} (pruned, or not readable), so its outcome is unknown; check ${failedCmd}.`;
  }
}

/**
 * The thread reply that follows a retry's new job: accepted → running → queue job completed →
 * verified / failed / timed out. "Accepted is not searchable" stays until documents are observed.
 */
export function verificationReply(
  jobId: number,
  obs: ReplayObservation,
  ctx: ViewContext,
  opts: VerificationOptions,
): SlackMessage {
  const label = REPLAY_LABELS[obs.state];
  const emoji = REPLAY_EMOJI[obs.state];
  const task = obs.task
    ? `${escapeMrkdwn(taskPhrase(obs.task.uid, obs.task.status))}${
        obs.task.error ? `\n> ${excerpt(obs.task.error, CARD_ERROR_EXCERPT)}` : ""
      }`
    : obs.state === "accepted" || obs.state === "running"
      ? null
      : "No Meilisearch document task seen on the index since the retry started.";
  const showError =
    obs.lastError && (obs.state === "failed" || obs.state === "running" || obs.state === "timed_out");
  const jobUrl = ctx.dashboardLinks.job
    ? fillTemplate(ctx.dashboardLinks.job, {
        id: jobId,
        queue: opts.queue ?? null,
        schema: opts.schema ?? null,
        index: opts.index ?? null,
      })
    : null;
  const following = opts.final
    ? `Stopped following after ${seconds(opts.elapsedMs)} s · checked ${slackDate(ctx.now)}`
    : `Following… ${seconds(opts.elapsedMs)} s so far; this reply updates in place · checked ${slackDate(ctx.now)}`;

  const blocks = [
    section(
      `${emoji} *Retry job ${count(jobId)}: ${label}*\n${stateSentence(jobId, obs, opts)}${
        showError ? `\n*Last error:*\n> ${excerpt(obs.lastError ?? "", CARD_ERROR_EXCERPT)}` : ""
      }`,
    ),
    task ? section(task) : null,
    obs.state !== "verified"
      ? context([
          "Accepted is not searchable: only documents observed in the index with the expected values count as done.",
        ])
      : null,
    context([following, ...(jobUrl ? [link(jobUrl, "Open job in dashboard")] : [])]),
  ];
  const docs =
    obs.state === "verified" || obs.documents.checked > 0
      ? ` — ${count(obs.documents.matched)} of ${count(obs.documents.checked)} documents observed`
      : "";
  const text = `Retry job ${count(jobId)}: ${label}${docs}${obs.state === "verified" ? "" : " (accepted is not searchable)"}`;
  return finalizeMessage(text, blocks);
}

// ── Ephemeral answers to a click ────────────────────────────────────────────────────────────

function sentence(text: string): string {
  const t = text.trim();
  if (t === "") return "";
  const first = `${t.charAt(0).toUpperCase()}${t.slice(1)}`;
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

const USERGROUP_ID = /^S[A-Z0-9]{2,}$/;

/** "<!subteam^S1> or <!subteam^S2>": the groups as mentions (an id that is not one is shown as code). */
function groupList(groups: readonly string[]): string {
  const refs = groups.map((g) => (USERGROUP_ID.test(g) ? `<!subteam^${g}>` : code(g)));
  if (refs.length <= 1) return refs.join("");
  return `${refs.slice(0, -1).join(", ")} or ${refs.at(-1)}`;
}

/**
 * Why a click or request was refused, for that person only, saying the real reason once: the
 * two-person rule is not a missing role, and someone without the role is told which user groups
 * grant it (as user-group mentions).
 */
export function accessRefusalView(
  message: string,
  role = "operator",
  reason?: AccessRefusal,
  usergroups: readonly string[] = [],
): SlackMessage {
  const why = safe(sentence(message), 600);
  const r = escapeMrkdwn(role);
  const grants = usergroups.length > 0 ? ` The role comes with membership of ${groupList(usergroups)}.` : "";
  switch (reason) {
    case "two_person_rule":
      return finalizeMessage("Someone else must confirm this (two-person rule). Nothing was done.", [
        section(`:busts_in_silhouette: *Someone else must confirm this.* ${why} Nothing was done.`),
      ]);
    case "membership_unknown":
      return finalizeMessage(`Could not check the ${r} role. Nothing was done.`, [
        section(`:warning: *Could not check the ${r} role.* ${why}${grants} Nothing was done.`),
      ]);
    case "no_operators_configured":
      return finalizeMessage("Not allowed: no operators are configured. Nothing was done.", [
        section(`:lock: *Not allowed — no operators are configured.* ${why} Nothing was done.`),
      ]);
    default:
      return finalizeMessage(`Not allowed: this needs the ${r} role. Nothing was done.`, [
        section(`:lock: *Not allowed — this needs the ${r} role.*${grants} ${why} Nothing was done.`),
      ]);
  }
}

/**
 * The answer to a click on a card someone else already decided. A request still `pending` when a
 * claim failed has run out of time (the claim refuses expired requests), so it reads as expired.
 */
export function alreadyDecidedView(
  c: Pick<ConfirmationView, "status" | "decidedBy" | "decidedAt"> & { expiresAt?: Date | null },
): SlackMessage {
  const by = userRef(c.decidedBy);
  const at = c.decidedAt ? ` at ${slackDate(c.decidedAt)}` : "";
  let line: string;
  let plain: string;
  switch (c.status) {
    case "executing":
      line = `:hourglass_flowing_sand: Already confirmed by ${by}${at}; it is running now.`;
      plain = "This request was already confirmed; it is running now.";
      break;
    case "done":
    case "failed":
      line = `:ballot_box_with_check: Already confirmed by ${by}${at}; the card shows the outcome.`;
      plain = "This request was already confirmed; the card shows the outcome.";
      break;
    case "cancelled":
      line = `:no_entry_sign: Already cancelled by ${by}${at}; nothing was done.`;
      plain = "This request was already cancelled; nothing was done.";
      break;
    case "expired":
    case "pending": {
      const when = c.decidedAt ?? c.expiresAt ?? null;
      line = `:hourglass: This request expired${when ? ` at ${slackDate(when)}` : ""}; nothing was done. Ask again if it is still needed.`;
      plain = "This request expired; nothing was done.";
      break;
    }
  }
  return finalizeMessage(plain, [section(line)]);
}

/** A second request for what a pending card already asks: a link to that card, not a new one. */
export function alreadyRequestedView(
  existing: Pick<ConfirmationView, "requestedBy" | "createdAt" | "expiresAt">,
  title: string,
  permalink: string | null,
): SlackMessage {
  const card = permalink ? link(permalink, "the pending request") : "a pending request in this channel";
  const line = `:point_up: ${card} already asks for this (${escapeMrkdwn(title)}), by ${userRef(existing.requestedBy)} at ${slackDate(existing.createdAt)}; it waits for a Confirm until ${slackDate(existing.expiresAt)}. No second card was posted.`;
  return finalizeMessage(`Already requested and pending: ${title}. No second card was posted.`, [
    section(line),
  ]);
}
