// The sandbox page: a Slack channel, a thread pane, modals and confirm dialogs, driven by the
// sandbox server's API (/api/…) and kept current by its Server-Sent Events (/api/events). Rendering
// of Block Kit and mrkdwn lives in render.js.
import { decodeEntities, escapeHtml, mrkdwn, plainText, renderBlocks, textObject } from "./render.js";

const state = {
  /** /api/state: team, bot, channel, users, command, verbs, digest. */
  info: null,
  messages: new Map(),
  ephemerals: new Map(),
  views: new Map(),
  me: null,
  /** ts of the open thread. */
  thread: null,
  /** Per view id: errors from `response_action: errors`, a problem line, typed values. */
  modal: new Map(),
  /** Buttons waiting for the bot's HTTP answer (Slack shows them busy). */
  busy: new Set(),
  /** While Meilisearch is broken: when (this page's clock) it is due back. */
  outageDue: null,
};

const $ = (id) => document.getElementById(id);

// ── Data ──────────────────────────────────────────────────────────────────────────────────────

const messageKey = (m) => `${m.channel}/${m.ts}`;

async function api(action, body = {}) {
  const response = await fetch(`/api/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: state.me, ...body }),
  });
  const answer = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
  if (!response.ok || !answer.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
  return answer;
}

/** Changes that arrive while a snapshot is being read are applied again on top of it. */
let buffered = null;

async function load() {
  buffered = [];
  try {
    const response = await fetch("/api/state");
    const data = await response.json();
    state.info = data;
    setOutage(data.outage);
    state.messages = new Map(data.messages.map((m) => [messageKey(m), m]));
    state.ephemerals = new Map(data.ephemerals.map((m) => [m.id, m]));
    state.views = new Map(data.views.map((v) => [v.id, v]));
    for (const change of buffered) apply(change);
  } finally {
    buffered = null;
  }
  const saved = sessionStorage.getItem("sandbox-user");
  if (!state.me) state.me = state.info.users.some((u) => u.id === saved) ? saved : state.info.users[0]?.id;
  document.body.dataset.ready = "1";
  render();
}

function receive(change) {
  if (buffered) buffered.push(change);
  else apply(change);
}

function apply(change) {
  switch (change.type) {
    case "message":
      state.messages.set(messageKey(change.message), change.message);
      break;
    case "message_deleted":
      state.messages.delete(`${change.channel}/${change.ts}`);
      break;
    case "ephemeral":
      state.ephemerals.set(change.message.id, change.message);
      break;
    case "ephemeral_deleted":
      state.ephemerals.delete(change.id);
      break;
    case "view":
      state.views.set(change.view.id, change.view);
      break;
    case "view_closed":
      state.views.delete(change.id);
      state.modal.delete(change.id);
      break;
    case "outage":
      if (state.info) {
        state.info.outage = change.outage;
        setOutage(change.outage);
      }
      break;
  }
  scheduleRender();
}

/** Listens first, then reads the snapshot (again after every reconnect: changes may have been missed). */
function connect() {
  const events = new EventSource("/api/events");
  events.onmessage = (event) => receive(JSON.parse(event.data));
  events.onerror = () => {
    $("connection").hidden = false;
  };
  events.onopen = () => {
    $("connection").hidden = true;
    load().catch((error) => toast(`Could not load the sandbox: ${error.message}`));
  };
}

// ── Helpers ───────────────────────────────────────────────────────────────────────────────────

function renderContext(extra = {}) {
  const users = {};
  for (const u of state.info.users) users[u.id] = u.realName;
  users[state.info.bot.userId] = state.info.bot.name;
  return {
    users,
    channels: { [state.info.channel.id]: state.info.channel.name },
    groups: state.info.groups,
    now: new Date(),
    ...extra,
  };
}

function person(id) {
  if (id === state.info.bot.userId) return { name: state.info.bot.name, bot: true, initials: "S" };
  if (id === "USLACKBOT") return { name: "Slackbot", bot: true, initials: "✱", slackbot: true };
  const user = state.info.users.find((u) => u.id === id);
  const name = user?.realName ?? id;
  return { name, bot: false, initials: name.slice(0, 1).toUpperCase() };
}

function timeOf(ts) {
  const date = new Date(Number(ts.split(".")[0]) * 1000);
  const h = date.getHours() % 12 || 12;
  return `${h}:${String(date.getMinutes()).padStart(2, "0")} ${date.getHours() < 12 ? "AM" : "PM"}`;
}

const byTs = (a, b) => {
  const [as, af] = a.ts.split(".").map(Number);
  const [bs, bf] = b.ts.split(".").map(Number);
  return as - bs || af - bf;
};

function toast(text) {
  const el = $("toast");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    el.hidden = true;
  }, 5000);
}

// ── Rendering ─────────────────────────────────────────────────────────────────────────────────

let pending = false;
function scheduleRender() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    render();
  });
}

function messageHtml(m, kind, options = {}) {
  const author = person(kind === "ephemeral" ? m.from : m.user);
  const ctx = renderContext({ interactive: true });
  const content =
    Array.isArray(m.blocks) && m.blocks.length > 0
      ? `<div class="blocks">${renderBlocks(m.blocks, ctx)}</div>`
      : `<div class="text">${mrkdwn(m.text, ctx)}</div>`;
  const via = m.via
    ? `<div class="via">${escapeHtml(person(m.via.user).name)} used <code>${escapeHtml(decodeEntities(m.via.command))}</code></div>`
    : "";
  const badge = author.bot && !author.slackbot ? '<span class="app-badge">APP</span>' : "";
  const edited = m.edited ? '<span class="edited">(edited)</span>' : "";
  const ephemeralNote =
    kind === "ephemeral"
      ? `<div class="ephemeral-note"><span aria-hidden="true">👁</span> Only visible to you · <button type="button" class="link-button dismiss" data-dismiss="${escapeHtml(m.id)}">Dismiss</button></div>`
      : "";
  const replies =
    kind === "message" && !options.inThread && m.replyCount > 0
      ? `<div class="replies"><button type="button" class="link-button open-thread" data-thread="${escapeHtml(m.ts)}">${m.replyCount} ${m.replyCount === 1 ? "reply" : "replies"}</button><span class="muted">Last reply ${m.latestReply ? timeOf(m.latestReply) : ""}</span></div>`
      : "";
  const where = kind === "ephemeral" ? `data-id="${escapeHtml(m.id)}"` : `data-ts="${escapeHtml(m.ts)}"`;
  return `<article class="msg ${kind}${options.parent ? " parent" : ""}" data-kind="${kind}" ${where}>
    <div class="avatar${author.bot ? " bot" : ""}" aria-hidden="true">${escapeHtml(author.initials)}</div>
    <div class="msg-body">
      <div class="meta"><span class="author">${escapeHtml(author.name)}</span>${badge}<span class="time" title="${escapeHtml(m.ts)}">${timeOf(m.ts)}</span>${edited}</div>
      ${via}${content}${ephemeralNote}${replies}
    </div>
  </article>`;
}

/** At phone width the sidebar is a drawer behind the ☰ button (style.css); elsewhere this is a no-op. */
function setSidebar(open) {
  if (open) document.body.dataset.sidebar = "open";
  else delete document.body.dataset.sidebar;
  $("sidebar-backdrop").hidden = !open;
  $("menu-toggle").setAttribute("aria-expanded", String(open));
}

function renderUsers() {
  const me = state.info.users.find((u) => u.id === state.me);
  $("who").textContent = me ? `as ${me.realName}` : "";
  $("users").innerHTML = state.info.users
    .map(
      (u) => `<button type="button" role="radio" class="user${u.id === state.me ? " active" : ""}"
        aria-checked="${u.id === state.me}" data-user-switch="${escapeHtml(u.id)}">
        <span class="avatar small" aria-hidden="true">${escapeHtml(u.realName.slice(0, 1))}</span>
        <span><span class="user-name">${escapeHtml(u.realName)}</span><span class="user-title">${escapeHtml(u.title ?? "")}</span></span>
      </button>`,
    )
    .join("");
  $("tools").innerHTML =
    (state.info.digest
      ? `<button type="button" class="tool" id="run-digest">${escapeHtml(state.info.digest.label)}</button>`
      : "") + outageHtml(state.info.outage);
}

// ── "Break Meilisearch for a minute" ──────────────────────────────────────────────────────────

/** The countdown runs on this page's clock from the server's remaining time (no clock skew). */
function setOutage(outage) {
  state.outageDue = outage?.status === "broken" ? Date.now() + (outage.remainingMs ?? 0) : null;
  clearInterval(setOutage.timer);
  if (state.outageDue !== null) setOutage.timer = setInterval(renderCountdown, 1000);
}

function countdownText() {
  const seconds = Math.ceil(Math.max(0, (state.outageDue ?? 0) - Date.now()) / 1000);
  return seconds > 0 ? `back in ${seconds} s` : "coming back…";
}

function renderCountdown() {
  const el = $("outage-countdown");
  if (el) el.textContent = countdownText();
}

function outageHtml(outage) {
  if (!outage) return "";
  const broken = outage.status === "broken";
  const status = broken
    ? `<div class="outage-status down" id="outage-status" role="status"><span aria-hidden="true">⛔</span> Meilisearch is down · <span id="outage-countdown">${countdownText()}</span></div>`
    : outage.status === "back"
      ? `<div class="outage-status back" id="outage-status" role="status"><span aria-hidden="true">✅</span> Meilisearch is back</div>`
      : "";
  return `<button type="button" class="tool" id="break-meili"${broken ? " disabled" : ""}>${escapeHtml(outage.label)}</button>${status}`;
}

function nearBottom(el) {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
}

function renderList(el, html) {
  const stick = nearBottom(el) || el.dataset.rendered !== "1";
  el.innerHTML = html;
  el.dataset.rendered = "1";
  for (const button of el.querySelectorAll("button.btn")) {
    if (state.busy.has(buttonKey(button))) button.classList.add("busy");
  }
  if (stick) el.scrollTop = el.scrollHeight;
}

function renderChannel() {
  const items = [
    ...[...state.messages.values()].filter((m) => m.threadTs === null).map((m) => ({ m, kind: "message" })),
    ...[...state.ephemerals.values()]
      .filter((m) => m.user === state.me && m.threadTs === null)
      .map((m) => ({ m, kind: "ephemeral" })),
  ].sort((a, b) => byTs(a.m, b.m));
  const intro = `<div class="channel-intro"><h2># ${escapeHtml(state.info.channel.name)}</h2>
    <p>This is the on-call channel of the demo deployment. Type <code>/scrypath status</code> below,
    then follow the buttons. Switch people on the left to try who may request and confirm.</p></div>`;
  renderList($("messages"), intro + items.map(({ m, kind }) => messageHtml(m, kind)).join(""));
}

function renderThread() {
  const pane = $("thread");
  const parent = state.thread ? state.messages.get(`${state.info.channel.id}/${state.thread}`) : null;
  if (!parent) {
    pane.hidden = true;
    state.thread = null;
    return;
  }
  pane.hidden = false;
  const replies = [
    ...[...state.messages.values()]
      .filter((m) => m.threadTs === parent.ts)
      .map((m) => ({ m, kind: "message" })),
    ...[...state.ephemerals.values()]
      .filter((m) => m.user === state.me && m.threadTs === parent.ts)
      .map((m) => ({ m, kind: "ephemeral" })),
  ].sort((a, b) => byTs(a.m, b.m));
  const count = replies.filter((r) => r.kind === "message").length;
  renderList(
    $("thread-messages"),
    messageHtml(parent, "message", { inThread: true, parent: true }) +
      `<div class="reply-count">${count} ${count === 1 ? "reply" : "replies"}</div>` +
      replies.map(({ m, kind }) => messageHtml(m, kind, { inThread: true })).join(""),
  );
}

/** The values typed into the open modal, by block_id → action_id. */
function typedValues(root) {
  const values = {};
  for (const input of root.querySelectorAll("[data-block-id][data-action-id]")) {
    const block = input.dataset.blockId;
    values[block] ??= {};
    values[block][input.dataset.actionId] = input.value;
  }
  return values;
}

function renderModal() {
  const root = $("modal-root");
  const mine = [...state.views.values()].filter((v) => v.user === state.me).sort((a, b) => b.depth - a.depth);
  const top = mine[0];
  const shown = root.querySelector(".modal");
  if (shown) {
    const extra = state.modal.get(shown.dataset.view) ?? {};
    extra.values = typedValues(shown);
    state.modal.set(shown.dataset.view, extra);
  }
  if (!top) {
    root.innerHTML = "";
    return;
  }
  const signature = `${top.id}:${top.hash}:${JSON.stringify(state.modal.get(top.id)?.errors ?? {})}:${state.modal.get(top.id)?.problem ?? ""}`;
  if (shown && shown.dataset.signature === signature) return;
  const extra = state.modal.get(top.id) ?? {};
  const v = top.view;
  const body = renderBlocks(v.blocks ?? [], renderContext({ errors: extra.errors, values: extra.values }));
  const problem = extra.problem
    ? `<div class="modal-problem" role="alert">${escapeHtml(extra.problem)}</div>`
    : "";
  root.innerHTML = `<div class="modal-backdrop">
    <div class="modal" role="dialog" aria-modal="true" aria-labelledby="modal-title" data-view="${escapeHtml(top.id)}">
      <header class="modal-header"><h2 id="modal-title">${plainText(v.title)}</h2>
        <button type="button" class="icon-button modal-x" aria-label="Close">×</button></header>
      <div class="modal-body">${problem}${body}</div>
      <footer class="modal-footer">
        <button type="button" class="btn modal-close">${v.close ? plainText(v.close) : "Cancel"}</button>
        ${v.submit ? `<button type="button" class="btn primary modal-submit">${plainText(v.submit)}</button>` : ""}
      </footer>
    </div></div>`;
  root.querySelector(".modal").dataset.signature = signature;
  root.querySelector(".field-input")?.focus();
}

function render() {
  if (!state.info) return;
  renderUsers();
  renderChannel();
  renderThread();
  renderModal();
}

// ── Buttons, dialogs, modals ──────────────────────────────────────────────────────────────────

function buttonKey(button) {
  const owner = button.closest("[data-kind], [data-view]");
  const where = owner?.dataset.view ?? owner?.dataset.ts ?? owner?.dataset.id ?? "";
  return `${where}:${button.dataset.block}:${button.dataset.element}`;
}

/** Where a button sits, and the Block Kit element behind it. */
function locate(button) {
  const blockIndex = Number(button.dataset.block);
  const elementIndex = button.dataset.element === "accessory" ? "accessory" : Number(button.dataset.element);
  const modal = button.closest("[data-view]");
  let blocks;
  let where;
  if (modal) {
    const view = state.views.get(modal.dataset.view);
    blocks = view?.view.blocks ?? [];
    where = { kind: "view", viewId: modal.dataset.view };
  } else {
    const owner = button.closest("[data-kind]");
    if (owner.dataset.kind === "ephemeral") {
      blocks = state.ephemerals.get(owner.dataset.id)?.blocks ?? [];
      where = { kind: "ephemeral", id: owner.dataset.id };
    } else {
      blocks = state.messages.get(`${state.info.channel.id}/${owner.dataset.ts}`)?.blocks ?? [];
      where = { kind: "message", ts: owner.dataset.ts };
    }
  }
  const block = blocks[blockIndex];
  const element = elementIndex === "accessory" ? block?.accessory : block?.elements?.[elementIndex];
  return { where, blockIndex, elementIndex, element, modal };
}

/** Slack's confirm dialog: resolves true on confirm, false on deny or Escape. */
function confirmDialog(confirm) {
  return new Promise((resolve) => {
    const root = $("dialog-root");
    const style = confirm.style === "danger" ? "danger" : "primary";
    root.innerHTML = `<div class="dialog-backdrop">
      <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="dialog-title">
        <h2 id="dialog-title">${plainText(confirm.title ?? { text: "Are you sure?" })}</h2>
        <div class="dialog-text">${textObject(confirm.text, renderContext())}</div>
        <div class="dialog-actions">
          <button type="button" class="btn deny">${plainText(confirm.deny ?? { text: "Cancel" })}</button>
          <button type="button" class="btn ${style} confirm">${plainText(confirm.confirm ?? { text: "Yes" })}</button>
        </div>
      </div></div>`;
    const done = (answer) => {
      root.innerHTML = "";
      document.removeEventListener("keydown", onKey);
      resolve(answer);
    };
    const onKey = (event) => {
      if (event.key === "Escape") done(false);
    };
    document.addEventListener("keydown", onKey);
    root.querySelector(".deny").addEventListener("click", () => done(false));
    root.querySelector(".confirm").addEventListener("click", () => done(true));
    root.querySelector(".confirm").focus();
  });
}

/** A choice in a static_select: Slack sends block_actions with the selected option at once. */
async function chooseOption(select) {
  const found = locate(select);
  const selected = select.value;
  if (!found.element || selected === "") return;
  try {
    await api("click", {
      where: found.where,
      blockIndex: found.blockIndex,
      elementIndex: found.elementIndex,
      selected,
      ...(found.modal ? { values: typedValues(found.modal) } : {}),
    });
  } catch (error) {
    toast(`The choice did not reach the bot: ${error.message}`);
  }
}

async function clickButton(button) {
  const found = locate(button);
  if (!found.element) return;
  if (found.element.confirm && !(await confirmDialog(found.element.confirm))) return;
  if (typeof found.element.url === "string") window.open(found.element.url, "_blank", "noopener,noreferrer");
  const key = buttonKey(button);
  state.busy.add(key);
  button.classList.add("busy");
  try {
    await api("click", {
      where: found.where,
      blockIndex: found.blockIndex,
      elementIndex: found.elementIndex,
      ...(found.modal ? { values: typedValues(found.modal) } : {}),
    });
  } catch (error) {
    toast(`The click did not reach the bot: ${error.message}`);
  } finally {
    state.busy.delete(key);
    scheduleRender();
  }
}

async function submitModal(modal) {
  const viewId = modal.dataset.view;
  const values = typedValues(modal);
  const submit = modal.querySelector(".modal-submit");
  submit.disabled = true;
  submit.classList.add("busy");
  try {
    const answer = await api("submit", { viewId, values });
    if (answer.closed) {
      state.modal.delete(viewId);
    } else {
      state.modal.set(viewId, { values, errors: answer.errors ?? {}, problem: answer.problem ?? null });
    }
  } catch (error) {
    state.modal.set(viewId, { values, errors: {}, problem: error.message });
  } finally {
    submit.disabled = false;
    submit.classList.remove("busy");
    renderModal();
  }
}

// ── Composer ──────────────────────────────────────────────────────────────────────────────────

function suggestions(text) {
  const { name, usageHint } = state.info.command;
  if (!text.startsWith("/")) return [];
  const [typed, ...rest] = text.split(/\s+/);
  if (!name.startsWith(typed.toLowerCase()) && typed.toLowerCase() !== name) return [];
  if (rest.length === 0 || (rest.length === 1 && rest[0] === "" && !text.endsWith(" "))) {
    return [{ fill: `${name} `, title: name, detail: usageHint }];
  }
  const verb = rest[0]?.toLowerCase() ?? "";
  const matching = state.info.verbs.filter(
    (v) => v.name.startsWith(verb) || verb.startsWith(v.name.split(" ")[0]),
  );
  return (matching.length > 0 ? matching : state.info.verbs).slice(0, 8).map((v) => ({
    fill: `${name} ${v.name.split(" ")[0]} `,
    title: v.usage,
    detail: `${v.summary}${v.mutates ? " · needs an operator's confirmation" : ""}`,
  }));
}

function renderHint() {
  const input = $("composer-input");
  const hint = $("hint");
  const items = suggestions(input.value);
  if (items.length === 0) {
    hint.hidden = true;
    hint.innerHTML = "";
    return;
  }
  hint.hidden = false;
  hint.innerHTML = `<div class="hint-title">Commands matching “${escapeHtml(input.value.trim() || "/")}”</div>${items
    .map(
      (
        item,
        i,
      ) => `<button type="button" class="hint-item${i === 0 ? " first" : ""}" data-fill="${escapeHtml(item.fill)}">
        <span class="hint-usage">${escapeHtml(item.title)}</span>
        <span class="hint-detail">${escapeHtml(item.detail)}</span></button>`,
    )
    .join("")}`;
}

async function send(input, threadTs) {
  const text = input.value.trim();
  if (text === "") return;
  input.value = "";
  renderHint();
  try {
    if (text.startsWith("/")) await api("command", { text });
    else await api("message", { text, ...(threadTs ? { threadTs } : {}) });
  } catch (error) {
    input.value = text;
    toast(`Could not send: ${error.message}`);
  }
}

// ── Wiring ────────────────────────────────────────────────────────────────────────────────────

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  if (!target) return;
  const button = target.closest("button.btn:not(.deny):not(.confirm):not(.modal-close):not(.modal-submit)");
  if (button?.closest(".msg, .modal") && !button.disabled) {
    clickButton(button);
    return;
  }
  const user = target.closest("[data-user-switch]");
  if (user) {
    state.me = user.dataset.userSwitch;
    sessionStorage.setItem("sandbox-user", state.me);
    render();
    setSidebar(false);
    return;
  }
  const thread = target.closest(".open-thread");
  if (thread) {
    state.thread = thread.dataset.thread;
    render();
    $("thread-input").focus();
    return;
  }
  const dismiss = target.closest(".dismiss");
  if (dismiss) {
    api("dismiss", { id: dismiss.dataset.dismiss }).catch((error) => toast(error.message));
    return;
  }
  const fill = target.closest("[data-fill]");
  if (fill) {
    $("composer-input").value = fill.dataset.fill;
    $("composer-input").focus();
    renderHint();
    return;
  }
  const modal = target.closest(".modal");
  if (modal && target.closest(".modal-submit")) {
    submitModal(modal);
    return;
  }
  if (modal && target.closest(".modal-close, .modal-x")) {
    api("close", { viewId: modal.dataset.view }).catch((error) => toast(error.message));
    return;
  }
  if (target.closest("#menu-toggle")) {
    setSidebar(document.body.dataset.sidebar !== "open");
    return;
  }
  if (target.closest("#sidebar-backdrop")) {
    setSidebar(false);
    return;
  }
  if (target.closest("#break-meili")) {
    setSidebar(false);
    api("break")
      .then((answer) =>
        toast(
          answer.outage?.already
            ? "Meilisearch is already down; nothing changed."
            : "Meilisearch is stopped: the demo application keeps saving posts, and their sync jobs fail. Watch the channel.",
        ),
      )
      .catch((error) => toast(`Meilisearch was not broken: ${error.message}`));
    return;
  }
  if (target.closest("#run-digest")) {
    setSidebar(false);
    api("digest")
      .then((answer) => toast(answer.result ?? "Digest run"))
      .catch((error) => toast(`The digest did not run: ${error.message}`));
  }
});

document.addEventListener("change", (event) => {
  const target = event.target instanceof Element ? event.target : null;
  const select = target?.closest("select.select");
  if (select?.closest(".msg, .modal") && !select.disabled) chooseOption(select);
});

$("thread-close").addEventListener("click", () => {
  state.thread = null;
  render();
});

for (const [form, input, thread] of [
  ["composer", "composer-input", false],
  ["thread-composer", "thread-input", true],
]) {
  $(form).addEventListener("submit", (event) => {
    event.preventDefault();
    send($(input), thread ? state.thread : null);
  });
  $(input).addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send($(input), thread ? state.thread : null);
    }
    if (event.key === "Tab" && !thread) {
      const first = $("hint").querySelector(".hint-item");
      if (first) {
        event.preventDefault();
        $(input).value = first.dataset.fill;
        renderHint();
      }
    }
    if (event.key === "Escape") {
      $("hint").hidden = true;
    }
  });
}
$("composer-input").addEventListener("input", renderHint);
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.body.dataset.sidebar === "open") {
    setSidebar(false);
    return;
  }
  if (event.key === "Escape" && !$("dialog-root").firstChild) {
    const modal = document.querySelector(".modal");
    if (modal) api("close", { viewId: modal.dataset.view }).catch(() => {});
  }
});

connect();
