// The conversation the fake Slack keeps, as Slack would show it: channel messages with their ts,
// thread replies (with the parent's reply count), ephemeral messages per user and modals per user.
// Every change is announced on `changes` (the sandbox pushes them to its page).
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type {
  ConversationSnapshot,
  EphemeralMessage,
  SlackChange,
  StoredMessage,
  StoredView,
} from "./types.ts";
import { str } from "./values.ts";

export interface StoreOptions {
  /** Strict: a thread_ts naming no message starts no thread (lenient: the reply keeps it). */
  strict: boolean;
  /** ts from the clock (`<unix seconds>.<micros>`) instead of a counter from 1700000001.000100. */
  realTime: boolean;
  /** The clock (milliseconds) for ts when `realTime`. */
  clock: () => number;
}

export interface NewMessage {
  channel: string;
  user: string;
  botId: string | null;
  text: string;
  blocks: unknown[];
  threadTs: string | null;
  via: StoredMessage["via"];
  metadata?: StoredMessage["metadata"];
}

const key = (channel: string, ts: string) => `${channel}/${ts}`;

export class ConversationStore {
  /** Every change of the conversation (messages, ephemerals, modals), as it happens. */
  readonly changes = new EventEmitter();

  private counter = 1_700_000_000;
  private lastMicros = 0;
  /** Channel messages and replies, keyed `<channel>/<ts>`, in posting order. */
  private readonly messages = new Map<string, StoredMessage>();
  private readonly ephemerals = new Map<string, EphemeralMessage>();
  private readonly views = new Map<string, StoredView>();

  /** `onChange` runs after every announced change (the fake's waiters re-check then). */
  constructor(
    private readonly options: StoreOptions,
    private readonly onChange: () => void,
  ) {
    this.changes.setMaxListeners(0);
  }

  // ── Reading ────────────────────────────────────────────────────────────────────────────────

  /** Channel messages and thread replies, oldest first. */
  listMessages(channel?: string): StoredMessage[] {
    const all = [...this.messages.values()].filter((m) => !channel || m.channel === channel);
    return all.sort((a, b) => compareTs(a.ts, b.ts));
  }

  listEphemerals(user?: string): EphemeralMessage[] {
    const all = [...this.ephemerals.values()].filter((m) => !user || m.user === user);
    return all.sort((a, b) => compareTs(a.ts, b.ts));
  }

  /** Open modals, root first per user. */
  listViews(user?: string): StoredView[] {
    return [...this.views.values()].filter((v) => !user || v.user === user).sort((a, b) => a.depth - b.depth);
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.messages.get(key(channel, ts));
  }

  ephemeral(id: string): EphemeralMessage | undefined {
    return this.ephemerals.get(id);
  }

  view(id: string): StoredView | undefined {
    return this.views.get(id);
  }

  /** The first modal opened with this `external_id`. */
  viewByExternalId(externalId: string): StoredView | undefined {
    return [...this.views.values()].find((v) => v.externalId === externalId);
  }

  snapshot(): ConversationSnapshot {
    return { version: 1, messages: this.listMessages(), ephemerals: this.listEphemerals() };
  }

  /** Puts back a conversation saved by snapshot() (before anyone looks: no changes are announced). */
  restore(snapshot: ConversationSnapshot): void {
    if (snapshot?.version !== 1) throw new Error("not a saved conversation of this version");
    for (const m of snapshot.messages) this.messages.set(key(m.channel, m.ts), m);
    for (const m of snapshot.ephemerals) this.ephemerals.set(m.id, m);
  }

  // ── Messages ───────────────────────────────────────────────────────────────────────────────

  addMessage(input: NewMessage): StoredMessage {
    const ts = this.nextTs();
    // A reply to a reply belongs to the same thread; a thread_ts naming no message starts none.
    let parent = input.threadTs ? this.messages.get(key(input.channel, input.threadTs)) : undefined;
    if (parent?.threadTs) parent = this.messages.get(key(input.channel, parent.threadTs));
    const threadTs = parent ? parent.ts : this.options.strict ? null : input.threadTs;
    const message: StoredMessage = {
      channel: input.channel,
      ts,
      threadTs,
      user: input.user,
      botId: input.botId,
      text: input.text,
      blocks: input.blocks,
      edited: null,
      replyCount: 0,
      latestReply: null,
      via: input.via,
      ...(input.metadata ? { metadata: input.metadata } : {}),
    };
    this.messages.set(key(input.channel, ts), message);
    this.emit({ type: "message", message });
    if (parent) {
      const updated = { ...parent, replyCount: parent.replyCount + 1, latestReply: ts };
      this.messages.set(key(parent.channel, parent.ts), updated);
      this.emit({ type: "message", message: updated });
    }
    return message;
  }

  editMessage(current: StoredMessage, change: { text: string; blocks: unknown[] }): void {
    const next = { ...current, ...change, edited: this.editTs() };
    this.messages.set(key(current.channel, current.ts), next);
    this.emit({ type: "message", message: next });
  }

  deleteMessage(channel: string, ts: string): void {
    const current = this.messages.get(key(channel, ts));
    if (!current) return;
    this.messages.delete(key(channel, ts));
    this.emit({ type: "message_deleted", channel, ts });
    if (current.threadTs) {
      const parent = this.messages.get(key(channel, current.threadTs));
      if (parent) {
        const replies = this.listMessages(channel).filter((m) => m.threadTs === parent.ts);
        const updated = { ...parent, replyCount: replies.length, latestReply: replies.at(-1)?.ts ?? null };
        this.messages.set(key(channel, parent.ts), updated);
        this.emit({ type: "message", message: updated });
      }
    }
  }

  // ── Ephemeral messages ─────────────────────────────────────────────────────────────────────

  addEphemeral(input: Omit<EphemeralMessage, "id" | "ts" | "edited">): EphemeralMessage {
    const ts = this.nextTs();
    const message: EphemeralMessage = { ...input, id: `E${ts.replace(".", "")}`, ts, edited: null };
    this.ephemerals.set(message.id, message);
    this.emit({ type: "ephemeral", message });
    return message;
  }

  /** Replaces an ephemeral message's content; false when it is gone. */
  editEphemeral(id: string, text: string, blocks: unknown[]): boolean {
    const current = this.ephemerals.get(id);
    if (!current) return false;
    const next = { ...current, text, blocks, edited: this.editTs() };
    this.ephemerals.set(id, next);
    this.emit({ type: "ephemeral", message: next });
    return true;
  }

  deleteEphemeral(id: string): boolean {
    const current = this.ephemerals.get(id);
    if (!current) return false;
    this.ephemerals.delete(id);
    this.emit({ type: "ephemeral_deleted", id, user: current.user });
    return true;
  }

  // ── Modals ─────────────────────────────────────────────────────────────────────────────────

  openView(user: string, view: Record<string, unknown>): StoredView {
    const stack = this.listViews(user);
    const id = `V${randomBytes(5).toString("hex").toUpperCase()}`;
    const stored: StoredView = {
      id,
      hash: newHash(),
      user,
      view,
      rootViewId: stack[0]?.id ?? id,
      previousViewId: stack.at(-1)?.id ?? null,
      externalId: str(view.external_id) ?? "",
      depth: stack.length,
    };
    this.views.set(id, stored);
    this.emit({ type: "view", view: stored });
    return stored;
  }

  /** The view changes in place (views.update, `response_action: update`). */
  replaceView(id: string, view: Record<string, unknown>): StoredView | null {
    const current = this.views.get(id);
    if (!current) return null;
    const next: StoredView = { ...current, view, hash: newHash() };
    this.views.set(id, next);
    this.emit({ type: "view", view: next });
    return next;
  }

  /** Closes the modal `id` and those above it (or, with `all`, every modal of its user). */
  closeView(id: string, all = false): StoredView[] {
    const view = this.views.get(id);
    if (!view) return [];
    const closing = this.listViews(view.user).filter((v) => all || v.depth >= view.depth);
    for (const v of closing) {
      this.views.delete(v.id);
      this.emit({ type: "view_closed", id: v.id, user: v.user });
    }
    return closing;
  }

  // ── Timestamps and announcements ───────────────────────────────────────────────────────────

  /** ts of an edit: from the clock, or (counter mode) without using up a message ts. */
  private editTs(): string {
    return this.options.realTime ? this.nextTs() : `${this.counter}.000200`;
  }

  private nextTs(): string {
    if (!this.options.realTime) {
      this.counter += 1;
      return `${this.counter}.000100`;
    }
    // Unique and increasing, like Slack's: seconds, then microseconds.
    const micros = Math.max(Math.floor(this.options.clock() * 1000), this.lastMicros + 1);
    this.lastMicros = micros;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, "0")}`;
  }

  private emit(change: SlackChange): void {
    this.changes.emit("change", change);
    this.onChange();
  }
}

/** Orders Slack timestamps ("1700000001.000100") numerically, seconds then microseconds. */
export function compareTs(a: string, b: string): number {
  const [as = "0", af = "0"] = a.split(".");
  const [bs = "0", bf = "0"] = b.split(".");
  return Number(as) - Number(bs) || Number(af.padEnd(6, "0")) - Number(bf.padEnd(6, "0"));
}

function newHash(): string {
  return `${Math.floor(Date.now() / 1000)}.${randomBytes(6).toString("hex")}`;
}
