// `/scrypath status` (fleet posture, one line per schema) and `/scrypath status <schema>` (both
// observation planes of one schema, or what could be read of them).
import type { Button } from "@slack/types";
import type { PostureState } from "../src/core/posture.ts";
import { type TriageTally, triageTally } from "../src/core/tally.ts";
import type { Bucket, Status, SyncMode, SyncState } from "../src/core/types.ts";
import type { FleetPosture, SchemaPosture } from "../src/operator/index.ts";
import {
  actions,
  age,
  button,
  code,
  context,
  count,
  divider,
  escapeMrkdwn,
  fields,
  fillTemplate,
  finalizeMessage,
  footer,
  header,
  link,
  openValue,
  packLines,
  plural,
  section,
  slackDate,
  when,
} from "./common.ts";
import { BACKEND_LABELS, BACKEND_PLANES, type BackendName, errorSentence, sharedContext } from "./errors.ts";
import { needsHeadline, tallyLine, tallyLines } from "./tally.ts";
import { ACTIONS, type SlackMessage, type ViewContext } from "./types.ts";

export const POSTURE_EMOJI: Record<PostureState, string> = {
  ok: ":large_green_circle:",
  degraded: ":large_orange_circle:",
  missing_backend: ":red_circle:",
  unconfigured: ":white_circle:",
};

export const ACCEPTED_NOT_SEARCHABLE =
  "Accepted is not searchable: a write shows up in search only once its Meilisearch task succeeded.";

/** Schema lines in the posture message: at most this many sections and characters. */
export const POSTURE_LINE_SECTIONS = 6;
export const POSTURE_LINE_CHARS = 12_000;
/** Above this many schemas, clear ones are folded into one line of names. */
export const POSTURE_FULL_LINES = 20;
/** Schemas that get their own Failed work / Reconcile buttons in the posture message (worst first). */
export const POSTURE_BUTTON_SCHEMAS = 5;
/** Characters of a schema name on a button. */
const BUTTON_NAME_CHARS = 40;
/** Characters of the folded list of clear schema names. */
export const CLEAR_NAMES_CHARS = 1500;

/** "meilisearch:402", the `source:id` form `mix scrypath.status` prints. */
export function stateRef(state: SyncState): string {
  return `${state.source}:${state.id}`;
}

// ── Fleet posture ───────────────────────────────────────────────────────────────────────────

type Rank = 0 | 1 | 2 | 3;
const RANK_EMOJI: Record<Rank, string> = {
  0: ":warning:",
  1: ":red_circle:",
  2: ":hourglass_flowing_sand:",
  3: ":white_check_mark:",
};

/** The schema's tally: the operator's, or one derived from its planes (no replays known). */
function tallyOf(s: SchemaPosture): TriageTally | null {
  if (s.tally) return s.tally;
  return s.status ? planeTally({ ...s.status }) : null;
}

/** Ranks follow posture (§9.2): only what needs a person is red; retrying and pending are neutral. */
function rankOf(s: SchemaPosture): Rank {
  const t = tallyOf(s);
  if (!t) return 0;
  if (t.needsTriage > 0) return 1;
  if (t.pending.total + t.retrying.total > 0) return 2;
  return 3;
}

function counts(parts: Array<[number, string]>): string | null {
  const shown = parts.filter(([n]) => n > 0).map(([n, label]) => `${count(n)} ${label}`);
  return shown.length > 0 ? shown.join(", ") : null;
}

function schemaLine(s: SchemaPosture, rank: Rank, now: Date): string {
  const name = `*${escapeMrkdwn(s.alias ?? s.schema)}*`;
  const t = tallyOf(s);
  if (!s.status || !t) {
    const who = s.error?.backend ? BACKEND_LABELS[s.error.backend] : "a backend";
    return `${RANK_EMOJI[rank]} ${name} — not read, ${who} failed: ${errorSentence(s.error?.message ?? "unknown error", 200)}`;
  }
  const { mode, index, backend, queue } = s.status;
  const work = [
    t.rows > 0 ? tallyLine(t) : null,
    t.pending.total > 0 ? `${count(t.pending.total)} pending` : null,
  ].filter(Boolean);
  const quiet = mode === "oban" && !queue.observed ? "no queue jobs seen" : "clear";
  const last = backend.lastSucceeded?.at;
  const applied = last ? `last applied ${age(last, now)}` : "no applied write in task history";
  return `${RANK_EMOJI[rank]} ${name} · ${mode} · ${code(index)} — ${work.length > 0 ? work.join(" · ") : quiet} · ${applied}`;
}

/** "a, b, c and 120 more", within CLEAR_NAMES_CHARS. */
function nameList(names: readonly string[]): string {
  const shown: string[] = [];
  let length = 0;
  for (const name of names) {
    if (length + name.length + 2 > CLEAR_NAMES_CHARS) break;
    shown.push(name);
    length += name.length + 2;
  }
  const left = names.length - shown.length;
  return left > 0 ? `${shown.join(", ")} and ${count(left)} more` : shown.join(", ");
}

export function postureView(fleet: FleetPosture, ctx: ViewContext): SlackMessage {
  const { posture, schemas } = fleet;
  const ranked = schemas
    .map((s, i) => ({ s, i, rank: rankOf(s) }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i);
  const tally = [0, 0, 0, 0];
  for (const r of ranked) tally[r.rank] = (tally[r.rank] ?? 0) + 1;
  const [errored = 0, failed = 0, busy = 0, clean = 0] = tally;

  const summary =
    schemas.length === 0
      ? null
      : [
          `*${plural(schemas.length, "schema")} checked*`,
          errored > 0 ? `${count(errored)} not read` : null,
          failed > 0 ? `${count(failed)} with terminal failures that need triage` : null,
          busy > 0 ? `${count(busy)} with work in flight (retrying or pending)` : null,
          `${count(clean)} clear`,
        ]
          .filter(Boolean)
          .join(" · ");

  // Small fleets get one line per schema. Large ones keep a line for every schema that needs a
  // look and fold the clear ones into a single line of names.
  const foldClear = ranked.length > POSTURE_FULL_LINES;
  const detailed = foldClear ? ranked.filter((r) => r.rank < 3) : ranked;
  const lines = detailed.map((r) => schemaLine(r.s, r.rank, ctx.now));
  if (foldClear && clean > 0) {
    const names = ranked.filter((r) => r.rank === 3).map((r) => escapeMrkdwn(r.s.alias ?? r.s.schema));
    lines.push(
      `${RANK_EMOJI[3]} *${count(clean)} clear* (nothing needs a person or is in flight): ${nameList(names)}`,
    );
  }
  const schemaBlocks = packLines(lines, {
    maxBlocks: POSTURE_LINE_SECTIONS,
    maxChars: POSTURE_LINE_CHARS,
    more: (left) => {
      // Lines past the budget: detailed schemas (problems first), then perhaps the folded line.
      const rest = detailed.slice(lines.length - left);
      const folded = foldClear && clean > 0 && left > 0 ? clean : 0;
      const problems = rest.filter((r) => r.rank < 2).length;
      const what =
        problems > 0
          ? `${count(problems)} of them with read errors or failures`
          : "none of them with read errors or failures";
      return `_… ${plural(rest.length + folded, "more schema")} not shown (${what}) — run ${code("/scrypath status <schema>")} for one._`;
    },
  });

  // Buttons to the next read for the schemas that most need one (all of them in a small fleet).
  const buttonRows = ranked.slice(0, POSTURE_BUTTON_SCHEMAS).map((r, i) => {
    const name = r.s.alias ?? r.s.schema;
    const short = name.length > BUTTON_NAME_CHARS ? `${name.slice(0, BUTTON_NAME_CHARS - 1)}…` : name;
    const value = openValue({ schema: r.s.schema });
    return actions(
      [
        button({
          text: `Failed work · ${short}`,
          actionId: ACTIONS.openFailed,
          value,
          ...(r.rank === 1 ? { style: "primary" as const } : {}),
        }),
        button({ text: `Reconcile · ${short}`, actionId: ACTIONS.openReconcile, value }),
      ],
      { blockId: `scrypath.posture.schema.${i}` },
    );
  });

  const runbook = ctx.dashboardLinks.runbook ? fillTemplate(ctx.dashboardLinks.runbook, {}) : null;
  const blocks = [
    header(`${POSTURE_EMOJI[posture.state]} Scrypath posture: ${posture.headline}`),
    section([summary, ...posture.evidence.map(escapeMrkdwn)].filter(Boolean).join("\n")),
    section(
      `*Next checks*\n${posture.nextChecks.map((c, i) => `${i + 1}. ${escapeMrkdwn(c)}`).join("\n")}` +
        (schemas.length > 0
          ? `\nIn Slack: ${code("/scrypath failed <schema>")} · ${code("/scrypath reconcile <schema>")}`
          : ""),
    ),
    schemaBlocks.length > 0 ? divider() : null,
    ...schemaBlocks,
    ...buttonRows,
    footer([
      `Checked ${slackDate(ctx.now)} · pending and retrying work is neutral; read errors and terminal failures degrade posture.`,
      runbook ? link(runbook, "Runbook") : null,
      ctx.sharedBy ? sharedContext(ctx.sharedBy) : null,
    ]),
  ];
  const text = `Scrypath posture: ${escapeMrkdwn(posture.headline)}${summary ? ` — ${summary.replace(/\*/g, "")}` : ""}`;
  return finalizeMessage(text, blocks, {
    overflowHint: `run ${code("/scrypath status <schema>")} for one schema`,
  });
}

// ── One schema ──────────────────────────────────────────────────────────────────────────────

/** What could be read of one schema's status: a null plane was not read, `errors` say why. */
export interface PartialStatus {
  schema: string;
  mode: SyncMode;
  index: string;
  backend: Status["backend"] | null;
  queue: Status["queue"] | null;
  errors: ReadonlyArray<{ message: string; backend: BackendName | null; code?: string }>;
  /** The operator's triage tally; without one, it is derived from the planes (no replays known). */
  tally?: TriageTally;
}

/** A tally from the status planes alone, for callers that did not read one. */
export function planeTally(s: Pick<PartialStatus, "backend" | "queue" | "mode">): TriageTally {
  return triageTally({
    backend: s.backend ? { failed: s.backend.failed.total, pending: s.backend.pending.total } : null,
    queue:
      s.mode !== "oban"
        ? { terminal: 0, retrying: 0, pending: 0, nextRetryAt: null }
        : s.queue
          ? {
              terminal: s.queue.failed.total,
              retrying: s.queue.retrying.total,
              pending: s.queue.pending.total,
              nextRetryAt: null,
            }
          : null,
    replays: [],
  });
}

function bucketField(label: string, bucket: Bucket): string {
  const newest = bucket.items.slice(0, 3).map((s) => code(stateRef(s)));
  const more = newest.length > 0 ? `\nnewest ${newest.join(", ")}` : "";
  return `*${label}*\n${count(bucket.total)}${more}`;
}

function lastField(state: SyncState | null, now: Date): string {
  if (!state) return "*Last succeeded*\nnone in history";
  return `*Last succeeded*\n${code(stateRef(state))} ${when(state.at, now, "(no timestamp)")}`;
}

const NOT_QUEUED: Record<Exclude<SyncMode, "oban">, string> = {
  inline: "not read: schema syncs inline",
  manual: "not read: schema syncs in manual mode (no queue)",
};

function failureWarning(err: PartialStatus["errors"][number], s: PartialStatus): string {
  const who = err.backend ? BACKEND_LABELS[err.backend] : "A backend";
  const what =
    err.code === "postgres_lock"
      ? "waited for a lock"
      : /did not answer/.test(err.message)
        ? "did not answer"
        : /unreachable/.test(err.code ?? "")
          ? "unreachable"
          : /auth/.test(err.code ?? "")
            ? "refused the API key"
            : "could not be read";
  const plane = err.backend
    ? `the ${BACKEND_PLANES[err.backend]} is unknown, not zero`
    : "part of the status is unknown, not zero";
  // Say plainly that the other backend's figures are whole, so nobody discounts them too.
  const other =
    err.backend === "meilisearch" && s.queue && s.mode === "oban"
      ? "; the PostgreSQL figures below are complete"
      : err.backend === "postgres" && s.backend
        ? "; the Meilisearch figures below are complete"
        : "";
  return `:warning: *${who} ${what}:* ${errorSentence(err.message, 400)} — ${plane}${other}.`;
}

function verdict(s: PartialStatus, t: TriageTally): { emoji: string; line: string; detail: string | null } {
  const partial = s.errors.length > 0 || s.backend === null || (s.mode === "oban" && s.queue === null);
  const scope = partial ? " in what could be read" : "";
  const detail = t.rows > 0 ? tallyLines(t).join("\n") : null;
  if (t.needsTriage > 0) {
    return {
      emoji: ":red_circle:",
      line: `*${needsHeadline(t, scope)}* — these will not self-heal. Open *Failed work* first.`,
      detail,
    };
  }
  const inFlight = t.pending.total + t.retrying.total;
  if (inFlight > 0) {
    const parts = counts([
      [t.pending.backend, "backend pending"],
      [t.pending.queue, "queue pending"],
      [t.retrying.total, "retrying"],
    ]);
    return {
      emoji: partial ? ":warning:" : ":hourglass_flowing_sand:",
      line: `*Nothing needs a person${scope}; work in flight:* ${parts}. Normal unless it stays.`,
      detail,
    };
  }
  return {
    emoji: partial ? ":warning:" : ":large_green_circle:",
    line: t.rows > 0 ? `*Nothing needs a person${scope}.*` : `*Nothing pending or failed${scope}.*`,
    detail,
  };
}

export function partialStatusView(status: PartialStatus, ctx: ViewContext): SlackMessage {
  const { backend, queue, mode } = status;
  const tally = status.tally ?? planeTally(status);
  const v = verdict(status, tally);
  const indexUrl = ctx.dashboardLinks.index
    ? fillTemplate(ctx.dashboardLinks.index, { index: status.index, schema: status.schema })
    : null;
  const unknown = ":grey_question: *unknown* — not read (see the warning above)";

  const backendBlock = backend
    ? fields(
        [
          bucketField("Pending", backend.pending),
          bucketField("Failed or cancelled tasks", backend.failed),
          lastField(backend.lastSucceeded, ctx.now),
        ],
        { text: "*Backend* (Meilisearch tasks)" },
      )
    : section(`*Backend* (Meilisearch tasks)\n${unknown}`);

  const queueBlock =
    mode !== "oban"
      ? section(`*Queue* (Oban jobs)\n${NOT_QUEUED[mode]}`)
      : queue
        ? fields(
            [
              `*Observed*\n${queue.observed ? "yes" : "no jobs seen"}`,
              bucketField("Pending", queue.pending),
              bucketField("Retrying", queue.retrying),
              bucketField("Terminal (discarded, cancelled)", queue.failed),
              lastField(queue.lastSucceeded, ctx.now),
            ],
            { text: "*Queue* (Oban jobs)" },
          )
        : section(`*Queue* (Oban jobs)\n${unknown}`);

  const value = openValue({ schema: status.schema });
  const failedTotal = tally.needsTriage;
  const buttons: Button[] = [
    button({
      text: "Failed work",
      actionId: ACTIONS.openFailed,
      value,
      ...(failedTotal > 0 ? { style: "primary" as const } : {}),
    }),
    button({ text: "Reconcile report", actionId: ACTIONS.openReconcile, value }),
    button({ text: "Contract drift", actionId: ACTIONS.openDrift, value }),
  ];

  const blocks = [
    header(`${v.emoji} Sync status: ${status.schema}`),
    section(v.detail ? `${v.line}\n${v.detail}` : v.line),
    context([
      `${code(status.schema)} · mode *${mode}* · index ${code(status.index)}${indexUrl ? ` · ${link(indexUrl, "dashboard")}` : ""}`,
    ]),
    ...status.errors.map((e) => section(failureWarning(e, status))),
    divider(),
    backendBlock,
    queueBlock,
    actions(buttons, { blockId: "scrypath.status.actions" }),
    footer([ACCEPTED_NOT_SEARCHABLE, ctx.sharedBy ? sharedContext(ctx.sharedBy) : null]),
  ];
  const text = `${escapeMrkdwn(status.schema)}: ${v.line.replace(/\*/g, "")}${
    status.errors.length > 0 ? ` (${plural(status.errors.length, "backend")} not read)` : ""
  }`;
  return finalizeMessage(text, blocks);
}

export function statusView(status: Status, ctx: ViewContext): SlackMessage {
  return partialStatusView({ ...status, errors: [] }, ctx);
}
