// The scheduled digest post: a short parent message (verdict, counts, what changed, a late marker,
// the user-group mention only when degraded) and per-schema details as thread replies, split into
// as many messages as Block Kit limits need. `/scrypath digest list` and the preview note are in
// digestList.ts.
import type { Button, SectionBlock } from "@slack/types";
import {
  type DigestDiff,
  type DigestProblem,
  type DigestSnapshot,
  isDegraded,
  type SchemaChange,
  type SchemaDigest,
  tallyOfStored,
} from "../src/core/digest.ts";
import { SIGNAL_LABELS } from "../src/core/reconcile.ts";
import { addCounts, emptyCounts } from "../src/core/rollup.ts";
import { addTallies, type TriageTally } from "../src/core/tally.ts";
import type { DriftSignal, ReasonClass } from "../src/core/types.ts";
import {
  button,
  code,
  context,
  count,
  escapeMrkdwn,
  finalizeMessage,
  header,
  LIMITS,
  openValue,
  packLines,
  plural,
  section,
  slackDate,
  truncate,
} from "./common.ts";
import { BACKEND_LABELS, errorSentence } from "./errors.ts";
import { classLine } from "./reconcile.ts";
import { POSTURE_EMOJI } from "./status.ts";
import { nextRetry, nobodyNeeded, replayedLine, tallyLine } from "./tally.ts";
import { ACTIONS, type SlackMessage, type ViewContext } from "./types.ts";

/** Lines of "what changed" in the parent before "and N more". */
export const CHANGE_LINES = 12;
/** Schema sections per thread message (plus a heading and a footer: within 50 blocks). */
export const THREAD_SCHEMAS = 45;
/** Characters of section text per thread message, to stay well inside Slack's payload limits. */
export const THREAD_CHARS = 15_000;
/** Distinct "could not be checked" causes named in the parent. */
export const PROBLEM_KINDS = 3;

export interface DigestViewContext extends ViewContext {
  /** The digest's name (`search-morning`). */
  digest: string;
}

export interface DigestParentContext extends DigestViewContext {
  /** Posted on catch-up, well after its slot. */
  late: boolean;
  /** When the slot was due (shown in the late marker and the footer). */
  slotAt?: Date | null;
  /** Slack user group id to mention when the digest is degraded. */
  mention?: string | null;
}

const USERGROUP = /^S[A-Z0-9]+$/;

/** `<!subteam^S…>` only for a well-formed user group id; anything else mentions nobody. */
export function usergroupMention(id: string | null | undefined): string | null {
  return id && USERGROUP.test(id) ? `<!subteam^${id}>` : null;
}

// ── Reading a schema ────────────────────────────────────────────────────────────────────────

/** What users type: the alias when there is one, else the module. */
const refOf = (s: { schema: string; alias: string | null }) => s.alias ?? s.schema;
const nameOf = (s: { schema: string; alias: string | null }) => `*${escapeMrkdwn(refOf(s))}*`;

const ATTENTION_SIGNALS: readonly DriftSignal[] = ["reindex_in_progress", "reindex_cutover_pending"];

type Rank = 0 | 1 | 2 | 3 | 4;
const RANK_EMOJI: Record<Rank, string> = {
  0: ":warning:",
  1: ":red_circle:",
  2: ":triangular_ruler:",
  3: ":arrows_counterclockwise:",
  4: ":white_check_mark:",
};

const failedTotal = (s: SchemaDigest) => s.failed?.total ?? 0;
/** The schema's triage tally, when the snapshot holds one (older snapshots do not). */
const tallyOf = (s: SchemaDigest): TriageTally | null =>
  s.sync?.triage ? tallyOfStored(s.sync.triage) : null;
/** Needs a person: terminal failures no replay resolved (without a tally: any failed row). */
const needsTriage = (s: SchemaDigest): boolean => {
  const t = tallyOf(s);
  if (t && s.failed?.scope !== "queue") return t.needsTriage > 0;
  return failedTotal(s) > 0 || (!!s.sync && s.sync.terminal.backend + s.sync.terminal.queue > 0);
};
const drifted = (s: SchemaDigest) => s.contract?.differing?.length ?? 0;
const reindexing = (s: SchemaDigest) =>
  (s.sync?.signals ?? []).some((x) => ATTENTION_SIGNALS.includes(x)) || s.sync?.reindex.state === "failed";

/** 0 not fully checked, 1 failed work, 2 contract drift, 3 reindex work, 4 clear. */
function rankOf(s: SchemaDigest): Rank {
  if (s.problems.length > 0) return 0;
  if (needsTriage(s)) return 1;
  if (drifted(s) > 0) return 2;
  if (reindexing(s)) return 3;
  return 4;
}

function problemLine(p: DigestProblem, max = 300): string {
  const who = p.backend ? BACKEND_LABELS[p.backend] : "unknown backend";
  const what = p.check === "sync" ? "sync status and failed work" : "contract";
  return `:warning: *${what} could not be checked:* ${who}: ${errorSentence(p.message, max)}`;
}

// ── Parent ──────────────────────────────────────────────────────────────────────────────────

function summaryLine(snapshot: DigestSnapshot): string {
  const s = snapshot.schemas;
  const unchecked = s.filter((x) => x.problems.length > 0).length;
  const withFailed = s.filter((x) => failedTotal(x) > 0);
  const byClass = withFailed.reduce((sum, x) => (x.failed ? addCounts(sum, x.failed) : sum), emptyCounts());
  const tallies = withFailed.map(tallyOf);
  const whole = tallies.every((t) => t !== null) ? addTallies(tallies as TriageTally[]) : null;
  const withDrift = s.filter((x) => drifted(x) > 0).length;
  const reindex = s.filter(reindexing).length;
  return [
    `*${plural(s.length, "schema")} checked*`,
    unchecked > 0 ? `:warning: ${count(unchecked)} could not be fully checked` : null,
    withFailed.length > 0
      ? `${count(withFailed.length)} with failed work (${whole ? tallyLine(whole) : plural(byClass.total, "row")}: ${classLine(byClass)})`
      : "no failed work",
    withDrift > 0 ? `${count(withDrift)} with contract drift` : null,
    reindex > 0 ? `${count(reindex)} with reindex work` : null,
  ]
    .filter(Boolean)
    .join(" · ");
}

/** Distinct causes of unread checks, most frequent first: one sentence each, with how many schemas. */
function problemSummary(snapshot: DigestSnapshot): string[] {
  const kinds = new Map<string, { problem: DigestProblem; schemas: number }>();
  for (const s of snapshot.schemas) {
    for (const p of s.problems) {
      const key = `${p.backend}\u0000${p.code}`;
      const kind = kinds.get(key) ?? { problem: p, schemas: 0 };
      kind.schemas += 1;
      kinds.set(key, kind);
    }
  }
  const sorted = [...kinds.values()].sort((a, b) => b.schemas - a.schemas);
  const lines = sorted.slice(0, PROBLEM_KINDS).map(({ problem, schemas }) => {
    const who = problem.backend ? BACKEND_LABELS[problem.backend] : "A backend";
    return `:warning: ${who} could not be read for ${plural(schemas, "check")}: ${errorSentence(problem.message, 300)}`;
  });
  if (sorted.length > PROBLEM_KINDS)
    lines.push(`_… and ${plural(sorted.length - PROBLEM_KINDS, "other cause")}_`);
  return lines;
}

function failureChange(c: { what: ReasonClass; from: number; to: number }): string {
  if (c.to > c.from) return `${c.what} +${count(c.to - c.from)} (now ${count(c.to)})`;
  if (c.to === 0) return `${c.what} resolved (was ${count(c.from)})`;
  return `${c.what} ${count(c.from)} → ${count(c.to)}`;
}

/** Something got worse: new failures, drift, signals, a check that could not be read. */
function isWorse(c: SchemaChange): boolean {
  return (
    c.unreadable.length > 0 ||
    c.failures.some((f) => f.to > f.from) ||
    (c.terminal !== null && c.terminal.to > c.terminal.from) ||
    (c.needsTriage !== null && c.needsTriage.to > c.needsTriage.from) ||
    c.driftStarted.length > 0 ||
    c.signalsRaised.length > 0 ||
    c.reindex?.to === "failed"
  );
}

/** One line per changed schema, each part short. */
export function changeLine(c: SchemaChange): string {
  const parts: string[] = [];
  if (c.added) parts.push("new in this digest");
  // The sentence itself is in the problem summary above and in the thread.
  for (const p of c.unreadable)
    parts.push(`${p.check} could not be checked (${p.backend ? BACKEND_LABELS[p.backend] : "a backend"})`);
  if (c.failures.length > 0) parts.push(`failed work: ${c.failures.map(failureChange).join(", ")}`);
  if (c.terminal) parts.push(`terminal failures ${count(c.terminal.from)} → ${count(c.terminal.to)}`);
  if (c.needsTriage) parts.push(`need triage ${count(c.needsTriage.from)} → ${count(c.needsTriage.to)}`);
  if (c.driftStarted.length > 0) parts.push(`contract now differs: ${c.driftStarted.map(code).join(", ")}`);
  if (c.signalsRaised.length > 0)
    parts.push(`now: ${c.signalsRaised.map((s) => SIGNAL_LABELS[s]).join(", ")}`);
  if (c.reindex) parts.push(`reindex task ${c.reindex.from} → ${c.reindex.to}`);
  if (c.driftResolved.length > 0)
    parts.push(`contract matches again: ${c.driftResolved.map(code).join(", ")}`);
  if (c.signalsCleared.length > 0)
    parts.push(`cleared: ${c.signalsCleared.map((s) => SIGNAL_LABELS[s]).join(", ")}`);
  if (c.readableAgain.length > 0) parts.push(`readable again: ${c.readableAgain.join(", ")}`);
  const better =
    c.failures.length > 0 ||
    c.terminal !== null ||
    c.needsTriage !== null ||
    c.driftResolved.length + c.signalsCleared.length + c.readableAgain.length > 0;
  const emoji = isWorse(c) ? ":small_red_triangle:" : better ? ":white_check_mark:" : ":small_blue_diamond:";
  return `${emoji} ${nameOf(c)} — ${parts.join(" · ") || "changed"}`;
}

function changeLines(diff: DigestDiff): string[] {
  const lines: string[] = [];
  if (diff.posture) lines.push(`*Posture:* ${diff.posture.from} → *${diff.posture.to}*`);
  // Worse changes lead (stable otherwise), so a cut never hides them behind improvements.
  const worse = diff.schemas.filter(isWorse);
  lines.push(...[...worse, ...diff.schemas.filter((c) => !isWorse(c))].map(changeLine));
  if (diff.removed.length > 0) {
    lines.push(
      `:heavy_minus_sign: no longer in this digest: ${truncate(diff.removed.map(code).join(", "), 600, (n) => `… (${count(n)} more characters)`)}`,
    );
  }
  return lines;
}

function changedBlocks(diff: DigestDiff): SectionBlock[] {
  if (diff.first) {
    return [
      section(
        "*First digest of this schedule.* Everything below is the current state; later digests say what changed.",
      ),
    ];
  }
  const since = diff.since ? ` (${slackDate(new Date(diff.since))})` : "";
  const lines = changeLines(diff);
  if (lines.length === 0) return [section(`*Nothing changed since the previous check*${since}.`)];
  const shown = lines.slice(0, CHANGE_LINES);
  if (lines.length > CHANGE_LINES) {
    shown.push(
      `_… and ${plural(lines.length - CHANGE_LINES, "more change")} — the thread has every schema._`,
    );
  }
  return packLines([`*What changed since the previous check*${since}`, ...shown], {
    maxBlocks: 2,
    more: (left) => `_… and ${plural(left, "more line")} — the thread has every schema._`,
  });
}

function headline(snapshot: DigestSnapshot): { emoji: string; text: string } {
  const { posture } = snapshot;
  if (posture.state === "ok" && snapshot.schemas.some((s) => s.problems.length > 0)) {
    return { emoji: ":warning:", text: "Not fully checked" };
  }
  return { emoji: POSTURE_EMOJI[posture.state], text: posture.headline };
}

/** The parent message: verdict, counts, what changed, late marker, and the mention when degraded. */
export function digestParent(
  snapshot: DigestSnapshot,
  diff: DigestDiff,
  ctx: DigestParentContext,
): SlackMessage {
  const h = headline(snapshot);
  const degraded = isDegraded(snapshot);
  const mention = degraded ? usergroupMention(ctx.mention) : null;
  const summary = summaryLine(snapshot);
  const evidence = snapshot.posture.evidence.map(escapeMrkdwn);
  const slotAt = ctx.slotAt ?? null;
  const readAt = slackDate(new Date(snapshot.checkedAt));
  const blocks = [
    header(`${h.emoji} Scrypath digest: ${h.text}`),
    snapshot.onDemand
      ? context([
          `:point_right: *On demand:* run by hand, not by its schedule${slotAt ? ` (for the slot of ${slackDate(slotAt)})` : ""}; the data was read ${readAt}.`,
        ])
      : ctx.late
        ? context([
            `:hourglass: *Late:* this digest was due ${slotAt ? slackDate(slotAt) : "earlier"} and is posted on catch-up (the bot was not running at its slot).`,
          ])
        : null,
    section([mention, summary, ...evidence].filter(Boolean).join("\n")),
    ...(() => {
      const problems = problemSummary(snapshot);
      return problems.length > 0 ? [section(problems.join("\n"))] : [];
    })(),
    ...changedBlocks(diff),
    context([
      [
        `Digest ${code(ctx.digest)}`,
        `data read ${readAt}`,
        slotAt ? `for the slot of ${slackDate(slotAt)}` : null,
        snapshot.schemas.length > 0 ? "details per schema in the thread" : null,
      ]
        .filter(Boolean)
        .join(" · "),
    ]),
  ];
  const text = [
    mention,
    `Scrypath digest ${ctx.digest}${snapshot.onDemand ? " (on demand)" : ctx.late ? " (late)" : ""}: ${h.text} — ${summary.replace(/[*]/g, "").replace(/:warning: /g, "")}`,
  ]
    .filter(Boolean)
    .join(" ");
  return finalizeMessage(text, blocks, { overflowHint: "the thread has every schema" });
}

// ── Thread details ──────────────────────────────────────────────────────────────────────────

/** The read-only view that helps most with this schema. */
function openButton(s: SchemaDigest, rank: Rank): Button | undefined {
  const value = openValue({ schema: s.schema });
  switch (rank) {
    case 0:
      return button({ text: "Status", actionId: ACTIONS.openStatus, value });
    case 1:
      return button({ text: "Failed work", actionId: ACTIONS.openFailed, value, style: "primary" });
    case 2:
      return button({ text: "Contract drift", actionId: ACTIONS.openDrift, value });
    case 3:
      return button({ text: "Reconcile", actionId: ACTIONS.openReconcile, value });
    case 4:
      return undefined;
  }
}

function schemaText(s: SchemaDigest, rank: Rank): string {
  // The module is the name already when there is no alias.
  const where = [s.alias ? code(s.schema) : null, s.mode, s.index ? code(s.index) : null]
    .filter(Boolean)
    .join(" · ");
  const lines = [`${RANK_EMOJI[rank]} ${nameOf(s)} · ${where}`];
  const t = tallyOf(s);
  if (s.failed && s.failed.total > 0 && s.failed.scope === "all" && t) {
    lines.push(
      [
        `*Failed work:* ${tallyLine(t)} — ${classLine(s.failed)}`,
        nobodyNeeded(t),
        nextRetry(t),
        replayedLine(t),
      ]
        .filter(Boolean)
        .join("\n"),
    );
  } else if (s.failed && s.failed.total > 0) {
    const terminal = s.sync ? s.sync.terminal.backend + s.sync.terminal.queue : null;
    lines.push(
      `*Failed work:* ${count(s.failed.total)} — ${classLine(s.failed)}` +
        (terminal !== null && terminal > 0 ? ` (${count(terminal)} terminal, will not self-heal)` : "") +
        (s.failed.scope === "queue" ? " _(queue jobs only: Meilisearch could not be read)_" : ""),
    );
  } else if (s.sync && s.sync.terminal.backend + s.sync.terminal.queue > 0) {
    lines.push(`*Terminal failures:* ${count(s.sync.terminal.backend + s.sync.terminal.queue)}`);
  }
  if (s.contract?.differing && s.contract.differing.length > 0) {
    lines.push(
      `*Contract:* ${s.contract.differing.length} of 5 differ — ${s.contract.differing.map(code).join(", ")}`,
    );
  }
  const signals = (s.sync?.signals ?? []).filter((x) => ATTENTION_SIGNALS.includes(x));
  if (signals.length > 0) lines.push(`*Reindex:* ${signals.map((x) => SIGNAL_LABELS[x]).join(" · ")}`);
  if (s.sync?.reindex.state === "failed") {
    lines.push(`*Reindex:* the last task on ${code(s.sync.reindex.target)} failed`);
  }
  for (const p of s.problems) lines.push(problemLine(p));
  return lines.join("\n");
}

/** Clear schemas as one or more sections of names. */
function clearSections(clear: SchemaDigest[]): SectionBlock[] {
  if (clear.length === 0) return [];
  const names = clear.map((s) => escapeMrkdwn(refOf(s)));
  const lead = `${RANK_EMOJI[4]} *${plural(clear.length, "schema")} clear* — no failed work, no contract drift, every check read:`;
  const chunks: string[] = [];
  let current = lead;
  for (const name of names) {
    const next = `${current}${current === lead ? " " : ", "}${name}`;
    if (next.length > LIMITS.sectionText - 200) {
      chunks.push(current);
      current = `_(clear, continued)_ ${name}`;
    } else current = next;
  }
  chunks.push(current);
  return chunks.map((c) => section(c));
}

const blockChars = (b: SectionBlock) => b.text?.text.length ?? 0;

/**
 * Per-schema details for the thread, most urgent first: one section per schema that needs a look
 * (with a button to the matching view), then the clear ones as lists of names. Split into as many
 * messages as needed, each within THREAD_SCHEMAS sections and THREAD_CHARS characters.
 */
export function digestDetails(snapshot: DigestSnapshot, ctx: DigestViewContext): SlackMessage[] {
  const ranked = snapshot.schemas
    .map((s, i) => ({ s, i, rank: rankOf(s) }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i);
  const attention = ranked.filter((r) => r.rank < 4);
  const clear = ranked.filter((r) => r.rank === 4).map((r) => r.s);
  const blocks: SectionBlock[] = [
    ...attention.map((r) =>
      section(schemaText(r.s, r.rank), {
        blockId: `digest.schema.${r.i}`,
        accessory: openButton(r.s, r.rank),
      }),
    ),
    ...clearSections(clear),
  ];

  const pages: SectionBlock[][] = [];
  let page: SectionBlock[] = [];
  let chars = 0;
  for (const block of blocks) {
    if (page.length > 0 && (page.length >= THREAD_SCHEMAS || chars + blockChars(block) > THREAD_CHARS)) {
      pages.push(page);
      page = [];
      chars = 0;
    }
    page.push(block);
    chars += blockChars(block);
  }
  if (page.length > 0) pages.push(page);

  const hint = `Open one schema: ${code("/scrypath status <schema>")} · ${code("/scrypath failed <schema>")} · ${code("/scrypath reconcile <schema>")} · ${code("/scrypath drift <schema>")}`;
  return pages.map((p, n) => {
    const part = pages.length > 1 ? ` · part ${n + 1} of ${pages.length}` : "";
    return finalizeMessage(`Scrypath digest ${ctx.digest}: details${part}`, [
      context([
        `*Details* of digest ${code(ctx.digest)}${part} · checked ${slackDate(new Date(snapshot.checkedAt))}`,
      ]),
      ...p,
      context([hint]),
    ]);
  });
}
