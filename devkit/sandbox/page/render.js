// Block Kit → HTML for the sandbox page, for exactly the blocks the bot sends: section (text, fields,
// button accessory), header, context, divider, actions (buttons), input (plain_text_input). Any other
// block or element is shown as "unsupported …", never dropped. mrkdwn: *bold*, _italic_, ~strike~,
// `code`, ```pre```, > quotes, <url|label> links, <@U…> mentions, <#C…> channels, <!date^…|fallback>
// in local time, :emoji: shortcodes. The bot escapes data as &amp; &lt; &gt;; those become the literal
// characters, and every character is escaped again for HTML, so data can never become markup.
// Pure functions returning strings: the page uses them, and so do the tests (no DOM needed).

/** Shortcodes the bot uses, and a few common ones; unknown ones stay as `:name:`. */
export const EMOJI = {
  alarm_clock: "⏰",
  arrow_down: "⬇️",
  arrow_right: "➡️",
  arrow_up: "⬆️",
  arrows_clockwise: "🔃",
  arrows_counterclockwise: "🔄",
  ballot_box_with_check: "☑️",
  bar_chart: "📊",
  bell: "🔔",
  bulb: "💡",
  calendar: "📅",
  chart_with_downwards_trend: "📉",
  chart_with_upwards_trend: "📈",
  checkered_flag: "🏁",
  clipboard: "📋",
  construction: "🚧",
  eyes: "👀",
  fire: "🔥",
  gear: "⚙️",
  grey_exclamation: "❕",
  grey_question: "❔",
  heavy_check_mark: "✔️",
  heavy_minus_sign: "➖",
  heavy_plus_sign: "➕",
  hourglass: "⌛",
  hourglass_flowing_sand: "⏳",
  inbox_tray: "📥",
  information_source: "ℹ️",
  key: "🔑",
  large_blue_circle: "🔵",
  large_green_circle: "🟢",
  large_orange_circle: "🟠",
  large_yellow_circle: "🟡",
  link: "🔗",
  lock: "🔒",
  mag: "🔍",
  memo: "📝",
  no_entry: "⛔",
  no_entry_sign: "🚫",
  octagonal_sign: "🛑",
  package: "📦",
  pushpin: "📌",
  question: "❓",
  raised_hand: "✋",
  recycle: "♻️",
  red_circle: "🔴",
  repeat: "🔁",
  robot_face: "🤖",
  rocket: "🚀",
  rotating_light: "🚨",
  scroll: "📜",
  small_blue_diamond: "🔹",
  small_orange_diamond: "🔸",
  small_red_triangle: "🔺",
  small_red_triangle_down: "🔻",
  sparkles: "✨",
  stopwatch: "⏱️",
  tada: "🎉",
  thumbsup: "👍",
  "+1": "👍",
  triangular_flag_on_post: "🚩",
  triangular_ruler: "📐",
  turtle: "🐢",
  unlock: "🔓",
  warning: "⚠️",
  white_check_mark: "✅",
  white_circle: "⚪",
  wrench: "🔧",
  x: "❌",
  zap: "⚡",
};

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Slack's three escapes back to the characters they stand for (&amp; last, so "&amp;lt;" stays "&lt;"). */
export function decodeEntities(text) {
  return String(text ?? "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function emojify(html) {
  return html.replace(/:([a-z0-9_+-]+):/g, (whole, name) =>
    Object.hasOwn(EMOJI, name) ? `<span class="emoji" title=":${name}:">${EMOJI[name]}</span>` : whole,
  );
}

// ── Dates ─────────────────────────────────────────────────────────────────────────────────────

const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

function ordinal(n) {
  const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] || "th";
  return `${n}${s}`;
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

function relativeDay(date, now) {
  const day = 86_400_000;
  if (sameDay(date, now)) return "Today";
  if (sameDay(date, new Date(now.getTime() - day))) return "Yesterday";
  if (sameDay(date, new Date(now.getTime() + day))) return "Tomorrow";
  return null;
}

function clock(date, seconds) {
  const h = date.getHours() % 12 || 12;
  const m = String(date.getMinutes()).padStart(2, "0");
  const s = seconds ? `:${String(date.getSeconds()).padStart(2, "0")}` : "";
  return `${h}:${m}${s} ${date.getHours() < 12 ? "AM" : "PM"}`;
}

function ago(date, now) {
  const diff = Math.round((now.getTime() - date.getTime()) / 1000);
  const abs = Math.abs(diff);
  const [n, unit] =
    abs < 60
      ? [abs, "second"]
      : abs < 3600
        ? [Math.round(abs / 60), "minute"]
        : abs < 86_400
          ? [Math.round(abs / 3600), "hour"]
          : [Math.round(abs / 86_400), "day"];
  const what = `${n} ${unit}${n === 1 ? "" : "s"}`;
  return diff >= 0 ? `${what} ago` : `in ${what}`;
}

/** Formats a `<!date^…>` template in the reader's time zone; null when a token is unknown. */
export function formatSlackDate(unixSeconds, template, now = new Date()) {
  const date = new Date(unixSeconds * 1000);
  if (Number.isNaN(date.getTime())) return null;
  const dateNum = `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
  const long = `${DAYS[date.getDay()]}, ${MONTHS[date.getMonth()]} ${ordinal(date.getDate())}, ${date.getFullYear()}`;
  const plain = `${MONTHS[date.getMonth()]} ${ordinal(date.getDate())}, ${date.getFullYear()}`;
  const short = `${MONTHS[date.getMonth()].slice(0, 3)} ${date.getDate()}, ${date.getFullYear()}`;
  const pretty = relativeDay(date, now);
  const tokens = {
    date_num: dateNum,
    date: plain,
    date_short: short,
    date_long: long,
    date_pretty: pretty ?? plain,
    date_short_pretty: pretty ?? short,
    date_long_pretty: pretty ?? long,
    time: clock(date, false),
    time_secs: clock(date, true),
    ago: ago(date, now),
  };
  let unknown = false;
  const out = template.replace(/\{([a-z_]+)\}/g, (_, name) => {
    if (!Object.hasOwn(tokens, name)) unknown = true;
    return tokens[name] ?? "";
  });
  return unknown ? null : out;
}

// ── mrkdwn ────────────────────────────────────────────────────────────────────────────────────

const SAFE_URL = /^(https?:|mailto:)/i;

function labelHtml(label) {
  return emojify(escapeHtml(decodeEntities(label)));
}

function token(body, ctx) {
  const bar = body.indexOf("|");
  const target = bar === -1 ? body : body.slice(0, bar);
  const label = bar === -1 ? null : body.slice(bar + 1);
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const name = label ?? ctx.users?.[id] ?? id;
    return `<span class="mention" data-user="${escapeHtml(id)}">@${escapeHtml(decodeEntities(name))}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const name = label ?? ctx.channels?.[id] ?? id;
    return `<span class="mention channel">#${escapeHtml(decodeEntities(name))}</span>`;
  }
  if (target.startsWith("!date^")) {
    const [, unix, template = "", link] = target.split("^");
    const fallback = decodeEntities(label ?? "");
    const shown = formatSlackDate(Number(unix), decodeEntities(template), ctx.now ?? new Date()) ?? fallback;
    const when = new Date(Number(unix) * 1000);
    const iso = Number.isNaN(when.getTime()) ? "" : when.toISOString();
    const inner = `<time datetime="${iso}" title="${escapeHtml(fallback)}">${escapeHtml(shown)}</time>`;
    return link && SAFE_URL.test(link)
      ? `<a href="${escapeHtml(decodeEntities(link))}" target="_blank" rel="noopener noreferrer">${inner}</a>`
      : inner;
  }
  if (target.startsWith("!subteam^")) {
    const id = target.slice("!subteam^".length);
    const name = label ?? ctx.groups?.[id] ?? id;
    return `<span class="mention">${escapeHtml(decodeEntities(name.startsWith("@") ? name : `@${name}`))}</span>`;
  }
  if (target.startsWith("!")) {
    return `<span class="mention">@${escapeHtml(decodeEntities(label ?? target.slice(1)))}</span>`;
  }
  const url = decodeEntities(target);
  if (SAFE_URL.test(url)) {
    return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer">${label === null ? escapeHtml(url) : labelHtml(label)}</a>`;
  }
  return escapeHtml(decodeEntities(`<${body}>`));
}

const BOLD = /(^|[^\w*])\*(?!\s)([^*\n]*?[^\s*])\*(?![\w*])/g;
const ITALIC = /(^|[^\w_])_(?!\s)([^_\n]*?[^\s_])_(?![\w_])/g;
const STRIKE = /(^|[^\w~])~(?!\s)([^~\n]*?[^\s~])~(?![\w~])/g;

function emphasis(html) {
  let out = html;
  // Twice: an italic inside bold (`*_x_*`) is found once the bold's markers are gone.
  for (let i = 0; i < 2; i++) {
    out = out.replace(BOLD, "$1<b>$2</b>").replace(ITALIC, "$1<i>$2</i>").replace(STRIKE, "$1<s>$2</s>");
  }
  return out;
}

/** mrkdwn → HTML (see the file comment). `ctx`: { users, channels, groups: id → name; now }. */
export function mrkdwn(source, ctx = {}) {
  const held = [];
  const hold = (html) => `\uE000${held.push(html) - 1}\uE001`;
  let s = String(source ?? "");
  s = s.replace(/```([\s\S]*?)```/g, (_, body) =>
    hold(`<pre class="pre">${escapeHtml(decodeEntities(body.replace(/^\n/, "").replace(/\n$/, "")))}</pre>`),
  );
  s = s.replace(/`([^`\n]+)`/g, (_, body) => hold(`<code>${escapeHtml(decodeEntities(body))}</code>`));
  s = s.replace(/<([^<>\n]+)>/g, (_, body) => hold(token(body, ctx)));

  const lines = s.split("\n").map((line) => {
    const quoted = /^>\s?/.exec(line);
    const text = quoted ? line.slice(quoted[0].length) : line;
    // A line that is only a ``` block is a block of its own: no line break around it.
    const alone = /^\uE000(\d+)\uE001$/.exec(text.trim());
    const pre = !quoted && alone !== null && held[Number(alone[1])]?.startsWith("<pre");
    return { quoted: Boolean(quoted), pre, html: emphasis(emojify(escapeHtml(decodeEntities(text)))) };
  });
  const parts = [];
  for (let i = 0; i < lines.length; ) {
    if (lines[i].pre) {
      parts.push({ block: true, html: lines[i++].html });
    } else if (lines[i].quoted) {
      const group = [];
      while (i < lines.length && lines[i].quoted) group.push(lines[i++].html);
      parts.push({ block: true, html: `<blockquote>${group.join("<br>")}</blockquote>` });
    } else {
      parts.push({ block: false, html: lines[i++].html });
    }
  }
  let html = "";
  parts.forEach((part, i) => {
    const previous = parts[i - 1];
    if (i > 0 && !part.block && !previous.block) html += "<br>";
    html += part.html;
  });
  return html.replace(/\uE000(\d+)\uE001/g, (_, n) => held[Number(n)] ?? "");
}

/** A plain_text object: literal text (emoji shortcodes become emoji when `emoji` is not false). */
export function plainText(object) {
  const html = escapeHtml(object?.text ?? "").replace(/\n/g, "<br>");
  return object?.emoji === false ? html : emojify(html);
}

/** A text object of either type. */
export function textObject(object, ctx = {}) {
  if (!object) return "";
  if (object.type === "mrkdwn") return mrkdwn(object.text, ctx);
  if (object.type === "plain_text") return plainText(object);
  return unsupported("text object", object.type);
}

function unsupported(what, type) {
  return `<div class="unsupported">unsupported ${what}: ${escapeHtml(String(type ?? "(none)"))}</div>`;
}

// ── Blocks ────────────────────────────────────────────────────────────────────────────────────

function button(element, blockIndex, elementIndex, ctx) {
  const style = element.style === "primary" || element.style === "danger" ? ` ${element.style}` : "";
  const link = typeof element.url === "string" ? " link" : "";
  const confirm = element.confirm ? ' data-confirm="1"' : "";
  const disabled = ctx.interactive === false ? " disabled" : "";
  return (
    `<button type="button" class="btn${style}${link}" data-block="${blockIndex}" data-element="${elementIndex}"` +
    `${confirm}${disabled}>${plainText(element.text)}${link ? ' <span class="ext">↗</span>' : ""}</button>`
  );
}

/** A static_select: its placeholder first (Slack shows it until something is chosen), then the options. */
function select(el, blockIndex, elementIndex, ctx) {
  const disabled = ctx.interactive === false ? " disabled" : "";
  const initial = el.initial_option?.value;
  const placeholder = escapeHtml(el.placeholder?.text ?? "Select an item");
  const options = (el.options ?? [])
    .map(
      (o) =>
        `<option value="${escapeHtml(o.value ?? "")}"${o.value === initial ? " selected" : ""}>${plainText(o.text)}</option>`,
    )
    .join("");
  return (
    `<select class="select" data-block="${blockIndex}" data-element="${elementIndex}" aria-label="${placeholder}"${disabled}>` +
    `<option value=""${initial === undefined ? " selected" : ""} disabled>${placeholder}</option>${options}</select>`
  );
}

function element(el, blockIndex, elementIndex, ctx) {
  if (el?.type === "button") return button(el, blockIndex, elementIndex, ctx);
  if (el?.type === "static_select") return select(el, blockIndex, elementIndex, ctx);
  return `<span class="unsupported">unsupported element: ${escapeHtml(String(el?.type ?? "(none)"))}</span>`;
}

function section(block, i, ctx) {
  const text = block.text ? `<div class="text">${textObject(block.text, ctx)}</div>` : "";
  const fields = Array.isArray(block.fields)
    ? `<div class="fields">${block.fields.map((f) => `<div class="field">${textObject(f, ctx)}</div>`).join("")}</div>`
    : "";
  const accessory = block.accessory
    ? `<div class="accessory">${element(block.accessory, i, "accessory", ctx)}</div>`
    : "";
  return `<div class="b-section"><div class="main">${text}${fields}</div>${accessory}</div>`;
}

function input(block, ctx) {
  const el = block.element ?? {};
  const label = `<label class="label">${plainText(block.label)}${block.optional ? ' <span class="optional">(optional)</span>' : ""}</label>`;
  const hint = block.hint ? `<div class="hint">${plainText(block.hint)}</div>` : "";
  const error = ctx.errors?.[block.block_id]
    ? `<div class="input-error" role="alert">⚠ ${escapeHtml(ctx.errors[block.block_id])}</div>`
    : "";
  if (el.type !== "plain_text_input")
    return `<div class="b-input">${label}${element(el, 0, 0, ctx)}${hint}</div>`;
  const typed = ctx.values?.[block.block_id]?.[el.action_id];
  const value = typed ?? el.initial_value ?? "";
  const attrs =
    `data-block-id="${escapeHtml(block.block_id ?? "")}" data-action-id="${escapeHtml(el.action_id ?? "")}"` +
    (el.placeholder ? ` placeholder="${escapeHtml(el.placeholder.text ?? "")}"` : "") +
    (el.max_length ? ` maxlength="${Number(el.max_length)}"` : "") +
    (error ? ' aria-invalid="true"' : "");
  const field = el.multiline
    ? `<textarea class="field-input" rows="8" ${attrs}>${escapeHtml(value)}</textarea>`
    : `<input class="field-input" type="text" ${attrs} value="${escapeHtml(value)}">`;
  return `<div class="b-input${error ? " has-error" : ""}">${label}${field}${hint}${error}</div>`;
}

/** One block as HTML; `i` is its index (buttons carry it back to the server). */
export function renderBlock(block, i, ctx = {}) {
  switch (block?.type) {
    case "section":
      return section(block, i, ctx);
    case "header":
      return `<div class="b-header">${plainText(block.text)}</div>`;
    case "context":
      return `<div class="b-context">${(block.elements ?? [])
        .map((el) =>
          el.type === "image"
            ? `<span class="ctx-image" title="${escapeHtml(el.alt_text ?? "")}">🖼</span>`
            : `<span class="ctx-item">${textObject(el, ctx)}</span>`,
        )
        .join("")}</div>`;
    case "divider":
      return '<hr class="b-divider">';
    case "actions":
      return `<div class="b-actions">${(block.elements ?? []).map((el, j) => element(el, i, j, ctx)).join("")}</div>`;
    case "input":
      return input(block, ctx);
    default:
      return unsupported("block", block?.type);
  }
}

/** A list of blocks as HTML. */
export function renderBlocks(blocks, ctx = {}) {
  if (!Array.isArray(blocks)) return "";
  return blocks.map((block, i) => renderBlock(block, i, ctx)).join("");
}
