// Shared pieces of every view: mrkdwn escaping (the single place for it), truncation, dates and
// ages, dashboard links, and block builders that enforce Block Kit limits by truncating with a
// note instead of throwing (spec slack-platform §3.1).
import type {
  ActionsBlock,
  Button,
  ConfirmationDialog,
  ContextBlock,
  DividerBlock,
  HeaderBlock,
  KnownBlock,
  MrkdwnElement,
  PlainTextElement,
  PlainTextOption,
  SectionBlock,
  StaticSelect,
} from "@slack/types";
import { firstLine, redactText } from "../src/core/redact.ts";
import { stripControls } from "../src/core/sanitize.ts";
import type { OpenValue, SlackMessage } from "./types.ts";

export const LIMITS = {
  blocks: 50,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  contextText: 3000,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  id: 255,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  selectPlaceholder: 150,
  selectOptions: 100,
  optionText: 75,
  optionValue: 150,
  /** The top-level `text` fallback; Slack accepts more, notifications show far less. */
  fallbackText: 3000,
} as const;

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };

/**
 * Escapes `&`, `<` and `>` so data can never become a mention (`<!channel>`, `<@U123>`), a link
 * (`<http://x|y>`) or a date token, and strips control characters and bidi overrides (a U+202E in a
 * job error would reorder the rest of the line). Every piece of user- or backend-supplied text goes
 * through here.
 */
export function escapeMrkdwn(text: string): string {
  return stripControls(text).replace(/[&<>]/g, (c) => ESCAPES[c] ?? c);
}

/** Escaped text inside an inline code span; backticks in data would end the span, so they are swapped. */
export function code(text: string): string {
  const inner = escapeMrkdwn(text).replace(/`/g, "ˋ");
  return `\`${inner === "" ? " " : inner}\``;
}

/** The core's redaction (idempotent, so text that was already redacted is left as it is). */
export function redact(text: string): string {
  return redactText(text);
}

/**
 * Room kept around a cut before redacting: text is cut near its final size first, which bounds the
 * work on a long stack trace, with enough slack that a secret straddling the final cut is still
 * recognised and redacted.
 */
export const REDACT_SLACK = 1000;

/** A short excerpt of backend-supplied text: first line, secrets redacted, cut, escaped. */
export function excerpt(text: string, max = 200): string {
  return escapeMrkdwn(firstLine(redact(firstLine(text, max + REDACT_SLACK)), max));
}

/** "1,234" whatever the host locale. */
export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** "1 item" / "3 items". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** Where a cut may not fall: inside an `&amp;` entity, a `<…>` token, or a surrogate pair. */
function safeCut(text: string, at: number): number {
  let cut = Math.max(0, Math.min(at, text.length));
  const unit = text.charCodeAt(cut - 1);
  if (cut > 0 && unit >= 0xd800 && unit <= 0xdbff) cut -= 1;
  const amp = text.lastIndexOf("&", cut - 1);
  if (amp >= 0 && /^&[a-z#0-9]{0,6}$/i.test(text.slice(amp, cut))) cut = amp;
  // A `<` only survives escaping as the start of a token we built (link, date, mention); those are
  // short, so an open one close before the cut is backed out whole.
  const open = text.lastIndexOf("<", cut - 1);
  if (open >= 0 && cut - open <= TOKEN_WINDOW) {
    const close = text.indexOf(">", open);
    if (close === -1 || close >= cut) cut = open;
  }
  return cut;
}

const TOKEN_WINDOW = 600;

export type TruncateNote = string | ((cut: number) => string);

/**
 * Cuts `text` to at most `max` characters, ending in a note of what was cut:
 * "… (1,234 more characters)". A string `note` is added as a hint: "… (1,234 more characters — see the
 * dashboard)"; a function returns the whole suffix. Never splits an escape entity or a `<…>` token.
 */
export function truncate(text: string, max: number, note?: TruncateNote): string {
  if (text.length <= max) return text;
  const suffixFor = (cut: number): string => {
    if (typeof note === "function") return note(cut);
    const what = `${count(cut)} more character${cut === 1 ? "" : "s"}`;
    return note ? `… (${what} — ${note})` : `… (${what})`;
  };
  // Room for the longest suffix (the cut can never exceed the whole text), then the real count.
  const room = max - suffixFor(text.length).length;
  if (room <= 0) return `${text.slice(0, safeCut(text, max - 1))}…`;
  const keep = safeCut(text, room);
  const out = `${text.slice(0, keep).trimEnd()}${suffixFor(text.length - keep)}`;
  return out.length <= max ? out : out.slice(0, max);
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** "2026-11-20 10:00 UTC". */
export function utcStamp(date: Date): string {
  return (
    `${date.getUTCFullYear()}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())} ` +
    `${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())} UTC`
  );
}

/**
 * `<!date^UNIX^{date_short_pretty} {time}|2026-11-20 10:00 UTC>`: each reader sees their own time
 * zone; clients that cannot render the token show the absolute UTC fallback.
 */
export function slackDate(date: Date, fallback?: string): string {
  if (Number.isNaN(date.getTime())) return escapeMrkdwn(fallback ?? "unknown time");
  const unix = Math.floor(date.getTime() / 1000);
  const shown = (fallback ?? utcStamp(date)).replace(/[|]/g, "/");
  return `<!date^${unix}^{date_short_pretty} {time}|${escapeMrkdwn(shown)}>`;
}

/** "just now", "3 min ago", "2 h ago", "4 d ago"; a clock ahead of ours reads "in 3 min". */
export function age(date: Date, now: Date): string {
  const ms = now.getTime() - date.getTime();
  if (Number.isNaN(ms)) return "at an unknown time";
  const span = (abs: number): string => {
    const min = Math.floor(abs / 60_000);
    if (min < 60) return `${min} min`;
    const h = Math.floor(min / 60);
    if (h < 48) return `${h} h`;
    return `${count(Math.floor(h / 24))} d`;
  };
  if (Math.abs(ms) < 60_000) return "just now";
  return ms > 0 ? `${span(ms)} ago` : `in ${span(-ms)}`;
}

/** "2026-11-20 10:00 UTC (3 min ago)" as a date token; "never" for null. */
export function when(date: Date | null, now: Date, never = "never"): string {
  if (date === null) return never;
  return `${slackDate(date)} (${age(date, now)})`;
}

/**
 * Fills `{id}`, `{queue}`, `{schema}`, `{index}`… with URL-encoded values. Returns null when a
 * placeholder has no value or the result is not an http(s) URL a link or button can carry.
 */
export function fillTemplate(
  template: string,
  values: Record<string, string | number | null | undefined>,
): string | null {
  let missing = false;
  const url = template.replace(/\{([a-z_]+)\}/gi, (_m, key: string) => {
    const v = values[key];
    if (v === null || v === undefined || v === "") {
      missing = true;
      return "";
    }
    return encodeURIComponent(String(v));
  });
  if (missing || !/^https?:\/\/[^\s<>|]+$/i.test(url) || url.length > LIMITS.buttonUrl) return null;
  return url;
}

/** A mrkdwn link `<url|label>`; the label is escaped, `|` in it replaced so it cannot end early. */
export function link(url: string, label: string): string {
  return `<${escapeMrkdwn(url)}|${escapeMrkdwn(label.replace(/\|/g, "/"))}>`;
}

/** What the read-only buttons carry (JSON ≤ 2000 characters); handlers re-validate it. */
export function openValue(value: OpenValue): string {
  return JSON.stringify(value);
}

// ── Text objects ────────────────────────────────────────────────────────────────────────────

export function mrkdwn(text: string, max: number = LIMITS.sectionText): MrkdwnElement {
  return { type: "mrkdwn", text: truncate(text.trim() === "" ? "—" : text, max) };
}

export function plainText(text: string, max: number): PlainTextElement {
  const clean = stripControls(text);
  return { type: "plain_text", text: truncate(clean.trim() === "" ? "—" : clean, max), emoji: true };
}

const id = (value: string | undefined): string | undefined =>
  value === undefined ? undefined : value.slice(0, LIMITS.id);

// ── Blocks ──────────────────────────────────────────────────────────────────────────────────

/** A mrkdwn section (text ≤ 3000), optionally with a button accessory. */
export function section(text: string, opts: { blockId?: string; accessory?: Button } = {}): SectionBlock {
  const block: SectionBlock = { type: "section", text: mrkdwn(text, LIMITS.sectionText) };
  if (opts.blockId) block.block_id = id(opts.blockId);
  if (opts.accessory) block.accessory = opts.accessory;
  return block;
}

/** A two-column fields section: ≤ 10 fields of ≤ 2000 characters; the 10th says how many were left out. */
export function fields(
  items: readonly string[],
  opts: { text?: string; blockId?: string } = {},
): SectionBlock {
  const shown =
    items.length > LIMITS.fields
      ? [
          ...items.slice(0, LIMITS.fields - 1),
          `_… ${count(items.length - LIMITS.fields + 1)} more not shown_`,
        ]
      : items;
  const block: SectionBlock = { type: "section", fields: shown.map((f) => mrkdwn(f, LIMITS.fieldText)) };
  if (opts.text !== undefined) block.text = mrkdwn(opts.text, LIMITS.sectionText);
  if (opts.blockId) block.block_id = id(opts.blockId);
  return block;
}

/** A context line: ≤ 10 mrkdwn elements; the 10th says how many were left out. */
export function context(
  elements: ReadonlyArray<string | MrkdwnElement | PlainTextElement>,
  opts: { blockId?: string } = {},
): ContextBlock {
  const objects = elements.map((e) => (typeof e === "string" ? mrkdwn(e, LIMITS.contextText) : e));
  const shown =
    objects.length > LIMITS.contextElements
      ? [
          ...objects.slice(0, LIMITS.contextElements - 1),
          mrkdwn(`… ${count(objects.length - LIMITS.contextElements + 1)} more`),
        ]
      : objects;
  const block: ContextBlock = { type: "context", elements: shown.length > 0 ? shown : [mrkdwn("—")] };
  if (opts.blockId) block.block_id = id(opts.blockId);
  return block;
}

export function divider(): DividerBlock {
  return { type: "divider" };
}

/** Plain-text header (≤ 150 characters; `:emoji:` codes render). */
export function header(text: string, opts: { blockId?: string } = {}): HeaderBlock {
  const block: HeaderBlock = { type: "header", text: plainText(text, LIMITS.headerText) };
  if (opts.blockId) block.block_id = id(opts.blockId);
  return block;
}

export interface ButtonSpec {
  text: string;
  actionId: string;
  value?: string;
  url?: string;
  style?: "primary" | "danger";
  confirm?: { title: string; text: string; confirm: string; deny: string; style?: "primary" | "danger" };
}

export function button(spec: ButtonSpec): Button {
  const b: Button = {
    type: "button",
    text: plainText(spec.text, LIMITS.buttonText),
    action_id: spec.actionId.slice(0, LIMITS.id),
  };
  // A cut value or URL would be broken either way; the value is cut (handlers re-validate it),
  // an over-long URL is dropped rather than sent half-way.
  if (spec.value !== undefined) b.value = spec.value.slice(0, LIMITS.buttonValue);
  if (spec.url !== undefined && spec.url.length <= LIMITS.buttonUrl) b.url = spec.url;
  if (spec.style) b.style = spec.style;
  if (spec.confirm) {
    const c = spec.confirm;
    const dialog: ConfirmationDialog = {
      title: plainText(c.title, LIMITS.confirmTitle),
      text: plainText(c.text, LIMITS.confirmText),
      confirm: plainText(c.confirm, LIMITS.confirmButton),
      deny: plainText(c.deny, LIMITS.confirmButton),
    };
    if (c.style) dialog.style = c.style;
    b.confirm = dialog;
  }
  return b;
}

/**
 * A static select menu (≤ 100 options). An option's text is cut to 75 characters; an option whose
 * value would not fit (150) is left out rather than sent cut, since its handler could not parse it.
 */
export function staticSelect(spec: {
  placeholder: string;
  actionId: string;
  options: ReadonlyArray<{ text: string; value: string }>;
}): StaticSelect {
  const options: PlainTextOption[] = spec.options
    .filter((o) => o.value.length > 0 && o.value.length <= LIMITS.optionValue)
    .slice(0, LIMITS.selectOptions)
    .map((o) => ({ text: plainText(o.text, LIMITS.optionText), value: o.value }));
  return {
    type: "static_select",
    action_id: spec.actionId.slice(0, LIMITS.id),
    placeholder: plainText(spec.placeholder, LIMITS.selectPlaceholder),
    options,
  };
}

/** ≤ 25 buttons or selects; extra ones are dropped (a button cannot say "more"). */
export function actions(
  elements: ReadonlyArray<Button | StaticSelect>,
  opts: { blockId?: string } = {},
): ActionsBlock {
  const block: ActionsBlock = { type: "actions", elements: elements.slice(0, LIMITS.actionsElements) };
  if (opts.blockId) block.block_id = id(opts.blockId);
  return block;
}

/**
 * Packs lines into as few sections as possible (each ≤ 3000 characters), within `maxBlocks`
 * sections and `maxChars` characters overall. Lines that do not fit are summarised by `more(n)`.
 */
export function packLines(
  lines: readonly string[],
  opts: { maxBlocks: number; maxChars?: number; more: (left: number) => string },
): SectionBlock[] {
  const limit = LIMITS.sectionText;
  const budget = opts.maxChars ?? opts.maxBlocks * limit;
  const chunks: string[] = [];
  let current = "";
  let used = 0;
  let i = 0;
  for (; i < lines.length; i++) {
    const line = truncate(lines[i] ?? "", limit - 200);
    const joined = current === "" ? line : `${current}\n${line}`;
    if (joined.length <= limit - 200) {
      if (used + line.length + 1 > budget) break;
      current = joined;
    } else {
      if (chunks.length + 1 >= opts.maxBlocks || used + line.length + 1 > budget) break;
      chunks.push(current);
      current = line;
    }
    used += line.length + 1;
  }
  const left = lines.length - i;
  if (left > 0) current = current === "" ? opts.more(left) : `${current}\n${opts.more(left)}`;
  if (current !== "") chunks.push(current);
  return chunks.map((c) => section(c));
}

/** A `Requested by` or similar footer; null entries are skipped, nothing at all gives null. */
export function footer(
  elements: ReadonlyArray<string | MrkdwnElement | null | undefined | false>,
): ContextBlock | null {
  const present = elements.filter((e): e is string | MrkdwnElement => Boolean(e));
  return present.length > 0 ? context(present) : null;
}

// ── Messages ────────────────────────────────────────────────────────────────────────────────

export type MaybeBlock = KnownBlock | null | undefined | false;

/**
 * Assembles a message that Slack accepts: at most 50 blocks (the overflow replaced by a final
 * context block saying how many were cut and how to see the rest), unique block_ids, and a
 * non-empty `text` fallback of at most 3000 characters. `text` is mrkdwn: escape data first.
 */
export function finalizeMessage(
  text: string,
  blocks: readonly MaybeBlock[],
  opts: { overflowHint?: string } = {},
): SlackMessage {
  let present = blocks.filter((b): b is KnownBlock => Boolean(b));
  if (present.length > LIMITS.blocks) {
    const cut = present.length - (LIMITS.blocks - 1);
    const hint =
      opts.overflowHint ?? "narrow the request (one schema, a filter, the next page) to see the rest";
    present = [
      ...present.slice(0, LIMITS.blocks - 1),
      context([`_${plural(cut, "more block")} not shown — ${hint}._`]),
    ];
  }
  const seen = new Set<string>();
  const unique = present.map((block) => {
    if (block.block_id === undefined) return block;
    let candidate = block.block_id;
    for (let n = 2; seen.has(candidate); n++) {
      const suffix = `-${n}`;
      candidate = `${block.block_id.slice(0, LIMITS.id - suffix.length)}${suffix}`;
    }
    seen.add(candidate);
    return candidate === block.block_id ? block : { ...block, block_id: candidate };
  });
  const fallback = text.trim() === "" ? "Scrypath" : text;
  return { text: guard(truncate(fallback, LIMITS.fallbackText)), blocks: unique.map(guardTexts) };
}

/**
 * The last check before a message leaves: every text object is run through the redaction rules
 * and the control-character filter once more, so a view that forgot `excerpt` or `escapeMrkdwn`
 * for a backend string still sends no credential and no escape sequence. Both are idempotent, so
 * text that was already clean is unchanged. Button values, URLs and ids are not text and are left.
 */
function guard(text: string): string {
  return stripControls(redactText(text));
}

function guardTexts<T>(node: T): T {
  if (Array.isArray(node)) return node.map(guardTexts) as T;
  if (node === null || typeof node !== "object") return node;
  const o = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    out[k] =
      k === "text" && typeof v === "string" && (o.type === "mrkdwn" || o.type === "plain_text")
        ? guard(v)
        : guardTexts(v);
  }
  return out as T;
}
